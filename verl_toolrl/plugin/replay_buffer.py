"""The rollout sub-sampler's replay buffer: verl's v1 ``ReplayBuffer`` handing the trainer, of each training
group, the rollouts :mod:`verl_toolrl.plugin.rollout_subsample` selects.

verl's v1 trainer loads it by path when a recipe chooses ``toolrl/rollout_subsample=max_variance``
(``trainer.v1.sampler.custom_sampler``), and builds it with the keyword arguments it gives any custom sampler.
Kept apart from the selection so that checking a config does not import verl's trainer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import transfer_queue as tq
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

from verl_toolrl.plugin.rollout_subsample import SubsampleOptions, subsample, subsample_summary


class MaxVarianceReplayBuffer(ReplayBuffer):
    """verl's sync ``ReplayBuffer`` (``trainer.v1.sampler.custom_sampler``) that hands the trainer, of each
    training group, the ``keep`` rollouts of largest reward variance, clearing the others from
    TransferQueue; validation batches are left whole. Built as verl's v1 trainer builds a custom sampler:

    >>> sizes = {"rollout_n": 4, "train_batch_size": 4, "ppo_mini_batch_size": 2}
    >>> MaxVarianceReplayBuffer(trainer_mode="sync", trainer_config={}, max_off_policy_threshold=None,
    ...                         max_off_policy_strategy="drop", sampler_kwargs={"keep": 2, **sizes}).keep
    2
    """

    def __init__(self, *args: Any, sampler_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, sampler_kwargs=sampler_kwargs, **kwargs)
        self.keep = SubsampleOptions.from_config(sampler_kwargs).keep
        self.global_steps = 0

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> tuple[KVBatchMeta, dict]:
        """verl's sampling, remembering the trainer's step for the printed line."""
        self.global_steps = global_steps
        return super().sample(global_steps, partition_id, batch_size)

    def _materialize_batch(
        self, partition_id: str, selected_prompt_uids: list[str], partition_snapshot: dict[str, dict]
    ) -> KVBatchMeta:
        batch = super()._materialize_batch(partition_id, selected_prompt_uids, partition_snapshot)
        if partition_id == "val" or not batch.keys:
            return batch
        data = tq.kv_batch_get(keys=batch.keys, partition_id=partition_id, select_fields=["rm_scores"])
        scores = [float(row.sum().item()) for row in list(data["rm_scores"])]  # as verl's DAPO filter reads them
        kept, dropped = subsample(batch.keys, scores, self.keep)
        if dropped:
            tq.kv_clear(keys=[batch.keys[p] for p in dropped], partition_id=partition_id)
        print(subsample_summary(self.global_steps, batch.keys, scores, kept), flush=True)
        return KVBatchMeta(
            partition_id=batch.partition_id, keys=[batch.keys[p] for p in kept], tags=[batch.tags[p] for p in kept]
        )
