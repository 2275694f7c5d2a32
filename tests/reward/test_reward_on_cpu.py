"""Reward behaviour beyond the released vectors: options, matching, lenient values, binary, hermes."""

from __future__ import annotations

import numpy as np
import pytest

from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.reward import SCORE_KEYS, VARIANTS, RewardOptions, compute_score, score_range


def gt_of(*call_list: ToolCall, response: str | None = None, fmt: str = "toolrl") -> str:
    return render_output("I should use the tools.", list(call_list), response, fmt)


def pred_of(*call_list: ToolCall, fmt: str = "toolrl") -> str:
    return render_output("thinking", list(call_list), None, fmt)


def score(pred: str, gt: str, **options) -> dict[str, float]:
    return compute_score("test", pred, gt, **options)


def test_result_always_has_the_same_float_keys():
    gt = gt_of(ToolCall("f", {"a": 1}))
    for pred in ["", "junk", pred_of(ToolCall("f", {"a": 1})), "<think> x </think>\n<response> y </response>"]:
        for variant in VARIANTS:
            result = score(pred, gt, variant=variant, step=np.int64(40))
            assert tuple(result) == SCORE_KEYS
            assert all(type(value) is float for value in result.values())


def test_invalid_options_fail_with_the_choices():
    with pytest.raises(ValueError, match="^variant: unknown value 'orginal'; valid choices: original, with_length"):
        RewardOptions(variant="orginal")
    with pytest.raises(ValueError, match="^matching: unknown value 'best'; valid choices: greedy, optimal$"):
        score("", gt_of(ToolCall("f")), matching="best")
    with pytest.raises(ValueError, match="^values: unknown value 'loose'; valid choices: exact, lenient$"):
        score("", gt_of(ToolCall("f")), values="loose")
    with pytest.raises(ValueError, match="^format: unknown value 'xml'; valid choices: toolrl, hermes$"):
        score("", gt_of(ToolCall("f")), format="xml")
    with pytest.raises(ValueError, match="valid options: variant, format"):
        score("", gt_of(ToolCall("f")), temperature=1)
    with pytest.raises(ValueError, match="^schedule_steps: 0 is not a positive number"):
        RewardOptions(schedule_steps=0)


@pytest.mark.parametrize(
    ("gt", "problem"),
    [
        ("<think> t </think>\n<tool_call>\n{oops}\n</tool_call>", "call line 1 is not valid JSON"),
        ("<think> t </think>\n<tool_call>\n\n</tool_call>", "call line 1 is not valid JSON"),
        ('<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {}}', "without a closing"),
        ('<think> t </think>\n<tool_call>\n{"parameters": {}}\n</tool_call>', 'no string "name"'),
        ('<think> t </think>\n<tool_call>\n["f"]\n</tool_call>', "not a JSON object"),
    ],
)
def test_malformed_ground_truth_is_a_clear_value_error(gt, problem):
    with pytest.raises(ValueError, match=problem):
        score("<think> x </think>", gt)


def test_ground_truth_must_be_a_string():
    with pytest.raises(ValueError, match="expected a string"):
        score("x", None)  # type: ignore[arg-type]


def test_optimal_matching_beats_greedy_where_greedy_wastes_its_choice():
    gt = gt_of(ToolCall("f", {"a": 1}), ToolCall("f", {"a": 1, "b": 2}))
    pred = pred_of(ToolCall("f", {"a": 1, "b": 2}), ToolCall("f", {"a": 1, "b": 9}))
    # S = 1 + 2 + 3 = 6; name term 1. Greedy: gt0 ties between both (key Jaccard 0.5 + 1 value) and keeps
    # pred0, leaving gt1 with pred1 (1 + 1 = 2). Optimal: gt0 <- pred1 (1.5), gt1 <- pred0 (1 + 2 = 3).
    greedy = score(pred, gt)["correctness_reward"]
    optimal = score(pred, gt, matching="optimal")["correctness_reward"]
    assert greedy == pytest.approx(6 * (1 + 1.5 + 2) / 6 - 3)
    assert optimal == pytest.approx(6 * (1 + 1.5 + 3) / 6 - 3)


def test_optimal_equals_greedy_when_greedy_is_optimal():
    gt = gt_of(ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2}))
    pred = pred_of(ToolCall("g", {"b": 2}), ToolCall("f", {"a": 0}))
    assert score(pred, gt)["score"] == score(pred, gt, matching="optimal")["score"]


def test_optimal_matching_on_many_predicted_calls_finds_the_exact_ones_in_any_order():
    # Its speed is measured in benchmarks/bench_reward.py; here, its result.
    gt = gt_of(*(ToolCall("f", {"a": i}) for i in range(5)))
    calls = [ToolCall("f", {"a": i % 7}) for i in range(3000)]
    result = score(pred_of(*calls), gt, matching="optimal")
    assert result == score(pred_of(*reversed(calls)), gt, matching="optimal")  # the assignment, not the order
    assert result == score(pred_of(*calls), gt)  # greedy finds each target's exact prediction too
    assert (result["num_calls"], result["exact_match"], result["format_reward"]) == (3000.0, 0.0, 1.0)
    # every target is matched exactly: only the 2,995 extra calls cost, so it beats any wrong-value answer
    wrong = score(pred_of(*(ToolCall("f", {"a": 9}) for _ in range(5))), gt, matching="optimal")
    assert wrong["correctness_reward"] < result["correctness_reward"] < 3.0


