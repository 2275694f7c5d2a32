"""The benchmark interface: what the pipeline and the report ask of a benchmark, and nothing else.

``eval/pipeline.py`` (generate, score) and ``eval/report.py`` (tables, chart) never branch on a
benchmark's name: they look the implementation up (``eval/registry.py``) and call these methods.

Contract of :class:`Benchmark` (keep it stable: other implementations, e.g. BFCL multi-turn, build on it):

- ``name``: the benchmark's name as written in ``run.json`` and ``scores.json`` (``bfcl``, ``apibank``);
  ``categories``: every category this implementation can run.
- ``expand(names)``: the command line's category/group names -> the categories this implementation runs
  (``ValueError`` naming the choices).
- ``check(info)``: raise ``ValueError`` for a run it cannot do (format, protocol, missing data_dir).
- ``items(info)``: ``{id: item}`` of the run's categories that this implementation serves, in order.
- ``prompts(info, items)``: ``{id: (category, messages)}``, the first prompt each item sends (the one
  ``generations.jsonl`` records and ``check_against`` verifies).
- ``prompt_tools(info, items)``: ``{id: tool schemas}`` that the model's chat template lists for an item
  (``tools=``) under ``--tool-prompt template``; default none. ``tool_templates`` says whether the
  implementation can run such a run (``check`` refuses it otherwise).
- ``generate(output, info, items, backend, batch_size, progress)``: write the raw generations of every
  item missing from ``output`` (resuming); ``backend`` is a factory called only when something is left.
  Default (:class:`SingleShot`): one completion per prompt, appended to ``generations.jsonl``.
  Multi-step benchmarks override it and keep their transcripts in files of their own.
- ``score(output, info, items, workers, progress, allow_missing)`` -> :class:`Scored`: one row per
  scored item (a JSON-able dict with at least ``id``, ``category`` and ``valid``: bool) and the ids that
  have no generation (an error unless ``allow_missing``). Scoring never generates.
- ``summary(info, scored)``: the dict ``scores.json`` holds (``benchmark``, ``protocol``, ``items``,
  per-category numbers, aggregates with formulas, ``failures``); the pipeline adds ``model``, ``format``,
  ``protocol`` and ``missing``.
- ``report_rows(runs)``: the markdown lines of the benchmark's tables for one or several runs
  (:class:`ScoredRun`: a label and a ``scores.json``); ``series(summary)``: the bars of the chart.

A benchmark made of parts (BFCL: single-turn, multi-turn) is one implementation whose ``items``,
``generate`` and ``score`` delegate to its parts by category; every part implements this same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import check_format
from verl_toolrl.core.progress import progress_bar
from verl_toolrl.core.prompts import check_tool_prompt

# markdown_table is re-exported: it is what the benchmarks' report_rows write their tables with.
from verl_toolrl.core.table import markdown_table  # noqa: F401
from verl_toolrl.eval.backends import Backend
from verl_toolrl.eval.generations import (
    GENERATIONS_FILE,
    Generation,
    RunInfo,
    append_generations,
    check_against,
    read_generations,
)
from verl_toolrl.tasks.protocols import check_protocol

Prompts = dict[str, tuple[str, list[dict[str, str]]]]  # id -> (category, messages)
BackendFactory = Callable[[], Backend]


@dataclass(frozen=True)
class Scored:
    """What ``score`` returns: per-item rows (``id``, ``category``, ``valid`` at least) and unscored ids."""

    rows: list[dict[str, Any]]
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScoredRun:
    """One scored run for a report: its label and its ``scores.json``."""

    label: str
    summary: dict[str, Any]


def percent(value: float | None) -> str:
    """A fraction as a percentage with two decimals, ``n/a`` for None.

    >>> percent(0.58375), percent(None)
    ('58.38', 'n/a')
    """
    return "n/a" if value is None else f"{100 * value:.2f}"


class Benchmark(ABC):
    """One benchmark (or one part of one); see the module docstring for the contract."""

    name: str = ""
    categories: tuple[str, ...] = ()
    tool_templates: bool = False

    @abstractmethod
    def expand(self, names: Sequence[str]) -> list[str]: ...

    def check(self, info: RunInfo) -> None:
        check_format(info.format)
        check_protocol(info.protocol, info.format)
        check_tool_prompt(info.tool_prompt, info.format)
        if info.tool_prompt != "system" and not self.tool_templates:
            raise ValueError(
                f"{self.name}: --tool-prompt {info.tool_prompt} is not supported here (single-shot prompts only)"
            )

    @abstractmethod
    def items(self, info: RunInfo) -> dict[str, Any]: ...

    @abstractmethod
    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts: ...

    def prompt_tools(self, info: RunInfo, items: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        return {}

    @abstractmethod
    def generate(
        self,
        output: Path,
        info: RunInfo,
        items: Mapping[str, Any],
        backend: BackendFactory,
        batch_size: int,
        progress: bool,
    ) -> None: ...

    @abstractmethod
    def score(
        self, output: Path, info: RunInfo, items: Mapping[str, Any], workers: int, progress: bool, allow_missing: bool
    ) -> Scored: ...

    @abstractmethod
    def summary(self, info: RunInfo, scored: Scored) -> dict[str, Any]: ...

    @abstractmethod
    def report_rows(self, runs: Sequence[ScoredRun]) -> list[str]: ...

    @abstractmethod
    def series(self, summary: Mapping[str, Any]) -> dict[str, float | None]: ...


class SingleShot(Benchmark):
    """A benchmark answered by one completion per item, kept in ``generations.jsonl``: implements
    ``generate`` and ``score``; subclasses provide ``score_outputs`` (and the rest of the interface)."""

    @abstractmethod
    def score_outputs(
        self, info: RunInfo, items: Mapping[str, Any], generations: Sequence[Generation], workers: int, progress: bool
    ) -> list[dict[str, Any]]:
        """One row per generation (in order) for generations of this benchmark's items."""

    def generate(
        self,
        output: Path,
        info: RunInfo,
        items: Mapping[str, Any],
        backend: BackendFactory,
        batch_size: int,
        progress: bool,
    ) -> None:
        prompts, tools = self.prompts(info, items), self.prompt_tools(info, items)
        path = output / GENERATIONS_FILE
        done = {g.id for g in read_generations(path) if g.id in prompts} if path.is_file() else set()
        todo = [
            (item_id, category, messages) for item_id, (category, messages) in prompts.items() if item_id not in done
        ]
        if not todo:
            return
        engine = backend()
        with progress_bar(total=len(prompts), description=f"generate {self.name}", enabled=progress) as bar:
            bar.update(len(done))
            for start in range(0, len(todo), max(1, batch_size)):
                batch = todo[start : start + batch_size]
                batch_messages = [messages for _, _, messages in batch]
                batch_tools = [tools.get(item_id) for item_id, _, _ in batch]
                outputs = (
                    engine.generate(batch_messages, tools=batch_tools) if tools else engine.generate(batch_messages)
                )
                if len(outputs) != len(batch):
                    raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(batch)} prompts")
                append_generations(
                    path,
                    (Generation(i, c, m, o, t) for (i, c, m), o, t in zip(batch, outputs, batch_tools, strict=True)),
                )
                bar.update(len(batch))

    def score(
        self, output: Path, info: RunInfo, items: Mapping[str, Any], workers: int, progress: bool, allow_missing: bool
    ) -> Scored:
        prompts = self.prompts(info, items)
        path = output / GENERATIONS_FILE
        generations = [g for g in read_generations(path) if g.id in prompts]
        missing = sorted(set(prompts) - {g.id for g in generations})
        if missing and not allow_missing:
            raise ValueError(
                f"{path}: {len(missing)} items of this run have no generation (first: {missing[:3]}); "
                "finish `generate` or pass --allow-missing"
            )
        return Scored(self.score_outputs(info, items, generations, workers, progress), missing)


def check_generations(output: Path, prompts: Prompts, tools: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
    """Every line of ``output/generations.jsonl`` (if any) is a generation of this run, with its prompt
    (and the tool schemas of :meth:`Benchmark.prompt_tools`)."""
    path = output / GENERATIONS_FILE
    if path.is_file():
        check_against(read_generations(path), prompts, path, tools)
