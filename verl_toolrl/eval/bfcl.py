"""BFCL scoring: decode a generation per protocol, check it with BFCL's own checker, aggregate; the benchmark.

Decoding, ``--protocol toolrl``: ToolRL's handler decoder (:func:`verl_toolrl.eval.toolrl_scripts.decode_ast`),
then BFCL's own flow (``eval_runner.ast_file_runner``): output that is not in function-calling format
(``bfcl_eval.utils.is_function_calling_format_output``, e.g. parameters that are not an object) is
``ast_decoder:decoder_wrong_output_format``; everything else, no call included, goes to ``ast_checker``.
A checker exception (which would stop BFCL's whole run) is counted wrong as ``checker:<exception>``.

Decoding, ``--protocol strict``:

- AST categories: the response is read with :func:`verl_toolrl.core.calls.parse_response`; a response whose
  tool-call part does not parse is wrong (counted under its parser reason). Other format slips (e.g. no
  think block, which a base model in the hermes format never writes) do not hide well-formed calls. Its
  calls become BFCL's decoded form ``[{name: {param: value}}]`` and go to ``bfcl_eval``'s ``ast_checker``
  with the category's language.
  Java and JavaScript: BFCL's decoders read every argument as source text, so arguments that are not
  strings are written as source text first, in JSON's spelling (``true``, ``5``, ``[1, 2]``: JavaScript
  syntax; Java collections need Java syntax, e.g. ``new ArrayList<>(Arrays.asList(1, 2))``).
- Relevance categories use BFCL's rule (``_evaluate_single_relevance_entry``): a call is present when
  the response decodes and is not empty (``bfcl_eval.utils.is_empty_output``); ``irrelevance`` and
  ``live_irrelevance`` are correct without one, ``live_relevance`` with one.

Aggregates (:func:`aggregates`), each named with its formula, as BFCL's leaderboard code computed them
before the v4 change (:data:`V3_SOURCE`; ``calculate_unweighted_accuracy`` = plain mean,
``calculate_weighted_accuracy`` = mean weighted by item count):

- ``non_live_ast`` (the paper's "Non-Live AST") = mean(simple, multiple, parallel, parallel_multiple),
  simple = mean(simple_python, simple_java, simple_javascript);
- ``non_live_overall`` = mean(simple, multiple, parallel, parallel_multiple, irrelevance). When the paper
  was written it also averaged the four executable parts (exec_simple = mean(exec_simple, rest), ...);
  BFCL retired them (gorilla 4ed459c0) and the v4 wheel has none, so this is v3 without them;
- ``live_ast`` = weighted(live_simple, live_multiple, live_parallel, live_parallel_multiple);
  ``live_overall`` (the paper's "Live") = weighted(those four, live_irrelevance, live_relevance);
- ``multi_turn_overall`` (the paper's "Multi-turn") = mean(multi_turn_base, multi_turn_miss_func,
  multi_turn_miss_param, multi_turn_long_context), scored by the multi-turn part of the benchmark;
- ``relevance_overall`` = live_relevance; ``irrelevance_overall`` = mean(irrelevance, live_irrelevance);
- ``overall`` (BFCL v3 Overall, the paper's headline) = mean(non_live_overall, live_overall,
  multi_turn_overall);
- ``v4_overall`` = (10 non_live_ast + 10 live_ast + 10 irrelevance_overall + 30 multi_turn_overall
  + 40 agentic) / 100 (:data:`V4_SOURCE`); the agentic categories are not run and count 0, as in BFCL v4.

BFCL's code counts a category it did not score as 0; here such a number is None (``n/a``) and its
``missing`` lists the categories, so a partial run never passes for a full one.

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from verl_toolrl.core.calls import Format, ToolCall, check_format, parse_response
from verl_toolrl.core.progress import progress_bar
from verl_toolrl.eval.benchmark import (
    BackendFactory,
    Benchmark,
    Prompts,
    Scored,
    ScoredRun,
    SingleShot,
    markdown_table,
    percent,
)
from verl_toolrl.eval.generations import Generation, RunInfo
from verl_toolrl.eval.toolrl_scripts import decode_ast
from verl_toolrl.tasks.bfcl.single_turn import (
    CATEGORIES,
    LIVE_AST_CATEGORIES,
    MULTI_TURN_CATEGORIES,
    NON_LIVE_AST_CATEGORIES,
    RELEVANCE_CATEGORIES,
    SINGLE_TURN_CATEGORIES,
    BfclItem,
    bfcl_utils,
    expand_categories,
    item_prompt,
    load_items,
)
from verl_toolrl.tasks.protocols import Protocol, check_protocol

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


def _decode(output: str, format: Format, protocol: Protocol, language: str) -> tuple[Any, str | None, str | None]:
    """(decoded calls or None when they do not parse, parser error code, its message) under ``protocol``."""
    if protocol == "toolrl":
        return decode_ast(output), None, None
    parsed = parse_response(output, format)
    decoded = decoded_calls(parsed.calls, language) if parsed.calls_ok else None
    return decoded, parsed.reason, parsed.located_reason


def score_item(item: BfclItem, output: str, format: Format = "toolrl", protocol: Protocol = "strict") -> ItemScore:
    """Score one generation for one item under ``protocol``. Never raises on model output.

    >>> from verl_toolrl.tasks.bfcl.single_turn import load_items, gold_calls
    >>> from verl_toolrl.core.calls import render_output
    >>> item = load_items("simple_python", limit=1)[0]
    >>> score_item(item, render_output("t", gold_calls(item))).valid
    True
    >>> score_item(item, "[calculate_triangle_area(base=10, height=5)]").error_type
    'no_call'
    >>> score_item(item, '<tool_call>\\n{"name": "calculate_triangle_area", "parameters": 5}',
    ...            protocol="toolrl").error_type
    'ast_decoder:decoder_wrong_output_format'
    """
    check_format(format)
    decoded, error, reason = _decode(output, format, protocol, item.language)
    utils = bfcl_utils()
    if item.category in RELEVANCE_CATEGORIES:
        has_call = decoded is not None and not utils.is_empty_output(decoded)
        wants_call = "irrelevance" not in item.category
        if has_call == wants_call:
            return ItemScore(item.id, item.category, True)
        if wants_call:
            return ItemScore(item.id, item.category, False, "relevance_error:no_call", reason)
        return ItemScore(item.id, item.category, False, "irrelevance_error:call_made")
    if decoded is None:
        return ItemScore(item.id, item.category, False, f"parse:{error}", reason)
    if protocol == "toolrl" and not utils.is_function_calling_format_output(decoded):
        return ItemScore(item.id, item.category, False, "ast_decoder:decoder_wrong_output_format")
    if protocol == "strict" and not decoded:
        return ItemScore(item.id, item.category, False, "no_call", reason)
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


def _score_chunk(chunk: Sequence[tuple[str, str]], format: str, protocol: str) -> list[ItemScore]:
    return [score_item(_WORKER_ITEMS[item_id], output, format, protocol) for item_id, output in chunk]


def _pool_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def score_items(
    pairs: Sequence[tuple[BfclItem, str]],
    format: Format = "toolrl",
    workers: int = 1,
    chunk_size: int = 256,
    progress: Callable[[int], None] | None = None,
    protocol: Protocol = "strict",
) -> list[ItemScore]:
    """Score ``(item, output)`` pairs under ``protocol``, in order, over ``workers`` processes (1: in this
    process).

    Workers receive the items once, when they start, and then only ``(id, output)`` chunks.
    ``progress`` is called with the size of each finished chunk.

    >>> items = load_items("irrelevance", limit=3)
    >>> [s.valid for s in score_items([(item, "<think> no </think>") for item in items], workers=2, chunk_size=1)]
    [True, True, True]
    """
    check_format(format)
    check_protocol(protocol, format)
    by_id = {item.id: item for item, _ in pairs}
    if len(by_id) != len(pairs):
        raise ValueError("score_items: item ids must be unique")
    chunks = [
        [(item.id, output) for item, output in pairs[start : start + chunk_size]]
        for start in range(0, len(pairs), chunk_size)
    ]
    scores: list[ItemScore] = []
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            scores.extend(score_item(by_id[item_id], output, format, protocol) for item_id, output in chunk)
            if progress:
                progress(len(chunk))
        return scores
    with ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_init_worker, initargs=(by_id,)) as pool:
        for chunk, result in zip(
            chunks, pool.map(_score_chunk, chunks, [format] * len(chunks), [protocol] * len(chunks)), strict=True
        ):
            scores.extend(result)
            if progress:
                progress(len(chunk))
    return scores


# --- accuracy and aggregates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Accuracy:
    accuracy: float
    count: int


def category_accuracy(rows: Iterable[Mapping[str, Any]]) -> dict[str, Accuracy]:
    """Accuracy and item count per category, in first-seen order, from score rows (``category``, ``valid``).

    >>> category_accuracy([{"category": "multiple", "valid": True}, {"category": "multiple", "valid": False}])
    {'multiple': Accuracy(accuracy=0.5, count=2)}
    """
    totals: dict[str, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row["category"], [0, 0])
        total[0] += bool(row["valid"])
        total[1] += 1
    return {category: Accuracy(right / count, count) for category, (right, count) in totals.items()}


def failure_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many wrong items each error type (parser reasons included) accounts for, most frequent first."""
    return dict(Counter(row.get("error_type") or "unknown" for row in rows if not row["valid"]).most_common())


