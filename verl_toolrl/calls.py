"""The tool-call grammar: parse a model response into think / calls / response, and render it back.

One data model, two output formats:

- ``toolrl`` (the ToolRL paper): ``<think> … </think>``, then one ``<tool_call>`` block holding one JSON
  object ``{"name": …, "parameters": {…}}`` per line, then an optional ``<response> … </response>``.
- ``hermes`` (the native format of Qwen2.5/Qwen3 chat templates): ``<think> … </think>``, optional plain
  text, then one ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` block per call.

The reward, the data converters and the evaluation all read model output through :func:`parse_response`
and write targets through :func:`render_output`. Parsing never raises, and runs in time linear in the
length of the text: it uses only ``str.find``/``str.split`` and the standard ``json`` decoder (whose
recursion limit turns absurd nesting into a ``bad_json`` reason, not a crash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["toolrl", "hermes"]
FORMATS: tuple[str, ...] = ("toolrl", "hermes")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
RESPONSE_OPEN, RESPONSE_CLOSE = "<response>", "</response>"

#: The key holding a call's arguments in each format's JSON objects.
ARGUMENTS_KEY: dict[str, str] = {"toolrl": "parameters", "hermes": "arguments"}

# Reason codes, in the order the parser checks them; ``Parsed.error`` is one of these or None.
MISSING_THINK = "missing_think"  # the response does not start with <think>
UNCLOSED_THINK = "unclosed_think"  # <think> without a following </think>
UNCLOSED_TOOL_CALL = "unclosed_tool_call"  # <tool_call> without a following </tool_call>
BAD_JSON = "bad_json"  # a call line (toolrl) or block (hermes) is not one JSON value
CALL_NOT_OBJECT = "call_not_object"  # the JSON value of a call is not an object
CALL_WITHOUT_NAME = "call_without_name"  # a call has no "name", or its name is not a string
ARGUMENTS_NOT_OBJECT = "arguments_not_object"  # "parameters"/"arguments" missing or not an object
UNCLOSED_RESPONSE = "unclosed_response"  # <response> without a following </response>
DUPLICATE_TAG = "duplicate_tag"  # a tag that may appear once appears more often
STRAY_TEXT = "stray_text"  # text outside the blocks, blocks out of order, or a stray closing tag
REASONS: tuple[str, ...] = (
    MISSING_THINK,
    UNCLOSED_THINK,
    UNCLOSED_TOOL_CALL,
    BAD_JSON,
    CALL_NOT_OBJECT,
    CALL_WITHOUT_NAME,
    ARGUMENTS_NOT_OBJECT,
    UNCLOSED_RESPONSE,
    DUPLICATE_TAG,
    STRAY_TEXT,
)


@dataclass(frozen=True)
class ToolCall:
    """One function call: a tool name and its arguments (a JSON object)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parsed:
    """What :func:`parse_response` read.

    ``calls`` holds every well-formed call; ``raw_calls`` holds the JSON value of every call line/block
    exactly as ``json.loads`` returned it (``None`` when there is no complete tool-call block or a
    line is not JSON), which is what the reward compares. ``error`` is the first reason code found
    (see ``REASONS``) and ``error_at`` the 1-based call it refers to, when it refers to one.
    """

    think: str | None
    calls: tuple[ToolCall, ...]
    response: str | None
    raw_calls: tuple[Any, ...] | None = None
    error: str | None = None
    error_at: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def reason(self) -> str | None:
        """``error`` with its position, e.g. ``"bad_json@2"``; None when the response is well formed."""
        if self.error is None or self.error_at is None:
            return self.error
        return f"{self.error}@{self.error_at}"


def loads_or_none(text: str) -> tuple[bool, Any]:
    """``json.loads`` that reports failure instead of raising: ``(ok, value)``.

    >>> loads_or_none('{"a": 1}')
    (True, {'a': 1})
    >>> loads_or_none('{"a": ')[0], loads_or_none('[' * 100_000)[0]
    (False, False)
    """
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, int digit limit, nesting depth
        return False, None


def _call_from_json(value: Any, arguments_key: str) -> tuple[ToolCall | None, str | None]:
    if not isinstance(value, dict):
        return None, CALL_NOT_OBJECT
    name = value.get("name")
    if not isinstance(name, str):
        return None, CALL_WITHOUT_NAME
    arguments = value.get(arguments_key)
    if not isinstance(arguments, dict):
        return None, ARGUMENTS_NOT_OBJECT
    return ToolCall(name, arguments), None


