"""The paper's 4k training mix: 2,000 ToolACE + 1,000 Hammer (masked) + 1,000 xLAM samples, seeded,
with a test split (2% by default) and optional decontamination against evaluation queries.

Selection, all from one ``random.Random(seed)``:

1. every ToolACE sample (one per assistant turn) is shuffled and the first ``toolace`` usable ones are
   taken;
2. the xLAM records are shuffled; the first ``xlam`` usable ones are taken as xLAM samples, and the
   Hammer samples are drawn from the rest (plus the irrelevance rows, when given), masked with
   ``hammer.hammer_sample`` (``masking``: Hammer's published rules, or ``full``), so no xLAM record
   appears twice;
3. the chosen rows are shuffled together and the first ``round(test_fraction · total)`` become ``test``.

A sample is usable when its row passes ``schema.build_row``'s checks (otherwise an error, or with
``skip_invalid`` a counted skip) and, with decontamination on, none of its user turns equals
(case- and whitespace-insensitively) a query of the evaluation sets of at least ``MIN_QUERY_WORDS``
words; removed samples are counted.
A source with fewer usable samples than asked for is an error that says so.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from verl_toolrl.core.calls import Format
from verl_toolrl.core.errors import RecordError, UsageError
from verl_toolrl.core.prompts import history_blocks
from verl_toolrl.data.hammer import hammer_sample
from verl_toolrl.data.pipeline import Summary, row_of
from verl_toolrl.data.schema import Sample
from verl_toolrl.tasks.apibank import load_items as load_apibank
from verl_toolrl.tasks.bfcl.single_turn import SINGLE_TURN_CATEGORIES
from verl_toolrl.tasks.bfcl.single_turn import load_items as load_bfcl

PAPER_COUNTS: dict[str, int] = {"toolace": 2000, "hammer": 1000, "xlam": 1000}
PAPER_TEST_FRACTION = 0.02
#: The demo mix (``--demo``): ToolRL's mix in small from the shared sample records, 8 training prompts and 3
#: held out; the CPU path trains on it.
DEMO_COUNTS: dict[str, int] = {"toolace": 5, "hammer": 1, "xlam": 5}
DEMO_TEST_FRACTION = 0.3
CONTAMINATED = "contaminated"  # the summary's count of samples removed by decontamination
#: Evaluation queries shorter than this many words ("Thank you.") are not used for decontamination.
MIN_QUERY_WORDS = 4


def normalize_query(text: str) -> str:
    """A query as decontamination compares it: lower case, whitespace collapsed.

    >>> normalize_query("  What is\\n the  GCD? ")
    'what is the gcd?'
    """
    return " ".join(text.lower().split())


def user_queries(sample: Sample) -> list[str]:
    """The normalized user turns of a sample."""
    return [normalize_query(turn["content"]) for turn in sample.turns if turn["role"] == "user"]


@dataclass(frozen=True)
class Pool:
    """Candidates of one source, in the order they will be tried, and the file named in errors."""

    name: str
    samples: Sequence[Sample]
    file: str
    transform: Callable[[Sample], Sample] | None = None


def take(
    pool: Pool,
    count: int,
    *,
    format: Format,
    summary: Summary,
    skip_invalid: bool,
    blocked: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], int]:
    """(rows of the first ``count`` usable samples of ``pool``, how many candidates were used up).

    >>> from verl_toolrl.core.calls import ToolCall
    >>> samples = [Sample("x", str(i), ({"name": "f"},), ({"role": "user", "content": f"q{i}"},),
    ...                   calls=(ToolCall("f"),)) for i in range(4)]
    >>> summary = Summary()
    >>> rows, used = take(Pool("x", samples, "x.json"), 2, format="toolrl", summary=summary, skip_invalid=False,
    ...                   blocked=frozenset({"q0"}))
    >>> [row["extra_info"]["source_id"] for row in rows], used, summary.skipped[CONTAMINATED]
    (['1', '2'], 3, 1)
    """
    rows: list[dict[str, Any]] = []
    used = 0
    for sample in pool.samples:
        if len(rows) == count:
            break
        used += 1
        if blocked and any(query in blocked for query in user_queries(sample)):
            summary.skip(
                RecordError(
                    "query",
                    CONTAMINATED,
                    f"{pool.name} {sample.source_id}: a user turn is an evaluation query",
                ).located(pool.file, sample.row)
            )
            continue
        try:
            candidate = pool.transform(sample) if pool.transform else sample
            rows.append(row_of(candidate, format, "train", file=pool.file))
        except RecordError as error:
            located = error.located(pool.file, sample.row)
            if not skip_invalid:
                raise located from None
            summary.skip(located)
    if len(rows) < count:
        raise UsageError(
            f"mix: {pool.name} has only {len(rows)} usable samples of the {count} asked for "
            f"({len(pool.samples)} candidates); give more input or lower --{pool.name}-count"
        )
    return rows, used


def build_mix(
    toolace: Sequence[Sample],
    xlam: Sequence[Sample],
    irrelevance: Sequence[Sample] = (),
    *,
    counts: dict[str, int] | None = None,
    test_fraction: float = PAPER_TEST_FRACTION,
    seed: int = 0,
    format: Format = "toolrl",
    blocked_queries: Iterable[str] = (),
    skip_invalid: bool = False,
    files: dict[str, str] | None = None,
    masking: str = "hammer",
) -> tuple[list[dict[str, Any]], Summary]:
    """The mixed rows (split assigned, shuffled) and the summary; see the module docstring.

    >>> from verl_toolrl.core.calls import ToolCall
    >>> def pool(source, n):
    ...     return [Sample(source, str(i), ({"name": "f", "parameters": {}},),
    ...                    ({"role": "user", "content": f"{source} {i}"},), calls=(ToolCall("f"),)) for i in range(n)]
    >>> rows, summary = build_mix(pool("toolace", 6), pool("xlam", 5), counts={"toolace": 4, "hammer": 2, "xlam": 2},
    ...                           test_fraction=0.25)
    >>> sorted(row["data_source"] for row in rows), sum(row["extra_info"]["split"] == "test" for row in rows)
    (['hammer', 'hammer', 'toolace', 'toolace', 'toolace', 'toolace', 'xlam', 'xlam'], 2)
    """
    counts = {**PAPER_COUNTS, **(counts or {})}
    files = {"toolace": "toolace", "xlam": "xlam", "irrelevance": "irrelevance", **(files or {})}
    if not 0 <= test_fraction < 1:
        raise UsageError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng = random.Random(seed)
    blocked = frozenset(
        query for query in map(normalize_query, blocked_queries) if len(query.split()) >= MIN_QUERY_WORDS
    )
    summary = Summary(read=len(toolace) + len(xlam) + len(irrelevance))
    options = {"format": format, "summary": summary, "skip_invalid": skip_invalid, "blocked": blocked}

    toolace_order = list(toolace)
    rng.shuffle(toolace_order)
    xlam_order = list(xlam)
    rng.shuffle(xlam_order)
    toolace_rows, _ = take(Pool("toolace", toolace_order, files["toolace"]), counts["toolace"], **options)
    xlam_rows, used = take(Pool("xlam", xlam_order, files["xlam"]), counts["xlam"], **options)
    # Irrelevance rows get their own ids, so their masking and error messages differ from xLAM's.
    hammer_candidates = xlam_order[used:] + [replace(s, source_id=f"irrelevance/{s.source_id}") for s in irrelevance]
    rng.shuffle(hammer_candidates)

    def masked(sample: Sample) -> Sample:
        return hammer_sample(sample, seed, masking)

    hammer_file = files["xlam"] + (f" or {files['irrelevance']}" if irrelevance else "")
    hammer_pool = Pool("hammer", hammer_candidates, hammer_file, masked)
    hammer_rows, _ = take(hammer_pool, counts["hammer"], **options)

    rows = toolace_rows + hammer_rows + xlam_rows
    rng.shuffle(rows)
    test_count = round(test_fraction * len(rows))
    for position, row in enumerate(rows):
        row["extra_info"]["split"] = "test" if position < test_count else "train"
    if blocked:
        summary.notes.append(f"decontamination: {summary.skipped[CONTAMINATED]} samples removed")
    return rows, summary


def queries_from_messages(messages: Iterable[dict[str, str]]) -> list[str]:
    """The user turns of chat messages, including the ``<user> … </user>`` turns of a ToolRL-style history.

    >>> queries_from_messages(
    ...     [{"role": "user", "content": "**Dialogue Records History**\\n<user> Hi </user>\\n<user>Bye</user>"}]
    ... )
    ['Hi', 'Bye']
    """
    queries = []
    for message in messages:
        if message["role"] != "user":
            continue
        inner = [body for tag, body in history_blocks(message["content"]) if tag == "user"]
        queries.extend(inner) if inner else queries.append(message["content"])
    return queries


def evaluation_queries(sources: Iterable[str], apibank_dir: str | None = None) -> list[str]:
    """The user queries of the evaluation sets named in ``sources`` (``bfcl``: every single-turn category
    of the ``bfcl-eval`` wheel; ``apibank``: the levels in ``apibank_dir``)."""
    queries: list[str] = []
    for source in sources:
        if source == "bfcl":
            for category in SINGLE_TURN_CATEGORIES:
                queries.extend(q for item in load_bfcl(category) for q in queries_from_messages(item.messages))
        elif source == "apibank":
            if not apibank_dir:
                raise UsageError(
                    "decontamination against apibank needs --apibank-dir (the level-N-api_processed.json folder)"
                )
            queries.extend(q for item in load_apibank(apibank_dir) for q in queries_from_messages(item.messages))
        else:
            raise UsageError(f"unknown evaluation set {source!r} to decontaminate against; valid: bfcl, apibank")
    return queries
