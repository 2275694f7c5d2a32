"""What a verl training run logged, read back: per-step metrics from verl's file logger, and per-step reward
components from the rollout dump.

verl's file logger (``trainer.logger=[console,file]``, ``verl.utils.tracking.FileLogger``) writes one JSON
line per step, ``{"step": N, "data": {metric: value, ...}}``, to the file named by ``VERL_FILE_LOGGER_PATH``
(verl has no config key for it, so the launcher sets it: ``recipes/train_cpu.sh``); :func:`step_metrics`
reads that file back. verl 0.9.1 logs the reward's extra outputs (format, correctness, ...) as metrics for
validation only (``val-aux/<data_source>/<key>/mean@1``); for training steps it dumps every response with
its ground truth and score to ``trainer.rollout_data_dir/<step>.jsonl``. :func:`step_rewards` scores those
dumped responses with :func:`verl_toolrl.reward.compute_score` at the step they were generated for, giving
each training step's mean reward components, and checks that the scores agree with what the trainer logged.

It also counts each step's zero-variance groups (:func:`zero_variance_fraction`): the prompts whose rollouts
all got the same reward, from which GRPO learns nothing (every advantage is 0; ToolRL's issue #13 shows a run
stuck that way). verl 0.9.1 has no metric for it and no hook that could add one without patching it: rewards
are computed per trajectory in the agent loop, its v1 trainer calls a registered advantage estimator with
tensors only (no metrics dict) and builds its step metrics from fixed fields; with ``algorithm.filter_groups``
on it logs how many samples dynamic sampling dropped (``training/filter_groups/evicted_samples``), not the
fraction before filtering. The dump carries what is needed: each response's trajectory key
(``uid``: ``{prompt uid}_{session}_{index}``, one prompt uid per group) and the reward the trainer used.

    python -m verl_toolrl.checks.training_log METRICS_JSONL --rollouts DIR [reward.reward_kwargs.KEY=VALUE ...]

prints one row per step (the table ``recipes/quickstart.sh`` shows after training on CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from verl_toolrl.core.table import markdown_table
from verl_toolrl.core.trajectories import groups_of
from verl_toolrl.reward import compute_score
from verl_toolrl.reward.config import reward_config


def step_metrics(path: Path) -> dict[int, dict[str, float]]:
    """The numeric metrics verl's file logger wrote to ``path``, by step (a step logged in several lines, as
    a run's final validation is: merged, later lines win). A line that is not the logger's JSON raises
    ``ValueError`` naming the file and line.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> _ = path.write_text('{"step": 2, "data": {"actor/grad_norm": 0.5, "n": 2, "note": "x"}}\\n')
    >>> step_metrics(path)
    {2: {'actor/grad_norm': 0.5, 'n': 2.0}}
    """
    steps: dict[int, dict[str, float]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step, data = int(record["step"]), record["data"]
        except (ValueError, TypeError, KeyError) as error:
            shape = '{"step": N, "data": {...}}'
            raise ValueError(f"{path}:{number}: not a line of verl's file logger ({shape}): {error}") from None
        metrics = steps.setdefault(step, {})
        for key, value in data.items():
            if isinstance(value, (int, float)):
                metrics[key] = float(value)
    return steps


def rollout_records(rollout_dir: Path) -> dict[int, list[dict[str, Any]]]:
    """The responses verl dumped to ``rollout_dir`` (``trainer.rollout_data_dir``), by training step."""
    records: dict[int, list[dict[str, Any]]] = {}
    for path in sorted(rollout_dir.glob("*.jsonl")):
        if path.stem.isdigit():
            lines = path.read_text(encoding="utf-8").splitlines()
            records[int(path.stem)] = [json.loads(line) for line in lines if line.strip()]
    return records


def zero_variance_groups(rows: Iterable[Mapping[str, Any]], tolerance: float = 1e-6) -> tuple[int, int]:
    """(groups whose ``score`` values are all equal within ``tolerance``, groups of at least two rollouts),
    a group being the rows sharing a :func:`~verl_toolrl.core.trajectories.group_of` their ``uid`` (rows without
    one are left out).

    >>> groups = (("a", [1, 1]), ("b", [0, 1]), ("c", [2, 0]), ("d", [5]))
    >>> rows = [{"uid": f"{g}_{i}_0", "score": s} for g, scores in groups for i, s in enumerate(scores)]
    >>> zero_variance_groups(rows)
    (1, 3)
    """
    keyed = [row for row in rows if "uid" in row]
    groups = groups_of(str(row["uid"]) for row in keyed).values()
    sized = [[float(keyed[p]["score"]) for p in group] for group in groups if len(group) > 1]
    return sum(max(scores) - min(scores) <= tolerance for scores in sized), len(sized)


def zero_variance_fraction(rows: Iterable[Mapping[str, Any]], tolerance: float = 1e-6) -> float | None:
    """The share of :func:`zero_variance_groups` among the groups of at least two rollouts; None when there
    is no such group (no ``uid`` in the dump, or one rollout per prompt).

    >>> groups = (("a", [1, 1]), ("b", [0, 1]), ("c", [2, 0]))
    >>> rows = [{"uid": f"{g}_{i}_0", "score": s} for g, scores in groups for i, s in enumerate(scores)]
    >>> zero_variance_fraction(rows)
    0.3333333333333333
    """
    alike, sized = zero_variance_groups(rows, tolerance)
    return alike / sized if sized else None


def step_rewards(records: Mapping[int, list[dict[str, Any]]], **options: Any) -> dict[int, dict[str, float]]:
    """Each step's mean reward components, the dumped responses scored at their own step with ``options``
    (the run's ``reward.reward_kwargs``); ``score_mismatch`` counts responses whose logged score differs;
    ``zero_variance_groups`` is :func:`zero_variance_fraction` of the logged scores (absent when None)."""
    summary = {}
    for step, rows in sorted(records.items()):
        scores = [compute_score("", row["output"], row["gts"], step=step, **options) for row in rows]
        means = {key: sum(s[key] for s in scores) / len(scores) for key in scores[0]} if scores else {}
        means["score_mismatch"] = float(
            sum(abs(s["score"] - float(row["score"])) > 1e-4 for s, row in zip(scores, rows, strict=True))
        )
        means["responses"] = float(len(rows))
        if (fraction := zero_variance_fraction(rows)) is not None:
            means["zero_variance_groups"] = fraction
        summary[step] = means
    return summary


#: (heading, source, key): the columns of :func:`summary_table`; "verl" columns come from the trainer's
#: metrics, "reward" ones from the dumped responses scored again.
COLUMNS = (
    ("step", "verl", None),
    ("score mean", "verl", "critic/score/mean"),
    ("min", "verl", "critic/score/min"),
    ("max", "verl", "critic/score/max"),
    ("format", "reward", "format_reward"),
    ("correctness", "reward", "correctness_reward"),
    ("exact", "reward", "exact_match"),
    ("zero-var groups", "reward", "zero_variance_groups"),
    ("grad_norm", "verl", "actor/grad_norm"),
    ("gen s", "verl", "timing_s/gen"),
    ("step s", "verl", "timing_s/step"),
)


def summary_table(metrics: Mapping[int, Mapping[str, float]], rewards: Mapping[int, Mapping[str, float]]) -> str:
    """A markdown table, one row per training step: verl's score and timings, the mean reward components."""
    rows = []
    for step in sorted(metrics):
        cells = []
        for _, source, key in COLUMNS:
            values = metrics[step] if source == "verl" else rewards.get(step, {})
            cells.append(str(step) if key is None else (f"{values[key]:.3f}" if key in values else "-"))
        rows.append(cells)
    return "\n".join(markdown_table([heading for heading, _, _ in COLUMNS], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verl_toolrl.checks.training_log", description=__doc__.splitlines()[0]
    )
    parser.add_argument("log", type=Path, help="the JSONL of verl's file logger (VERL_FILE_LOGGER_PATH)")
    parser.add_argument("--rollouts", type=Path, help="its trainer.rollout_data_dir")
    parser.add_argument("overrides", nargs="*", help="the run's Hydra overrides (reward.reward_kwargs.* are read)")
    args = parser.parse_intermixed_args(argv)
    if not args.log.is_file():
        print(f"error: {args.log}: no such file", file=sys.stderr)
        return 2
    try:
        metrics = step_metrics(args.log)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not metrics:
        print(f"error: {args.log}: no training step was logged (the trainer's output says why)", file=sys.stderr)
        return 1
    reward_overrides = [item for item in args.overrides if item.startswith("reward.reward_kwargs.")]
    try:
        options = asdict(reward_config(OmegaConf.from_dotlist(reward_overrides)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rewards = step_rewards(rollout_records(args.rollouts), **options) if args.rollouts else {}
    print(summary_table(metrics, rewards))
    return 0


if __name__ == "__main__":
    sys.exit(main())
