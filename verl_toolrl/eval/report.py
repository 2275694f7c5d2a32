"""Reports of scored runs: a markdown table and a bar chart, for one run or several side by side.

Given the output directories of scored runs of one benchmark (e.g. the base model and the trained one),
:func:`markdown_report` writes the run table (model, format, protocol, items) and the benchmark's own
tables (``Benchmark.report_rows``), and :func:`bar_chart` one grouped bar chart (``Benchmark.series``;
matplotlib, imported lazily: ``pip install matplotlib``). Runs of different protocols measure different
things: comparing them is refused unless ``allow_mixed_protocols``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_toolrl.eval.benchmark import ScoredRun, markdown_table
from verl_toolrl.eval.generations import CHART_FILE, REPORT_FILE, SCORES_FILE
from verl_toolrl.eval.registry import get_benchmark

#: A ``scores.json`` without a protocol was written before protocols existed: a ``strict`` run.
LEGACY_PROTOCOL = "strict"


def run_protocol(summary: Mapping[str, Any]) -> str:
    """The protocol a run was scored under.

    >>> run_protocol({"protocol": "toolrl"}), run_protocol({})
    ('toolrl', 'strict')
    """
    return str(summary.get("protocol", LEGACY_PROTOCOL))


def load_runs(
    directories: Sequence[str | Path], labels: Sequence[str] | None = None, allow_mixed_protocols: bool = False
) -> list[ScoredRun]:
    """The ``scores.json`` of each directory, labelled by ``labels`` or by the directory names; runs of
    different benchmarks, or of different protocols unless ``allow_mixed_protocols``, are an error."""
    if labels is not None and len(labels) != len(directories):
        raise ValueError(f"{len(labels)} labels for {len(directories)} result directories")
    runs = []
    for index, directory in enumerate(directories):
        path = Path(directory) / SCORES_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not scored yet; run `score` on {directory} first")
        summary = json.loads(path.read_text(encoding="utf-8"))
        runs.append(ScoredRun(labels[index] if labels else Path(directory).resolve().name, summary))
    benchmarks = {run.summary.get("benchmark") for run in runs}
    if len(benchmarks) != 1:
        raise ValueError(f"cannot compare runs of different benchmarks: {sorted(map(str, benchmarks))}")
    protocols = {run.label: run_protocol(run.summary) for run in runs}
    if len(set(protocols.values())) > 1 and not allow_mixed_protocols:
        listed = ", ".join(f"{label}: {protocol}" for label, protocol in protocols.items())
        raise ValueError(
            f"cannot compare runs scored under different protocols ({listed}); rescore them under one "
            "protocol, or pass --allow-mixed-protocols to compare them anyway"
        )
    return runs


def series(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The numbers a chart shows for one run: per category/level, then the aggregates.

    >>> series({"benchmark": "apibank", "levels": {"level-1": {"paper": 0.5, "strict": 0.25, "count": 4}},
    ...         "overall": {"paper": 0.5, "strict": 0.25, "count": 4}})
    {'level-1 (paper)': 0.5, 'level-1 (strict)': 0.25, 'overall (paper)': 0.5, 'overall (strict)': 0.25}
    """
    return get_benchmark(summary["benchmark"]).series(summary)


def _failure_rows(runs: Sequence[ScoredRun]) -> list[list[str]]:
    reasons: list[str] = []
    for run in runs:
        reasons.extend(r for r in run.summary.get("failures", {}) if r not in reasons)
    return [[reason, *(str(run.summary.get("failures", {}).get(reason, 0)) for run in runs)] for reason in reasons]


def markdown_report(runs: Sequence[ScoredRun]) -> str:
    """The report of one or several runs of the same benchmark: runs, the benchmark's tables, failures."""
    if not runs:
        raise ValueError("no runs to report")
    benchmark = get_benchmark(runs[0].summary["benchmark"])
    lines = [f"# {benchmark.name} evaluation", ""]
    lines += markdown_table(
        ["run", "model", "format", "protocol", "items", "missing"],
        [
            [
                run.label,
                str(run.summary.get("model", "")),
                str(run.summary.get("format", "")),
                run_protocol(run.summary),
                str(run.summary.get("items", "")),
                str(len(run.summary.get("missing", []))),
            ]
            for run in runs
        ],
    )
    if len({run_protocol(run.summary) for run in runs}) > 1:
        lines += [
            "",
            "> **Mixed protocols**: these runs were scored under different protocols and do not measure the same "
            "thing.",
        ]
    lines += ["", *benchmark.report_rows(runs)]
    failures = _failure_rows(runs)
    if failures:
        lines += ["", "## Wrong items by reason", ""]
        lines += markdown_table(["reason", *(run.label for run in runs)], failures)
    return "\n".join(lines) + "\n"


def _first_aggregate(summary: Mapping[str, Any], names: Sequence[str]) -> int:
    """Where the aggregates start among the chart's bars (they follow the categories/levels)."""
    aggregate_names = {a["name"] for a in summary.get("aggregates", [])}
    return next(
        (index for index, name in enumerate(names) if name in aggregate_names or name.startswith("overall")), len(names)
    )


def bar_chart(runs: Sequence[ScoredRun], path: str | Path) -> Path:
    """A grouped bar chart (one bar per run) of every category/level and aggregate, saved as PNG."""
    try:
        import matplotlib  # the eval extra: only a report draws its chart

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the chart needs matplotlib: pip install matplotlib (or 'verl-toolrl[eval]')"
        ) from None
    all_series = [series(run.summary) for run in runs]
    names: list[str] = []
    for values in all_series:
        names.extend(name for name in values if name not in names)
    width = 0.8 / len(runs)
    figure, axis = plt.subplots(figsize=(max(8.0, 0.6 * len(names) * max(1, len(runs)) ** 0.5), 4.8))
    for index, (run, values) in enumerate(zip(runs, all_series, strict=True)):
        heights = [100 * (values.get(name) or 0.0) for name in names]
        positions = [x + (index - (len(runs) - 1) / 2) * width for x in range(len(names))]
        axis.bar(positions, heights, width, label=run.label)
    first_aggregate = _first_aggregate(runs[0].summary, names)
    if 0 < first_aggregate < len(names):
        axis.axvline(first_aggregate - 0.5, color="grey", linestyle="--", linewidth=0.8)
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 100)
    axis.set_title(f"{runs[0].summary['benchmark']}: " + " vs ".join(run.label for run in runs))
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_report(
    directories: Sequence[str | Path],
    output_dir: str | Path,
    labels: Sequence[str] | None = None,
    benchmark: str | None = None,
    allow_mixed_protocols: bool = False,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``chart.png`` for the runs in ``directories`` into ``output_dir``; with
    ``benchmark``, runs of another benchmark are an error (and so are mixed protocols, unless allowed)."""
    runs = load_runs(directories, labels, allow_mixed_protocols)
    if benchmark is not None and runs[0].summary["benchmark"] != benchmark:
        raise ValueError(f"{directories[0]} holds a {runs[0].summary['benchmark']} run, not {benchmark}")
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    report = output / REPORT_FILE
    report.write_text(markdown_report(runs), encoding="utf-8")
    return report, bar_chart(runs, output / CHART_FILE)
