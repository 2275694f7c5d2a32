"""verl's rollout data contract: ``DataProto`` batches built the way verl 0.9.1's agent loop builds them.

The reward manager is fed by verl's rollout; the preflight check, the tests and the benchmark feed it the
same shapes without a GPU. Each builder names the verl function whose output it reproduces:

- :func:`agent_loop_sample`: what ``AgentLoopWorker._compute_score`` sends a reward worker while rolling
  out (one trajectory, unpadded prompt and response, an all-ones attention mask).
- :func:`rollout_batch`: what ``AgentLoopWorker._postprocess`` returns to the trainer (prompts left-padded
  to ``prompt_length``, responses right-padded to ``response_length``), which the trainer's
  ``RewardLoopManager.compute_rm_score`` splits into one-sample slices when it scores a whole batch.

Dataset fields (``data_source``, ``reward_model``, ``extra_info``, ``global_steps``, ``uid``, …) become
``non_tensor_batch`` entries, as verl copies a row's fields next to the tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict
from verl import DataProto
from verl.utils.model import compute_position_id_with_mask


def _column(values: Sequence[Any]) -> np.ndarray:
    """One ``non_tensor_batch`` column: numpy's own dtype for scalars and strings (as ``np.array(values)``
    gives in verl), an object array for anything else (dicts, lists)."""
    if all(isinstance(value, (bool, int, float, str, np.generic)) for value in values):
        return np.array(values)
    column = np.empty(len(values), dtype=object)
    column[:] = list(values)
    return column


def agent_loop_sample(
    prompt_ids: Sequence[int],
    response_ids: Sequence[int],
    fields: Mapping[str, Any],
    *,
    num_turns: int = 2,
    tool_extra_fields: Mapping[str, Any] | None = None,
) -> DataProto:
    """One trajectory as ``AgentLoopWorker._compute_score`` hands it to ``RewardLoopWorker.compute_score``.

    >>> data = agent_loop_sample([1, 2], [3, 4, 5], {"data_source": "rlla", "global_steps": 7})
    >>> data.batch["attention_mask"].tolist(), data.non_tensor_batch["global_steps"].tolist()
    ([[1, 1, 1, 1, 1]], [7])
    """
    prompts = torch.tensor(list(prompt_ids), dtype=torch.int64)
    responses = torch.tensor(list(response_ids), dtype=torch.int64)
    input_ids = torch.cat([prompts, responses])
    attention_mask = torch.ones_like(input_ids)
    batch = TensorDict(
        {
            "prompts": prompts.unsqueeze(0),
            "responses": responses.unsqueeze(0),
            "attention_mask": attention_mask.unsqueeze(0),
            "input_ids": input_ids.unsqueeze(0),
            "position_ids": compute_position_id_with_mask(attention_mask.unsqueeze(0)),
        },
        batch_size=1,
    )
    non_tensor = {key: _column([value]) for key, value in fields.items()}
    non_tensor["__num_turns__"] = np.array([num_turns])
    non_tensor["tool_extra_fields"] = _column([dict(tool_extra_fields or {})])
    non_tensor["prompt_len"] = np.array([len(prompts)])
    non_tensor["response_len"] = np.array([len(responses)])
    return DataProto(batch=batch, non_tensor_batch=non_tensor)


def rollout_batch(
    samples: Sequence[tuple[Sequence[int], Sequence[int], Mapping[str, Any]]],
    *,
    prompt_length: int,
    response_length: int,
    pad_token_id: int,
) -> DataProto:
    """A rollout batch as ``AgentLoopWorker._postprocess`` returns it: ``(prompt_ids, response_ids, fields)``
    per sample, prompts left-padded and responses right-padded with ``pad_token_id``.

    >>> data = rollout_batch([([1, 2], [3], {"uid": "a"}), ([1], [3, 4], {"uid": "a"})],
    ...                      prompt_length=3, response_length=3, pad_token_id=0)
    >>> data.batch["input_ids"].tolist()
    [[0, 1, 2, 3, 0, 0], [0, 0, 1, 3, 4, 0]]
    >>> data.batch["attention_mask"].tolist()
    [[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0]]
    """
    rows = len(samples)
    prompts = torch.full((rows, prompt_length), pad_token_id, dtype=torch.int64)
    responses = torch.full((rows, response_length), pad_token_id, dtype=torch.int64)
    prompt_mask = torch.zeros((rows, prompt_length), dtype=torch.int64)
    response_mask = torch.zeros((rows, response_length), dtype=torch.int64)
    for row, (prompt_ids, response_ids, _) in enumerate(samples):
        if not 0 < len(prompt_ids) <= prompt_length or len(response_ids) > response_length:
            raise ValueError(
                f"sample {row}: prompt of {len(prompt_ids)} tokens (must be 1..{prompt_length}) "
                f"or response of {len(response_ids)} tokens (must be at most {response_length})"
            )
        if prompt_ids:
            prompts[row, prompt_length - len(prompt_ids) :] = torch.tensor(list(prompt_ids))
            prompt_mask[row, prompt_length - len(prompt_ids) :] = 1
        if response_ids:
            responses[row, : len(response_ids)] = torch.tensor(list(response_ids))
            response_mask[row, : len(response_ids)] = 1
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
    batch = TensorDict(
        {
            "prompts": prompts,
            "responses": responses,
            "response_mask": response_mask,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": attention_mask,
            "position_ids": compute_position_id_with_mask(attention_mask),
        },
        batch_size=rows,
    )
    keys = list(dict.fromkeys(key for _, _, fields in samples for key in fields))
    non_tensor = {key: _column([fields.get(key) for _, _, fields in samples]) for key in keys}
    non_tensor["__num_turns__"] = np.full(rows, 2, dtype=np.int32)
    return DataProto(batch=batch, non_tensor_batch=non_tensor)