def _read_calls(
    chunks: list[str], arguments_key: str
) -> tuple[tuple[ToolCall, ...], tuple[Any, ...] | None, str | None, int | None]:
    """Decode one JSON call per chunk: (calls, raw values or None, first error, its 1-based index)."""
    calls: list[ToolCall] = []
    raw: list[Any] = []
    error, error_at = None, None
    for index, chunk in enumerate(chunks, start=1):
        ok, value = loads_or_none(chunk)
        if not ok:
            return tuple(calls), None, BAD_JSON, index
        raw.append(value)
        call, problem = _call_from_json(value, arguments_key)
        if call is not None:
            calls.append(call)
        elif error is None:
            error, error_at = problem, index
    return tuple(calls), tuple(raw), error, error_at


def _split_think(text: str) -> tuple[str | None, int, str | None]:
    """(think text, index where the rest starts, error) for a stripped response."""
    if not text.startswith(THINK_OPEN):
        return None, 0, MISSING_THINK
    end = text.find(THINK_CLOSE, len(THINK_OPEN))
    if end < 0:
        return text[len(THINK_OPEN) :].strip(), len(text), UNCLOSED_THINK
    return text[len(THINK_OPEN) : end].strip(), end + len(THINK_CLOSE), None


def released_call_lines(text: str) -> list[str] | None:
    """The call lines of a toolrl response exactly as ToolRL's released reward reads them.

    The block runs from the first ``<tool_call>`` to the next ``</tool_call>`` (to the end of the text
    when that only appears earlier); it is stripped and split on newlines. None when either tag is absent.

    >>> released_call_lines('<think> t </think>\\n<tool_call>\\n{"name": "f"}\\n{"name": "g"}\\n</tool_call>')
    ['{"name": "f"}', '{"name": "g"}']
    >>> released_call_lines("no block") is None
    True
    """
    start = text.find(CALL_OPEN)
    if start < 0 or CALL_CLOSE not in text:
        return None
    start += len(CALL_OPEN)
    end = text.find(CALL_CLOSE, start)
    return text[start : end if end >= 0 else len(text)].strip().split("\n")


def _block(text: str, opener: str, closer: str) -> tuple[str | None, int, int, bool]:
    """First ``opener … closer`` block: (inner text or None, start, end, closed)."""
    start = text.find(opener)
    if start < 0:
        return None, -1, -1, True
    end = text.find(closer, start + len(opener))
    if end < 0:
        return text[start + len(opener) :], start, len(text), False
    return text[start + len(opener) : end], start, end + len(closer), True


def _has_stray_text(text: str, position: int, blocks: tuple[tuple[int, int], ...]) -> bool:
    """True when text outside the think block and the given (start, end) blocks is not blank, or the
    blocks overlap or come out of order."""
    for start, end in blocks:
        if start < 0:
            continue
        if start < position or text[position:start].strip():
            return True
        position = end
    return bool(text[position:].strip())


def _parse_toolrl(text: str) -> Parsed:
    think, rest_at, error = _split_think(text)
    error_at = None
    lines = released_call_lines(text)
    calls: tuple[ToolCall, ...] = ()
    raw = None
    if lines is not None:
        calls, raw, call_error, call_error_at = _read_calls(lines, ARGUMENTS_KEY["toolrl"])
        if error is None and call_error is not None:
            error, error_at = call_error, call_error_at
    _, call_start, call_end, call_closed = _block(text, CALL_OPEN, CALL_CLOSE)
    if error is None and not call_closed:
        error = UNCLOSED_TOOL_CALL
    response, response_start, response_end, response_closed = _block(text, RESPONSE_OPEN, RESPONSE_CLOSE)
    if error is None and not response_closed:
        error = UNCLOSED_RESPONSE
    if error is None and any(
        text.count(tag) > 1
        for tag in (THINK_OPEN, THINK_CLOSE, CALL_OPEN, CALL_CLOSE, RESPONSE_OPEN, RESPONSE_CLOSE)
    ):
        error = DUPLICATE_TAG
    if error is None and _has_stray_text(text, rest_at, ((call_start, call_end), (response_start, response_end))):
        error = STRAY_TEXT
    return Parsed(
        think=think,
        calls=calls,
        response=response.strip() if response is not None else None,
        raw_calls=raw,
        error=error,
        error_at=error_at,
    )