@dataclass(frozen=True)
class Aggregate:
    name: str
    formula: str
    value: float | None  # None when a category it needs was not scored
    missing: tuple[str, ...] = ()


#: Where the formulas come from: BFCL's leaderboard code before the v4 change (gorilla commit 4ed459c0,
#: "Retire Executable Categories from Leaderboard", 2025-04-09, unchanged up to the v4 release 58f57e91),
#: ``berkeley-function-call-leaderboard/bfcl/eval_checker/eval_runner_helper.py``, ``generate_leaderboard_csv``.
V3_SOURCE = "ShishirPatil/gorilla@4ed459c0 bfcl/eval_checker/eval_runner_helper.py:generate_leaderboard_csv"
#: v4's overall: ``bfcl_eval/eval_checker/eval_runner_helper.py`` at 58f57e91 (BFCL V4 Release).
V4_SOURCE = "ShishirPatil/gorilla@58f57e91 bfcl_eval/eval_checker/eval_runner_helper.py:generate_leaderboard_csv"
NOT_RUN = "agentic (web_search, memory): not run, counted 0 as BFCL v4 counts a category it did not score"
#: The paper's BFCL table: (column, aggregate name).
PAPER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Overall", "overall"),
    ("Non-Live AST", "non_live_ast"),
    ("Live", "live_overall"),
    ("Multi-turn", "multi_turn_overall"),
    ("Relevance", "relevance_overall"),
    ("Irrelevance", "irrelevance_overall"),
)


