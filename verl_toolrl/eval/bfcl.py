"""BFCL scoring: decode a generation with the package's parser, check it with BFCL's own checker, aggregate.

- AST categories: the response is read with :func:`verl_toolrl.calls.parse_response`; a response whose
  tool-call part does not parse is wrong (counted under its parser reason). Other format slips (e.g. no
  think block, which a base model in the hermes format never writes) do not hide well-formed calls. Its calls become BFCL's decoded form
  ``[{name: {param: value}}]`` and go to ``bfcl_eval``'s ``ast_checker`` with the category's language.
  Java and JavaScript: BFCL's decoders read every argument as source text, so arguments that are not
  strings are written as source text first, in JSON's spelling (``true``, ``5``, ``[1, 2]``: JavaScript
  syntax; Java collections need Java syntax, e.g. ``new ArrayList<>(Arrays.asList(1, 2))``).
- Relevance categories use BFCL's rule (``_evaluate_single_relevance_entry``): a call is present when
  the response decodes and is not empty (``bfcl_eval.utils.is_empty_output``); ``irrelevance`` and
  ``live_irrelevance`` are correct without one, ``live_relevance`` with one.

Aggregates (:func:`aggregates`), each named with its formula, after BFCL's ``eval_runner_helper``:

- ``non_live`` (BFCL v3 Non-Live, as the paper reports it): unweighted mean of simple, multiple, parallel,
  parallel_multiple, where simple is the unweighted mean of simple_python, simple_java, simple_javascript;
- ``live`` (BFCL v3 Live): mean over live_simple, live_multiple, live_parallel, live_parallel_multiple
  weighted by item count (``calculate_weighted_accuracy``);
- ``irrelevance_overall``: unweighted mean of irrelevance and live_irrelevance; ``relevance_overall``:
  live_relevance;
- ``single_turn_overall``: BFCL v4's overall restricted to its single-turn parts, i.e. its weights
  10/10/10 over Non-Live, Live and irrelevance, renormalised. v4's full overall also gives weight 30 to
  multi-turn and 40 to agentic (web search, memory) categories, which this evaluation does not run.

The checker is imported lazily (``pip install --no-deps bfcl-eval==2026.3.23``). ``ast_checker``'s
module imports BFCL's model registry, which imports every API client SDK, to learn whether a model's
function names had dots replaced; the registry is only consulted for that. Unless the real registry is
already imported, :func:`load_checker` puts a one-entry registry in its place first (our names are never
rewritten); the checker code itself is the wheel's, unchanged.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

from verl_toolrl.calls import Format, ToolCall, check_format, parse_response
from verl_toolrl.eval.bfcl_data import (
    AST_CATEGORIES,
    LIVE_AST_CATEGORIES,
    RELEVANCE_CATEGORIES,
    BfclItem,
    bfcl_utils,
)

#: The model name the checker is given; registered with ``underscore_to_dot=False``.
CHECKER_MODEL_NAME = "verl-toolrl"
_REGISTRY_MODULE = "bfcl_eval.constants.model_config"


def load_checker() -> Callable[..., dict[str, Any]]:
    """BFCL's ``ast_checker`` (see the module docstring for the registry it needs).

    >>> load_checker().__module__
    'bfcl_eval.eval_checker.ast_eval.ast_checker'
    """
    bfcl_utils()  # sets BFCL_PROJECT_ROOT and explains a missing wheel
    registry = sys.modules.get(_REGISTRY_MODULE)
    if registry is None:
        registry = ModuleType(_REGISTRY_MODULE)
        registry.MODEL_CONFIG_MAPPING = {}
        sys.modules[_REGISTRY_MODULE] = registry
    registry.MODEL_CONFIG_MAPPING.setdefault(CHECKER_MODEL_NAME, SimpleNamespace(underscore_to_dot=False))
    return importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker").ast_checker


def _language_enum(language: str) -> Any:
    return importlib.import_module("bfcl_eval.constants.enums").Language(language)


def _source_text(value: Any) -> str:
    """An argument as the source text BFCL's Java/JavaScript decoders produce: strings unchanged, any other
    JSON value in JSON's spelling (``true``, ``5``, ``[1, 2]``, ``{"a": 1}``), which is JavaScript syntax."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def decoded_calls(calls: Sequence[ToolCall], language: str = "python") -> list[dict[str, dict[str, Any]]]:
    """Calls in BFCL's decoded form ``[{name: {param: value}}]``.

    >>> decoded_calls([ToolCall("f", {"x": 1})]), decoded_calls([ToolCall("f", {"x": 1, "b": True})], "java")
    ([{'f': {'x': 1}}], [{'f': {'x': '1', 'b': 'true'}}])
    """
    if language == "python":
        return [{call.name: dict(call.arguments)} for call in calls]
    return [{call.name: {k: _source_text(v) for k, v in call.arguments.items()}} for call in calls]


