"""The cluster launch templates (recipes/cluster/) and the launcher's cluster and Megatron settings, checked
as far as a machine without a cluster can: every shell script passes ``bash -n`` and shellcheck, every YAML
parses into what its tool expects, every Hydra override a template names composes with its recipe, and
``recipes/run_toolrl.sh`` turns STRATEGY/TP/PP/EP, NNODES and RAY_ADDRESS into verl's keys or one-line errors.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf
from test_recipes_on_cpu import data_dir, lookup, overrides_for  # noqa: F401 (data_dir: a fixture)

from verl_toolrl.checks.preflight import compose_recipe

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "recipes" / "cluster"
SCRIPTS = [
    ROOT / "recipes" / "run_toolrl.sh",
    CLUSTER / "ray_job_submit.sh",
    CLUSTER / "toolrl_on_slurm.slurm",
]
SKY = CLUSTER / "toolrl_multiturn.sky.yaml"
#: Each template and the recipe its overrides go to.
TEMPLATE_RECIPES = {
    "toolrl_on_slurm.slurm": "toolrl_grpo",
    "toolrl_multiturn.sky.yaml": "toolrl_multiturn_grpo",
}
OVERRIDE = re.compile(r"(?<![\w.$-])([a-z_]+(?:\.[a-z_]+)+)=(\S+)")


def sky_task() -> dict:
    return yaml.safe_load(SKY.read_text())


def shell_sources() -> dict[str, str]:
    """Every shell text the templates hold: the scripts, and the SkyPilot task's setup and run blocks."""
    sources = {path.name: path.read_text() for path in SCRIPTS}
    for block in ("setup", "run"):
        sources[f"{SKY.name}:{block}"] = "#!/usr/bin/env bash\nset -euo pipefail\n" + sky_task()[block]
    return sources


@pytest.mark.parametrize("name", sorted(shell_sources()))
def test_the_shell_passes_bash_n_and_shellcheck(name, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text(shell_sources()[name])
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck)")
    target = next((path for path in SCRIPTS if path.name == name), script)
    result = subprocess.run(
        ["shellcheck", "-x", "-s", "bash", str(target.relative_to(ROOT) if target != script else script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout


def test_the_runtime_env_is_one_ray_accepts_and_installs_the_repository():
    from ray.runtime_env import RuntimeEnv

    runtime_env = yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())
    RuntimeEnv(**runtime_env)  # Ray's own validation of every field
    assert runtime_env["working_dir"] == "."
    assert runtime_env["pip"]["packages"] == ["${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}"]
    assert {"/.git/", "/.venv/", "*.parquet"} <= set(runtime_env["excludes"])
    assert "--runtime-env recipes/cluster/runtime_env.yaml" in (CLUSTER / "ray_job_submit.sh").read_text()


def test_the_skypilot_task_runs_the_multi_turn_recipe_on_every_node():
    task = sky_task()
    assert {"resources", "num_nodes", "workdir", "setup", "run", "envs"} <= task.keys()
    assert task["num_nodes"] >= 2 and task["workdir"] == "."
    assert "RECIPE=toolrl_multiturn_grpo" in task["run"] and "VAL_SPLIT=heldout" in task["run"]
    assert 'NNODES="$SKYPILOT_NUM_NODES"' in task["run"] and 'N_GPUS="$SKYPILOT_NUM_GPUS_PER_NODE"' in task["run"]
    assert Path(task["envs"]["DATA_DIR"]).is_absolute()  # every node's workers read the same path


def test_the_slurm_script_starts_a_head_and_workers_and_trains_on_all_nodes():
    text = (CLUSTER / "toolrl_on_slurm.slurm").read_text()
    assert "ray start --head" in text and 'ray start --address "$RAY_ADDRESS"' in text
    assert 'NNODES="$SLURM_NNODES" N_GPUS="$SLURM_GPUS_PER_NODE"' in text
    assert "bash recipes/run_toolrl.sh" in text


@pytest.mark.parametrize("template", sorted(TEMPLATE_RECIPES))
def test_every_override_a_template_names_composes_with_its_recipe(template):
    text = (CLUSTER / template).read_text()
    overrides = [f"{key}={re.sub(r'[$].*', 'x', value.strip(chr(34)))}" for key, value in OVERRIDE.findall(text)]
    assert overrides, template
    config = compose_recipe(TEMPLATE_RECIPES[template], ["data.train_files=a", "data.val_files=b", *overrides])
    container = OmegaConf.to_container(config)
    for override in overrides:  # each names a key verl's config declares (composition would add none)
        section, _, key = override.partition("=")[0].rpartition(".")
        assert key in lookup(container, section), override


# ---------------------------------------------------------------- the launcher


def launcher(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "recipes/run_toolrl.sh", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "DATA_DIR": str(data),
            "N_GPUS": "8",
            **env,
        },
    )


def test_the_launcher_runs_the_megatron_recipe_with_tp_pp_ep(data_dir):  # noqa: F811
    result = launcher(data_dir, "--cfg", "job", STRATEGY="megatron", TP="2", PP="4", EP="1", NNODES="1")
    assert result.returncode == 0, result.stderr[-3000:]
    composed = yaml.safe_load(result.stdout[result.stdout.index("actor_rollout_ref:") :])
    megatron = lookup(composed, "actor_rollout_ref.actor.megatron")
    assert (megatron["tensor_model_parallel_size"], megatron["pipeline_model_parallel_size"]) == (2, 4)
    assert megatron["expert_model_parallel_size"] == 1 and megatron["param_offload"] is False
    assert lookup(composed, "actor_rollout_ref.actor.strategy") == "megatron"
    assert lookup(composed, "trainer.experiment_name") == "toolrl-grpo-megatron"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRATEGY": "deepspeed"}, "run_toolrl.sh: STRATEGY=deepspeed: unknown; use fsdp or megatron"),
        (
            {"STRATEGY": "megatron", "RECIPE": "toolrl_ppo"},
            "run_toolrl.sh: RECIPE=toolrl_ppo_megatron: no recipes/",
        ),
        ({"NNODES": "2"}, "run_toolrl.sh: NNODES=2 needs a Ray cluster across the nodes"),
        (
            {"NNODES": "2", "RAY_ADDRESS": "127.0.0.1:1"},
            "cluster: error: RAY_ADDRESS=127.0.0.1:1: no Ray cluster answers",
        ),
    ],
    ids=["strategy", "recipe", "nnodes", "address"],
)
def test_the_launcher_refuses_a_bad_cluster_or_backend_setting_in_one_line(data_dir, env, message):  # noqa: F811
    result = launcher(data_dir, **env)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr[-2000:]