def _mean(parts: Sequence[float | None]) -> float | None:
    return None if any(p is None for p in parts) else sum(parts) / len(parts)  # type: ignore[arg-type]


def aggregates(per_category: Mapping[str, Accuracy]) -> list[Aggregate]:
    """BFCL v3's summary numbers with their formulas (:data:`V3_SOURCE`), then v4's overall.

    A number whose categories were not all scored is None and lists them (BFCL's code would count them 0).
    Multi-turn categories come from their own implementation of the benchmark interface.

    >>> acc = {c: Accuracy(1.0, 10) for c in ("simple_python", "simple_java", "simple_javascript",
    ...        "multiple", "parallel", "parallel_multiple")}
    >>> [(a.name, a.value) for a in aggregates(acc)][:3]
    [('non_live_ast', 1.0), ('non_live_overall', None), ('live_ast', None)]
    >>> next(a.missing for a in aggregates(acc) if a.name == "overall")[-4:]
    ('multi_turn_base', 'multi_turn_miss_func', 'multi_turn_miss_param', 'multi_turn_long_context')
    """

    def get(category: str) -> float | None:
        return per_category[category].accuracy if category in per_category else None

    def missing(categories: Iterable[str]) -> tuple[str, ...]:
        return tuple(c for c in categories if c not in per_category)

    def weighted(categories: Sequence[str]) -> float | None:
        if missing(categories):
            return None
        counts = [per_category[c].count for c in categories]
        return sum(per_category[c].accuracy * n for c, n in zip(categories, counts, strict=True)) / sum(counts)

    live_all = (*LIVE_AST_CATEGORIES, "live_irrelevance", "live_relevance")
    simple = _mean([get("simple_python"), get("simple_java"), get("simple_javascript")])
    non_live_ast = _mean([simple, get("multiple"), get("parallel"), get("parallel_multiple")])
    non_live = _mean([simple, get("multiple"), get("parallel"), get("parallel_multiple"), get("irrelevance")])
    live_ast, live = weighted(LIVE_AST_CATEGORIES), weighted(live_all)
    multi_turn = _mean([get(c) for c in MULTI_TURN_CATEGORIES])
    irrelevance = _mean([get("irrelevance"), get("live_irrelevance")])
    overall = _mean([live, non_live, multi_turn])
    v4_parts = [non_live_ast, live_ast, irrelevance, multi_turn]
    v4 = (
        None
        if any(p is None for p in v4_parts)
        else sum(w * p for w, p in zip((10, 10, 10, 30), v4_parts, strict=True)) / 100  # type: ignore[misc]
    )
    non_live_categories = (*NON_LIVE_AST_CATEGORIES, "irrelevance")
    everything = (*non_live_categories, *live_all, *MULTI_TURN_CATEGORIES)
    return [
        Aggregate(
            "non_live_ast",
            "Non-Live AST = mean(simple, multiple, parallel, parallel_multiple), "
            "simple = mean(simple_python, simple_java, simple_javascript)",
            non_live_ast,
            missing(NON_LIVE_AST_CATEGORIES),
        ),
        Aggregate(
            "non_live_overall",
            "Non-Live = mean(simple, multiple, parallel, parallel_multiple, irrelevance) "
            "(v3 without its retired executable categories)",
            non_live,
            missing(non_live_categories),
        ),
        Aggregate(
            "live_ast",
            "Live AST = item-weighted mean(live_simple, live_multiple, live_parallel, live_parallel_multiple)",
            live_ast,
            missing(LIVE_AST_CATEGORIES),
        ),
        Aggregate(
            "live_overall",
            "Live = item-weighted mean(live_simple, live_multiple, live_parallel, live_parallel_multiple, "
            "live_irrelevance, live_relevance)",
            live,
            missing(live_all),
        ),
        Aggregate(
            "multi_turn_overall",
            "Multi-turn = mean(multi_turn_base, multi_turn_miss_func, multi_turn_miss_param, multi_turn_long_context)",
            multi_turn,
            missing(MULTI_TURN_CATEGORIES),
        ),
        Aggregate(
            "relevance_overall", "Relevance = live_relevance", get("live_relevance"), missing(["live_relevance"])
        ),
        Aggregate(
            "irrelevance_overall",
            "Irrelevance = mean(irrelevance, live_irrelevance)",
            irrelevance,
            missing(["irrelevance", "live_irrelevance"]),
        ),
        Aggregate("overall", "BFCL v3 Overall = mean(Non-Live, Live, Multi-turn)", overall, missing(everything)),
        Aggregate(
            "v4_overall",
            "BFCL v4 Overall = (10 Non-Live AST + 10 Live AST + 10 Irrelevance + 30 Multi-turn + 40 agentic) / 100; "
            + NOT_RUN,
            v4,
            (
                *missing(
                    (
                        *NON_LIVE_AST_CATEGORIES,
                        *LIVE_AST_CATEGORIES,
                        "irrelevance",
                        "live_irrelevance",
                        *MULTI_TURN_CATEGORIES,
                    )
                ),
                "agentic",
            ),
        ),
    ]


