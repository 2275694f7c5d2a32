"""Nothing in the plugin depends on the actor's backend: verl's reward-loop workers built from the Megatron
recipe's composed config score a batch exactly as those built from the FSDP recipe's."""

from __future__ import annotations

import numpy as np
import torch
from test_reward_manager_on_cpu import (  # the plugin tests' batch and its tokenizer (fixtures)
    DATA,
    padded_batch,
    padding_layouts,
    tokenizer,  # noqa: F401
    tokenizer_dir,  # noqa: F401
)

from verl_toolrl.checks.preflight import compose_recipe
from verl_toolrl.reward.multi_turn import REWARD_EXTRA_KEYS


def scores(recipe: str, model_dir, byte_tokenizer) -> tuple[torch.Tensor, dict[str, list]]:
    """``compute_rm_score`` of verl's ``RewardLoopManager`` (its Ray reward workers) from ``recipe``."""
    from verl.experimental.reward_loop import RewardLoopManager

    config = compose_recipe(
        recipe,
        [
            *DATA,
            f"actor_rollout_ref.model.path={model_dir}",
            "reward.num_workers=1",
            "reward.reward_kwargs.variant=finegrained",
        ],
    )
    batch = padded_batch(byte_tokenizer, padding_layouts(byte_tokenizer))
    output = RewardLoopManager(config).compute_rm_score(batch)
    extra = {key: np.asarray(output.non_tensor_batch[key]).tolist() for key in output.meta_info["reward_extra_keys"]}
    return output.batch["rm_scores"], extra


def test_the_megatron_recipe_scores_a_batch_as_the_fsdp_recipe(tokenizer, tokenizer_dir, ray_cluster):  # noqa: F811
    fsdp_scores, fsdp_extra = scores("toolrl_grpo", tokenizer_dir, tokenizer)
    megatron_scores, megatron_extra = scores("toolrl_grpo_megatron", tokenizer_dir, tokenizer)
    assert list(fsdp_extra) == list(REWARD_EXTRA_KEYS)
    assert fsdp_scores.abs().sum() > 0 and len(set(fsdp_scores.sum(dim=1).tolist())) > 3  # distinct rewards
    assert torch.equal(megatron_scores, fsdp_scores)
    assert megatron_extra == fsdp_extra