def test_lenient_values_forgive_type_and_surface_noise():
    gt = gt_of(ToolCall("f", {"n": 1, "city": "Paris", "flag": True, "ids": [1, 2]}))
    pred = pred_of(ToolCall("f", {"n": "1", "city": " paris", "flag": "true", "ids": ["1", 2.0]}))
    assert score(pred, gt)["correctness_reward"] < 3.0
    lenient = score(pred, gt, values="lenient")
    assert lenient["correctness_reward"] == 3.0 and lenient["exact_match"] == 1.0


def test_lenient_values_keep_real_differences():
    gt = gt_of(ToolCall("f", {"n": 1, "city": "Paris"}))
    assert score(pred_of(ToolCall("f", {"n": 2, "city": "Paris"})), gt, values="lenient")["correctness_reward"] < 3
    assert score(pred_of(ToolCall("F", {"n": 1, "city": "Paris"})), gt, values="lenient")["correctness_reward"] < 3
    assert score(pred_of(ToolCall("f", {"N": 1, "city": "Paris"})), gt, values="lenient")["correctness_reward"] < 3


def test_defaults_do_not_change_with_extra_options_spelled_out():
    gt = gt_of(ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {}))
    pred = pred_of(ToolCall("g", {}), ToolCall("f", {"a": 1.0}))
    assert score(pred, gt) == score(pred, gt, variant="original", matching="greedy", values="exact")


def test_binary_is_all_or_nothing_and_order_free():
    gt = gt_of(ToolCall("f", {"a": 1}), ToolCall("g", {"b": [1]}))
    assert score(pred_of(ToolCall("g", {"b": [1]}), ToolCall("f", {"a": 1})), gt, variant="binary")["score"] == 1.0
    assert score(pred_of(ToolCall("f", {"a": 1})), gt, variant="binary")["score"] == 0.0
    assert score(pred_of(ToolCall("f", {"a": 1}), ToolCall("g", {"b": [2]})), gt, variant="binary")["score"] == 0.0
    no_think = pred_of(ToolCall("f", {"a": 1}), ToolCall("g", {"b": [1]})).split("\n", 1)[1]
    assert score(no_think, gt, variant="binary")["score"] == 0.0


def test_binary_on_a_response_target():
    gt = gt_of(response="Which city?")
    assert (
        score("<think> ask </think>\n<response> Which city do you mean? </response>", gt, variant="binary")["score"]
        == 1.0
    )
    assert score(pred_of(ToolCall("f")), gt, variant="binary")["score"] == 0.0


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "binary"])
@pytest.mark.parametrize("step", [0, 40, 200])
def test_hermes_scores_like_toolrl_for_the_same_content(variant, step):
    gt_calls = [ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {"c": [1]})]
    predictions = [
        [ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {"c": [1]})],
        [ToolCall("g", {"c": [1]}), ToolCall("f", {"a": 2})],
        [ToolCall("h", {})],
    ]
    for pred_calls in predictions:
        toolrl = score(pred_of(*pred_calls), gt_of(*gt_calls), variant=variant, step=step)
        hermes = score(
            pred_of(*pred_calls, fmt="hermes"),
            gt_of(*gt_calls, fmt="hermes"),
            variant=variant,
            step=step,
            format="hermes",
        )
        assert toolrl["correctness_reward"] == hermes["correctness_reward"]
        assert toolrl["format_reward"] == hermes["format_reward"]


def test_hermes_format_needs_think_and_the_right_kind_of_answer():
    gt = gt_of(ToolCall("f", {}), fmt="hermes")
    good = pred_of(ToolCall("f", {}), fmt="hermes")
    assert score(good, gt, format="hermes")["format_reward"] == 1.0
    assert score(good.split("</think>", 1)[1], gt, format="hermes")["format_reward"] == 0.0
    answer = render_output("t", [], "Sure.", "hermes")
    assert score(answer, gt, format="hermes")["format_reward"] == 0.0
    assert score(answer, gt, format="hermes")["correctness_reward"] == -3.0


@pytest.mark.parametrize(
    ("variant", "step", "expected"),
    [
        ("dynamic", 0, (-4.0, 4.0)),
        ("dynamic", 150, (-4.0, 4.0)),
        ("two_stage", 0, (-1.0, 2.0)),
        ("two_stage", 30, (-3.0, 3.5)),
    ],
)
def test_scheduled_ranges(variant, step, expected):
    assert score_range(gt_of(ToolCall("f")), step=step, variant=variant) == pytest.approx(expected)


@pytest.mark.parametrize("variant", ["dynamic", "two_stage", "dynamic_length"])
def test_scheduled_ranges_stay_within_the_documented_bounds(variant):
    bounds = {"dynamic": (-4.0, 4.0), "two_stage": (-3.0, 3.5), "dynamic_length": (-3.0, 5.0)}[variant]
    for step in range(0, 400, 7):
        low, high = score_range(gt_of(ToolCall("f")), step=step, variant=variant)
        assert bounds[0] <= low < high <= bounds[1]


def test_schedule_horizon_is_an_option():
    gt, pred = gt_of(ToolCall("f", {"a": 1})), pred_of(ToolCall("f", {"a": 2}))
    assert (
        score(pred, gt, variant="dynamic", step=50)["score"]
        != score(pred, gt, variant="dynamic", step=50, schedule_steps=50)["score"]
    )
    assert (
        score(pred, gt, variant="dynamic", step=150)["score"]
        == score(pred, gt, variant="dynamic", step=300, schedule_steps=300)["score"]
    )
