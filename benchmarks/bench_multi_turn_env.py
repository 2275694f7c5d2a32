"""Multi-turn RL's environment and per-turn reward: executed calls per second per core, and their share of a
CPU training step.

1. Calls per second, one process (one core): BFCL's ground truth of every multi-turn entry played through
   the agent loop's own episode (:func:`verl_toolrl.plugin.multi_turn_agent_loop.training_episode`: parse each output,
   execute its calls on the entry's fresh simulators, BFCL's state match after each turn) and then its
   per-turn reward (:func:`~verl_toolrl.plugin.multi_turn_agent_loop.score_turns`: the toolrl reward of each turn,
   BFCL's verdict) and the reward manager's aggregation. Target: at least 1,000 executed calls per second
   per core, timed in CPU seconds of this process (``time.process_time``: one core's work, whatever else
   the machine runs). Baseline, measured in the same run on the same calls: BFCL's own executor
   (``execute_multi_turn_func_call``, which ``eval`` s the call strings), without any reward.
2. Share of a CPU training step: the agent loop times its environment work (``tool_calls``) and its
   scoring (``compute_score``) per trajectory, and verl's legacy trainer logs both
   (``timing_s/agent_loop/*/mean``) beside the step's time (``timing_s/step``). Share = (tool_calls +
   compute_score) x trajectories of the step / step time. Target: under 5 %. The run is one GRPO step of
   ``RECIPE=toolrl_multiturn_grpo_cpu`` (recipes/train_cpu.sh, a few minutes), or one given with
   ``--train-log`` (the JSONL of verl's file logger) and ``--rollouts`` (its ``trainer.rollout_data_dir``,
   which counts the trajectories).

Run from the repository root after recipes/setup.sh:

    python benchmarks/bench_multi_turn_env.py [--limit N] [--output runs/bench-multi-turn-env]
    python benchmarks/bench_multi_turn_env.py --train-log RUN/metrics.jsonl --rollouts RUN/rollouts

``--smoke`` (CI) plays the first 3 entries of each category; it needs ``--train-log`` and ``--rollouts`` (the
e2e multi-turn test's run) rather than training a step of its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.checks.training_log import rollout_records, step_metrics
from verl_toolrl.data.bfcl_multi_turn import turn_ground_truths
from verl_toolrl.eval.bfcl_multi_turn import load_multi_turn_entries
from verl_toolrl.plugin.multi_turn_agent_loop import score_turns, training_episode
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager
from verl_toolrl.reward.config import RewardOptions
from verl_toolrl.reward.multi_turn import trajectory_scores
from verl_toolrl.tasks.bfcl.environment import bfcl_module
from verl_toolrl.tasks.bfcl.episode import gold_outputs
from verl_toolrl.tasks.bfcl.single_turn import MULTI_TURN_CATEGORIES

ROOT = Path(__file__).resolve().parents[1]
CALLS_TARGET = 1000.0
SHARE_TARGET = 5.0  # percent


def play(entries, scorer: ToolRLRewardManager) -> tuple[float, float, int, int]:
    """(environment CPU seconds, reward CPU seconds, executed calls, entries at the maximum)."""
    options = RewardOptions()
    environment = reward = 0.0
    calls = valid = 0
    for entry in entries:
        outputs, ground_truths = gold_outputs(entry), turn_ground_truths(entry, "toolrl")
        start = time.process_time()
        episode = training_episode(entry, "toolrl")
        for output in outputs:
            episode.advance(output)
        middle = time.process_time()
        scores = trajectory_scores(score_turns(episode, ground_truths, scorer, options, step=0), options)
        end = time.process_time()
        environment, reward = environment + middle - start, reward + end - middle
        calls += episode.calls
        valid += scores["bfcl_valid"] == 1.0 and scores["state_match"] == 1.0
    return environment, reward, calls, valid


def bfcl_executor(entries) -> tuple[float, int]:
    """(CPU seconds, calls) of BFCL's own executor on the ground truth's call strings, turn by turn."""
    utils = bfcl_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils")
    seconds, calls = 0.0, 0
    for entry in entries:
        name = f"bench_{uuid.uuid4().hex}"
        start = time.process_time()
        for turn in entry.ground_truth:
            utils.execute_multi_turn_func_call(
                list(turn),
                entry.initial_config,
                entry.involved_classes,
                name,
                entry.id,
                long_context=entry.long_context,
            )
            calls += len(turn)
        seconds += time.process_time() - start
        for key in [key for key in vars(utils) if key.startswith(name)]:
            del vars(utils)[key]
    return seconds, calls


def cpu_step(output: Path) -> tuple[Path, Path]:
    """Run one GRPO step of toolrl_multiturn_grpo_cpu into ``output``; (its metrics JSONL, its rollout dump)."""
    data = output / "data"
    if not (data / "train.parquet").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "data_preprocess.bfcl_multi_turn",
                "--output-dir",
                str(data),
                "--categories",
                "multi_turn_base",
                "--limit",
                "10",
            ],
            cwd=ROOT,
            check=True,
        )
    log, metrics, rollouts = output / "train.log", output / "metrics.jsonl", output / "rollouts"
    with open(log, "w") as handle:
        subprocess.run(
            [
                "bash",
                "recipes/train_cpu.sh",
                f"trainer.rollout_data_dir={rollouts}",
                f"trainer.default_local_dir={output / 'checkpoints'}",
            ],
            cwd=ROOT,
            check=True,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "DATA_DIR": str(data),
                "VAL_SPLIT": "heldout",
                "RECIPE": "toolrl_multiturn_grpo_cpu",
                "VERL_FILE_LOGGER_PATH": str(metrics),
            },
        )
    return metrics, rollouts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N entries of each multi-turn category")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "runs" / "bench-multi-turn-env", help="the CPU step's folder"
    )
    parser.add_argument(
        "--train-log",
        type=Path,
        default=None,
        help="metrics JSONL (verl's file logger) of a toolrl_multiturn_grpo_cpu run (skips the run)",
    )
    parser.add_argument("--rollouts", type=Path, default=None, help="with --train-log: its trainer.rollout_data_dir")
    parser.add_argument("--smoke", action="store_true", help="CI size: 3 entries a category, a given run")
    args = parser.parse_args()
    if (args.train_log is None) != (args.rollouts is None):
        parser.error("--train-log and --rollouts go together")
    if args.smoke:
        if args.train_log is None:
            parser.error("--smoke reads a run already trained: give --train-log and --rollouts")
        args.limit = args.limit or 3
    os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp(prefix="bfcl_project_root_"))
    entries = list(load_multi_turn_entries(MULTI_TURN_CATEGORIES, args.limit).values())
    scorer = ToolRLRewardManager({"reward": {"reward_kwargs": {}}}, tokenizer=None)
    play(entries[:8], scorer)  # warm the simulators' imports and caches
    environment, reward, calls, valid = play(entries, scorer)
    baseline, baseline_calls = bfcl_executor(entries)
    figure = calls / (environment + reward)
    print(f"{len(entries)} entries, {calls} executed calls; ground truth at the maximum: {valid}/{len(entries)}")
    print(f"environment (parse, execute, state match): {environment:.2f} CPU s, {calls / environment:,.0f} calls/s")
    print(f"per-turn reward and BFCL's verdict:          {reward:.2f} CPU s")
    print(f"figure, environment + reward, 1 core:      {figure:,.0f} calls per CPU second")
    print(
        f"baseline, BFCL's executor alone, 1 core:   {baseline_calls / baseline:,.0f} calls per CPU second "
        f"({baseline:.2f} s)"
    )
    check = Verdicts(smoke=args.smoke)
    check.timing(
        "executed calls per second per core (environment + reward)",
        f"{figure:,.0f} calls/s",
        f">= {CALLS_TARGET:,.0f} calls/s",
        figure >= CALLS_TARGET,
    )
    check.target(
        "ground truth at the maximum",
        f"{valid}/{len(entries)}",
        f"{len(entries)}/{len(entries)}",
        valid == len(entries),
    )

    if args.train_log is None:
        args.output.mkdir(parents=True, exist_ok=True)
        args.train_log, args.rollouts = cpu_step(args.output)
    steps = step_metrics(args.train_log)
    records = rollout_records(args.rollouts)
    for step, metrics in sorted(steps.items()):
        trajectories = len(records.get(step, []))
        loop = {
            name: metrics.get(f"timing_s/agent_loop/{name}/mean")
            for name in ("tool_calls", "compute_score", "generate_sequences")
        }
        if None in loop.values() or not trajectories:
            print(
                f"step {step}: no timing_s/agent_loop/* metrics or rollouts "
                "(run the legacy trainer, trainer.use_v1=false)"
            )
            check.target(f"step {step}: environment + reward share", "not measured", f"< {SHARE_TARGET:.0f} %", False)
            continue
        spent = (loop["tool_calls"] + loop["compute_score"]) * trajectories
        share = 100.0 * spent / metrics["timing_s/step"]
        print(
            f"step {step}: {trajectories} trajectories; per trajectory: generation {loop['generate_sequences']:.2f} s, "
            f"environment {loop['tool_calls'] * 1000:.1f} ms, reward {loop['compute_score'] * 1000:.1f} ms; "
            f"step {metrics['timing_s/step']:.1f} s"
        )
        check.timing(
            f"step {step}: environment + reward share of the CPU step",
            f"{share:.2f} %",
            f"< {SHARE_TARGET:.0f} %",
            share < SHARE_TARGET,
        )
    check.finish()


if __name__ == "__main__":
    main()
