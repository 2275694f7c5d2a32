"""The two steps of an evaluation run, which can run apart: ``generate`` then ``score``.

``generate`` builds every prompt of the chosen items, asks a backend for completions batch by batch and
appends them to ``generations.jsonl`` (ids already there are kept, so an interrupted run resumes).
``score`` reads the generations back, checks them against the prompts this run would send, scores them and
writes ``item_scores.jsonl``, ``scores.json``, ``report.md`` and a chart. Scoring never generates.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from verl_toolrl.calls import check_format
from verl_toolrl.eval import apibank, bfcl, bfcl_data
from verl_toolrl.eval.backends import Backend
from verl_toolrl.eval.generations import (
    BENCHMARKS,
    GENERATIONS_FILE,
    ITEM_SCORES_FILE,
    SCORES_FILE,
    Generation,
    RunInfo,
    append_generations,
    check_against,
    read_generations,
    read_run_info,
    write_run_info,
)

Prompts = dict[str, tuple[str, list[dict[str, str]]]]  # id -> (category, messages)


def _progress_bar(total: int, description: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="item", disable=not enabled)


# --- the items of a run ----------------------------------------------------------------------------


def bfcl_items(info: RunInfo) -> dict[str, bfcl_data.BfclItem]:
    items: dict[str, bfcl_data.BfclItem] = {}
    for category in bfcl_data.expand_categories(info.categories):
        items.update((item.id, item) for item in bfcl_data.load_items(category, info.limit))
    return items


def apibank_items(info: RunInfo) -> dict[str, apibank.ApiBankItem]:
    if info.data_dir is None:
        raise ValueError("an API-Bank run needs data_dir (the folder of level-N-api_processed.json files)")
    levels = [int(level) for level in info.categories] if info.categories else None
    return {item.id: item for item in apibank.load_items(info.data_dir, levels, info.limit)}


def run_items(info: RunInfo) -> dict[str, Any]:
    """Every item of a run by id (:class:`~verl_toolrl.eval.bfcl_data.BfclItem` or
    :class:`~verl_toolrl.eval.apibank.ApiBankItem`)."""
    check_format(info.format)
    if info.benchmark == "bfcl":
        return bfcl_items(info)
    if info.benchmark == "apibank":
        if info.format != "toolrl":
            raise ValueError("API-Bank prompts are ToolRL's released prompts, written for --format toolrl")
        return apibank_items(info)
    raise ValueError(f"unknown benchmark {info.benchmark!r}; valid: {', '.join(BENCHMARKS)}")


def run_prompts(info: RunInfo, items: dict[str, Any] | None = None) -> Prompts:
    """Every prompt a run sends: id -> (category, chat messages); ``items`` from :func:`run_items`."""
    items = run_items(info) if items is None else items
    if info.benchmark == "bfcl":
        return {i: (item.category, bfcl_data.item_messages(item, info.format)) for i, item in items.items()}
    return {i: (f"level-{item.level}", item.messages) for i, item in items.items()}


# --- generate --------------------------------------------------------------------------------------


def generate(
    output_dir: str | Path,
    info: RunInfo,
    backend: Backend | Callable[[], Backend],
    batch_size: int = 8,
    progress: bool = True,
) -> Path:
    """Generate every missing item of the run into ``output_dir/generations.jsonl``; returns its path.

    ``backend`` may be a factory, called only when something is left to generate. Re-running with the
    same settings resumes; an existing run with other settings is an error (use a new directory).
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if (output / "run.json").is_file() and read_run_info(output) != info:
        raise ValueError(f"{output} holds a run with other settings ({output / 'run.json'}); use a new --output")
    prompts = run_prompts(info)
    path = output / GENERATIONS_FILE
    done: set[str] = set()
    if path.is_file():
        existing = read_generations(path)
        check_against(existing, prompts, path)
        done = {generation.id for generation in existing}
    write_run_info(output, info)
    todo = [(item_id, category, messages) for item_id, (category, messages) in prompts.items() if item_id not in done]
    if not todo:
        return path
    engine = backend() if callable(backend) and not hasattr(backend, "generate") else backend
    with _progress_bar(len(prompts), f"generate {info.benchmark}", progress) as bar:
        bar.update(len(done))
        for start in range(0, len(todo), max(1, batch_size)):
            batch = todo[start : start + batch_size]
            outputs = engine.generate([messages for _, _, messages in batch])  # type: ignore[union-attr]
            if len(outputs) != len(batch):
                raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(batch)} prompts")
            append_generations(path, (Generation(i, c, m, o) for (i, c, m), o in zip(batch, outputs)))
            bar.update(len(batch))
    return path


