"""GDPO advantages (arXiv 2601.05242) from the toolrl manager's real outputs, computed by verl 0.9.1 itself.

Each sample of a GRPO step is scored by the ``toolrl`` manager built from ``recipes/toolrl_gdpo.yaml``
(``run_single`` on agent-loop samples, locally built tokenizer); its ``reward_extra_info`` goes into the
batch as verl's ``AgentLoopWorker._postprocess`` puts it (one ``non_tensor_batch`` column per key), and
verl's own ``compute_advantage`` (the legacy trainer's, which the recipe selects) computes the advantages.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
from verl.trainer.ppo.ray_trainer import compute_advantage
from verl.trainer.ppo.reward import load_reward_manager
from verl.utils.torch_functional import masked_whiten

from verl_toolrl.checks.preflight import compose_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.plugin.verl_batch import agent_loop_sample, rollout_batch

DATA = ["data.train_files=unused.parquet", "data.val_files=unused.parquet"]


def output(*calls: tuple[str, dict], think: str = "call the tool") -> str:
    lines = "\n".join(json.dumps({"name": name, "parameters": params}) for name, params in calls)
    return f"<think> {think} </think>\n<tool_call>\n{lines}\n</tool_call>"


GOLD = output(("get_weather", {"city": "Paris", "unit": "C"}))
#: Two prompts, four rollouts each: format and correctness vary independently within each group.
GROUPS = {
    "a": [
        GOLD,
        output(("get_weather", {"city": "Rome", "unit": "C"})),
        '<think> unclosed\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Paris", "unit": "C"}}',
        output(("get_news", {"topic": "Paris"})),
    ],
    "b": [
        output(("get_weather", {"city": "Paris"})),
        GOLD,
        GOLD + "\n<response> extra </response>",
        output(("get_weather", {"city": "Paris", "unit": "C"}), ("get_time", {"tz": "CET"})),
    ],
}


@pytest.fixture(scope="module")
def config():
    return compose_recipe("toolrl_gdpo", DATA)


@pytest.fixture(scope="module")
def scored_batch(config):
    """The step's batch with the manager's real scores: rm_scores on the last valid token, the reward
    components as non_tensor_batch columns."""
    texts = [text for group in GROUPS.values() for text in group]
    tokenizer = byte_level_tokenizer(
        texts * 3, vocab_size=400, added_tokens=["<think>", "</think>", "<tool_call>", "</tool_call>"]
    )
    manager = load_reward_manager(config, tokenizer)
    prompt = tokenizer.encode("Weather in Paris, in C?")
    samples, results = [], []
    for uid, group in GROUPS.items():
        for text in group:
            fields = {"uid": uid, "data_source": "rlla", "reward_model": {"ground_truth": GOLD}, "global_steps": 1}
            response = tokenizer.encode(text) + [tokenizer.eos_token_id]
            results.append(asyncio.run(manager.run_single(agent_loop_sample(prompt, response, fields))))
            samples.append((prompt, response, fields))
    data = rollout_batch(samples, prompt_length=16, response_length=96, pad_token_id=tokenizer.pad_token_id)
    last = data.batch["response_mask"].sum(-1) - 1
    scores = torch.zeros(data.batch["responses"].shape, dtype=torch.float32)
    scores[torch.arange(len(results)), last] = torch.tensor([r["reward_score"] for r in results])
    data.batch["token_level_rewards"] = scores
    for key in results[0]["reward_extra_info"]:
        data.non_tensor_batch[key] = np.array([r["reward_extra_info"][key] for r in results])
    return data


def test_the_recipe_uses_the_managers_components_as_gdpo_keys(config, scored_batch):
    assert config.algorithm.adv_estimator == "gdpo"
    assert list(config.algorithm.gdpo_reward_keys) == ["format_reward", "correctness_reward"]
    for key in config.algorithm.gdpo_reward_keys:
        assert key in scored_batch.non_tensor_batch
    # the components differ within each group, so GDPO's decoupled normalisation has work to do
    for key in config.algorithm.gdpo_reward_keys:
        values = scored_batch.non_tensor_batch[key].reshape(len(GROUPS), -1)
        assert all(len(set(row)) > 1 for row in values), key


def test_verls_gdpo_advantages_normalise_each_component_per_group(config, scored_batch):
    data = compute_advantage(
        scored_batch.select_idxs(list(range(len(scored_batch)))),
        adv_estimator=config.algorithm.adv_estimator,
        num_repeat=config.actor_rollout_ref.rollout.n,
        norm_adv_by_std_in_grpo=config.algorithm.norm_adv_by_std_in_grpo,
        config=config.algorithm,
    )
    mask = data.batch["response_mask"]
    advantages = data.batch["advantages"]

    # the same computation by hand: per component, (x - group mean) / (group std + eps), summed, whitened
    uid = scored_batch.non_tensor_batch["uid"]
    total = torch.zeros(len(uid))
    for key in config.algorithm.gdpo_reward_keys:
        values = torch.tensor(scored_batch.non_tensor_batch[key], dtype=torch.float32)
        for group in set(uid):
            members = torch.tensor(uid == group)
            chosen = values[members]
            total[members] += (chosen - chosen.mean()) / (chosen.std() + 1e-6)
    expected = masked_whiten(total.unsqueeze(-1) * mask, mask) * mask
    assert torch.allclose(advantages, expected, atol=1e-5)

    # and not GRPO's: normalising the summed score weighs the components differently
    grpo, _ = compute_grpo_outcome_advantage(data.batch["token_level_rewards"], mask, uid)
    per_sample = lambda tensor: tensor.sum(-1) / mask.sum(-1)  # noqa: E731
    assert not torch.allclose(per_sample(advantages), per_sample(grpo), atol=1e-3)
