"""The two steps of an evaluation run, which can run apart: ``generate`` then ``score``.

``generate`` builds every prompt of the chosen items and lets the benchmark generate what is missing
(single-shot benchmarks append to ``generations.jsonl``; ids already there are kept, so an interrupted run
resumes). ``score`` checks the saved generations against the prompts this run would send, lets the
benchmark score them and writes ``item_scores.jsonl`` and ``scores.json``. Scoring never generates. The
benchmark-specific parts come from the benchmark interface (``eval/benchmark.py``, ``eval/registry.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verl_toolrl.eval.backends import Backend
from verl_toolrl.eval.benchmark import Prompts, check_generations
from verl_toolrl.eval.generations import (
    GENERATIONS_FILE,
    ITEM_SCORES_FILE,
    SCORES_FILE,
    RunInfo,
    read_run_info,
    write_run_info,
)
from verl_toolrl.eval.registry import get_benchmark


def run_items(info: RunInfo) -> dict[str, Any]:
    """Every item of a run by id, after the benchmark checked the run's settings; with ``info.ids``,
    exactly those items (in the benchmark's order), an id that is not one of them a ``ValueError``."""
    benchmark = get_benchmark(info.benchmark)
    benchmark.check(info)
    items = benchmark.items(info)
    if info.ids is None:
        return items
    unknown = [item_id for item_id in info.ids if item_id not in items]
    if unknown:
        raise ValueError(
            f"--ids: {len(unknown)} id(s) are not {info.benchmark} items of categories "
            f"{', '.join(info.categories)}, first {unknown[0]!r}"
        )
    wanted = set(info.ids)
    return {item_id: item for item_id, item in items.items() if item_id in wanted}


def run_prompts(info: RunInfo, items: dict[str, Any] | None = None) -> Prompts:
    """Every prompt a run sends: id -> (category, chat messages); ``items`` from :func:`run_items`."""
    items = run_items(info) if items is None else items
    return get_benchmark(info.benchmark).prompts(info, items)


def _built_once(factory: Callable[[], Backend]) -> Callable[[], Backend]:
    """A factory that builds its backend on the first call only (a benchmark's parts share one model)."""
    built: list[Backend] = []

    def get() -> Backend:
        if not built:
            built.append(factory())
        return built[0]

    return get


def generate(
    output_dir: str | Path,
    info: RunInfo,
    backend: Backend | Callable[[], Backend],
    batch_size: int = 8,
    progress: bool = True,
) -> Path:
    """Generate every missing item of the run into ``output_dir``; returns the generations file's path.

    ``backend`` may be a factory, called only when something is left to generate. Re-running with the
    same settings resumes; an existing run with other settings is an error (use a new directory).
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if (output / "run.json").is_file() and (existing := read_run_info(output)) != info:
        fields = [name for name, value in vars(info).items() if getattr(existing, name) != value]
        raise ValueError(
            f"{output} holds a run with other settings ({output / 'run.json'}: {', '.join(fields)} differ); "
            "use a new --output"
        )
    items = run_items(info)
    check_generations(output, run_prompts(info, items), get_benchmark(info.benchmark).prompt_tools(info, items))
    write_run_info(output, info)
    factory = backend if callable(backend) and not hasattr(backend, "generate") else lambda: backend
    get_benchmark(info.benchmark).generate(output, info, items, _built_once(factory), batch_size, progress)  # type: ignore[arg-type]
    return output / GENERATIONS_FILE


def score(
    output_dir: str | Path, workers: int = 2, progress: bool = True, allow_missing: bool = False
) -> dict[str, Any]:
    """Score the generations in ``output_dir`` and write the per-item and summary files; returns the summary.

    Items of the run without a generation are an error unless ``allow_missing`` (then they are listed in
    the summary under ``missing``).
    """
    output = Path(output_dir)
    info = read_run_info(output)
    benchmark = get_benchmark(info.benchmark)
    items = run_items(info)
    check_generations(output, run_prompts(info, items), benchmark.prompt_tools(info, items))
    scored = benchmark.score(output, info, items, workers, progress, allow_missing)
    summary = {
        **benchmark.summary(info, scored),
        "model": info.model,
        "format": info.format,
        "protocol": info.protocol,
        "tool_prompt": info.tool_prompt,
        "missing": scored.missing,
    }
    with open(output / ITEM_SCORES_FILE, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in scored.rows)
    (output / SCORES_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
