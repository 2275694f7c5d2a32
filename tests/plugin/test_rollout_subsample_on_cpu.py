"""Rollout sub-sampling by largest variance: the selection, the options the replay buffer checks at start,
and the recipe switch.

The selection is checked against every subset of small groups; the buffer is verl's real ``ReplayBuffer``
subclass, built as verl's v1 trainer builds a custom sampler; the switch is composed from the recipes.
A two-step CPU run with it is in ``tests/e2e/test_cpu_training_on_cpu.py``.
"""

from __future__ import annotations

import itertools
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verl_toolrl.checks.config import ConfigError, check_config, compose
from verl_toolrl.plugin.replay_buffer import MaxVarianceReplayBuffer
from verl_toolrl.plugin.rollout_subsample import (
    SAMPLER_NAME,
    SubsampleOptions,
    max_variance_subset,
    mean_group_std,
    subsample,
)

SWITCH = "toolrl/rollout_subsample=max_variance"
#: The rewards a ToolRL rollout gets most often (an exact call, a call with wrong arguments, text, unparsed).
SCORES = st.sampled_from([4.0, 0.4, 1.0, 0.0, -0.5, -2.0, -3.0])


@settings(max_examples=400, deadline=None)
@given(st.lists(SCORES, min_size=1, max_size=8), st.data())
def test_the_subset_kept_has_the_largest_variance_of_any_subset_of_its_size(scores: list[float], data) -> None:
    keep = data.draw(st.integers(1, len(scores)))
    chosen = max_variance_subset(scores, keep)
    assert chosen == sorted(set(chosen)) and len(chosen) == keep
    best = max(statistics.pvariance(subset) for subset in itertools.combinations(scores, keep))
    assert statistics.pvariance([scores[i] for i in chosen]) == pytest.approx(best)


def test_each_group_keeps_its_own_extremes_and_a_small_group_is_kept_whole() -> None:
    keys = ["a_0_0", "b_0_0", "a_1_0", "a_2_0", "a_3_0", "b_1_0", "c_0_0"]
    scores = [4.0, 1.0, 0.4, 4.0, -3.0, 0.0, 2.0]
    kept, dropped = subsample(keys, scores, keep=2)
    assert {keys[p] for p in kept} == {"b_0_0", "b_1_0", "c_0_0", "a_3_0", "a_2_0"}  # a: -3 and the last 4
    assert sorted(kept + dropped) == list(range(len(keys)))
    assert mean_group_std([keys[p] for p in kept], [scores[p] for p in kept]) >= mean_group_std(keys, scores)


def test_the_buffer_refuses_at_start_a_mini_batch_the_kept_rollouts_do_not_fill() -> None:
    """Built as verl's v1 trainer builds a custom sampler (``_build_replay_buffer``: these keyword arguments
    only); verl's actor would otherwise fail later on ``8 % 16 != 0`` in its mini-batch iterator."""
    common = dict(trainer_mode="sync", trainer_config={}, max_off_policy_threshold=None)
    sizes = {"rollout_n": 8, "train_batch_size": 4, "ppo_mini_batch_size": 2}
    buffer = MaxVarianceReplayBuffer(**common, max_off_policy_strategy="drop", sampler_kwargs={"keep": 4, **sizes})
    assert buffer.keep == 4
    with pytest.raises(ValueError, match=r"ppo_mini_batch_size=2: .* 4 x 2 = 8 rollouts .* = 16 rollouts; set it to 1"):
        MaxVarianceReplayBuffer(**common, max_off_policy_strategy="drop", sampler_kwargs={"keep": 2, **sizes})
    with pytest.raises(ValueError, match=r"sampler_kwargs.keep=8: must be below actor_rollout_ref.rollout.n=8"):
        SubsampleOptions(keep=8, **sizes)
    with pytest.raises(ValueError, match=r"sampler_kwargs.rollout_n: missing"):
        SubsampleOptions.from_config({"keep": 2})


def test_the_switch_composes_onto_the_paper_recipe_and_checks_every_key_it_needs() -> None:
    config = compose("toolrl_grpo", [SWITCH])
    check_config(config, require_data=False)
    sampler = config.trainer.v1.sampler
    assert sampler.custom_sampler.name == SAMPLER_NAME == MaxVarianceReplayBuffer.__name__
    assert SubsampleOptions.from_config(sampler.sampler_kwargs) == SubsampleOptions(2, 4, 512, 128)
    assert compose("toolrl_grpo").trainer.v1.sampler.custom_sampler.name is None  # off by default
    refused = {
        (): "ppo_mini_batch_size=2: .* set it to 1",  # the CPU recipe's 2 prompts a step need mini-batches of 1
        ("trainer.use_v1=false",): "trainer.use_v1=False: .* v1 trainer",
        ("algorithm.filter_groups.enable=true",): "algorithm.filter_groups.enable=true: .* one or the other",
    }
    for overrides, message in refused.items():
        mini = [] if not overrides else ["actor_rollout_ref.actor.ppo_mini_batch_size=1"]
        with pytest.raises(ConfigError, match=message):
            check_config(compose("toolrl_grpo_cpu", [SWITCH, *mini, *overrides]), require_data=False)
    check_config(
        compose("toolrl_grpo_cpu", [SWITCH, "actor_rollout_ref.actor.ppo_mini_batch_size=1"]), require_data=False
    )
    check_config(compose("toolrl_multiturn_grpo", [SWITCH]), require_data=False)
