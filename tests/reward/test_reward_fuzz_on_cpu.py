"""Property-based and adversarial tests: the reward is total, in range, linear, and equal to the released rule.

Two oracles that are not this package: the released format regular expressions (spec/REWARD.md), and
verl's in-tree port of the released reward (``verl.utils.reward_score.rlla``).
"""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verl.utils.reward_score import rlla as verl_rlla

from verl_toolrl.core.calls import FORMATS, ToolCall, render_output
from verl_toolrl.reward import VARIANTS, compute_score, score_range
from verl_toolrl.reward.format import toolrl_layout_ok

RELEASED_PATTERNS = {
    (False, True): r"^<think>.*?</think>\n<response>.*?</response>$",
    (True, False): r"^<think>.*?</think>\n<tool_call>\n.*?\n</tool_call>$",
    (True, True): r"^<think>.*?</think>\n<tool_call>\n.*?\n</tool_call>\n<response>.*?</response>$",
    (False, False): r"^<think>.*?</think>$",
}
TAG_COUNTS = {
    (False, True): ("<response>", "</response>"),
    (True, False): ("<tool_call>", "</tool_call>"),
    (True, True): ("<tool_call>", "</tool_call>", "<response>", "</response>"),
    (False, False): (),
}


def released_layout_ok(text: str, has_call: bool, has_response: bool) -> bool:
    kind = (has_call, has_response)
    return bool(re.search(RELEASED_PATTERNS[kind], text, re.DOTALL)) and all(
        text.count(tag) == 1 for tag in TAG_COUNTS[kind]
    )


PIECES = [
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<response>",
    "</response>",
    "\n",
    "\n\n",
    " ",
    "a",
    "{}",
]
soup = st.lists(st.sampled_from(PIECES), max_size=14).map("".join).map(str.strip)


@settings(max_examples=3000, deadline=None)
@given(soup, st.booleans(), st.booleans())
def test_linear_format_check_equals_the_released_regex(text, has_call, has_response):
    released = released_layout_ok(text, has_call, has_response)
    assert toolrl_layout_ok(text, has_call, has_response) == released
    if all(text.count(tag) <= 1 for tag in ("<tool_call>", "</tool_call>", "<response>", "</response>")):
        assert toolrl_layout_ok(text, has_call, has_response, tags_unique=True) == released


# ---- differential test against verl's in-tree port of the released reward ---------------------------

names = st.sampled_from(["f", "g", "h"])
values = st.one_of(
    st.sampled_from([1, 1.0, True, 0, "1", "x", "X", None, [1], [1, 2], {"k": 1}]),
    st.integers(-3, 3),
)
arguments = st.dictionaries(st.sampled_from(["a", "b", "c"]), values, max_size=3)
good_call = st.builds(lambda n, a: {"name": n, "parameters": a}, names, arguments)
odd_call = st.sampled_from(
    [
        {"name": "f"},
        {"parameters": {}},
        {"name": "f", "parameters": [1]},
        {"name": ["f"], "parameters": {}},
        {"name": "g", "parameters": "a=1"},
        [1],
        "f",
        3,
        {"name": "f", "parameters": {"a": 1}, "extra": 1},
    ]
)


def call_line(call) -> str:
    return json.dumps(call)


pred_line = st.one_of(
    good_call.map(call_line),
    good_call.map(call_line),
    odd_call.map(call_line),
    st.sampled_from(["", "{bad", "NaN", '{"name": "f", "parameters": {"a": NaN}}']),
)


@st.composite
def cases(draw):
    gt_calls = draw(st.lists(good_call, min_size=1, max_size=3))
    gt = "<think> t </think>\n<tool_call>\n" + "\n".join(map(call_line, gt_calls)) + "\n</tool_call>"
    if draw(st.booleans()):
        gt += "\n<response> ok </response>"
    lines = draw(
        st.lists(st.one_of(pred_line, st.sampled_from([call_line(c) for c in gt_calls])), min_size=1, max_size=4)
    )
    pred = "<think> p </think>\n<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"
    return gt, draw(
        st.sampled_from([pred, pred + "\n<response> ok </response>", pred.replace("<tool_call>\n", "", 1), "x"])
    )


