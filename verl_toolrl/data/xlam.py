"""xLAM function-calling 60k (``Salesforce/xlam-function-calling-60k``) → samples.

A record is ``{"id", "query", "answers", "tools"}`` where ``answers`` and ``tools`` are JSON-encoded
strings (already-decoded lists are accepted too). One record is one single-turn sample: the query as
the user turn, the answers as the target calls, parallel calls kept in order. An empty answer list
(the irrelevance rows Hammer adds, ``answers == "[]"``) becomes a response-only target saying no tool
fits (:data:`NO_TOOL_RESPONSE`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from verl_toolrl.core.calls import CALL_NOT_OBJECT, CALL_WITHOUT_NAME, ToolCall, call_problem, describe_call_problem
from verl_toolrl.core.errors import BAD_JSON_FIELD, MISSING_FIELD, WRONG_TYPE, RecordError, field_of
from verl_toolrl.core.tools import tool_from_flat
from verl_toolrl.data.schema import Sample

HUB_NAME = "Salesforce/xlam-function-calling-60k"
SOURCE = "xlam"
#: The target response of a query no listed tool can serve (xLAM-layout irrelevance rows).
NO_TOOL_RESPONSE = "None of the available tools can be used to answer this request."


def json_field(record: Mapping[str, Any], key: str) -> list[Any]:
    """A field holding a JSON-encoded list (or the list itself), decoded.

    >>> json_field({"answers": '[{"name": "f", "arguments": {}}]'}, "answers")
    [{'name': 'f', 'arguments': {}}]
    """
    value = field_of(record, key, (str, list))
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise RecordError(key, BAD_JSON_FIELD, f"{error.msg} at character {error.pos}") from None
    if not isinstance(value, list):
        raise RecordError(key, WRONG_TYPE, f"expected a JSON list, got {type(value).__name__}")
    return value


def xlam_calls(answers: list[Any], field: str = "answers") -> tuple[ToolCall, ...]:
    """The calls of a decoded ``answers`` list, in order.

    >>> xlam_calls([{"name": "f", "arguments": {"x": 1}}, {"name": "f", "arguments": {"x": 2}}])
    (ToolCall(name='f', arguments={'x': 1}), ToolCall(name='f', arguments={'x': 2}))
    """
    calls = []
    for number, answer in enumerate(answers):
        path = f"{field}[{number}]"
        problem = call_problem(answer, "arguments")
        if problem == CALL_NOT_OBJECT:
            raise RecordError(path, WRONG_TYPE, f"the call {describe_call_problem(problem)}")
        if problem is not None:
            key = "name" if problem == CALL_WITHOUT_NAME else "arguments"
            code = MISSING_FIELD if answer.get(key) is None else WRONG_TYPE
            raise RecordError(f"{path}.{key}", code, f"the call {describe_call_problem(problem, 'arguments')}")
        calls.append(ToolCall(answer["name"], answer["arguments"]))
    return tuple(calls)


def xlam_sample(record: Any, row: int, source: str = SOURCE) -> Sample:
    """The sample of one xLAM-layout record (also used by ``hammer`` before masking).

    >>> record = {"id": 3, "query": "Roll a die", "answers": '[{"name": "roll", "arguments": {"sides": 6}}]',
    ...           "tools": '[{"name": "roll", "description": "Rolls.", '
    ...                    '"parameters": {"sides": {"type": "int", "description": "n"}}}]'}
    >>> s = xlam_sample(record, 0)
    >>> s.source_id, s.query, s.calls, s.tools[0]["parameters"]  # doctest: +NORMALIZE_WHITESPACE
    ('3', 'Roll a die', (ToolCall(name='roll', arguments={'sides': 6}),),
     {'sides': {'description': 'n', 'type': 'int', 'default': ''}})
    """
    query = field_of(record, "query", str)
    tools = tuple(tool_from_flat(tool, f"tools[{number}]") for number, tool in enumerate(json_field(record, "tools")))
    calls = xlam_calls(json_field(record, "answers"))
    record_id = record.get("id")
    return Sample(
        source=source,
        source_id=str(record_id if record_id is not None else row),
        tools=tools,
        turns=({"role": "user", "content": query},),
        calls=calls,
        response=None if calls else NO_TOOL_RESPONSE,
        row=row,
    )


def xlam_record_to_samples(record: Any, row: int) -> list[Sample]:
    """The converter of the ``xlam`` command: one sample per record."""
    return [xlam_sample(record, row)]
