"""Reports of scored runs: a markdown table and a bar chart, for one run or several side by side.

Given the output directories of scored runs of one benchmark (e.g. the base model and the trained one),
:func:`markdown_report` writes one table with a column per run and :func:`bar_chart` one grouped bar
chart (matplotlib, imported lazily: ``pip install matplotlib``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verl_toolrl.eval.generations import SCORES_FILE

V4_NOTE = (
    "BFCL v4's overall score also weights multi-turn (30%) and agentic web-search/memory (40%) categories, "
    "which this single-turn evaluation does not run; `single_turn_overall` is not that number."
)


@dataclass(frozen=True)
class ScoredRun:
    label: str
    summary: dict[str, Any]


def load_runs(directories: Sequence[str | Path], labels: Sequence[str] | None = None) -> list[ScoredRun]:
    """The ``scores.json`` of each directory, labelled by ``labels`` or by the directory names."""
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
    return runs


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def series(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The numbers a chart shows for one run: per category/level, then the aggregates.

    >>> series({"benchmark": "apibank", "levels": {"level-1": {"paper": 0.5, "strict": 0.25, "count": 4}},
    ...         "overall": {"paper": 0.5, "strict": 0.25, "count": 4}})
    {'level-1 (paper)': 0.5, 'level-1 (strict)': 0.25, 'overall (paper)': 0.5, 'overall (strict)': 0.25}
    """
    if summary["benchmark"] == "bfcl":
        values: dict[str, float | None] = {name: c["accuracy"] for name, c in summary["categories"].items()}
        values.update((a["name"], a["value"]) for a in summary["aggregates"])
        return values
    values = {}
    for name, level in [*summary["levels"].items(), ("overall", summary["overall"])]:
        for rule in ("paper", "strict"):
            values[f"{name} ({rule})"] = level[rule] if level else None
    return values


def _failure_rows(runs: Sequence[ScoredRun]) -> list[list[str]]:
    reasons: list[str] = []
    for run in runs:
        reasons.extend(r for r in run.summary.get("failures", {}) if r not in reasons)
    return [[reason, *(str(run.summary.get("failures", {}).get(reason, 0)) for run in runs)] for reason in reasons]


def _bfcl_markdown(runs: Sequence[ScoredRun]) -> list[str]:
    categories: list[str] = []
    for run in runs:
        categories.extend(c for c in run.summary["categories"] if c not in categories)
    rows = []
    for category in categories:
        counts = {str(run.summary["categories"][category]["count"]) for run in runs if category in run.summary["categories"]}
        cells = [_percent(run.summary["categories"].get(category, {}).get("accuracy")) for run in runs]
        rows.append([category, "/".join(sorted(counts)), *cells])
    lines = ["## BFCL single-turn accuracy (%)", ""]
    lines += _table(["category", "items", *(run.label for run in runs)], rows)
    aggregate_rows = []
    for index, aggregate in enumerate(runs[0].summary["aggregates"]):
        cells = [_percent(run.summary["aggregates"][index]["value"]) for run in runs]
        aggregate_rows.append([f"**{aggregate['name']}**", *cells, aggregate["formula"]])
    lines += ["", "### Aggregates (%)", ""]
    lines += _table(["aggregate", *(run.label for run in runs), "formula"], aggregate_rows)
    lines += ["", f"> {V4_NOTE}"]
    return lines


def _apibank_markdown(runs: Sequence[ScoredRun]) -> list[str]:
    levels: list[str] = []
    for run in runs:
        levels.extend(level for level in run.summary["levels"] if level not in levels)
    header = ["level", "items", *(f"{run.label} ({rule})" for run in runs for rule in ("paper", "strict"))]
    rows = []
    for level in [*levels, "overall"]:
        stats = [run.summary["overall"] if level == "overall" else run.summary["levels"].get(level) for run in runs]
        counts = {str(s["count"]) for s in stats if s}
        cells = [_percent(s[rule] if s else None) for s in stats for rule in ("paper", "strict")]
        rows.append([f"**{level}**" if level == "overall" else level, "/".join(sorted(counts)), *cells])
    rules = runs[0].summary["rules"]
    return [
        "## API-Bank accuracy (%)",
        "",
        *_table(header, rows),
        "",
        f"- paper rule: {rules['paper']} (ToolRL's; overall is micro-averaged over items)",
        f"- strict rule: {rules['strict']}",
    ]


def markdown_report(runs: Sequence[ScoredRun]) -> str:
    """The report of one or several runs of the same benchmark: accuracies, aggregates, failures."""
    if not runs:
        raise ValueError("no runs to report")
    benchmark = runs[0].summary["benchmark"]
    lines = [f"# {benchmark} evaluation", ""]
    lines += _table(["run", "model", "format", "items", "missing"], [
        [run.label, str(run.summary.get("model", "")), str(run.summary.get("format", "")),
         str(run.summary.get("items", "")), str(len(run.summary.get("missing", [])))]
        for run in runs
    ])
    lines += [""] + (_bfcl_markdown(runs) if benchmark == "bfcl" else _apibank_markdown(runs))
    failures = _failure_rows(runs)
    if failures:
        lines += ["", "## Wrong items by reason", ""]
        lines += _table(["reason", *(run.label for run in runs)], failures)
    return "\n".join(lines) + "\n"


def _first_aggregate(summary: Mapping[str, Any], names: Sequence[str]) -> int:
    """Where the aggregates start among the chart's bars (they follow the categories/levels)."""
    aggregate_names = {a["name"] for a in summary.get("aggregates", [])} | {"overall (paper)", "overall (strict)"}
    return next((index for index, name in enumerate(names) if name in aggregate_names), len(names))


def bar_chart(runs: Sequence[ScoredRun], path: str | Path) -> Path:
    """A grouped bar chart (one bar per run) of every category/level and aggregate, saved as PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise ModuleNotFoundError("the chart needs matplotlib: pip install matplotlib (or 'verl-toolrl[eval]')") from None
    all_series = [series(run.summary) for run in runs]
    names: list[str] = []
    for values in all_series:
        names.extend(name for name in values if name not in names)
    width = 0.8 / len(runs)
    figure, axis = plt.subplots(figsize=(max(8.0, 0.6 * len(names) * max(1, len(runs)) ** 0.5), 4.8))
    for index, (run, values) in enumerate(zip(runs, all_series)):
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
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``chart.png`` for the runs in ``directories`` into ``output_dir``; with
    ``benchmark``, runs of another benchmark are an error."""
    from verl_toolrl.eval.generations import CHART_FILE, REPORT_FILE

    runs = load_runs(directories, labels)
    if benchmark is not None and runs[0].summary["benchmark"] != benchmark:
        raise ValueError(f"{directories[0]} holds a {runs[0].summary['benchmark']} run, not {benchmark}")
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    report = output / REPORT_FILE
    report.write_text(markdown_report(runs), encoding="utf-8")
    return report, bar_chart(runs, output / CHART_FILE)
