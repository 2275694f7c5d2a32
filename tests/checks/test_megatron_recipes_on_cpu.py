"""The Megatron recipes (``toolrl_grpo_megatron``, ``toolrl_multiturn_grpo_megatron``) through verl's own
entry points, on CPU: they compose through ``verl.trainer.main_ppo --cfg job`` from verl's
``ppo_megatron_trainer``, pass verl's ``validate_config``, share every reward, data, rollout and algorithm key
with their FSDP counterparts (only the actor's and reference's backend differs), and the preflight runs on
them.

Whether megatron-core's workers start on CPU is not tested here: see docs/multi-node.md.
"""

from __future__ import annotations

import sys

import pytest
import yaml
from omegaconf import OmegaConf
from test_recipes_on_cpu import DATA, PAPER_GRPO, data_dir, lookup, overrides_for, run  # noqa: F401 (fixture)

from verl_toolrl.checks.preflight import RECIPES_DIR, compose_recipe, preflight, validate_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer, stand_in_model_dir

#: Each Megatron recipe and the FSDP recipe it mirrors.
COUNTERPARTS = {
    "toolrl_grpo_megatron": "toolrl_grpo",
    "toolrl_multiturn_grpo_megatron": "toolrl_multiturn_grpo",
}
#: The paper's settings in Megatron's spelling, where FSDP's differs (tests/checks/test_recipes_on_cpu.py).
MEGATRON_ONLY = {
    "model_engine": "megatron",
    "actor_rollout_ref.actor.strategy": "megatron",
    "actor_rollout_ref.actor.optim.lr_decay_style": "constant",
    "actor_rollout_ref.actor.optim.clip_grad": 1.0,
    "actor_rollout_ref.actor.megatron.param_offload": False,
    "actor_rollout_ref.actor.megatron.optimizer_offload": False,
    "actor_rollout_ref.actor.megatron.use_distributed_optimizer": True,
    "actor_rollout_ref.ref.megatron.param_offload": True,
}
PAPER_MEGATRON = {
    **{key: value for key, value in PAPER_GRPO.items() if key != "actor_rollout_ref.actor.optim.lr_scheduler_type"},
    **MEGATRON_ONLY,
}
#: What the backends share: these sections compose identically (the experiment's name aside).
SHARED_SECTIONS = (
    "data",
    "reward",
    "algorithm",
    "actor_rollout_ref.rollout",
    "actor_rollout_ref.model",
    "trainer",
)
PARALLEL = [
    "actor_rollout_ref.actor.megatron.tensor_model_parallel_size=2",
    "actor_rollout_ref.actor.megatron.pipeline_model_parallel_size=2",
    "actor_rollout_ref.actor.megatron.expert_model_parallel_size=1",
]


@pytest.mark.parametrize("name", sorted(COUNTERPARTS))
def test_the_megatron_recipe_composes_through_verl_main_ppo(name):
    result = run(
        [
            sys.executable,
            "-m",
            "verl.trainer.main_ppo",
            "--config-path",
            str(RECIPES_DIR),
            "--config-name",
            name,
            "--cfg",
            "job",
            *DATA,
            "reward.reward_kwargs.variant=dynamic",
            *PARALLEL,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    composed = yaml.safe_load(result.stdout[result.stdout.index("actor_rollout_ref:") :])
    expected = {
        **{key: value for key, value in PAPER_MEGATRON.items() if key != "model_engine"},
        "reward.reward_kwargs.variant": "dynamic",
        "actor_rollout_ref.actor.megatron.tensor_model_parallel_size": 2,
        "actor_rollout_ref.actor.megatron.pipeline_model_parallel_size": 2,
    }
    if name.startswith("toolrl_multiturn"):
        expected.update(
            {
                "data.train_batch_size": 64,
                "actor_rollout_ref.rollout.n": 8,
                "data.max_prompt_length": 8192,
                "data.max_response_length": 8192,
                "actor_rollout_ref.actor.ppo_mini_batch_size": 16,
            }
        )
    assert {key: lookup(composed, key) for key in expected} == expected
    assert "fsdp_config" not in composed["actor_rollout_ref"]["actor"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return stand_in_model_dir(tmp_path_factory.mktemp("model"))


@pytest.mark.parametrize("name", sorted(COUNTERPARTS))
def test_the_megatron_recipe_passes_verl_validate_config_and_shares_everything_but_the_backend(name, model_dir):
    overrides = [*DATA, f"actor_rollout_ref.model.path={model_dir}"]
    config = compose_recipe(name, overrides)
    validate_recipe(config)
    assert {key: OmegaConf.select(config, key) for key in MEGATRON_ONLY} == MEGATRON_ONLY
    fsdp = compose_recipe(COUNTERPARTS[name], overrides)
    for section in SHARED_SECTIONS:
        megatron_part = OmegaConf.to_container(OmegaConf.select(config, section))
        fsdp_part = OmegaConf.to_container(OmegaConf.select(fsdp, section))
        if section == "trainer":
            assert megatron_part.pop("experiment_name") == fsdp_part.pop("experiment_name") + "-megatron"
        assert megatron_part == fsdp_part, section
    assert config.reward.reward_manager.name == "toolrl"


def test_the_preflight_runs_on_the_megatron_recipe(data_dir):  # noqa: F811 (the fixture)
    lines: list[str] = []
    assert preflight(
        "toolrl_grpo_megatron",
        overrides_for(data_dir),
        tokenizer=byte_level_tokenizer(),
        print_fn=lines.append,
    )
    report = "\n".join(lines)
    assert "verl validate_config passed" in report
    assert "6/6 ground truths at the maximum format reward with an exact call match" in report