def verl_port(pred: str, gt: str) -> tuple[float, float]:
    completions = [[{"role": "assistant", "content": pred}]]
    fmt = verl_rlla.customize_format_reward_func(completions, [gt], 0, 1.0, 0.0, False)[0]
    correct = verl_rlla.customize_correctness_reward_tool(completions, [gt], 0, 3.0, -3.0, False)[0]
    return fmt, correct


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_original_variant_equals_verls_port(case):
    gt, pred = case
    fmt, correct = verl_port(pred, gt)
    ours = compute_score("rlla", pred, gt)
    assert ours["format_reward"] == fmt
    assert ours["correctness_reward"] == correct or (math.isnan(correct) and math.isnan(ours["correctness_reward"]))


# ---- totality: any string scores within the documented range ----------------------------------------

GT_CALLS = [ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {})]
TARGETS = {
    fmt: [
        render_output("t", GT_CALLS, None, fmt),
        render_output("t", GT_CALLS, "done", fmt),
        render_output("t", [], "Which city?", fmt),
    ]
    for fmt in FORMATS
}


def assert_in_range(text: str, fmt: str, variant: str, step: int, **options) -> None:
    for gt in TARGETS[fmt]:
        result = compute_score("fuzz", text, gt, step=step, variant=variant, format=fmt, **options)
        low, high = score_range(gt, step=step, variant=variant, format=fmt)
        assert low - 1e-12 <= result["score"] <= high + 1e-12, (variant, step, result)
        if variant == "binary":  # its own rule: 1 only when both the format and the calls are right
            assert result["score"] in (0.0, 1.0) and result["length_reward"] == 0.0, result
            assert {result["format_reward"], result["correctness_reward"]} <= {0.0, 1.0}, result
            assert result["score"] == result["format_reward"] * result["correctness_reward"], result
        else:
            parts = result["format_reward"] + result["correctness_reward"] + result["length_reward"]
            assert parts == pytest.approx(result["score"]), (variant, result)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.text(), soup, st.binary().map(lambda b: b.decode("latin-1")), cases().map(lambda c: c[1])),
    st.sampled_from(sorted(VARIANTS)),
    st.sampled_from([0, 29, 30, 75, 150, 10_000]),
    st.sampled_from(FORMATS),
    st.sampled_from([{}, {"matching": "optimal"}, {"values": "lenient"}]),
)
def test_any_string_scores_within_range(text, variant, step, fmt, options):
    assert_in_range(text, fmt, variant, step, **options)


def _adversarial() -> dict[str, str]:
    one_mb = 1 << 20
    call = '{"name": "f", "parameters": {"a": 1}}\n'
    return {
        "empty": "",
        "whitespace": " \n\t\u2028 ",
        "binary junk": bytes(range(256)).decode("latin-1") * 4,
        "repeated closing think + open call (quadratic for the released regex)": "<think>"
        + "</think>\n<tool_call>\n" * (one_mb // 21),
        "repeated full blocks": "<think> t </think>\n<tool_call>\n" + call * (one_mb // len(call)) + "</tool_call>",
        "deeply nested JSON": "<think> t </think>\n<tool_call>\n" + "[" * 200_000 + "]" * 200_000 + "\n</tool_call>",
        "nested object parameters": '<think> t </think>\n<tool_call>\n{"name": "f", "parameters": '
        + '{"a": ' * 5000
        + "1"
        + "}" * 5000
        + "}\n</tool_call>",
        "NaN and infinities": '<think> t </think>\n<tool_call>\n{"name": "f", "parameters": '
        '{"a": NaN, "b": Infinity}}\n</tool_call>',
        "huge numbers": '<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {"a": 1e999, "b": '
        + "9" * 10_000
        + "}}\n</tool_call>",
        "huge name": '<think> t </think>\n<tool_call>\n{"name": "'
        + "f" * one_mb
        + '", "parameters": {}}\n</tool_call>',
        "many tags": "<tool_call><response></think><think>" * (one_mb // 36),
        "lone surrogates": "<think> \ud800 </think>\n<response> \udfff </response>",
        "null bytes": "<think>\x00</think>\n<tool_call>\n\x00\n</tool_call>",
    }


@pytest.mark.parametrize("name", list(_adversarial()))
@pytest.mark.parametrize("fmt", FORMATS)
def test_adversarial_responses_score_within_range(name, fmt):
    text = _adversarial()[name]
    for variant in ("original", "dynamic_length", "binary", "intermediate"):
        assert_in_range(text, fmt, variant, step=40)
    assert_in_range(text, fmt, "original", step=0, matching="optimal", values="lenient")
