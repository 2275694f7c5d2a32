"""ToolACE (``Team-ACE/ToolACE``) → samples: one per assistant turn, with the dialogue so far inlined.

A record is ``{"system", "conversations": [{"from": "user"|"assistant"|"tool", "value"}]}``. The tool
list is the JSON embedded in the system prompt. An assistant turn is either a call list in ToolACE's
Python-like syntax, ``[Market Trends API(trend_type="MARKET_INDEXES"), GetCompetitions()]`` (tool names
may hold spaces, parentheses and commas: each call is matched against the tool list and its arguments
are read with ``ast``, never ``eval``), or plain text, which becomes a response target. Tool results
stay verbatim as observations. Earlier assistant turns appear in the history with the default
thoughts, as in ToolRL's released data; responses have their blank lines removed as ToolRL did (a
blank line separates exchanges in the history), so the rebuilt prompts match ToolRL's byte for byte.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import Any

from verl_toolrl.core.calls import ToolCall
from verl_toolrl.core.errors import (
    BAD_JSON_FIELD,
    BAD_LAYOUT,
    UNKNOWN_TOOL,
    UNPARSEABLE_CALL,
    WRONG_TYPE,
    RecordError,
    field_of,
)
from verl_toolrl.core.prompts import default_think
from verl_toolrl.core.tools import tool_from_json_schema
from verl_toolrl.data.schema import Sample

HUB_NAME = "Team-ACE/ToolACE"
SOURCE = "toolace"
TOOLS_START = "JSON format that you can invoke:\n"
TOOLS_END = ". \nShould you decide to return the function call(s)."
ROLES = {"user": "user", "assistant": "assistant", "tool": "tool"}
_BLANK_LINES = re.compile(r"\n\s*\n")


def toolace_tools(system: str) -> tuple[dict[str, Any], ...]:
    """The tools embedded in a ToolACE system prompt, as package tool dicts.

    >>> system = ('Here is a list of functions in JSON format that you can invoke:\\n'
    ...           '[{"name": "Get Quote", "description": "d", "parameters": {"type": "dict", "properties": {}, '
    ...           '"required": []}, "required": null}]. \\nShould you decide to return the function call(s). \\n')
    >>> [tool["name"] for tool in toolace_tools(system)]
    ['Get Quote']
    """
    start, end = system.find(TOOLS_START), system.rfind(TOOLS_END)
    if start < 0 or end < start:
        raise RecordError(
            "system",
            BAD_LAYOUT,
            "no tool list between 'JSON format that you can invoke:' and 'Should you decide'",
        )
    try:
        tools = json.loads(system[start + len(TOOLS_START) : end])
    except json.JSONDecodeError as error:
        raise RecordError("system", BAD_JSON_FIELD, f"the embedded tool list is not JSON ({error.msg})") from None
    if not isinstance(tools, list):
        raise RecordError("system", WRONG_TYPE, "the embedded tool list is not a JSON list")
    return tuple(tool_from_json_schema(tool, f"system.tools[{number}]") for number, tool in enumerate(tools))


def is_call_turn(text: str) -> bool:
    """Whether an assistant turn is a ToolACE call list rather than plain text.

    >>> is_call_turn("[GetCompetitions()]"), is_call_turn("Here you go: [link](x)")
    (True, False)
    """
    text = text.strip()
    return text.startswith("[") and text.endswith(")]")


def _json_value(value: Any) -> Any:
    """A literal as JSON data: tuples become lists; sets, bytes and complex numbers are refused."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_value(item) for key, item in value.items()}
    raise ValueError(f"{type(value).__name__} value {value!r} has no JSON form")


def _arguments(source: str) -> dict[str, Any] | None:
    """The keyword arguments of ``f(<source>)`` as JSON data; None when ``source`` does not parse."""
    try:
        tree = ast.parse(f"f({source})", mode="eval")
    except SyntaxError:
        return None
    call = tree.body
    if not isinstance(call, ast.Call) or call.args or any(keyword.arg is None for keyword in call.keywords):
        raise ValueError("only keyword arguments (name=value) are allowed")
    arguments: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg in arguments:
            raise ValueError(f"argument {keyword.arg!r} is given twice")
        arguments[keyword.arg] = _json_value(ast.literal_eval(keyword.value))
    return arguments