@dataclass(frozen=True)
class ItemScore:
    """One scored generation: ``error_type`` is BFCL's (or ``parse:<reason>`` / ``checker:<exception>``)."""

    id: str
    category: str
    valid: bool
    error_type: str | None = None
    error: str | None = None


def score_item(item: BfclItem, output: str, format: Format = "toolrl") -> ItemScore:
    """Score one generation for one item. Never raises on model output.

    >>> from verl_toolrl.eval.bfcl_data import load_items, gold_calls
    >>> from verl_toolrl.calls import render_output
    >>> item = load_items("simple_python", limit=1)[0]
    >>> score_item(item, render_output("t", gold_calls(item))).valid
    True
    >>> score_item(item, "[calculate_triangle_area(base=10, height=5)]").error_type
    'no_call'
    """
    check_format(format)
    parsed = parse_response(output, format)
    decoded = decoded_calls(parsed.calls, item.language) if parsed.calls_ok else None
    if item.category in RELEVANCE_CATEGORIES:
        has_call = decoded is not None and not bfcl_utils().is_empty_output(decoded)
        wants_call = "irrelevance" not in item.category
        if has_call == wants_call:
            return ItemScore(item.id, item.category, True)
        if wants_call:
            return ItemScore(item.id, item.category, False, "relevance_error:no_call", parsed.reason)
        return ItemScore(item.id, item.category, False, "irrelevance_error:call_made")
    if decoded is None:
        return ItemScore(item.id, item.category, False, f"parse:{parsed.error}", parsed.reason)
    if not decoded:
        return ItemScore(item.id, item.category, False, "no_call", parsed.reason)
    try:
        result = load_checker()(
            item.functions,
            decoded,
            item.possible_answer,
            _language_enum(item.language),
            item.category,
            CHECKER_MODEL_NAME,
        )
    except Exception as error:  # BFCL's converters raise on some inputs (e.g. Java Set): a wrong answer
        return ItemScore(item.id, item.category, False, f"checker:{type(error).__name__}", str(error)[:300])
    if result["valid"]:
        return ItemScore(item.id, item.category, True)
    return ItemScore(item.id, item.category, False, result.get("error_type"), str(result.get("error", ""))[:300])


# Items a scoring worker process looks outputs up against: set once per worker by ``_init_worker`` (with
# the fork start method the mapping is inherited, not pickled), so chunks carry only ids and outputs.
_WORKER_ITEMS: dict[str, BfclItem] = {}


def _init_worker(items: dict[str, BfclItem]) -> None:
    _WORKER_ITEMS.clear()
    _WORKER_ITEMS.update(items)
    load_checker()


def _score_chunk(chunk: Sequence[tuple[str, str]], format: str) -> list[ItemScore]:
    return [score_item(_WORKER_ITEMS[item_id], output, format) for item_id, output in chunk]


def _pool_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def score_items(
    pairs: Sequence[tuple[BfclItem, str]],
    format: Format = "toolrl",
    workers: int = 1,
    chunk_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> list[ItemScore]:
    """Score ``(item, output)`` pairs, in order, over ``workers`` processes (1: in this process).

    Workers receive the items once, when they start, and then only ``(id, output)`` chunks.
    ``progress`` is called with the size of each finished chunk.

    >>> from verl_toolrl.eval.bfcl_data import load_items
    >>> items = load_items("irrelevance", limit=3)
    >>> [s.valid for s in score_items([(item, "<think> no </think>") for item in items], workers=2, chunk_size=1)]
    [True, True, True]
    """
    check_format(format)
    by_id = {item.id: item for item, _ in pairs}
    if len(by_id) != len(pairs):
        raise ValueError("score_items: item ids must be unique")
    chunks = [[(item.id, output) for item, output in pairs[start : start + chunk_size]] for start in range(0, len(pairs), chunk_size)]
    scores: list[ItemScore] = []
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            scores.extend(score_item(by_id[item_id], output, format) for item_id, output in chunk)
            if progress:
                progress(len(chunk))
        return scores
    with ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_init_worker, initargs=(by_id,)) as pool:
        for chunk, result in zip(chunks, pool.map(_score_chunk, chunks, [format] * len(chunks))):
            scores.extend(result)
            if progress:
                progress(len(chunk))
    return scores


