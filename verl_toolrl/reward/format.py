"""The format check: does a response have the layout its ground truth asks for?

For the ``toolrl`` format this is the released reward's rule, decided in linear time. The released code
matches a lazy regular expression such as ``^<think>.*?</think>\\n<tool_call>\\n.*?\\n</tool_call>$``
(``DOTALL``) and counts tags; the lazy groups backtrack, so a long run of repeated tags costs quadratic
time (about 30 s for 460 KB). Because every tag the layout names must occur exactly once, each
expression pins down where its separators are, and a few ``find``/``count`` calls decide it exactly:

========================  ====================================================================
ground truth has          the (stripped) response must be
========================  ====================================================================
tool_call and response    ``<think>…</think>\\n<tool_call>\\n…\\n</tool_call>\\n<response>…</response>``
tool_call only            ``<think>…</think>\\n<tool_call>\\n…\\n</tool_call>``
response only             ``<think>…</think>\\n<response>…</response>``
neither                   ``<think>…</think>``
========================  ====================================================================

with each named tag exactly once (except ``<think>``/``</think>``, which the released rule does not
count). The ``hermes`` format asks for a clean parse (:func:`verl_toolrl.core.calls.parse_response`) with a
think block and the same kinds of content as the ground truth (calls, plain-text answer).
"""

from __future__ import annotations

from verl_toolrl.core.calls import (
    CALL_CLOSE,
    CALL_OPEN,
    RESPONSE_CLOSE,
    RESPONSE_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    Parsed,
)

_THINK_END = THINK_CLOSE + "\n"  # what must precede the first block after the think
_FIRST_BLOCK_AT = len(THINK_OPEN) + len(_THINK_END)  # earliest index of that block


def _opens_after_think(text: str, tag: str) -> int:
    """Index of the only ``tag`` if it directly follows ``<think>…</think>\\n``, else -1."""
    at = text.find(tag)
    return at if at >= _FIRST_BLOCK_AT and text.startswith(_THINK_END, at - len(_THINK_END)) else -1


def toolrl_layout_ok(text: str, has_call: bool, has_response: bool, tags_unique: bool = False) -> bool:
    """The released format rule for a stripped response, in linear time. ``tags_unique`` says the caller
    already knows no tag occurs twice (a clean parse), which saves counting them.

    >>> toolrl_layout_ok('<think> t </think>\\n<tool_call>\\n{}\\n</tool_call>', True, False)
    True
    >>> toolrl_layout_ok('<think> t </think>\\n<tool_call>\\n{}\\n</tool_call>', True, True)
    False
    >>> toolrl_layout_ok('<think> t </think>\\n<response> hi </response>', False, True)
    True
    """
    if not text.startswith(THINK_OPEN):
        return False
    if not has_call and not has_response:
        return len(text) >= len(THINK_OPEN) + len(THINK_CLOSE) and text.endswith(THINK_CLOSE)
    # each tag the layout names must occur exactly once; the checks below find each one, so only
    # "not more than once" is left to count
    if not tags_unique:
        if has_call and (text.count(CALL_OPEN) > 1 or text.count(CALL_CLOSE) > 1):
            return False
        if has_response and (text.count(RESPONSE_OPEN) > 1 or text.count(RESPONSE_CLOSE) > 1):
            return False
    if not has_call:
        opened = _opens_after_think(text, RESPONSE_OPEN)
        return (
            opened >= 0
            and text.endswith(RESPONSE_CLOSE)
            and (len(text) - len(RESPONSE_CLOSE) >= opened + len(RESPONSE_OPEN))
        )
    opened = _opens_after_think(text, CALL_OPEN)
    body_at = opened + len(CALL_OPEN) + 1  # just past "<tool_call>\n"
    if opened < 0 or not text.startswith("\n", body_at - 1):
        return False
    closed = text.find(CALL_CLOSE)
    if closed - 1 < body_at or text[closed - 1] != "\n":
        return False
    after = closed + len(CALL_CLOSE)
    if not has_response:
        return after == len(text)
    response_at = after + 1
    return (
        text.startswith("\n" + RESPONSE_OPEN, after)
        and text.endswith(RESPONSE_CLOSE)
        and len(text) - len(RESPONSE_CLOSE) >= response_at + len(RESPONSE_OPEN)
    )


def hermes_layout_ok(parsed: Parsed, has_call: bool, has_response: bool) -> bool:
    """Hermes format rule: parsed cleanly, thought first, and the same kinds of content as the target.

    >>> from verl_toolrl.core.calls import parse_response
    >>> ok = parse_response(
    ...     '<think>\\nt\\n</think>\\n\\n<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>', "hermes"
    ... )
    >>> hermes_layout_ok(ok, True, False), hermes_layout_ok(ok, False, True)
    (True, False)
    """
    return (
        parsed.ok
        and parsed.think is not None
        and bool(parsed.calls) == has_call
        and (parsed.response is not None) == has_response
    )
