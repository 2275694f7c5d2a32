"""verl's real trainer across two Ray nodes, on CPU: a cluster of two nodes on this machine
(``ray.cluster_utils.Cluster``, tests/e2e/multinode_cluster.py, each node with its own CPUs and one logical
GPU), and ``recipes/train_cpu.sh`` joined to it with ``trainer.nnodes=2 trainer.n_gpus_per_node=1``: FSDP
world size 2 over gloo, one rollout replica per node, agent-loop and reward workers on both. Ray's own tables
(the node of every actor) show each kind of worker ran on both nodes; the rollouts' dumped scores show the
reward options given on the command line reached the workers on the second node; each multi-turn trajectory,
replayed on fresh simulators (tests/e2e/trajectory_replay.py), shows that its observations came from its own
environment, not from another rollout's of the same entry.

Every setting reaches the workers through the config: the cluster's nodes start without the CPU platform's
switch and the file logger's path, which travel in ``ray_kwargs.ray_init.runtime_env.env_vars`` as a user's
would (the launching shell's environment reaches only the driver).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from test_cpu_training_on_cpu import _cpu_venv, run_train_cpu  # the CPU environment's check, one train_cpu.sh run
from trajectory_replay import replay, transcript  # a dumped multi-turn trajectory replayed on fresh simulators

from verl_toolrl.checks.config import compose
from verl_toolrl.checks.training_log import rollout_records, step_metrics, step_rewards
from verl_toolrl.cpu.demo import demo_mix_command
from verl_toolrl.plugin.multi_turn_agent_loop import training_episode
from verl_toolrl.tasks.bfcl.multi_turn import entry_from_spec

pytestmark = pytest.mark.multinode  # alone: python -m pytest -m multinode tests/e2e (~9 min on 2 cores)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
#: What joins the trainer to the two-node cluster instead of a local one (Hydra overrides).
TWO_NODES = [
    "trainer.nnodes=2",
    "trainer.n_gpus_per_node=1",
    "ray_kwargs.ray_init.num_cpus=null",
    "~ray_kwargs.ray_init.num_gpus",
    "actor_rollout_ref.rollout.agent.num_workers=2",
    "reward.num_workers=2",
    "trainer.total_training_steps=1",
    "trainer.test_freq=-1",
    "trainer.save_freq=-1",
    "trainer.val_before_train=false",
]


@pytest.fixture(scope="module")
def cluster():
    """The two-node cluster's helper process: ``address`` and ``report()`` (nodes and actors)."""
    venv = _cpu_venv()
    env = {key: value for key, value in os.environ.items() if key not in ("CUDA_VISIBLE_DEVICES", "VERL_PLATFORM")}
    helper = subprocess.Popen(
        [str(venv / "bin" / "python"), str(HERE / "multinode_cluster.py")],
        cwd=ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )

    def report() -> dict:
        helper.stdin.write("report\n")
        helper.stdin.flush()
        return json.loads(helper.stdout.readline())

    try:
        line = helper.stdout.readline()
        assert line, "the two-node cluster did not start"
        yield {"address": json.loads(line)["address"], "report": report}
    finally:
        helper.stdin.close()
        helper.wait(timeout=120)


def train(cluster: dict, data_dir: Path, run_dir: Path, *overrides: str, recipe: str, val_split: str = "test") -> str:
    metrics = run_dir / "metrics.jsonl"
    return run_train_cpu(
        data_dir,
        metrics,
        *TWO_NODES,
        f"+ray_kwargs.ray_init.address={cluster['address']}",
        # what the workers need from the environment travels in the job's runtime_env: verl's file logger
        # runs in the TaskRunner, wherever Ray places it, and reads its path from there
        f"+ray_kwargs.ray_init.runtime_env.env_vars={{VERL_PLATFORM:cpu,HF_HUB_OFFLINE:'1',VERL_FILE_LOGGER_PATH:'{metrics}'}}",
        f"trainer.rollout_data_dir={run_dir / 'rollouts'}",
        f"trainer.default_local_dir={run_dir / 'checkpoints'}",
        *overrides,
        recipe=recipe,
        val_split=val_split,
    )


def nodes_by_class(report: dict) -> dict[str, set[str]]:
    placed: dict[str, set[str]] = {}
    for actor in report["actors"]:
        placed.setdefault(actor["class"], set()).add(actor["node"])
    return placed


@pytest.fixture(scope="module")
def single_turn(cluster, tmp_path_factory, shared_dir) -> dict:
    """One GRPO step of the single-turn CPU recipe on the demo mix, with the dynamic variant."""
    data_dir = tmp_path_factory.mktemp("single_turn") / "data"
    samples = shared_dir / "data" / "raw_samples"
    subprocess.run(
        demo_mix_command(data_dir, samples, python=str(_cpu_venv() / "bin" / "python")),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
    )
    run_dir = data_dir.parent / "run"
    train(cluster, data_dir, run_dir, "reward.reward_kwargs.variant=dynamic", recipe="toolrl_grpo_cpu")
    return {
        "metrics": step_metrics(run_dir / "metrics.jsonl"),
        "records": rollout_records(run_dir / "rollouts"),
        "report": cluster["report"](),
    }