# --- accuracy and aggregates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Accuracy:
    accuracy: float
    count: int


def category_accuracy(scores: Iterable[ItemScore]) -> dict[str, Accuracy]:
    """Accuracy and item count per category, in first-seen order.

    >>> category_accuracy([ItemScore("a", "multiple", True), ItemScore("b", "multiple", False)])
    {'multiple': Accuracy(accuracy=0.5, count=2)}
    """
    totals: dict[str, list[int]] = {}
    for score in scores:
        total = totals.setdefault(score.category, [0, 0])
        total[0] += score.valid
        total[1] += 1
    return {category: Accuracy(right / count, count) for category, (right, count) in totals.items()}


def failure_counts(scores: Iterable[ItemScore]) -> dict[str, int]:
    """How many wrong items each error type (parser reasons included) accounts for, most frequent first."""
    return dict(Counter(score.error_type or "unknown" for score in scores if not score.valid).most_common())


@dataclass(frozen=True)
class Aggregate:
    name: str
    formula: str
    value: float | None  # None when a category it needs was not scored
    missing: tuple[str, ...] = ()


def _unweighted(parts: Sequence[float | None]) -> float | None:
    return None if any(p is None for p in parts) else sum(parts) / len(parts)  # type: ignore[arg-type]


def aggregates(per_category: Mapping[str, Accuracy]) -> list[Aggregate]:
    """The summary numbers with their formulas (see the module docstring).

    >>> acc = {c: Accuracy(1.0, 10) for c in ("simple_python", "simple_java", "simple_javascript",
    ...        "multiple", "parallel", "parallel_multiple")}
    >>> [(a.name, a.value) for a in aggregates(acc)][:2]
    [('non_live', 1.0), ('live', None)]
    """

    def get(category: str) -> float | None:
        return per_category[category].accuracy if category in per_category else None

    def missing(categories: Iterable[str]) -> tuple[str, ...]:
        return tuple(c for c in categories if c not in per_category)

    simple = _unweighted([get("simple_python"), get("simple_java"), get("simple_javascript")])
    non_live = _unweighted([simple, get("multiple"), get("parallel"), get("parallel_multiple")])
    live_missing = missing(LIVE_AST_CATEGORIES)
    live = None
    if not live_missing:
        counts = [per_category[c].count for c in LIVE_AST_CATEGORIES]
        live = sum(per_category[c].accuracy * n for c, n in zip(LIVE_AST_CATEGORIES, counts)) / sum(counts)
    irrelevance = _unweighted([get("irrelevance"), get("live_irrelevance")])
    relevance = get("live_relevance")
    single_turn = _unweighted([non_live, live, irrelevance])
    non_live_categories = [c for c in AST_CATEGORIES if c not in LIVE_AST_CATEGORIES]
    return [
        Aggregate(
            "non_live",
            "BFCL v3 Non-Live = mean(simple, multiple, parallel, parallel_multiple), "
            "simple = mean(simple_python, simple_java, simple_javascript)",
            non_live,
            missing(non_live_categories),
        ),
        Aggregate(
            "live",
            "BFCL v3 Live = item-weighted mean(live_simple, live_multiple, live_parallel, live_parallel_multiple)",
            live,
            live_missing,
        ),
        Aggregate(
            "irrelevance_overall",
            "mean(irrelevance, live_irrelevance)",
            irrelevance,
            missing(["irrelevance", "live_irrelevance"]),
        ),
        Aggregate("relevance_overall", "live_relevance", relevance, missing(["live_relevance"])),
        Aggregate(
            "single_turn_overall",
            "BFCL v4 overall weights 10/10/10 over Non-Live, Live, irrelevance, renormalised "
            "(v4 also weights multi-turn 30 and agentic 40: not run here)",
            single_turn,
            missing([*non_live_categories, *LIVE_AST_CATEGORIES, "irrelevance", "live_irrelevance"]),
        ),
    ]


def summary(scores: Sequence[ItemScore]) -> dict[str, Any]:
    """Everything ``score`` writes to ``scores.json``: per-category accuracy, aggregates, failures."""
    per_category = category_accuracy(scores)
    return {
        "benchmark": "bfcl",
        "items": len(scores),
        "correct": sum(score.valid for score in scores),
        "categories": {name: asdict(value) for name, value in per_category.items()},
        "aggregates": [asdict(aggregate) for aggregate in aggregates(per_category)],
        "failures": failure_counts(scores),
    }
