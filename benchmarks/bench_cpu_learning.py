"""Causal learning benchmark on CPU: does the policy the rollout samples from improve because of the reward?

Runs verl's real trainer on CPU (recipes/train_cpu.sh: FSDP2 actor, vLLM rollout server, the toolrl reward,
GRPO, weight sync) from one warm-started tiny policy, on one fixed prompt set, with one seed, several times:
the learning run(s) and a **control** identical but for the actor's learning rate 0 (same data, reward and
sampling; no update). The control's validation curve is the noise floor, measured in the same run.

The policy (``verl_toolrl.cpu.tiny_policy --distractors``) is warm-started on every prompt of the demo mix,
training and held-out, with both the right answer and a distractor (the same call without its arguments),
so it starts at a coin flip between them: a decision with headroom that the reward can teach. RL trains on
the training prompts only. Every validation samples each training and held-out prompt (8 times by default,
at the rollout's temperature) and is rescored here with the ``original`` reward, so runs with other reward
variants or estimators read on one scale: training prompts (does RL fit what it trains on?) and held-out
ones (does it transfer to prompts RL never saw?), and the training prompts the policy starts undecided on
(those whose distractor the warm start fitted, as it lists them: the prompts where RL has something to
learn; the others' samples only add spread).

Writes OUTPUT/steps.csv (one row per step and run), OUTPUT/validation.png, prints each run's time and:

    MET when the learning run's final validation reward on the training prompts the policy starts undecided
    on (mean of its last two validations) exceeds the control's by more than three times the standard
    deviation of the control's validations on them.

    python benchmarks/bench_cpu_learning.py --quick        # one learning run and the control (~15 min)
    python benchmarks/bench_cpu_learning.py                # both, and a learning run at a third of the rate
    python benchmarks/bench_cpu_learning.py --ablations    # the paper's reward granularity, dynamic, GDPO
    python benchmarks/bench_cpu_learning.py --filters      # the prompt filter, DAPO, sub-sampling vs plain GRPO

``--filters`` runs in the regime the prompt filter is for, where most groups score alike
(:data:`FILTERS_SETTINGS`: a policy undecided on a third of the calls and settled on the rest, two prompts a
step, a low rate, 24 steps, 32 validation samples a prompt every 4 steps, into runs/bench-cpu-filters):
plain GRPO, the control, the plugin's variance-based prompt filter (toolrl/prompt_filter=variance), verl's
DAPO filter (algorithm.filter_groups) and the plugin's rollout sub-sampling
(toolrl/rollout_subsample=max_variance, half of each group trained on), with how many rollouts each
generated, and how many seconds they trained, until their validation reward on the undecided training
prompts, averaged with the validation before it, first reached the plain run's final one (mean of its last
two validations), and:

    MET when plain GRPO needed at least 1.5 times the rollouts the prompt filter needed; measured only when
    plain GRPO itself learned (MISSED as not measured otherwise: its final reward would be noise).

docs/learning.md records what the runs showed, and why a policy fitted to the right answers alone does not
climb.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.checks.training_log import rollout_records, step_metrics, zero_variance_groups
from verl_toolrl.cpu.demo import demo_mix_command
from verl_toolrl.cpu.tiny_policy import UNDECIDED_FILE
from verl_toolrl.eval.generations import jsonl_lines
from verl_toolrl.reward.score import compute_score, score_range

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "data" / "raw_samples"
LR = "actor_rollout_ref.actor.optim.lr"
VARIANT = "reward.reward_kwargs.variant"
#: The prompt filter, counting a group spread by at most 0.5 as settled: a text answer scoring 0 or 1 for its
#: length teaches next to nothing beside a call scoring +0.4 or +4.0.
PROMPT_FILTER = ("toolrl/prompt_filter=variance", "data.prompt_filter.min_std=0.5")
DAPO = ("algorithm.filter_groups.enable=true", "algorithm.filter_groups.metric=reward")
FILTERS_TARGET = 1.5  # plain GRPO's rollouts to its final reward over the prompt filter's
#: The learning runs' settings: a policy at a coin flip on every call, four prompts a step, six steps.
LEARNING_SETTINGS = {"distractors": 1.0, "prompts": 4, "steps": 6, "lr": 1e-4, "val_samples": 8, "test_freq": 2}
#: The prompt filter's comparison (--filters) in the regime it is for, where most groups score alike: a policy
#: undecided on a third of the calls and settled on the rest, two prompts a step (so most of plain GRPO's
#: steps draw settled prompts), a rate at which learning takes several epochs (at 3e-5 it was done within
#: the first, before the filter has seen a prompt settle), and four times the validation samples every four
#: steps (the gain to measure is on two prompts of eight; 16 samples every two steps left one validation's
#: spread on them, 0.47, about a third of what plain GRPO gained).
FILTERS_SETTINGS = {"distractors": 1 / 3, "prompts": 2, "steps": 24, "lr": 1e-5, "val_samples": 32, "test_freq": 4}
#: The validation figures, by the prompts they average over. The verdicts judge on the undecided training
#: prompts where the policy lists them: the others (settled calls, text answers) have nothing to learn, and
#: their samples' spread would hide what RL learned.
SPLITS = {
    "train": "training prompts",
    "heldout": "held-out prompts",
    "undecided": "training prompts the policy starts undecided on",
}


@dataclass(frozen=True)
class Run:
    """One trainer run of the benchmark: a name and the Hydra overrides that set it apart."""

    name: str
    overrides: tuple[str, ...] = field(default_factory=tuple)


def runs_for(args: argparse.Namespace) -> list[Run]:
    """The learning run and the control, then a third of the rate (full) or the ablations (``--ablations``)."""
    learning = Run(f"learning-lr{args.lr:g}", (f"{LR}={args.lr}",))
    runs = [learning, Run("control-lr0", (f"{LR}=0.0",))]
    if args.ablations:
        for variant in ("coarse", "binary", "dynamic"):
            runs.append(Run(f"{variant}-lr{args.lr:g}", (f"{LR}={args.lr}", f"{VARIANT}={variant}")))
        gdpo = ("algorithm.adv_estimator=gdpo", "+algorithm.gdpo_reward_keys=[format_reward,correctness_reward]")
        runs.append(Run(f"gdpo-lr{args.lr:g}", (f"{LR}={args.lr}", *gdpo, "trainer.use_v1=false")))
    if not (args.quick or args.ablations or args.filters):
        runs.append(Run(f"learning-lr{args.lr / 3:g}", (f"{LR}={args.lr / 3}",)))
    if args.filters:
        runs.append(Run(f"prompt-filter-lr{args.lr:g}", (f"{LR}={args.lr}", *PROMPT_FILTER)))
        runs.append(Run(f"dapo-lr{args.lr:g}", (f"{LR}={args.lr}", *DAPO)))
        runs.append(Run(f"subsample-lr{args.lr:g}", (f"{LR}={args.lr}", *subsample_overrides(args))))
    return runs


def subsample_overrides(args: argparse.Namespace) -> tuple[str, ...]:
    """Rollout sub-sampling: each group trained on the half of its rollouts that spread most, the actor's
    mini-batch sized to what is kept (verl counts it in prompts x rollout.n).

    >>> subsample_overrides(argparse.Namespace(prompts=2, group=8))[1:]
    ('trainer.v1.sampler.sampler_kwargs.keep=4', 'actor_rollout_ref.actor.ppo_mini_batch_size=1')
    """
    keep = args.group // 2
    return (
        "toolrl/rollout_subsample=max_variance",
        f"trainer.v1.sampler.sampler_kwargs.keep={keep}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={args.prompts * keep // args.group}",
    )


def prepare(output: Path, cpu_python: Path, distractors: float) -> tuple[Path, Path]:
    """The demo mix (8 training prompts, 3 held out) and the tiny policy warm-started on all 11 with the
    distractors of that share of their calls, each built once in OUTPUT."""
    data, policy = output / "data", output / ("policy" if distractors == 1 else f"policy-distractors{distractors:g}")
    if not (data / "train.parquet").is_file():
        _run_or_exit("the demo mix", demo_mix_command(data, SAMPLES, python=sys.executable))
    if not (policy / "config.json").is_file():
        if not cpu_python.is_file():
            raise SystemExit(f"bench_cpu_learning: {cpu_python} is missing; build it with bash recipes/setup_cpu.sh")
        files = [str(data / "train.parquet"), str(data / "test.parquet")]
        command = [
            str(cpu_python),
            "-m",
            "verl_toolrl.cpu.tiny_policy",
            "--data",
            *files,
            "--distractors",
            f"{distractors}",
        ]
        _run_or_exit("the tiny policy", [*command, "--output", str(policy)])
    return data, policy


def undecided_targets(policy: Path) -> set[str]:
    """The targets of the prompts ``policy`` starts undecided on, as its warm start listed them."""
    path = policy / UNDECIDED_FILE
    if not path.is_file():
        raise SystemExit(f"bench_cpu_learning: {path} is missing (a policy built before it was written); delete "
                         f"{policy} to rebuild it")  # fmt: skip
    return set(json.loads(path.read_text()))


def _run_or_exit(what: str, command: list[str]) -> None:
    """Run a preparation command from the repository root; one line and exit 1 if it fails."""
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
        raise SystemExit(f"bench_cpu_learning: building {what} failed: {' '.join(command)}")


def common_overrides(data: Path, args: argparse.Namespace) -> list[str]:
    """Settings every run shares: prompts, group size, steps, sampled validation of both splits, seed."""
    return [
        f"data.train_files={data / 'train.parquet'}",
        f"data.val_files=[{data / 'train.parquet'},{data / 'test.parquet'}]",
        f"data.train_batch_size={args.prompts}",
        "data.val_batch_size=16",
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
        "+ray_kwargs.ray_init.address=local",  # a cluster of its own, not one another job on the machine started
    ]


def train(run: Run, data: Path, policy: Path, output: Path, overrides: list[str], keep: bool) -> float:
    """One trainer run to the end, in OUTPUT/<run>; its seconds. With ``keep``, a finished run is not rerun."""
    folder = output / run.name
    folder.mkdir(parents=True, exist_ok=True)
    log, timing = folder / "train.log", folder / "seconds.txt"
    if keep and timing.is_file():
        return float(timing.read_text())
    for stale in [folder / "metrics.jsonl", *folder.glob("validation/*.jsonl")]:
        stale.unlink(missing_ok=True)  # verl's file logger appends
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
                f"trainer.validation_data_dir={folder / 'validation'}",
            ],
            check=False,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "DATA_DIR": str(data),
                "MODEL": str(policy),
                "VERL_FILE_LOGGER_PATH": str(folder / "metrics.jsonl"),
            },
        )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bench_cpu_learning: run {run.name} failed (exit {result.returncode}); see {log}")
    timing.write_text(f"{seconds:.1f}\n")
    return seconds


def validations(
    folder: Path, heldout_truths: set[str], undecided_truths: set[str] = frozenset()
) -> dict[int, dict[str, float]]:
    """Per validated step, from verl's dump of the validation samples: the mean ``original`` reward and the
    share of exact answers (the reward's maximum) on the training prompts, on the held-out ones and, where
    the policy lists them, on the training prompts it started undecided on."""
    steps: dict[int, dict[str, float]] = {}
    for path in sorted((folder / "validation").glob("*.jsonl")):
        scored: dict[str, list[tuple[float, bool]]] = {"train": [], "heldout": [], "undecided": []}
        for _, _, sample in jsonl_lines(path):
            split = "heldout" if sample["gts"] in heldout_truths else "train"
            score = compute_score(None, sample["output"], sample["gts"])["score"]
            scored[split].append((score, score == score_range(sample["gts"])[1]))
            if split == "train" and sample["gts"] in undecided_truths:
                scored["undecided"].append(scored[split][-1])
        step = int(path.stem)
        steps[step] = {}
        for split, scores in scored.items():
            if not scores and split != "undecided":
                raise SystemExit(f"bench_cpu_learning: {path} has no {split} prompt; validation must sample both")
            steps[step][f"{split}_reward"] = statistics.fmean(score for score, _ in scores) if scores else ""
            steps[step][f"{split}_exact"] = statistics.fmean(exact for _, exact in scores) if scores else ""
    return steps


def generated_groups(metrics: dict[str, float], prompts: int) -> int:
    """GRPO groups generated in one training step: the batch's prompts, plus, under verl's DAPO filter, the
    groups it evicted (all rollouts scored alike) and the surplus it generated and discarded.

    >>> generated_groups({"training/filter_groups/evicted_samples": 3.0}, 4)
    7
    """
    extra = ("filter_groups/evicted_samples", "filter_groups/discarded_surplus_samples")
    return prompts + int(sum(value for key, value in metrics.items() if key.endswith(extra)))


def settled_groups(folder: Path) -> dict[int, int]:
    """Per training step, from verl's rollout dump: the groups trained on whose rollouts all scored alike
    (advantage 0)."""
    return {step: zero_variance_groups(rows)[0] for step, rows in rollout_records(folder / "rollouts").items()}


SKIPPED = re.compile(r"prompt filter: batch (\d+): \d+ prompts served, (\d+) settled skipped")


def skipped_prompts(log: Path) -> dict[int, int]:
    """Per training batch, the settled prompts the prompt filter skipped (its line in the trainer's log).

    >>> import tempfile
    >>> log = Path(tempfile.mkdtemp()) / "train.log"
    >>> _ = log.write_text("(TaskRunner pid=1) prompt filter: batch 3: 4 prompts served, 2 settled skipped: ...\\n")
    >>> skipped_prompts(log)
    {3: 2}
    """
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return {int(batch): int(skipped) for batch, skipped in SKIPPED.findall(text)}


def rows_of(
    name: str, folder: Path, heldout: set[str], prompts: int, undecided: set[str] = frozenset()
) -> list[dict[str, object]]:
    """One CSV row per step of the run in ``folder``: GRPO groups generated, prompts the filter skipped,
    groups trained on that scored alike, the training reward and GRPO signal, and the validation figures
    where validated."""
    metrics, validated = step_metrics(folder / "metrics.jsonl"), validations(folder, heldout, undecided)
    skipped, settled = skipped_prompts(folder / "train.log"), settled_groups(folder)
    columns = [f"{split}_{figure}" for split in SPLITS for figure in ("reward", "exact")]
    rows = []
    for step in sorted(set(metrics) | set(validated)):
        logged = metrics.get(step, {})
        trained = "timing_s/step" in logged
        rows.append(
            {
                "run": name,
                "step": step,
                "groups": generated_groups(logged, prompts) if trained else "",
                "skipped": skipped.get(step, 0) if trained else "",
                "settled": settled.get(step, "") if trained else "",
                "score": logged.get("critic/score/mean", ""),
                "entropy": logged.get("actor/entropy", ""),
                "grad_norm": logged.get("actor/grad_norm", ""),
                **{column: validated.get(step, {}).get(column, "") for column in columns},
                "step_s": logged.get("timing_s/step", ""),
            }
        )
    return rows


def plot(path: Path, rows: list[dict[str, object]]) -> None:
    import matplotlib  # only the plot needs it; a missing matplotlib fails here, after the runs' CSV

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [split for split in SPLITS if any(row.get(f"{split}_reward", "") != "" for row in rows)]
    figure, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 4), sharey=True)
    for axis, split in zip(axes, splits, strict=True):
        for name in dict.fromkeys(row["run"] for row in rows):
            points = [
                (r["step"], r[f"{split}_reward"]) for r in rows if r["run"] == name and r[f"{split}_reward"] != ""
            ]
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        axis.set(xlabel="step", title="undecided training prompts" if split == "undecided" else SPLITS[split])
    axes[0].set_ylabel("validation reward (original, sampled)")
    axes[-1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def first_step_reaching(rows: list[dict[str, object]], threshold: float, split: str = "train") -> int | str:
    """The first validated step whose reward on the ``split`` prompts reaches ``threshold``; "-" when none does."""
    key = f"{split}_reward"
    return next((r["step"] for r in rows if r[key] != "" and r[key] >= threshold), "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="one learning run and the control")
    mode.add_argument("--ablations", action="store_true", help="learning, control, coarse, binary, dynamic, GDPO")
    mode.add_argument(
        "--filters", action="store_true", help="learning, control, the prompt filter, DAPO, rollout sub-sampling"
    )
    parser.add_argument("--steps", type=int, help="training steps [6; 24 with --filters]")
    parser.add_argument("--test-freq", type=int, help="steps between validations [2; 4 with --filters]")
    parser.add_argument("--prompts", type=int, help="prompts per step [4; 2 with --filters]")
    parser.add_argument("--group", type=int, default=8, help="rollouts per prompt (the GRPO group)")
    parser.add_argument("--lr", type=float, help="the learning runs' actor learning rate [1e-4; 1e-5 with --filters]")
    parser.add_argument("--temperature", type=float, default=0.7, help="rollout and validation temperature")
    parser.add_argument("--val-samples", type=int, help="validation samples per prompt [8; 32 with --filters]")
    parser.add_argument(
        "--distractors", type=float, help="share of the calls the policy is undecided on [1; 1/3 with --filters]"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, help="[runs/bench-cpu-learning; runs/bench-cpu-filters with --filters]")
    parser.add_argument("--cpu-venv", type=Path, default=ROOT / ".venv-cpu", help="the CPU training environment")
    parser.add_argument("--keep", action="store_true", help="reuse the runs in OUTPUT that finished")
    args = parser.parse_args()
    if args.output is None:
        args.output = ROOT / "runs" / ("bench-cpu-filters" if args.filters else "bench-cpu-learning")
    for option, value in (FILTERS_SETTINGS if args.filters else LEARNING_SETTINGS).items():
        if getattr(args, option) is None:
            setattr(args, option, value)
    args.output.mkdir(parents=True, exist_ok=True)
    data, policy = prepare(args.output, args.cpu_venv / "bin" / "python", args.distractors)
    heldout = {reward["ground_truth"] for reward in pd.read_parquet(data / "test.parquet")["reward_model"]}
    undecided = undecided_targets(policy)
    rows: list[dict[str, object]] = []
    for run in runs_for(args):
        seconds = train(run, data, policy, args.output, common_overrides(data, args), args.keep)
        folder = args.output / run.name
        run_rows = rows_of(run.name, folder, heldout, args.prompts, undecided)
        rows += run_rows
        print(
            f"{run.name}: {seconds:.0f} s; validation (training / held-out prompts) "
            + ", ".join(
                f"step {r['step']} {r['train_reward']:+.2f} / {r['heldout_reward']:+.2f}"
                for r in run_rows
                if r["train_reward"] != ""
            )
        )
    with open(args.output / "steps.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(args.output / "validation.png", rows)
    print(f"wrote {args.output / 'steps.csv'} and {args.output / 'validation.png'}")
    judged = "undecided" if any(row["undecided_reward"] != "" for row in rows) else "train"
    report(rows, args.group, args.prompts, split=judged)


def report(rows: list[dict[str, object]], group: int, prompts: int, split: str = "train") -> None:
    """The table of every run (reward and exact share at each validation on the ``split`` prompts, steps to
    a threshold) and the verdict of each learning run against the control, on those prompts."""
    reward, exact = f"{split}_reward", f"{split}_exact"
    validated = {}
    for row in rows:
        if row[reward] != "":
            validated.setdefault(row["run"], []).append(row)
    control = [row[reward] for row in validated["control-lr0"]]
    noise = statistics.stdev(control) if len(control) > 1 else float("inf")
    control_final = statistics.fmean(control[-2:])
    finals = {run: statistics.fmean(r[reward] for r in runs[-2:]) for run, runs in validated.items()}
    threshold = control_final + (max(finals.values()) - control_final) / 2
    print(f"\n| run | {SPLITS[split]}: reward (exact) by step | held-out: final | step reaching {threshold:+.2f} |")
    print("|---|---|---|---|")
    for run, runs in validated.items():
        curve = ", ".join(f"{r['step']}: {r[reward]:+.2f} ({r[exact]:.0%})" for r in runs)
        heldout = f"{runs[-1]['heldout_reward']:+.2f} ({runs[-1]['heldout_exact']:.0%})"
        print(f"| {run} | {curve} | {heldout} | {first_step_reaching(runs, threshold, split)} |")
    check = Verdicts()
    learned = {
        run: check.target(
            f"{run} learns",
            f"final validation on the {SPLITS[split]} {final:+.3f} vs control {control_final:+.3f}",
            f"> control + 3 x {noise:.3f}",
            final > control_final + 3 * noise,
        )
        for run, final in finals.items()
        if run != "control-lr0"
    }
    plain = next(iter(validated))
    if any(run.startswith("prompt-filter") for run in validated):
        report_filters(rows, plain, finals[plain], group, prompts, check, measurable=learned[plain], split=split)
    check.finish()


def to_reach(
    rows: list[dict[str, object]], run: str, reward: float, split: str = "train"
) -> tuple[int, int, float] | None:
    """(step, rollouts generated, training seconds) when ``run``'s validation reward on the ``split`` prompts,
    averaged with the validation before it, first reached ``reward`` after training began; None if it never
    did. One validation's spread is about as wide as the gains, hence the pair; the plain run's final reward
    (the mean of its last two validations) is such a pair, so the plain run reaches it by its last step.
    Seconds are verl's step times (validation excluded)."""
    groups = seconds = 0.0
    previous = None
    for row in (r for r in rows if r["run"] == run):
        groups += row["groups"] or 0
        seconds += row["step_s"] or 0.0
        validated = row[f"{split}_reward"]
        if validated == "":
            continue
        if row["step"] > 0 and previous is not None and (previous + validated) / 2 >= reward:
            return int(row["step"]), int(groups), seconds
        previous = validated
    return None


def report_filters(
    rows: list[dict[str, object]],
    plain: str,
    reward: float,
    group: int,
    prompts: int,
    check: Verdicts,
    *,
    measurable: bool,
    split: str = "train",
) -> None:
    """Rollouts and seconds plain GRPO, the prompt filter and DAPO took to reach the plain run's final
    reward on the ``split`` prompts, the groups they trained on that scored alike, and the prompt filter's
    target. The target is
    only measurable when the plain run learned (its final reward clear of the control's noise); otherwise
    reaching that reward is noise, and the target is MISSED as not measured."""
    others = ("prompt-filter", "dapo", "subsample")
    runs = [plain, *(run for run in dict.fromkeys(r["run"] for r in rows) if run.startswith(others))]
    print(f"\n| run | step reaching {reward:+.2f} | rollouts generated | training seconds | "
          "groups trained on that scored alike | prompts skipped before rollout |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    reached = {run: to_reach(rows, run, reward, split) for run in runs}
    for run in runs:
        step, groups, seconds = reached[run] or ("-", 0, 0.0)
        mine = [r for r in rows if r["run"] == run and r["groups"] != ""]
        settled = sum(r["settled"] or 0 for r in mine)
        skipped = sum(r["skipped"] or 0 for r in mine)
        print(f"| {run} | {step} | {groups * group or '-'} | {f'{seconds:.0f}' if seconds else '-'} | "
              f"{settled} of {len(mine) * prompts} | {skipped} |")  # fmt: skip
    ours = next(run for run in runs if run.startswith("prompt-filter"))
    saving = reached[plain][1] / reached[ours][1] if reached[plain] and reached[ours] else 0.0
    target = f">= {FILTERS_TARGET}x fewer rollouts than plain GRPO to its final {reward:+.2f} on the {SPLITS[split]}"
    if not measurable:
        check.target("the prompt filter saves rollouts", f"nothing, {plain} did not learn", target, False)
        return
    check.target(
        "the prompt filter saves rollouts",
        f"plain GRPO {reached[plain][1] * group if reached[plain] else 'never reached'} / prompt filter "
        f"{reached[ours][1] * group if reached[ours] else 'never reached'} rollouts = {saving:.2f}x",
        target,
        saving >= FILTERS_TARGET,
    )


if __name__ == "__main__":
    main()
