"""The variance-based prompt filter: its decisions, verl's dataset serving through it, the reward manager
reporting to it, and the recipe switch.

The history's decisions are tested directly; the dataset is verl's real ``RLHFDataset`` subclass built
from the composed recipe on a real parquet file, talking to the history actor in a real local Ray
cluster; the scores reach it through the real ``toolrl`` reward manager's ``run_single``.
"""

from __future__ import annotations

import random

import pandas as pd
import pytest
from omegaconf import open_dict

from verl_toolrl.checks.preflight import compose_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.plugin.prompt_filter import (
    HISTORY_ACTOR,
    PROMPT_FILTER_FIELD,
    PromptFilterOptions,
    PromptHistory,
    VarianceFilteredDataset,
    parse_stamp,
)
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager
from verl_toolrl.plugin.verl_batch import agent_loop_sample
from verl_toolrl.reward import compute_score
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD

ANSWER = '<think> call it </think>\n<tool_call>\n{"name": "f", "parameters": {"x": 1}}\n</tool_call>'


def settle(history: PromptHistory, prompt: int, scores: list[float]) -> None:
    """Serve ``prompt`` and record its group's scores."""
    served = history.serve(prompt)
    assert served.prompt == prompt and served.skipped is None
    for score in scores:
        history.record(served.stamp, score)


# ---------------------------------------------------------------- the history's decisions


def test_a_prompt_without_history_or_with_spread_scores_is_served_as_requested():
    history = PromptHistory(4, PromptFilterOptions())
    assert history.serve(2).prompt == 2
    settle(history, 1, [4.0, -3.0, 4.0, 0.5])
    assert history.serve(1).prompt == 1 and history.settled(1) == ""


def test_a_settled_prompt_gives_its_place_to_never_served_prompts_first_then_the_longest_unserved():
    history = PromptHistory(4, PromptFilterOptions(max_skips=5))
    settle(history, 0, [4.0] * 8)
    settle(history, 3, [1.0, 0.0])  # spread: may still teach
    first = history.serve(0)
    assert first.skipped == 0 and first.reason == "its 8 latest rollouts all scored +4.00"
    assert first.prompt in (1, 2)  # never served, in the seeded order
    second = history.serve(0)
    assert {first.prompt, second.prompt} == {1, 2}
    assert history.serve(0).prompt == 3  # then the unsettled prompt served longest ago


def test_a_replacement_is_the_prompt_that_settled_least_often_in_its_latest_window_groups():
    history = PromptHistory(4, PromptFilterOptions(max_skips=0, window=2))  # built without skips
    settle(history, 3, [4.0] * 8)  # nearly solved: its earlier group scored alike ...
    settle(history, 3, [4.0] * 7 + [1.0])  # ... its latest held the one failure
    settle(history, 1, [4.0, 1.0, 4.0, 1.0])  # undecided, served after it
    settle(history, 2, [1.0, 1.0])  # settled
    settle(history, 0, [4.0] * 8)  # settled
    assert (history.settled_share(3), history.settled_share(1)) == (0.5, 0.0)
    history.options = PromptFilterOptions(max_skips=5, window=2)
    first = history.serve(0)
    assert first.skipped == 0 and first.prompt == 1  # not 3, though 3 was served longer ago
    assert history.serve(2).prompt == 3  # 1's new group has no score yet: 3 is the one left
    settle(history, 3, [4.0, 1.0])
    assert history.settled_share(3) == 0.0  # two unsettled groups since: the settled one left the window


@pytest.mark.parametrize("options", [PromptFilterOptions(), PromptFilterOptions(min_std=0.6, window=1, seed=3)])
def test_the_replacement_kept_current_is_the_one_a_scan_of_every_prompt_finds(options):
    rng = random.Random(7)
    history = PromptHistory(30, options)
    scores = {0: [4.0], 1: [0.0], 2: [0.0, 1.0, 1.5, 4.0]}  # by prompt % 3: always solved, never, undecided
    open_stamps: list[str] = []
    skips = 0
    for _ in range(600):
        unsettled = [prompt for prompt in range(history.size) if not history.settled(prompt)]
        scanned = min(unsettled, key=history.replacement_order) if unsettled else None
        assert history.first_replacement() == scanned
        if open_stamps and rng.random() < 0.7:  # a score, now and then for a group already superseded
            stamp_text = rng.choice(open_stamps)
            history.record(stamp_text, rng.choice(scores[parse_stamp(stamp_text)[0] % 3]))
        else:
            served = history.serve(rng.randrange(history.size))
            open_stamps.append(served.stamp)
            skips += served.skipped is not None
    assert skips > 20