def test_one_grpo_step_runs_across_both_nodes(single_turn: dict) -> None:
    assert sorted(single_turn["metrics"]) == [1]
    assert {"critic/score/mean", "actor/grad_norm"} <= single_turn["metrics"][1].keys()
    report = single_turn["report"]
    assert len(report["nodes"]) == 2
    placed = nodes_by_class(report)
    # the FSDP workers (world size 2), the vLLM rollout servers (one replica per node), the agent-loop and the
    # reward workers: each kind on both nodes
    for kind in ("WorkerDict", "vLLMHttpServer", "AgentLoopWorker", "RewardLoopWorker"):
        nodes = set().union(*(found for name, found in placed.items() if kind in name))
        assert nodes == set(report["nodes"]), (kind, placed)


def test_the_reward_options_reached_the_second_nodes_workers(single_turn: dict) -> None:
    records = single_turn["records"]
    assert sorted(records) == [1] and len(records[1]) == 8  # 2 prompts x rollout.n 4, scored on both nodes
    # every logged score is the dynamic variant's at step 1 (given on the command line) ...
    assert step_rewards(records, variant="dynamic")[1]["score_mismatch"] == 0
    # ... which is not what the default variant gives these responses
    assert step_rewards(records, variant="original")[1]["score_mismatch"] > 0


@pytest.fixture(scope="module")
def multi_turn(cluster, tmp_path_factory) -> dict:
    """One GRPO step of the multi-turn CPU recipe on ten multi_turn_base entries, with BFCL's binary verdict
    as the trajectory's reward (``multi_turn_aggregation=bfcl``, not the recipe's mean)."""
    data_dir = tmp_path_factory.mktemp("multi_turn") / "data"
    subprocess.run(
        [
            str(_cpu_venv() / "bin" / "python"),
            "-m",
            "data_preprocess.bfcl_multi_turn",
            "--output-dir",
            str(data_dir),
            "--categories",
            "multi_turn_base",
            "--limit",
            "10",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    run_dir = data_dir.parent / "run"
    train(
        cluster,
        data_dir,
        run_dir,
        "reward.reward_kwargs.multi_turn_aggregation=bfcl",
        # near-greedy sampling: the rollouts of one entry write the same calls (the warm-started first turn
        # changes the file system), so state shared between them would change what the later one observes
        "actor_rollout_ref.rollout.temperature=0.2",
        recipe="toolrl_multiturn_grpo_cpu",
        val_split="heldout",
    )
    rows = pd.read_parquet(data_dir / "train.parquet")
    return {
        "metrics": step_metrics(run_dir / "metrics.jsonl"),
        "records": rollout_records(run_dir / "rollouts"),
        "report": cluster["report"](),
        "entries": {entry.id: entry for entry in map(entry_from_spec, (i["bfcl_entry"] for i in rows["extra_info"]))},
        "format": rows["extra_info"][0]["format"],
    }


def test_the_multi_turn_step_runs_its_agent_loops_on_both_nodes(multi_turn: dict) -> None:
    assert sorted(multi_turn["metrics"]) == [1]
    placed = nodes_by_class(multi_turn["report"])
    for kind in ("WorkerDict", "vLLMHttpServer", "AgentLoopWorker", "RewardLoopWorker"):
        nodes = set().union(*(found for name, found in placed.items() if kind in name))
        assert nodes == set(multi_turn["report"]["nodes"]), (kind, placed)


def test_the_multi_turn_aggregation_reached_every_agent_loop(multi_turn: dict) -> None:
    (records,) = multi_turn["records"].values()
    assert len(records) == 4  # 2 entries x rollout.n 2
    # every trajectory's reward is BFCL's verdict, as configured, not the default mean of its turn scores
    assert all(record["score"] == record["bfcl_valid"] for record in records)
    assert any(record["call_score"] + record["state_match"] != record["score"] for record in records)


@pytest.mark.usefixtures("bfcl_scratch")  # the replay runs BFCL's simulators here
def test_concurrent_trajectories_of_one_entry_never_shared_simulator_state(multi_turn: dict) -> None:
    settings = compose("toolrl_multiturn_grpo_cpu").actor_rollout_ref.rollout.multi_turn  # the run's recipe
    steps = settings.max_assistant_turns
    cut = (settings.max_tool_response_length, settings.tool_response_truncate_side)
    entries = multi_turn["entries"]
    (records,) = multi_turn["records"].values()
    by_entry: dict[str, list[tuple[str, list[str]]]] = {}
    for record in records:
        (entry,) = [e for e in entries.values() if e.questions[0][0]["content"] in record["input"]]
        # every observation in the trajectory is what a fresh set of the entry's simulators returns for its calls
        outputs = replay(entry, record["output"], multi_turn["format"], steps, *cut)
        assert outputs is not None, (entry.id, record["output"])
        by_entry.setdefault(entry.id, []).append((record["output"], outputs))
    # ... and the run could have shown sharing: for two trajectories of one entry, the later one's outputs run on
    # the simulators the earlier one left would have observed something else
    would_show = []
    for entry_id, trajectories in by_entry.items():
        for (_, first), (text, second) in zip(trajectories, trajectories[1:], strict=False):
            earlier = training_episode(entries[entry_id], multi_turn["format"], steps)
            transcript(earlier, first, *cut)
            later = training_episode(entries[entry_id], multi_turn["format"], steps)
            later.environment.instances = earlier.environment.instances  # the sharing the loop must not do
            would_show.append(transcript(later, second, *cut) != text)
    assert any(would_show), by_entry
