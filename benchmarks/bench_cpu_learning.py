"""Causal learning benchmark on CPU: does the policy the rollout samples from improve because of the reward?

Runs verl's real trainer on CPU (recipes/train_cpu.sh: FSDP2 actor, vLLM rollout server, the toolrl reward,
GRPO, weight sync) from one warm-started tiny policy, on one fixed prompt set, with one seed, several times:
the learning run(s) and a **control** identical but for the actor's learning rate 0 (same rollouts, reward
and advantages; no update). The control's validation curve is the noise floor, measured in the same run.
Validation samples at the rollout's temperature (8 samples a prompt by default) on the training prompts
(does RL fit what it trains on?); the held-out prompts are a second validation source when --heldout is set.

Writes OUTPUT/steps.csv (one row per step and run), OUTPUT/validation.png (validation reward per step for
every run), prints each run's time and the verdict:

    MET when the learning run's final validation reward (mean of its last two validations) exceeds the
    control's by more than three times the standard deviation of the control's validations.

    python benchmarks/bench_cpu_learning.py --quick      # one learning run and the control
    python benchmarks/bench_cpu_learning.py              # plus a learning run at a third of the rate

docs/learning.md records what the runs showed and why the tiny policy does not climb at the CPU recipe's
settings.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.checks.training_log import step_metrics
from verl_toolrl.cpu.demo import demo_mix_command

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "data" / "raw_samples"
VAL_KEY = re.compile(r"^val-core/([^/]+)/reward/mean@\d+$")


@dataclass(frozen=True)
class Run:
    """One trainer run of the benchmark: a name and the Hydra overrides that set it apart."""

    name: str
    overrides: tuple[str, ...] = field(default_factory=tuple)


def demo_data(output: Path) -> Path:
    """The demo mix of the shared sample records (8 training prompts, 3 held out), built once."""
    data = output / "data"
    if not (data / "train.parquet").is_file():
        subprocess.run(
            demo_mix_command(data, SAMPLES, python=sys.executable),
            cwd=ROOT,
            check=True,
        )
    return data


def common_overrides(data: Path, args: argparse.Namespace) -> list[str]:
    """Settings every run shares: prompts, group size, steps, sampled validation, seed."""
    val = [str(data / "train.parquet")] + ([str(data / "test.parquet")] if args.heldout else [])
    return [
        f"data.train_files={data / 'train.parquet'}",
        f"data.val_files=[{','.join(val)}]",
        f"data.train_batch_size={args.prompts}",
        f"data.val_batch_size={8 * len(val)}",
        f"data.seed={args.seed}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={args.prompts}",
        f"actor_rollout_ref.rollout.n={args.group}",
        f"actor_rollout_ref.rollout.temperature={args.temperature}",
        "actor_rollout_ref.rollout.val_kwargs.do_sample=true",
        f"actor_rollout_ref.rollout.val_kwargs.temperature={args.temperature}",
        f"actor_rollout_ref.rollout.val_kwargs.n={args.val_samples}",
        f"trainer.total_training_steps={args.steps}",
        f"trainer.total_epochs={args.steps}",
        f"trainer.test_freq={args.test_freq}",
        "trainer.val_before_train=true",
        "trainer.save_freq=-1",
    ]


def train(
    run: Run, data: Path, output: Path, overrides: list[str], steps: int, keep: bool
) -> tuple[dict[int, dict[str, float]], float]:
    """One trainer run to the end; its per-step metrics (step 0: the validation before training) and seconds.
    With ``keep``, a run whose log in OUTPUT already reached the last step is read instead of run again."""
    folder = output / run.name
    folder.mkdir(parents=True, exist_ok=True)
    log, metrics, timing = folder / "train.log", folder / "metrics.jsonl", folder / "seconds.txt"
    if keep and metrics.is_file() and timing.is_file() and steps in step_metrics(metrics):
        return step_metrics(metrics), float(timing.read_text())
    metrics.unlink(missing_ok=True)  # verl's file logger appends
    started = time.perf_counter()
    with open(log, "w") as handle:
        result = subprocess.run(
            [
                "bash",
                "recipes/train_cpu.sh",
                *overrides,
                *run.overrides,
                f"trainer.default_local_dir={folder / 'checkpoints'}",
                f"trainer.rollout_data_dir={folder / 'rollouts'}",
            ],
            check=False,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DATA_DIR": str(data), "VERL_FILE_LOGGER_PATH": str(metrics)},
        )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bench_cpu_learning: run {run.name} failed (exit {result.returncode}); see {log}")
    timing.write_text(f"{seconds:.1f}\n")
    return step_metrics(metrics), seconds


def validation(step: dict[str, float]) -> float | None:
    """The step's validation reward: the mean over data sources of verl's val-core reward means, if validated."""
    values = [value for key, value in step.items() if VAL_KEY.match(key)]
    return sum(values) / len(values) if values else None


def rows_of(name: str, metrics: dict[int, dict[str, float]]) -> list[dict[str, object]]:
    """One CSV row per step: the training reward and GRPO signal, and the validation reward where validated."""
    return [
        {
            "run": name,
            "step": step,
            "score": values.get("critic/score/mean", ""),
            "advantage_span": values.get("critic/advantages/max", 0.0) - values.get("critic/advantages/min", 0.0)
            if "critic/advantages/max" in values
            else "",
            "entropy": values.get("actor/entropy", ""),
            "grad_norm": values.get("actor/grad_norm", ""),
            "validation": "" if validation(values) is None else validation(values),
            "step_s": values.get("timing_s/step", ""),
        }
        for step, values in sorted(metrics.items())
    ]


def plot(path: Path, rows: list[dict[str, object]]) -> None:
    import matplotlib  # only the plot needs it; a missing matplotlib fails here, after the runs' CSV

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for name in dict.fromkeys(row["run"] for row in rows):
        points = [(row["step"], row["validation"]) for row in rows if row["run"] == name and row["validation"] != ""]
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    axes.set(xlabel="step", ylabel="validation reward (sampled)", title="validation reward per step")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one learning run and the control")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--test-freq", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step")
    parser.add_argument("--group", type=int, default=8, help="rollouts per prompt (the GRPO group)")
    parser.add_argument("--lr", type=float, default=1e-4, help="the learning run's actor learning rate")
    parser.add_argument("--temperature", type=float, default=1.0, help="rollout and validation temperature")
    parser.add_argument("--val-samples", type=int, default=8, help="validation samples per prompt")
    parser.add_argument("--heldout", action="store_true", help="also validate on the held-out prompts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "bench-cpu-learning")
    parser.add_argument("--keep", action="store_true", help="reuse the runs in OUTPUT that reached the last step")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    data = demo_data(args.output)
    lr = "actor_rollout_ref.actor.optim.lr"
    runs = [Run(f"learning-lr{args.lr:g}", (f"{lr}={args.lr}",)), Run("control-lr0", (f"{lr}=0.0",))]
    if not args.quick:
        runs += [Run(f"learning-lr{args.lr / 3:g}", (f"{lr}={args.lr / 3}",))]
    rows: list[dict[str, object]] = []
    finals: dict[str, list[float]] = {}
    for run in runs:
        metrics, seconds = train(run, data, args.output, common_overrides(data, args), args.steps, args.keep)
        run_rows = rows_of(run.name, metrics)
        rows += run_rows
        finals[run.name] = [row["validation"] for row in run_rows if row["validation"] != ""]
        print(
            f"{run.name}: {seconds:.0f} s; validation "
            + ", ".join(f"step {row['step']} {row['validation']:+.3f}" for row in run_rows if row["validation"] != "")
        )
    with open(args.output / "steps.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(args.output / "validation.png", rows)
    print(f"wrote {args.output / 'steps.csv'} and {args.output / 'validation.png'}")
    control = finals["control-lr0"]
    noise = statistics.stdev(control) if len(control) > 1 else float("inf")
    control_final = statistics.fmean(control[-2:])
    check = Verdicts()
    for name, values in finals.items():
        if name.startswith("learning"):
            final = statistics.fmean(values[-2:])
            check.target(
                f"{name} learns",
                f"final validation {final:+.3f} vs control {control_final:+.3f}",
                f"> control + 3 x {noise:.3f}",
                final > control_final + 3 * noise,
            )
    check.finish()


if __name__ == "__main__":
    main()