def _parse_hermes(text: str) -> Parsed:
    think, position, error = _split_think(text)
    if error == MISSING_THINK:
        position = 0
    error_at = None
    chunks: list[str] = []
    prose: list[str] = []
    while True:
        start = text.find(CALL_OPEN, position)
        if start < 0:
            prose.append(text[position:])
            break
        prose.append(text[position:start])
        end = text.find(CALL_CLOSE, start + len(CALL_OPEN))
        if end < 0:
            error = error or UNCLOSED_TOOL_CALL
            break
        chunks.append(text[start + len(CALL_OPEN) : end].strip())
        position = end + len(CALL_CLOSE)
    calls, raw, call_error, call_error_at = _read_calls(chunks, ARGUMENTS_KEY["hermes"])
    if error is None and call_error is not None:
        error, error_at = call_error, call_error_at
    response = "\n".join(part.strip() for part in prose if part.strip()) or None
    if error is None and (
        text.count(THINK_OPEN) > 1 or text.count(THINK_CLOSE) > 1 or (response and CALL_CLOSE in response)
    ):
        error = DUPLICATE_TAG if text.count(THINK_OPEN) > 1 or text.count(THINK_CLOSE) > 1 else STRAY_TEXT
    return Parsed(
        think=think,
        calls=calls,
        response=response,
        raw_calls=raw if error != UNCLOSED_TOOL_CALL else None,
        error=error,
        error_at=error_at,
    )


def check_format(format: str) -> str:
    """Return ``format`` if it is a known output format, else raise ``ValueError`` naming the choices."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; valid formats: {', '.join(FORMATS)}")
    return format


def parse_response(text: str, format: Format = "toolrl") -> Parsed:
    """Parse one model response (surrounding whitespace is ignored). Never raises on any string.

    >>> p = parse_response('<think> look up </think>\\n<tool_call>\\n{"name": "f", "parameters": {"x": 1}}\\n</tool_call>')
    >>> p.think, p.calls, p.response, p.ok
    ('look up', (ToolCall(name='f', arguments={'x': 1}),), None, True)
    >>> parse_response('<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n{oops}\\n</tool_call>').reason
    'bad_json@2'
    >>> h = parse_response('<think>\\nok\\n</think>\\n\\n<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>', "hermes")
    >>> h.calls, h.ok
    ((ToolCall(name='f', arguments={}),), True)
    """
    check_format(format)
    text = text.strip() if isinstance(text, str) else ""
    return _parse_toolrl(text) if format == "toolrl" else _parse_hermes(text)


def _call_json(call: ToolCall, format: str) -> str:
    return json.dumps({"name": call.name, ARGUMENTS_KEY[format]: call.arguments}, ensure_ascii=False)


def render_calls(calls: list[ToolCall] | tuple[ToolCall, ...], format: Format = "toolrl") -> str:
    """The tool-call part of a response.

    >>> print(render_calls([ToolCall("f", {"x": 1}), ToolCall("g")]))
    <tool_call>
    {"name": "f", "parameters": {"x": 1}}
    {"name": "g", "parameters": {}}
    </tool_call>
    >>> print(render_calls([ToolCall("f", {"x": 1})], "hermes"))
    <tool_call>
    {"name": "f", "arguments": {"x": 1}}
    </tool_call>
    """
    check_format(format)
    if format == "toolrl":
        return "\n".join([CALL_OPEN, *(_call_json(call, format) for call in calls), CALL_CLOSE])
    return "\n".join(f"{CALL_OPEN}\n{_call_json(call, format)}\n{CALL_CLOSE}" for call in calls)


def render_output(
    think: str,
    calls: list[ToolCall] | tuple[ToolCall, ...] = (),
    response: str | None = None,
    format: Format = "toolrl",
) -> str:
    """A complete response in ``format``: the inverse of :func:`parse_response` for well-formed parts.

    >>> print(render_output("I should call f.", [ToolCall("f", {"x": 1})]))
    <think> I should call f. </think>
    <tool_call>
    {"name": "f", "parameters": {"x": 1}}
    </tool_call>
    >>> print(render_output("Nothing fits.", response="Sorry, I can't.", format="hermes"))
    <think>
    Nothing fits.
    </think>
    <BLANKLINE>
    Sorry, I can't.
    """
    check_format(format)
    if format == "toolrl":
        parts = [f"{THINK_OPEN} {think} {THINK_CLOSE}"]
        if calls:
            parts.append(render_calls(calls, format))
        if response is not None:
            parts.append(f"{RESPONSE_OPEN} {response} {RESPONSE_CLOSE}")
        return "\n".join(parts)
    body = [part for part in (response, render_calls(calls, format) if calls else None) if part]
    return f"{THINK_OPEN}\n{think}\n{THINK_CLOSE}\n\n" + "\n".join(body)