def parse_toolace_calls(text: str, tool_names: Sequence[str]) -> tuple[ToolCall, ...]:
    """The calls of a ToolACE call list. Each call starts with the longest listed tool name followed by
    ``(``; its arguments end at the first ``)`` after which they parse as Python keyword arguments and a
    ``,`` or the closing ``]`` follows. Values are Python literals (``ast.literal_eval``).

    Raises ``ValueError`` (``UnknownTool`` for a name outside ``tool_names``) with what went wrong.

    >>> calls = parse_toolace_calls('[SEC Filings(identifier="AAPL"), Mobility (US)(string="2025-05-17", n=[1, 2])]',
    ...                             ["SEC Filings", "Mobility (US)"])
    >>> len(calls), calls[0]
    (2, ToolCall(name='SEC Filings', arguments={'identifier': 'AAPL'}))
    >>> calls[1]
    ToolCall(name='Mobility (US)', arguments={'string': '2025-05-17', 'n': [1, 2]})
    """
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError("a call list is written [Name(key=value, ...), ...]")
    names = sorted(set(tool_names), key=len, reverse=True)
    calls: list[ToolCall] = []
    position = 1
    while True:
        while text.startswith(" ", position):
            position += 1
        name = next((n for n in names if text.startswith(n + "(", position)), None)
        if name is None:
            guess = text[position:].split("(", 1)[0]
            raise UnknownTool(f"call {len(calls) + 1} names {guess!r}, which is not in the tool list")
        start = position + len(name) + 1
        close = text.find(")", start)
        arguments = None
        while close >= 0:
            rest = text[close + 1 :].lstrip(" ")
            if rest.startswith(",") or rest == "]":
                arguments = _arguments(text[start:close])
                if arguments is not None:
                    break
            close = text.find(")", close + 1)
        if arguments is None:
            raise ValueError(f"the arguments of call {len(calls) + 1} ({name!r}) do not parse")
        calls.append(ToolCall(name, arguments))
        position = close + 1
        while text.startswith(" ", position):
            position += 1
        if text[position:] == "]":
            return tuple(calls)
        position += 1  # the comma


class UnknownTool(ValueError):
    """A ToolACE call names no tool of the record's tool list."""


def toolrl_response_text(text: str) -> str:
    """An assistant answer as ToolRL shows it: stripped, blank lines removed.

    >>> toolrl_response_text("Here:\\n\\n1. a\\n2. b\\n\\nBye ")
    'Here:\\n1. a\\n2. b\\nBye'
    """
    return _BLANK_LINES.sub("\n", text).strip()


def _assistant_turn(value: str, tool_names: Sequence[str], field: str) -> dict[str, Any]:
    if is_call_turn(value):
        try:
            calls = parse_toolace_calls(value, tool_names)
        except UnknownTool as error:
            raise RecordError(field, UNKNOWN_TOOL, str(error)) from None
        except ValueError as error:
            raise RecordError(field, UNPARSEABLE_CALL, f"{error}: {value[:120]!r}") from None
        return {"role": "assistant", "think": default_think(calls), "calls": list(calls), "response": None}
    response = toolrl_response_text(value)
    return {"role": "assistant", "think": default_think((), response), "calls": [], "response": response}


def toolace_record_to_samples(record: Any, row: int) -> list[Sample]:
    """The converter of the ``toolace`` command: one sample per assistant turn.

    >>> system = ('functions in JSON format that you can invoke:\\n[{"name": "Get Zip", "description": "d", '
    ...           '"parameters": {"type": "dict", "properties": {"code": {"type": "string", "description": "c"}}, '
    ...           '"required": ["code"]}}]. \\nShould you decide to return the function call(s). \\n')
    >>> record = {"system": system, "conversations": [{"from": "user", "value": "Zip 10001?"},
    ...     {"from": "assistant", "value": '[Get Zip(code="10001")]'},
    ...     {"from": "tool", "value": '[{"name": "Get Zip", "results": {}}]'},
    ...     {"from": "assistant", "value": "Nothing found."}]}
    >>> samples = toolace_record_to_samples(record, 4)
    >>> [(s.source_id, s.response, len(s.turns)) for s in samples]
    [('4/turn-1', None, 1), ('4/turn-3', 'Nothing found.', 3)]
    >>> [s.calls for s in samples]
    [(ToolCall(name='Get Zip', arguments={'code': '10001'}),), ()]
    """
    system = field_of(record, "system", str)
    conversation = field_of(record, "conversations", list)
    tools = toolace_tools(system)
    names = [tool["name"] for tool in tools]
    turns: list[dict[str, Any]] = []
    samples: list[Sample] = []
    for number, message in enumerate(conversation):
        path = f"conversations[{number}]"
        role = field_of(message, "from", str, f"{path}.from")
        value = field_of(message, "value", str, f"{path}.value")
        if role not in ROLES:
            raise RecordError(f"{path}.from", WRONG_TYPE, f"unknown role {role!r}; expected user, assistant or tool")
        if role == "assistant":
            turn = _assistant_turn(value, names, f"{path}.value")
            samples.append(
                Sample(
                    source=SOURCE,
                    source_id=f"{row}/turn-{number}",
                    tools=tools,
                    turns=tuple(turns),
                    calls=tuple(turn["calls"]),
                    response=turn["response"],
                    row=row,
                )
            )
            turns.append(turn)
        else:
            turns.append({"role": role, "content": value})
    return samples
