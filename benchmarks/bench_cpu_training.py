"""CPU training run: about 10 GRPO steps of verl's real trainer on CPU (recipes/train_cpu.sh) from the
warm-started tiny policy on the demo mix of the shared sample records.

Writes, per step, the reward (verl's critic/score), the mean format and correctness rewards (the dumped
rollouts scored again) and the timings (generation, old log-prob, reference, actor update, weight sync,
step) to OUTPUT/steps.csv and a plot to OUTPUT/steps.png, and prints where a step's time goes. The step
metrics come from verl's file logger (one JSON line a step, ``verl_toolrl.checks.training_log``). Targets:
a steady-state step (every step after the first, which pays vLLM's warm-up; validation and checkpointing
not counted) under 60 s on this 2-core machine; and, the goal rather than a promise, a mean reward over the
last three steps above that of the first three (the baseline, measured in the same run), judged on runs of
at least six steps. Run from the repository root after recipes/setup.sh:

    python benchmarks/bench_cpu_training.py [--steps 10] [--output runs/bench-cpu-training]
    python benchmarks/bench_cpu_training.py --metrics RUN/metrics.jsonl --rollouts RUN/rollouts   # a past run

``--smoke`` (CI) trains 2 steps, or with ``--metrics`` reads a run already trained (the e2e quickstart's).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.checks.training_log import rollout_records, step_metrics, step_rewards
from verl_toolrl.cpu.demo import demo_mix_command

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "data" / "raw_samples"
TIMINGS = ("gen", "old_log_prob", "ref", "update_actor", "update_weights", "step")
#: Parts of a step that are not training: the step's time is counted without them.
NOT_TRAINING = ("testing", "save_checkpoint")
STEP_TARGET_S = 60.0
#: Steps in each of the first and last windows whose mean rewards the goal compares.
WINDOW = 3


def demo_data(output: Path) -> Path:
    data = output / "data"
    if not (data / "train.parquet").is_file():
        subprocess.run(
            demo_mix_command(data, SAMPLES, python=sys.executable),
            cwd=ROOT,
            check=True,
        )
    return data


def train(data: Path, output: Path, steps: int) -> Path:
    """Train ``steps`` steps into ``output``; the JSONL of verl's file logger."""
    log, metrics = output / "train.log", output / "metrics.jsonl"
    # The demo mix holds a few batches: enough epochs (at least one step each) that the run reaches ``steps``.
    overrides = [
        f"trainer.total_training_steps={steps}",
        f"trainer.total_epochs={steps}",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        "trainer.val_before_train=false",
        f"trainer.default_local_dir={output / 'checkpoints'}",
        f"trainer.rollout_data_dir={output / 'rollouts'}",
    ]
    with open(log, "w") as handle:
        subprocess.run(
            ["bash", "recipes/train_cpu.sh", *overrides],
            cwd=ROOT,
            check=True,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DATA_DIR": str(data), "VERL_FILE_LOGGER_PATH": str(metrics)},
        )
    return metrics


def write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(path: Path, rows: list[dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in rows]
    figure, (rewards, times) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("score", "format_reward", "correctness_reward"):
        rewards.plot(steps, [row[key] for row in rows], marker="o", label=key)
    rewards.set(xlabel="step", ylabel="mean reward", title="reward per step")
    rewards.legend()
    for key in TIMINGS[:-1]:
        times.plot(steps, [row[f"{key}_s"] for row in rows], marker="o", label=key)
    times.set(xlabel="step", ylabel="seconds", title="time per step", yscale="log")
    times.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="steps to train [10; --smoke: 2]")
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "bench-cpu-training")
    parser.add_argument("--metrics", type=Path, help="the JSONL of a run's file logger (skips training)")
    parser.add_argument("--rollouts", type=Path, help="with --metrics: that run's trainer.rollout_data_dir")
    parser.add_argument("--smoke", action="store_true", help="CI size: 2 steps, or the run given by --metrics")
    args = parser.parse_args()
    if (args.metrics is None) != (args.rollouts is None):
        parser.error("--metrics and --rollouts go together")
    steps = args.steps or (2 if args.smoke else 10)
    args.output.mkdir(parents=True, exist_ok=True)
    if args.metrics is None:
        args.metrics, args.rollouts = train(demo_data(args.output), args.output, steps), args.output / "rollouts"
    metrics = step_metrics(args.metrics)
    if not metrics or sorted(metrics) != list(range(1, max(metrics) + 1)):
        raise SystemExit(f"bench_cpu_training: {args.metrics} logged steps {sorted(metrics)}, not 1..N")
    rewards = step_rewards(rollout_records(args.rollouts))
    rows = [
        {
            "step": step,
            "score": metrics[step]["critic/score/mean"],
            "format_reward": rewards[step]["format_reward"],
            "correctness_reward": rewards[step]["correctness_reward"],
            **{f"{key}_s": metrics[step].get(f"timing_s/{key}", 0.0) for key in TIMINGS},
            "training_s": metrics[step]["timing_s/step"]
            - sum(metrics[step].get(f"timing_s/{key}", 0.0) for key in NOT_TRAINING),
        }
        for step in sorted(metrics)
    ]
    write_csv(args.output / "steps.csv", rows)
    plot(args.output / "steps.png", rows)
    for row in rows:
        print(
            f"step {row['step']:>2}: score {row['score']:+.3f}  format {row['format_reward']:+.3f}  "
            f"correctness {row['correctness_reward']:+.3f}  step {row['step_s']:.1f} s "
            f"({row['training_s']:.1f} s training)"
        )
    steady = rows[1:] or rows
    step_s = sum(row["training_s"] for row in steady) / len(steady)
    print(
        f"where a steady-state step's {step_s:.1f} s of training go: "
        + ", ".join(
            f"{key} {100 * sum(row[f'{key}_s'] for row in steady) / len(steady) / step_s:.0f}%" for key in TIMINGS[:-1]
        )
    )
    print(f"wrote {args.output / 'steps.csv'} and {args.output / 'steps.png'}")
    check = Verdicts(smoke=args.smoke)
    check.timing("steady-state step", f"{step_s:.1f} s", f"< {STEP_TARGET_S:.0f} s", step_s < STEP_TARGET_S)
    if len(rows) >= 2 * WINDOW:
        first = sum(row["score"] for row in rows[:WINDOW]) / WINDOW
        last = sum(row["score"] for row in rows[-WINDOW:]) / WINDOW
        print(f"baseline: mean reward of the first {WINDOW} steps {first:+.3f}")
        check.target(
            "reward rises (goal)",
            f"last {WINDOW} steps {last:+.3f}",
            f"> first {WINDOW} steps {first:+.3f}",
            last > first,
        )
    else:
        print(f"reward rises (goal): not judged on {len(rows)} steps (needs {2 * WINDOW}: two windows of {WINDOW})")
    check.finish()


if __name__ == "__main__":
    main()
