"""Multi-turn tool-use RL through verl's real trainer on CPU: ``recipes/train_cpu.sh`` with
``RECIPE=toolrl_multiturn_grpo_cpu`` runs one GRPO step of ``verl.trainer.main_ppo`` (verl's
``AgentLoopWorker``, the vLLM CPU server, the ``toolrl_bfcl_multi_turn`` agent loop on BFCL's simulators, the
toolrl reward manager, the actor update, the weight sync) with the tiny local policy built on the multi-turn
data. Everything is real; the policy is tiny. The run takes about 3 minutes on a 2-core machine and is
shared by the tests of this module.

The recipe runs verl 0.9.1's legacy trainer (``trainer.use_v1=false``): it dumps every reward component
with each trajectory (``trainer.rollout_data_dir``) and logs the agent loop's timings
(``timing_s/agent_loop/*``); the v1 trainer does neither for training steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_benchmarks_on_cpu import run_smoke  # tests/test_benchmarks_on_cpu.py: exit 0, every result MET
from test_cpu_training_on_cpu import (  # the CPU environment's check, train_cpu.sh, the prompt filter's run
    PROMPT_FILTER_RUN,
    _cpu_venv,
    assert_the_filter_skipped_the_scored_rows,
    run_train_cpu,
)

from verl_toolrl.checks.training_log import rollout_records, step_metrics
from verl_toolrl.cpu.tiny_policy import CONTEXT_TOKENS
from verl_toolrl.reward.multi_turn import REWARD_EXTRA_KEYS

ROOT = Path(__file__).resolve().parents[2]
#: 2 entries a step x rollout.n 2 (recipes/toolrl_multiturn_grpo_cpu.yaml).
TRAJECTORIES = 4


@pytest.fixture(scope="module")
def multi_turn_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The README's multi-turn CPU commands: the data of ten multi_turn_base entries, then one GRPO step."""
    _cpu_venv()
    data_dir = tmp_path_factory.mktemp("multi_turn") / "data"
    subprocess.run(
        [
            sys.executable,
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
    )
    run_dir = data_dir.parent / "run"
    run_train_cpu(
        data_dir,
        run_dir / "metrics.jsonl",
        f"trainer.rollout_data_dir={run_dir / 'rollouts'}",
        f"trainer.default_local_dir={run_dir / 'checkpoints'}",
        recipe="toolrl_multiturn_grpo_cpu",
        val_split="heldout",
    )
    return {
        "metrics": step_metrics(run_dir / "metrics.jsonl"),
        "records": rollout_records(run_dir / "rollouts"),
        "dir": run_dir,
        "data": data_dir,
    }


def test_one_grpo_step_runs_the_agent_loop_and_updates_the_policy(multi_turn_run: dict) -> None:
    metrics = multi_turn_run["metrics"]
    assert sorted(metrics) == [1]
    step = metrics[1]
    assert {
        "critic/score/mean",
        "critic/score/min",
        "critic/score/max",
        "actor/grad_norm",
        "timing_s/step",
    } <= step.keys()
    # verl's turn counts: each trajectory's messages (system, user, assistant, tool, next user, ...)
    assert {"num_turns/min", "num_turns/max", "num_turns/mean"} <= step.keys()
    assert step["num_turns/min"] >= 3  # at least the system prompt, the first user turn and one output
    # the first prompt (3-7k tokens of function docs) is cut to the tiny policy's context, from the left
    assert step["prompt_length/max"] <= CONTEXT_TOKENS
    # the loop's own timings reach verl's metrics: generation, the environment, the reward
    loop_timings = {
        f"timing_s/agent_loop/{name}/mean" for name in ("generate_sequences", "tool_calls", "compute_score")
    }
    assert loop_timings <= step.keys()


def test_every_trajectory_logs_every_reward_component_and_its_score_follows_them(multi_turn_run: dict) -> None:
    records = multi_turn_run["records"]
    assert sorted(records) == [1] and len(records[1]) == TRAJECTORIES
    step = multi_turn_run["metrics"][1]
    for record in records[1]:
        assert set(REWARD_EXTRA_KEYS) <= record.keys()
        turns = len(json.loads(record["gts"]))
        assert record["turns"] == turns and 1 <= record["turns_reached"] <= turns
        # the default aggregation: mean over the turns of (call score + state match)
        assert record["score"] == pytest.approx(record["call_score"] + record["state_match"])
        assert 0 <= record["call_errors"] <= record["calls"]
    scores = [record["score"] for record in records[1]]
    assert step["critic/score/mean"] == pytest.approx(sum(scores) / len(scores), abs=1e-4)
    assert (step["critic/score/min"], step["critic/score/max"]) == pytest.approx((min(scores), max(scores)), abs=1e-4)


def test_the_multi_turn_environment_benchmark_reaches_its_verdict_on_this_run(multi_turn_run: dict) -> None:
    # At smoke size the benchmark reads this module's run rather than training a step of its own.
    output = run_smoke(
        ROOT / "benchmarks" / "bench_multi_turn_env.py",
        "--train-log",
        str(multi_turn_run["dir"] / "metrics.jsonl"),
        "--rollouts",
        str(multi_turn_run["dir"] / "rollouts"),
    )
    assert "environment + reward share of the CPU step" in output


def test_the_prompt_filter_switch_works_in_the_multi_turn_recipe(multi_turn_run: dict, tmp_path: Path) -> None:
    # verl's legacy trainer, the multi-turn agent loop, the manager's trajectory scores: the same switch
    output = run_train_cpu(
        multi_turn_run["data"],
        tmp_path / "metrics.jsonl",
        *PROMPT_FILTER_RUN,
        f"trainer.default_local_dir={tmp_path}",
        recipe="toolrl_multiturn_grpo_cpu",
        val_split="heldout",
    )
    assert_the_filter_skipped_the_scored_rows(output)
