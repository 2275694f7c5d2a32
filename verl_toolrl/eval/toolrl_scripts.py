"""How ToolRL's evaluation code reads model output (``--protocol toolrl``), re-implemented from its source.

From ``qiancheng0/ToolRL`` at commit 8cee13ec0ca72f0461da372a93a6fd8140dbb840, quirks included:

- :func:`decode_ast`: ``benchmarks/BFCL/rlla_qwen.py``, ``RLLAHandler.decode_ast`` (lines 102-121). No
  ``<tool_call>`` at all: no calls. Otherwise the text after the LAST ``<tool_call>`` up to the next
  ``</tool_call>`` (or the end: an unclosed block still counts), stripped, split on ``\\n``; each line is
  read with ``json.loads`` and kept as ``{name: parameters}`` when it is an object with a string
  ``name`` and a ``parameters`` key (``parameters`` passed on unchanged, whatever its type); any other
  line (blank, not JSON, not an object, no name or parameters) is skipped, and so is a call whose name,
  stripped and lower-cased, is ``none`` (the handler's prompt asks for a call named 'None' when no tool
  fits). The ``language`` argument is ignored: Java/JavaScript arguments stay JSON values.
- :func:`decode_execute`: ``RLLAHandler.decode_execute`` and ``xlam_json_to_python_tool_calls`` (lines
  124-167), for executed (multi-turn) categories: same block and lines, but every JSON value is kept;
  then each object becomes ``name(key=repr(value), ...)`` (``name`` default ``""``, ``parameters``
  default ``{}``, ``none`` skipped, non-objects dropped). A name that is not a string or parameters
  without ``.items()`` make the handler raise: :func:`execute_calls` raises ``ValueError`` there.
- :func:`apibank_tool_calls`: ``benchmarks/API-Bank/generate.py`` lines 85-100. The output is stripped,
  the text after the last ``<tool_call>`` up to ``</tool_call>`` taken (without any ``<tool_call>`` that
  is the WHOLE output), split on ``\\n``; blank lines skipped, every line that ``json.loads`` reads kept
  (any JSON value), the rest dropped.
- :func:`apibank_correct`: ``benchmarks/API-Bank/evaluate.py`` lines 38-71 ("SOFT MATCH"). The gold is
  the first gold call only (level-1 answers are lists). For each kept value in order: a string is read
  again with ``json.loads``; a value lacking ``name`` or ``parameters`` (``in`` test) is taken as the
  parameters of a call to the gold name; correct as soon as one has the gold name and parameters equal
  to the gold's (Python ``==``: ``1 == 1.0 == True``); any exception (a number, ``null``, a string that
  is not JSON) ends the loop, wrong unless an earlier value matched.

Nothing here raises on model output except :func:`execute_calls` (``ValueError``, as the handler raises).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from verl_toolrl.core.calls import CALL_CLOSE, CALL_OPEN, ToolCall
from verl_toolrl.tasks.episode import python_call


def _last_block_lines(text: str) -> list[str]:
    """The lines of the text after the last ``<tool_call>`` up to the next ``</tool_call>``, stripped."""
    return text.split(CALL_OPEN)[-1].split(CALL_CLOSE)[0].strip().split("\n")


def _json_value(line: str) -> tuple[bool, Any]:
    """(read, value) of one line: ``json.loads`` or not JSON (including nesting too deep to read)."""
    try:
        return True, json.loads(line)
    except (ValueError, RecursionError):
        return False, None


def _is_none_name(name: str) -> bool:
    return name.strip().lower() == "none"


def decode_ast(output: str) -> list[dict[str, Any]]:
    """The handler's decoded calls ``[{name: parameters}]`` (see the module docstring).

    >>> decode_ast('<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {"x": 1}}\\n\\nnot json\\n</tool_call>')
    [{'f': {'x': 1}}]
    >>> decode_ast('<tool_call>\\n{"name": "a", "parameters": {}}\\n</tool_call><tool_call>\\n{"name": "None", "parameters": {}}\\n{"name": "b", "parameters": "s"}')
    [{'b': 's'}]
    >>> decode_ast('{"name": "f", "parameters": {}}')
    []
    """
    if CALL_OPEN not in output:
        return []
    decoded = []
    for line in _last_block_lines(output):
        read, value = _json_value(line)
        if not read or not isinstance(value, dict) or not isinstance(value.get("name"), str):
            continue
        if "name" not in value or _is_none_name(value["name"]) or "parameters" not in value:
            continue
        decoded.append({value["name"]: value["parameters"]})
    return decoded


def execute_calls(output: str) -> list[ToolCall]:
    """The calls ``decode_execute`` turns into Python call strings, as (name, arguments) pairs; raises
    ``ValueError`` where the handler raises (a name that is not a string, parameters that are not an
    object). Safe to render: nothing here is evaluated.

    >>> execute_calls('<tool_call>\\n{"name": "cd", "parameters": {"folder": "docs"}}\\n[1]\\n{"parameters": {}}\\n</tool_call>')
    [ToolCall(name='cd', arguments={'folder': 'docs'}), ToolCall(name='', arguments={})]
    >>> execute_calls('<tool_call>\\n{"name": 5}\\n</tool_call>')
    Traceback (most recent call last):
    ...
    ValueError: ToolRL's decode_execute raises on this output: call 1 has a name that is not a string
    """
    if CALL_OPEN not in output:
        return []
    calls = []
    values = [value for read, value in map(_json_value, _last_block_lines(output)) if read]
    for number, value in enumerate((v for v in values if isinstance(v, dict)), start=1):
        name, arguments = value.get("name", ""), value.get("parameters", {})
        if not isinstance(name, str):
            raise ValueError(f"ToolRL's decode_execute raises on this output: call {number} has a name that is not a string")
        if _is_none_name(name):
            continue
        if not isinstance(arguments, dict):
            raise ValueError(f"ToolRL's decode_execute raises on this output: call {number} has parameters that are not an object")
        calls.append(ToolCall(name, arguments))
    return calls


def decode_execute(output: str) -> list[str]:
    """The handler's ``decode_execute``: Python call strings (:func:`~verl_toolrl.tasks.episode.python_call`;
    raises ``ValueError`` where it raises)."""
    return [python_call(call) for call in execute_calls(output)]


def apibank_tool_calls(output: str) -> list[Any]:
    """The JSON values ``generate.py`` keeps from one output (see the module docstring).

    >>> apibank_tool_calls('<tool_call>\\n{"name": "f", "parameters": {}}\\n\\n[1, 2]\\nbad\\n</tool_call>')
    [{'name': 'f', 'parameters': {}}, [1, 2]]
    >>> apibank_tool_calls('{"date": "2023-03-11"}')
    [{'date': '2023-03-11'}]
    """
    kept = []
    for line in _last_block_lines(output.strip()):
        if line.strip() == "":
            continue
        read, value = _json_value(line)
        if read:
            kept.append(value)
    return kept


def _as_call(value: Any, gold_name: str) -> tuple[Any, Any]:
    """(name, parameters) of one kept value as ``evaluate.py`` reads it; raises where it raises."""
    if type(value) is str:  # evaluate.py reads a JSON string once more
        value = json.loads(value)
    if "name" not in value or "parameters" not in value:
        return gold_name, value
    return value["name"], value["parameters"]


def apibank_correct(tool_calls: Sequence[Any], gold: Sequence[ToolCall]) -> bool:
    """``evaluate.py``'s verdict for the values of :func:`apibank_tool_calls` against the gold calls.

    >>> gold = [ToolCall("f", {"x": 1})]
    >>> apibank_correct([{"x": 1}], gold), apibank_correct([{"name": "f", "parameters": {"x": True}}], gold)
    (True, True)
    >>> apibank_correct([7, {"name": "f", "parameters": {"x": 1}}], gold)
    False
    """
    want = gold[0]
    try:
        for value in tool_calls:
            name, parameters = _as_call(value, want.name)
            if name == want.name and parameters == want.arguments:
                return True
    except Exception:  # noqa: BLE001 - evaluate.py's bare except: the loop ends, the item is wrong
        return False
    return False