# --- score -----------------------------------------------------------------------------------------


def _score_bfcl(
    info: RunInfo, items: dict[str, Any], generations: Sequence[Generation], workers: int, progress: bool
) -> tuple[list[dict], dict]:
    pairs = [(items[generation.id], generation.output) for generation in generations]
    with _progress_bar(len(pairs), "score bfcl", progress) as bar:
        scores = bfcl.score_items(pairs, info.format, workers=workers, progress=bar.update)  # type: ignore[arg-type]
    return [asdict(score) for score in scores], bfcl.summary(scores)


def apibank_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-level and micro-averaged accuracy under both rules, and failures by parser reason.

    >>> rows = [{"category": "level-1", "paper": True, "strict": False, "reason": None},
    ...         {"category": "level-2", "paper": False, "strict": False, "reason": "missing_think"}]
    >>> s = apibank_summary(rows)
    >>> s["overall"], s["failures"]
    ({'paper': 0.5, 'strict': 0.0, 'count': 2}, {'parse:missing_think': 1})
    """
    levels: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        levels.setdefault(row["category"], []).append(row)

    def accuracy(subset: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {**{rule: sum(r[rule] for r in subset) / len(subset) for rule in apibank.RULES}, "count": len(subset)}

    failures = Counter(
        f"parse:{row['reason']}" if row["reason"] else "wrong_call" for row in rows if not row["paper"]
    )
    return {
        "benchmark": "apibank",
        "items": len(rows),
        "levels": {name: accuracy(subset) for name, subset in sorted(levels.items())},
        "overall": accuracy(rows) if rows else None,
        "rules": {
            "paper": "correct when any predicted call has the gold name and exactly the gold parameters",
            "strict": "correct when the predicted calls are exactly the gold calls",
        },
        "failures": dict(failures.most_common()),
    }


def _score_apibank(
    info: RunInfo, items: dict[str, Any], generations: Sequence[Generation], progress: bool
) -> tuple[list[dict], dict]:
    rows = []
    for generation in _progress_bar_iter(generations, "score apibank", progress):
        result = apibank.score_response(generation.output, items[generation.id], info.format)  # type: ignore[arg-type]
        rows.append({"id": generation.id, "category": generation.category, **result})
    return rows, apibank_summary(rows)


def _progress_bar_iter(values: Sequence[Any], description: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(values, desc=description, unit="item", disable=not enabled)


def score(output_dir: str | Path, workers: int = 2, progress: bool = True, allow_missing: bool = False) -> dict[str, Any]:
    """Score the generations in ``output_dir`` and write the per-item and summary files; returns the summary.

    Items of the run without a generation are an error unless ``allow_missing`` (then they are listed in
    the summary under ``missing``).
    """
    output = Path(output_dir)
    info = read_run_info(output)
    items = run_items(info)
    prompts = run_prompts(info, items)
    path = output / GENERATIONS_FILE
    generations = read_generations(path)
    check_against(generations, prompts, path)
    missing = sorted(set(prompts) - {generation.id for generation in generations})
    if missing and not allow_missing:
        raise ValueError(
            f"{path}: {len(missing)} items of this run have no generation (first: {missing[:3]}); "
            "finish `generate` or pass --allow-missing"
        )
    if info.benchmark == "bfcl":
        rows, summary = _score_bfcl(info, items, generations, workers, progress)
    else:
        rows, summary = _score_apibank(info, items, generations, progress)
    summary = {**summary, "model": info.model, "format": info.format, "missing": missing}
    with open(output / ITEM_SCORES_FILE, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (output / SCORES_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