def test_a_settled_prompt_is_rolled_out_again_after_max_skips_in_a_row():
    history = PromptHistory(3, PromptFilterOptions(max_skips=2))
    settle(history, 0, [0.0] * 4)
    assert [history.serve(0).skipped for _ in range(3)] == [0, 0, None]
    assert history.settled(0) == ""  # served again: its new group has no score yet


def test_max_skips_zero_never_skips():
    history = PromptHistory(3, PromptFilterOptions(max_skips=0))
    settle(history, 0, [0.0] * 4)
    assert history.serve(0).prompt == 0


def test_when_every_prompt_is_settled_the_requested_one_is_served():
    history = PromptHistory(2, PromptFilterOptions())
    settle(history, 0, [4.0] * 4)
    settle(history, 1, [-3.0] * 4)
    assert history.serve(0).prompt == 0


def test_min_std_widens_settled_to_nearly_alike_scores_and_one_score_never_settles():
    strict, loose = PromptHistory(2, PromptFilterOptions()), PromptHistory(2, PromptFilterOptions(min_std=0.2))
    for history in (strict, loose):
        settle(history, 0, [1.0, 1.2, 1.0, 1.2])
    assert strict.settled(0) == ""
    assert loose.settled(0) == "its 4 latest rollouts scored +1.00 to +1.20"
    settle(strict, 1, [4.0])
    assert strict.settled(1) == ""


def test_scores_of_a_superseded_group_are_ignored():
    history = PromptHistory(2, PromptFilterOptions())
    old = history.serve(0).stamp
    new = history.serve(0).stamp
    for score in (4.0, 4.0):
        history.record(old, score)
    assert history.settled(0) == ""
    for score in (1.0, 1.0):
        history.record(new, score)
    assert history.settled(0) != ""


def test_bad_options_and_stamps_name_the_key_or_the_text():
    with pytest.raises(ValueError, match=r"data.prompt_filter.min_std=-1.0: must be a number >= 0"):
        PromptFilterOptions(min_std=-1.0)
    with pytest.raises(ValueError, match=r"data.prompt_filter.max_skips='2'"):
        PromptFilterOptions.from_config({"max_skips": "2"})
    with pytest.raises(ValueError, match=r"data.prompt_filter.window=0: must be an integer >= 1"):
        PromptFilterOptions.from_config({"window": 0})
    with pytest.raises(ValueError, match=r"data.prompt_filter.skips: unknown option"):
        PromptFilterOptions.from_config({"skips": 1})
    with pytest.raises(ValueError, match=r"prompt_filter stamp '3' is not PROMPT:SERVE"):
        PromptHistory(4, PromptFilterOptions()).record("3", 1.0)
    with pytest.raises(IndexError, match=r"prompt 9 is outside the training set's 4 rows"):
        PromptHistory(4, PromptFilterOptions()).serve(9)


# ---------------------------------------------------------------- verl's dataset and reward manager, in Ray


@pytest.fixture(scope="module")
def tokenizer():
    return byte_level_tokenizer([ANSWER, "question"] * 8, vocab_size=300)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("prompts")
    paths = {}
    for split, rows in (("train", 6), ("test", 2)):
        frame = pd.DataFrame(
            {
                "data_source": ["rlla"] * rows,
                "prompt": [[{"role": "user", "content": f"{split} question {i}"}] for i in range(rows)],
                "reward_model": [{"ground_truth": ANSWER, "style": "rule"}] * rows,
                "extra_info": [{"index": i, "split": split} for i in range(rows)],
            }
        )
        paths[split] = str(folder / f"{split}.parquet")
        frame.to_parquet(paths[split])
    return paths


def printed(capsys) -> list[str]:
    """The filter's lines among what was printed (verl's dataset prints its own too)."""
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("prompt filter:")]


def recipe(parquet: dict[str, str], *overrides: str):
    files = [f"data.train_files={parquet['train']}", f"data.val_files={parquet['test']}"]
    return compose_recipe("toolrl_grpo_cpu", [*files, "data.train_batch_size=3", *overrides])


def dataset(config, files: str, tokenizer) -> VarianceFilteredDataset:
    return VarianceFilteredDataset(data_files=files, tokenizer=tokenizer, config=config.data, processor=None)


