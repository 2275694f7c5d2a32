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
import json.scanner
from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["toolrl", "hermes"]
FORMATS: tuple[str, ...] = ("toolrl", "hermes")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
RESPONSE_OPEN, RESPONSE_CLOSE = "<response>", "</response>"

#: The key holding a call's arguments in each format's JSON objects.
ARGUMENTS_KEY: dict[str, str] = {"toolrl": "parameters", "hermes": "arguments"}

# Reason codes; ``Parsed.reason`` is one of these or None. Problems of the calls themselves (the first five
# after the think reasons, ``CALL_ERRORS``) are reported before a missing or unclosed think, then the rest
# in the order listed.
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
CALL_ERRORS = frozenset({UNCLOSED_TOOL_CALL, BAD_JSON, CALL_NOT_OBJECT, CALL_WITHOUT_NAME, ARGUMENTS_NOT_OBJECT})
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


@dataclass(slots=True)
class ToolCall:
    """One function call: a tool name and its arguments (a JSON object). Treat it as a value: it is not
    frozen only because freezing costs a third of the parse time of a typical call."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


class Parsed:
    """What :func:`parse_response` read.

    ``think`` and ``response`` are the stripped texts of those blocks (None when absent). ``raw_calls``
    holds the JSON value of every call line/block exactly as ``json.loads`` returns it (``None`` when
    there is no complete tool-call block or a line is not JSON): what the reward compares. ``calls``
    holds the well-formed ones as :class:`ToolCall`. ``reason`` is the first reason code found (see
    ``REASONS``), ``reason_at`` the 1-based call it refers to when it refers to one, and
    ``located_reason`` both in one string (``"bad_json@2"``).
    """

    __slots__ = ("_text", "_think_span", "format", "raw_calls", "reason", "reason_at", "response")

    def __init__(
        self,
        text: str,
        think_span: tuple[int, int] | None,
        response: str | None,
        raw_calls: tuple[Any, ...] | None,
        reason: str | None,
        reason_at: int | None,
        format: str,
    ) -> None:
        self._text, self._think_span = text, think_span  # the think is cut out only when asked for
        self.response, self.raw_calls, self.reason, self.reason_at, self.format = (
            response,
            raw_calls,
            reason,
            reason_at,
            format,
        )

    @property
    def think(self) -> str | None:
        if self._think_span is None:
            return None
        start, end = self._think_span
        return self._text[start:end].strip()

    def _fields(self) -> tuple[Any, ...]:
        return (self.think, self.response, self.raw_calls, self.reason, self.reason_at, self.format)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parsed) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # raw_calls hold dicts

    def __repr__(self) -> str:
        return (
            f"Parsed(think={self.think!r}, calls={self.calls!r}, response={self.response!r}, "
            f"reason={self.reason!r}, reason_at={self.reason_at!r}, format={self.format!r})"
        )

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        key = ARGUMENTS_KEY[self.format]
        return tuple(
            ToolCall(value["name"], value[key]) for value in self.raw_calls or () if call_problem(value, key) is None
        )

    @property
    def num_calls(self) -> int:
        """``len(calls)``, without building them."""
        if self.reason is None or self.raw_calls is None:
            return len(self.raw_calls or ())
        key = ARGUMENTS_KEY[self.format]
        return sum(call_problem(value, key) is None for value in self.raw_calls)

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def calls_ok(self) -> bool:
        """The tool-call part is well formed, whatever else is wrong (e.g. a missing think): the calls
        can be scored as the model meant them."""
        return self.reason not in CALL_ERRORS

    @property
    def located_reason(self) -> str | None:
        """``reason`` with its position, e.g. ``"bad_json@2"``; None when the response is well formed."""
        if self.reason is None or self.reason_at is None:
            return self.reason
        return f"{self.reason}@{self.reason_at}"


def loads_or_none(text: str) -> tuple[bool, Any]:
    """``json.loads`` that reports failure instead of raising: ``(ok, value)``.

    >>> loads_or_none('{"a": 1}')
    (True, {'a': 1})
    >>> loads_or_none('{"a": ')[0], loads_or_none('[' * 100_000)[0]
    (False, False)
    """
    try:
        return True, _decode(text)
    except _DECODE_ERRORS:
        return False, None


_scan_once = json.scanner.make_scanner(json.JSONDecoder())
_DECODE_ERRORS = (ValueError, RecursionError, StopIteration)  # bad JSON / int digit limit, nesting, no value


def _decode(text: str) -> Any:
    """``json.loads`` of one string without its per-call wrappers: the same scanner, so the same values
    (the shared NaN object included) and the same failures (raised as one of ``_DECODE_ERRORS``)."""
    text = text.strip(" \t\n\r")  # exactly JSON's whitespace
    value, end = _scan_once(text, 0)
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    return value


def call_problem(value: Any, arguments_key: str = ARGUMENTS_KEY["toolrl"]) -> str | None:
    """Why a decoded JSON value is not a call (``CALL_NOT_OBJECT``, ``CALL_WITHOUT_NAME`` or
    ``ARGUMENTS_NOT_OBJECT``), or None when it is one: an object with a string ``"name"`` and an object
    under ``arguments_key``. The one definition of a call, for model output and data alike.

    >>> call_problem({"name": "f", "parameters": {}}), call_problem({"name": "f"}), call_problem([1])
    (None, 'arguments_not_object', 'call_not_object')
    >>> call_problem({"name": 3, "arguments": {}}, "arguments")
    'call_without_name'
    """
    if type(value) is not dict:
        return CALL_NOT_OBJECT
    if type(value.get("name")) is not str:
        return CALL_WITHOUT_NAME
    if type(value.get(arguments_key)) is not dict:
        return ARGUMENTS_NOT_OBJECT
    return None


def describe_call_problem(problem: str, arguments_key: str = ARGUMENTS_KEY["toolrl"]) -> str:
    """What a :func:`call_problem` code means, to follow "call N" in a message about data.

    >>> describe_call_problem("arguments_not_object", "arguments")
    'has no "arguments" object'
    """
    return {
        CALL_NOT_OBJECT: "is not a JSON object",
        CALL_WITHOUT_NAME: 'has no string "name"',
        ARGUMENTS_NOT_OBJECT: f'has no "{arguments_key}" object',
    }[problem]


def _read_calls(chunks: list[str], arguments_key: str) -> tuple[tuple[Any, ...] | None, str | None, int | None]:
    """Decode one JSON call per chunk: (raw values, or None on bad JSON; first error; its 1-based index)."""
    raw: list[Any] = []
    for index, chunk in enumerate(chunks, start=1):
        try:
            raw.append(_decode(chunk))
        except _DECODE_ERRORS:
            return None, BAD_JSON, index
    for index, value in enumerate(raw, start=1):
        problem = call_problem(value, arguments_key)
        if problem is not None:
            return tuple(raw), problem, index
    return tuple(raw), None, None


def _split_think(text: str) -> tuple[tuple[int, int] | None, int, str | None]:
    """(span of the think text or None, index where the rest starts, error) for a stripped response."""
    if not text.startswith(THINK_OPEN):
        return None, 0, MISSING_THINK
    end = text.find(THINK_CLOSE, len(THINK_OPEN))
    if end < 0:
        return (len(THINK_OPEN), len(text)), len(text), UNCLOSED_THINK
    return (len(THINK_OPEN), end), end + len(THINK_CLOSE), None


def released_call_lines(text: str) -> list[str] | None:
    """The call lines of a toolrl response exactly as ToolRL's released reward reads them.

    The block runs from the first ``<tool_call>`` to the next ``</tool_call>`` (to the end of the text
    when that only appears earlier); it is stripped and split on newlines. None when either tag is absent.

    >>> released_call_lines('<think> t </think>\\n<tool_call>\\n{"name": "f"}\\n{"name": "g"}\\n</tool_call>')
    ['{"name": "f"}', '{"name": "g"}']
    >>> released_call_lines("no block") is None
    True
    """
    return _call_block(text)[2]


def _call_block(text: str) -> tuple[int, int, list[str] | None]:
    """(index of the first ``<tool_call>`` or -1, index past its ``</tool_call>`` or -1, released lines)."""
    start = text.find(CALL_OPEN)
    if start < 0:
        return -1, -1, None
    body = start + len(CALL_OPEN)
    end = text.find(CALL_CLOSE, body)
    if end >= 0:
        return start, end + len(CALL_CLOSE), text[body:end].strip().split("\n")
    return start, -1, text[body:].strip().split("\n") if CALL_CLOSE in text else None


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
    """Parse a stripped response in the toolrl format: think, then one ``<tool_call>`` block with a JSON
    call per line, then an optional ``<response>``; the first problem found becomes ``Parsed.reason``."""
    think_span, rest_at, think_error = _split_think(text)
    call_start, call_end, lines = _call_block(text)
    raw, error, error_at = _read_calls(lines, ARGUMENTS_KEY["toolrl"]) if lines is not None else (None, None, None)
    if error is None and call_start >= 0 and call_end < 0:
        error = UNCLOSED_TOOL_CALL
    error = error or think_error
    # Each tag found so far holds one "<". When the text has no other "<", it has no <response> block and
    # no repeated tag, and two scans of the text are saved.
    found = (think_span is not None) + (think_error is None) + (call_start >= 0) + (call_end >= 0)
    response, response_start, response_end = None, -1, -1
    brackets = text.count("<")
    if brackets != found:
        response_start = text.find(RESPONSE_OPEN)
        if response_start >= 0:
            body = response_start + len(RESPONSE_OPEN)
            close = text.find(RESPONSE_CLOSE, body)
            response = text[body : close if close >= 0 else len(text)].strip()
            response_end = close + len(RESPONSE_CLOSE) if close >= 0 else -1
            found += 1 + (close >= 0)
            if error is None and close < 0:
                error = UNCLOSED_RESPONSE
        if error is None and brackets != found and _repeats_a_tag(text):
            error = DUPLICATE_TAG
    if error is None and _has_stray_text(text, rest_at, ((call_start, call_end), (response_start, response_end))):
        error = STRAY_TEXT
    return Parsed(text, think_span, response, raw, error, error_at, "toolrl")


def _repeats_a_tag(text: str) -> bool:
    """True when any of the six toolrl tags occurs more than once."""
    count = text.count
    return (
        count(THINK_OPEN) > 1
        or count(THINK_CLOSE) > 1
        or count(CALL_OPEN) > 1
        or count(CALL_CLOSE) > 1
        or count(RESPONSE_OPEN) > 1
        or count(RESPONSE_CLOSE) > 1
    )


def _parse_hermes(text: str) -> Parsed:
    """Parse a stripped response in the hermes format: an optional think, plain text, and any number of
    ``<tool_call>`` blocks holding one JSON call each; the text outside the blocks is the response."""
    think_span, position, think_error = _split_think(text)
    if think_error == MISSING_THINK:
        position = 0
    chunks: list[str] = []
    prose: list[str] = []
    unclosed = False
    while True:
        start = text.find(CALL_OPEN, position)
        if start < 0:
            prose.append(text[position:])
            break
        prose.append(text[position:start])
        end = text.find(CALL_CLOSE, start + len(CALL_OPEN))
        if end < 0:
            unclosed = True
            break
        chunks.append(text[start + len(CALL_OPEN) : end].strip())
        position = end + len(CALL_CLOSE)
    raw, error, error_at = _read_calls(chunks, ARGUMENTS_KEY["hermes"])
    if unclosed:
        raw, error = None, error or UNCLOSED_TOOL_CALL
    error = error or think_error
    response = "\n".join(part.strip() for part in prose if part.strip()) or None
    if error is None and (text.count(THINK_OPEN) > 1 or text.count(THINK_CLOSE) > 1):
        error = DUPLICATE_TAG
    if error is None and response and CALL_CLOSE in response:
        error = STRAY_TEXT
    return Parsed(text, think_span, response, raw, error, error_at, "hermes")


def check_format(format: str) -> str:
    """Return ``format`` if it is a known output format, else raise ``ValueError`` naming the choices.

    >>> check_format("hermes")
    'hermes'
    >>> check_format("xml")
    Traceback (most recent call last):
    ...
    ValueError: unknown format 'xml'; valid formats: toolrl, hermes
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; valid formats: {', '.join(FORMATS)}")
    return format


def parse_response(text: str, format: Format = "toolrl") -> Parsed:
    """Parse one model response (surrounding whitespace is ignored). Never raises on any string.

    >>> p = parse_response(
    ...     '<think> look up </think>\\n<tool_call>\\n{"name": "f", "parameters": {"x": 1}}\\n</tool_call>'
    ... )
    >>> p.think, p.calls, p.response, p.ok
    ('look up', (ToolCall(name='f', arguments={'x': 1}),), None, True)
    >>> parse_response(
    ...     '<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n{oops}\\n</tool_call>'
    ... ).located_reason
    'bad_json@2'
    >>> h = parse_response(
    ...     '<think>\\nok\\n</think>\\n\\n<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>', "hermes"
    ... )
    >>> h.calls, h.ok
    ((ToolCall(name='f', arguments={}),), True)
    """
    text = text.strip() if isinstance(text, str) else ""
    if format == "toolrl":
        return _parse_toolrl(text)
    check_format(format)
    return _parse_hermes(text)


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
