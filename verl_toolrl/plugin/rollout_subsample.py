"""Rollout sub-sampling by largest variance: train each GRPO group on the ``keep`` of its rollouts whose
rewards spread most.

A group of ``n`` rollouts is generated as usual; before the update, the replay buffer of verl's v1 trainer
keeps, per group, the ``keep`` rollouts whose rewards have the largest variance (the lowest few and the
highest few: :func:`max_variance_subset`) and drops the rest, so old log-probabilities, the reference, the
advantages and the update run on ``keep / n`` of the rollouts while each group keeps its spread. It is
switched on by one Hydra choice in the GRPO recipes that run verl's v1 trainer (single-turn; multi-turn on
GPU), ``toolrl/rollout_subsample=max_variance`` (``recipes/toolrl/rollout_subsample/max_variance.yaml``),
and is off by default.

It plugs in through verl 0.9.1's replay-buffer extension point, ``trainer.v1.sampler.custom_sampler``
(:mod:`verl_toolrl.plugin.replay_buffer`: verl's ``ReplayBuffer`` with one method overridden), with ``keep``
from ``trainer.v1.sampler.sampler_kwargs.keep``; this module is the selection and the options, without
verl. verl sizes the actor's mini-batch as ``actor.ppo_mini_batch_size * rollout.n`` rollouts and needs the
batch to divide into it, so ``ppo_mini_batch_size`` must be ``train_batch_size * keep / n`` or a divisor of
it: the buffer refuses to start otherwise, naming the value that fits (:class:`SubsampleOptions`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from verl_toolrl.core.trajectories import groups_of
from verl_toolrl.plugin.options import options_from_config

#: The replay buffer's class name (:mod:`verl_toolrl.plugin.replay_buffer`), as
#: ``trainer.v1.sampler.custom_sampler.name`` gives it.
SAMPLER_NAME = "MaxVarianceReplayBuffer"


def max_variance_subset(scores: Sequence[float], keep: int) -> list[int]:
    """Indices (ascending) of the ``keep`` scores with the largest variance: the ``i`` lowest and the
    ``keep - i`` highest for the best ``i`` (a subset of largest variance is always of that shape); the
    most balanced ``i`` among equals.

    >>> max_variance_subset([4.0, 4.0, -3.0, 4.0, 0.4, 4.0], 4)  # -3 and three 4s: variance 9.19
    [1, 2, 3, 5]
    >>> max_variance_subset([4.0, 4.0, -3.0, 4.0, 0.4, 4.0], 2)
    [2, 5]
    >>> max_variance_subset([1.0, 1.0, 1.0], 2)
    [0, 2]
    >>> max_variance_subset([1.0, 2.0], 3)
    Traceback (most recent call last):
    ...
    ValueError: keep=3: must be between 1 and the group's 2 rollouts
    """
    if not 1 <= keep <= len(scores):
        raise ValueError(f"keep={keep}: must be between 1 and the group's {len(scores)} rollouts")
    order = sorted(range(len(scores)), key=lambda index: (scores[index], index))

    def spread(low: int) -> tuple[float, int]:
        chosen = order[:low] + order[len(order) - (keep - low) :]
        return statistics.pvariance([scores[index] for index in chosen]), -abs(keep - 2 * low)

    low = max(range(keep + 1), key=spread)
    return sorted(order[:low] + order[len(order) - (keep - low) :])


def subsample(keys: Sequence[str], scores: Sequence[float], keep: int) -> tuple[list[int], list[int]]:
    """Positions in ``keys`` to train on and to drop: per group, :func:`max_variance_subset` of its scores;
    a group of ``keep`` rollouts or fewer is kept whole.

    >>> subsample(["a_0_0", "b_0_0", "a_1_0", "a_2_0", "b_1_0"], [4.0, 1.0, 4.0, -3.0, 1.0], keep=2)
    ([1, 2, 3, 4], [0])
    """
    kept = []
    for positions in groups_of(keys).values():
        if len(positions) <= keep:
            kept += positions
        else:
            kept += [positions[i] for i in max_variance_subset([scores[p] for p in positions], keep)]
    kept.sort()
    return kept, sorted(set(range(len(keys))) - set(kept))


def mean_group_std(keys: Sequence[str], scores: Sequence[float]) -> float:
    """The mean over groups of the standard deviation of their rollouts' scores.

    >>> mean_group_std(["a_0_0", "a_1_0", "b_0_0", "b_1_0"], [4.0, -2.0, 1.0, 1.0])
    1.5
    """
    return statistics.fmean(statistics.pstdev([scores[p] for p in group]) for group in groups_of(keys).values())


def subsample_summary(step: int, keys: Sequence[str], scores: Sequence[float], kept: Sequence[int]) -> str:
    """The line printed per training step: rollouts kept, and the mean group spread before and after.

    >>> keys = ["a_0_0", "a_1_0", "a_2_0", "a_3_0"]
    >>> subsample_summary(3, keys, [4.0, 4.0, -3.0, 4.0], kept=[0, 2])
    "rollout subsample: step 3: trained on 2 of 4 rollouts, 2 of each group's 4; mean group std 3.03, kept 3.50"
    """
    groups = len(groups_of(keys))
    return (
        f"rollout subsample: step {step}: trained on {len(kept)} of {len(keys)} rollouts, {len(kept) // groups} of "
        f"each group's {len(keys) // groups}; mean group std {mean_group_std(keys, scores):.2f}, "
        f"kept {mean_group_std([keys[p] for p in kept], [scores[p] for p in kept]):.2f}"
    )


@dataclass(frozen=True)
class SubsampleOptions:
    """``trainer.v1.sampler.sampler_kwargs``: how many rollouts of each group to keep, and the sizes (read
    from the config by interpolation in ``recipes/toolrl/rollout_subsample/max_variance.yaml``) that verl's
    actor needs the kept batch to divide into.

    >>> SubsampleOptions(keep=2, rollout_n=4, train_batch_size=512, ppo_mini_batch_size=128).keep
    2
    >>> SubsampleOptions(keep=4, rollout_n=4, train_batch_size=2, ppo_mini_batch_size=1)
    Traceback (most recent call last):
    ...
    ValueError: trainer.v1.sampler.sampler_kwargs.keep=4: must be below actor_rollout_ref.rollout.n=4
    >>> SubsampleOptions(keep=2, rollout_n=4, train_batch_size=2, ppo_mini_batch_size=2)
    Traceback (most recent call last):
    ...
    ValueError: actor_rollout_ref.actor.ppo_mini_batch_size=2: the rollout sub-sampler keeps 2 x 2 = 4 rollouts ...
    """

    keep: int
    rollout_n: int
    train_batch_size: int
    ppo_mini_batch_size: int

    def __post_init__(self) -> None:
        keep, n, prompts, mini = self.keep, self.rollout_n, self.train_batch_size, self.ppo_mini_batch_size
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise ValueError(f"trainer.v1.sampler.sampler_kwargs.keep={keep!r}: must be an integer >= 1")
        if keep >= n:
            raise ValueError(
                f"trainer.v1.sampler.sampler_kwargs.keep={keep}: must be below actor_rollout_ref.rollout.n={n}"
            )
        if (prompts * keep) % (mini * n):
            fits = f"{prompts * keep // n} or a divisor of it" if (prompts * keep) % n == 0 else "none fits"
            raise ValueError(
                f"actor_rollout_ref.actor.ppo_mini_batch_size={mini}: the rollout sub-sampler keeps {prompts} x {keep} "
                f"= {prompts * keep} rollouts a step, which verl splits into mini-batches of ppo_mini_batch_size x "
                f"rollout.n = {mini * n} rollouts; set it to {fits}"
            )

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | DictConfig | None) -> SubsampleOptions:
        """The options from ``trainer.v1.sampler.sampler_kwargs``; a missing or unknown key is a ``ValueError``."""
        return options_from_config(cls, node, "trainer.v1.sampler.sampler_kwargs")


def check_rollout_subsample(config: Mapping[str, Any] | DictConfig) -> None:
    """When the custom sampler is the sub-sampler's replay buffer: its options, verl's v1 trainer in sync
    mode (the legacy trainer ignores ``trainer.v1``), and no DAPO beside it (verl gives a custom replay
    buffer no group filtering). Raises ``ValueError`` naming the key.

    >>> check_rollout_subsample({"trainer": {"use_v1": False, "v1": {"sampler": {
    ...     "custom_sampler": {"name": "MaxVarianceReplayBuffer"}, "sampler_kwargs": {"keep": 2, "rollout_n": 4,
    ...     "train_batch_size": 4, "ppo_mini_batch_size": 2}}}}})
    Traceback (most recent call last):
    ...
    ValueError: trainer.use_v1=False: the rollout sub-sampler is a replay buffer of verl's v1 trainer
    """
    trainer = config.get("trainer") or {}
    sampler = (trainer.get("v1") or {}).get("sampler") or {}
    if (sampler.get("custom_sampler") or {}).get("name") != SAMPLER_NAME:
        return
    SubsampleOptions.from_config(sampler.get("sampler_kwargs"))
    if not trainer.get("use_v1", True):
        raise ValueError(
            f"trainer.use_v1={trainer.get('use_v1')}: the rollout sub-sampler is a replay buffer of verl's v1 trainer"
        )
    mode = (trainer.get("v1") or {}).get("trainer_mode", "sync")
    if mode != "sync":
        raise ValueError(f"trainer.v1.trainer_mode={mode}: the rollout sub-sampler extends verl's sync replay buffer")
    if ((config.get("algorithm") or {}).get("filter_groups") or {}).get("enable"):
        raise ValueError(
            "algorithm.filter_groups.enable=true: verl gives a custom replay buffer no DAPO filtering; "
            "use one or the other"
        )
