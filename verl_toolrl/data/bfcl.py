"""BFCL v4 single-turn items → validation samples, through the evaluation's own loader.

Items, prompts and gold calls all come from the benchmark layer, ``verl_toolrl.tasks.bfcl.single_turn``
(the ``bfcl-eval`` wheel's data, read the way the evaluation reads it), so a validation row shows the
model exactly the prompt the BFCL evaluation sends under ``--protocol strict``: ``item_messages`` builds
it, ``gold_calls`` picks the ground truth from the possible answers. Irrelevance items get a
response-only target (no tool fits). ``live_relevance`` has no possible answer to take a ground truth
from and is refused; items BFCL's checker can never accept (``benchmarks.bfcl.KNOWN_DEFECTS``) are left
out and counted.
"""

from __future__ import annotations

from collections.abc import Iterable

from verl_toolrl.core.calls import Format
from verl_toolrl.data.schema import Sample
from verl_toolrl.data.xlam import NO_TOOL_RESPONSE
from verl_toolrl.tasks.bfcl.single_turn import (
    KNOWN_DEFECTS,
    SINGLE_TURN_CATEGORIES,
    BfclItem,
    expand_categories,
    gold_calls,
    item_messages,
    load_items,
    to_tool,
)

SOURCE = "bfcl"
KNOWN_DEFECT = "bfcl_known_defect"  # the summary's count of items left out (KNOWN_DEFECTS)
#: Categories written by default: every single-turn category that has a ground truth.
DEFAULT_CATEGORIES: tuple[str, ...] = ("ast", "irrelevance", "live_irrelevance")
#: Categories without possible answers whose target is "no call": a response saying no tool fits.
NO_CALL_CATEGORIES: tuple[str, ...] = ("irrelevance", "live_irrelevance")


def bfcl_categories(names: Iterable[str]) -> list[str]:
    """Category names (and group names of ``benchmarks.bfcl.CATEGORY_GROUPS``) that have a ground truth.

    >>> bfcl_categories(["simple_python", "irrelevance"])
    ['simple_python', 'irrelevance']
    >>> bfcl_categories(["live_relevance"])
    Traceback (most recent call last):
    ...
    ValueError: BFCL live_relevance has no possible answers to take a ground truth from
    """
    categories = expand_categories(names, SINGLE_TURN_CATEGORIES)
    if "live_relevance" in categories:
        if "live_relevance" in names:
            raise ValueError("BFCL live_relevance has no possible answers to take a ground truth from")
        categories.remove("live_relevance")
    return categories


def bfcl_sample(item: BfclItem, format: Format = "toolrl", row: int = -1) -> Sample:
    """The validation sample of one ``benchmarks.bfcl.BfclItem``.

    >>> s = bfcl_sample(load_items("simple_python", limit=1)[0])
    >>> s.source_id, s.category, s.calls[0].name, s.messages[0]["role"]
    ('simple_python_0', 'simple_python', 'calculate_triangle_area', 'system')
    """
    calls = tuple(gold_calls(item))
    turns = tuple({"role": "user", "content": m["content"]} for m in item.messages if m["role"] == "user")
    return Sample(
        source=SOURCE,
        source_id=item.id,
        tools=tuple(to_tool(function) for function in item.prompt_functions),
        turns=turns,
        calls=calls,
        response=NO_TOOL_RESPONSE if item.category in NO_CALL_CATEGORIES else None,
        category=item.category,
        split="test",
        row=row,
        messages=tuple(item_messages(item, format, protocol="strict")),
    )


def bfcl_items(categories: Iterable[str], limit: int | None = None) -> list[BfclItem]:
    """The items of ``categories`` (at most ``limit`` per category), in BFCL's order."""
    return [item for category in categories for item in load_items(category, limit)]


def known_defect(item: BfclItem) -> str | None:
    """Why BFCL's checker can never accept this item's answer, or None."""
    return KNOWN_DEFECTS.get(item.id)