def summary(rows: Sequence[Mapping[str, Any]], protocol: str = "strict") -> dict[str, Any]:
    """Everything ``score`` writes to ``scores.json``: per-category accuracy, aggregates, failures."""
    per_category = category_accuracy(rows)
    return {
        "benchmark": "bfcl",
        "protocol": protocol,
        "items": len(rows),
        "correct": sum(bool(row["valid"]) for row in rows),
        "categories": {name: asdict(value) for name, value in per_category.items()},
        "aggregates": [{**asdict(a), "missing": list(a.missing)} for a in aggregates(per_category)],
        "sources": {"v3": V3_SOURCE, "v4": V4_SOURCE},
        "failures": failure_counts(rows),
    }


# --- the benchmark ---------------------------------------------------------------------------------


def _aggregate(summary: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((a for a in summary.get("aggregates", []) if a["name"] == name), None)


def _missing_note(aggregate: Mapping[str, Any] | None) -> str:
    if aggregate is None:
        return "not computed"
    parts = [c for c in aggregate.get("missing", ()) if c != "agentic"]
    if not parts:
        return ""
    groups = [("multi-turn", MULTI_TURN_CATEGORIES), ("single-turn", SINGLE_TURN_CATEGORIES)]
    named = [g for g, cats in groups if set(cats) <= set(parts)]
    rest = [c for c in parts if not any(c in cats for g, cats in groups if g in named)]
    return "missing: " + ", ".join([*(f"all {g}" for g in named), *rest])


class BfclBenchmark(Benchmark):
    """BFCL's summary, tables and chart; shared by the whole benchmark and its parts."""

    name = "bfcl"
    categories: tuple[str, ...] = CATEGORIES

    def expand(self, names: Sequence[str]) -> list[str]:
        return expand_categories(names, self.categories)

    def summary(self, info: RunInfo, scored: Scored) -> dict[str, Any]:
        return summary(scored.rows, info.protocol)

    def series(self, summary: Mapping[str, Any]) -> dict[str, float | None]:
        values: dict[str, float | None] = {name: c["accuracy"] for name, c in summary["categories"].items()}
        values.update((a["name"], a["value"]) for a in summary["aggregates"])
        return values

    def report_rows(self, runs: Sequence[ScoredRun]) -> list[str]:
        lines = ["## BFCL, the paper's table (%)", ""]
        rows = []
        for run in runs:
            cells = [percent((_aggregate(run.summary, name) or {}).get("value")) for _, name in PAPER_COLUMNS]
            rows.append([run.label, *cells, _missing_note(_aggregate(run.summary, "overall"))])
        lines += markdown_table(["run", *(column for column, _ in PAPER_COLUMNS), "not scored"], rows)
        categories: list[str] = []
        for run in runs:
            categories.extend(c for c in run.summary["categories"] if c not in categories)
        rows = []
        for category in categories:
            counts = {
                str(run.summary["categories"][category]["count"])
                for run in runs
                if category in run.summary["categories"]
            }
            cells = [percent(run.summary["categories"].get(category, {}).get("accuracy")) for run in runs]
            rows.append([category, "/".join(sorted(counts)), *cells])
        lines += ["", "## BFCL accuracy per category (%)", ""]
        lines += markdown_table(["category", "items", *(run.label for run in runs)], rows)
        aggregate_rows = []
        for aggregate in runs[0].summary["aggregates"]:
            cells = [percent((_aggregate(run.summary, aggregate["name"]) or {}).get("value")) for run in runs]
            aggregate_rows.append([f"**{aggregate['name']}**", *cells, aggregate["formula"]])
        lines += ["", "### Aggregates (%)", ""]
        lines += markdown_table(["aggregate", *(run.label for run in runs), "formula"], aggregate_rows)
        lines += [
            "",
            f"> Formulas: BFCL v3 as its leaderboard code computed them before the v4 change ({V3_SOURCE}), "
            "without the executable categories (the paper's Non-Live Exec) that BFCL retired and the v4 wheel "
            f"no longer ships; v4 Overall as {V4_SOURCE}, its agentic part not run. "
            "A number whose categories were not all scored is n/a.",
        ]
        return lines


class BfclSingleTurn(BfclBenchmark, SingleShot):
    """The 13 single-turn categories: one completion per item, BFCL's ``ast_checker`` / relevance rule."""

    categories = SINGLE_TURN_CATEGORIES
    tool_templates = True

    def items(self, info: RunInfo) -> dict[str, Any]:
        items: dict[str, Any] = {}
        for category in info.categories:
            if category in self.categories:
                items.update((item.id, item) for item in load_items(category, info.limit))
        return items

    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts:
        return {i: (item.category, self._prompt(info, item)[0]) for i, item in items.items()}

    def prompt_tools(self, info: RunInfo, items: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        if info.tool_prompt == "system":
            return {}
        return {i: tools for i, item in items.items() if (tools := self._prompt(info, item)[1]) is not None}

    @staticmethod
    def _prompt(info: RunInfo, item: BfclItem) -> tuple[list[dict[str, str]], list[dict[str, Any]] | None]:
        return item_prompt(item, info.format, info.protocol, info.tool_prompt)  # type: ignore[arg-type]

    def score_outputs(
        self, info: RunInfo, items: Mapping[str, Any], generations: Sequence[Generation], workers: int, progress: bool
    ) -> list[dict[str, Any]]:
        pairs = [(items[generation.id], generation.output) for generation in generations]
        with progress_bar(total=len(pairs), description="score bfcl", enabled=progress) as bar:
            scores = score_items(pairs, info.format, workers=workers, progress=bar.update, protocol=info.protocol)  # type: ignore[arg-type]
        return [asdict(score) for score in scores]


class Bfcl(BfclBenchmark):
    """BFCL as one benchmark made of parts (single-turn; multi-turn plugs in as another part): items,
    generation and scoring go to the part serving each category; the summary covers them all. Items of
    every part carry their ``category``."""

    tool_templates = True  # each part checks its own

    def __init__(self, parts: Sequence[BfclBenchmark]) -> None:
        self.parts = tuple(parts)
        served = {c for part in self.parts for c in part.categories}
        self.categories = tuple(c for c in CATEGORIES if c in served)

    def _split(self, info: RunInfo, items: Mapping[str, Any]) -> list[tuple[BfclBenchmark, RunInfo, dict[str, Any]]]:
        chosen = []
        for part in self.parts:
            categories = [c for c in info.categories if c in part.categories]
            if categories:
                mine = {i: item for i, item in items.items() if item.category in part.categories}
                chosen.append((part, replace(info, categories=categories), mine))
        return chosen

    def check(self, info: RunInfo) -> None:
        super().check(info)
        unserved = [c for c in info.categories if c not in self.categories]
        if unserved:
            raise ValueError(
                f"BFCL categories {unserved} have no implementation here; valid: {', '.join(self.categories)}"
            )
        for part, part_info, _ in self._split(info, {}):
            part.check(part_info)

    def items(self, info: RunInfo) -> dict[str, Any]:
        return {i: item for part, part_info, _ in self._split(info, {}) for i, item in part.items(part_info).items()}

    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts:
        return {
            i: p for part, part_info, mine in self._split(info, items) for i, p in part.prompts(part_info, mine).items()
        }

    def prompt_tools(self, info: RunInfo, items: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        parts = self._split(info, items)
        return {i: t for part, part_info, mine in parts for i, t in part.prompt_tools(part_info, mine).items()}

    def generate(
        self,
        output: Path,
        info: RunInfo,
        items: Mapping[str, Any],
        backend: BackendFactory,
        batch_size: int,
        progress: bool,
    ) -> None:
        for part, part_info, mine in self._split(info, items):
            part.generate(output, part_info, mine, backend, batch_size, progress)

    def score(
        self, output: Path, info: RunInfo, items: Mapping[str, Any], workers: int, progress: bool, allow_missing: bool
    ) -> Scored:
        rows: list[dict[str, Any]] = []
        missing: list[str] = []
        for part, part_info, mine in self._split(info, items):
            scored = part.score(output, part_info, mine, workers, progress, allow_missing)
            rows += scored.rows
            missing += scored.missing
        return Scored(rows, missing)