def test_the_recipe_switch_sets_the_dataset_class_and_no_prefetching(parquet):
    off, on = recipe(parquet), recipe(parquet, "toolrl/prompt_filter=variance")
    assert off.data.custom_cls.path is None and "prompt_filter" not in off.data
    assert on.data.custom_cls.path == "pkg://verl_toolrl.plugin.prompt_filter"
    assert on.data.custom_cls.name == "VarianceFilteredDataset" and on.data.dataloader_num_workers == 0
    assert PromptFilterOptions.from_config(on.data.prompt_filter) == PromptFilterOptions()
    multi_turn = compose_recipe("toolrl_multiturn_grpo", ["toolrl/prompt_filter=variance"])
    assert multi_turn.data.custom_cls.name == "VarianceFilteredDataset"


def test_the_training_set_serves_through_the_history_and_the_manager_reports_each_score(
    ray_cluster, parquet, tokenizer, capsys
):
    config = recipe(parquet, "toolrl/prompt_filter=variance", "reward.reward_kwargs.variant=binary")
    train = dataset(config, parquet["train"], tokenizer)
    first = [train[i] for i in range(3)]
    stamps = [row[PROMPT_FILTER_FIELD] for row in first]
    assert [row["extra_info"]["index"] for row in first] == [0, 1, 2]
    assert printed(capsys) == ["prompt filter: batch 1: 3 prompts served, 0 settled skipped"]

    # row 0's group: every rollout exact, scored by the real manager, which reports to the filter
    manager = ToolRLRewardManager(config, tokenizer)
    ids = tokenizer.encode(ANSWER, add_special_tokens=False) + [tokenizer.eos_token_id]
    fields = {**{key: first[0][key] for key in ("data_source", "reward_model", "extra_info")}, "global_steps": 1}
    for _ in range(4):
        result = manager.loop.run_until_complete(
            manager.run_single(agent_loop_sample([1, 2], ids, {**fields, PROMPT_FILTER_FIELD: stamps[0]}))
        )
        assert result["reward_score"] == 1.0
    # row 1's group: two multi-turn trajectories (the agent loop scored their turns) that scored apart
    for turn_score in (4.0, 1.0):
        turn = {**compute_score("rlla", ANSWER, ANSWER), "state_match": 1.0, "turn_score": turn_score}
        record = {"turns": [turn], "turns_reached": 1, "bfcl_valid": True, "calls": 1, "call_errors": 0}
        sample = agent_loop_sample(
            [1, 2], ids, {**fields, PROMPT_FILTER_FIELD: stamps[1]}, tool_extra_fields={MULTI_TURN_FIELD: record}
        )
        manager.loop.run_until_complete(manager.run_single(sample))
    history = ray_cluster.get_actor(HISTORY_ACTOR)
    (high, low) = ray_cluster.get(history.group_scores.remote(1))
    assert high > low and ray_cluster.get(history.settled.remote(1)) == ""

    again = [train[i] for i in (0, 1, 2)]
    replacement, *rest = [row["extra_info"]["index"] for row in again]
    assert replacement in (3, 4, 5) and rest == [1, 2]  # row 0 skipped, a never-served row instead
    assert printed(capsys) == [
        "prompt filter: batch 2: 3 prompts served, 1 settled skipped: "
        f"prompt 0 (its 4 latest rollouts all scored +1.00; prompt {replacement} served)"
    ]

    # a sample the filter did not serve (validation) reaches no history
    plain = manager.loop.run_until_complete(manager.run_single(agent_loop_sample([1, 2], ids, fields)))
    assert plain["reward_score"] == 1.0

    validation = dataset(config, parquet["test"], tokenizer)
    assert PROMPT_FILTER_FIELD not in validation[0] and printed(capsys) == []
    ray_cluster.kill(history)


def test_a_prefetching_dataloader_is_refused_naming_the_key(ray_cluster, parquet, tokenizer):
    config = recipe(parquet, "toolrl/prompt_filter=variance")
    with open_dict(config):
        config.data.dataloader_num_workers = 2
    with pytest.raises(ValueError, match=r"data.dataloader_num_workers=2: the prompt filter needs 0"):
        dataset(config, parquet["train"], tokenizer)
    with open_dict(config):
        config.data.dataloader_num_workers = 0
        config.data.prompt_filter.max_skips = -1
    with pytest.raises(ValueError, match=r"data\.prompt_filter\.max_skips=-1: must be an integer >= 0"):
        dataset(config, parquet["train"], tokenizer)
