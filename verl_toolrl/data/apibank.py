"""API-Bank (ToolRL's processed levels) → validation samples, through the evaluation's own loader.

Items come from the benchmark layer, ``verl_toolrl.tasks.apibank`` (``level-N-api_processed.json``). In the ``toolrl`` format
the prompt is ToolRL's released one, verbatim, as the evaluation uses it (its quirks included: the
tools' parameters are Python reprs, level 2 says ``***Dialogue Records History**``). In the ``hermes``
format the prompt is rebuilt: the tools are read out of the released system prompt and the dialogue
out of the released user message (``<user>``, ``<response>``, ``<tool_call>``, ``<obs>`` blocks), then
rendered with ``verl_toolrl.core.prompts``.
"""

from __future__ import annotations

import ast
from typing import Any

from verl_toolrl.tasks.apibank import ApiBankItem
from verl_toolrl.core.calls import CALL_CLOSE, CALL_OPEN, Format, parse_response
from verl_toolrl.data.errors import BAD_LAYOUT, RecordError
from verl_toolrl.data.schema import Sample
from verl_toolrl.data.tools import tool_from_flat
from verl_toolrl.core.prompts import TOOLRL_TOOLS_HEADER, default_think, history_blocks, tool_listing_entries

SOURCE = "apibank"
_LISTING_END = "\n\n**Steps for Each Turn**"


def apibank_tools(system: str, field: str = "system") -> tuple[dict[str, Any], ...]:
    """The tools of a released API-Bank system prompt (parameters written as Python reprs).

    >>> system = "**Available Tools**\\nIn your response, you can use the following tools:\\n1. Name: Add\\nDescription: Adds.\\nParameters: {'a': {'type': 'int', 'description': 'x'}}\\n\\n**Steps for Each Turn**\\n"
    >>> apibank_tools(system)[0]["parameters"]
    {'a': {'description': 'x', 'type': 'int', 'default': ''}}
    """
    start, end = system.find(TOOLRL_TOOLS_HEADER), system.find(_LISTING_END)
    if start < 0 or end < start:
        raise RecordError(
            field, BAD_LAYOUT, "no '**Available Tools**' listing before '**Steps for Each Turn**'"
        )
    listing = system[start + len(TOOLRL_TOOLS_HEADER) : end]
    tools = []
    for number, (name, description, parameters) in enumerate(tool_listing_entries(listing), start=1):
        try:
            value = ast.literal_eval(parameters)
        except (ValueError, SyntaxError):
            raise RecordError(
                f"{field}.tools[{number - 1}]", BAD_LAYOUT, "parameters are not a Python literal"
            ) from None
        raw = {"name": name, "description": description, "parameters": value}
        tools.append(tool_from_flat(raw, f"{field}.tools[{number - 1}]"))
    return tuple(tools)


def apibank_turns(user: str, field: str = "user") -> tuple[dict[str, Any], ...]:
    """The dialogue of a released API-Bank user message; the last user turn (the instruction to make one
    tool call) is kept. Consecutive blocks of the assistant form one assistant turn.

    >>> turns = apibank_turns('**Dialogue Records History**\\n<user>Hi</user>\\n<response>Hello</response>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n</tool_call>\\n<obs> ok </obs>\\n\\n<user> Go.</user>\\n')
    >>> [(t["role"], t.get("content") or t.get("response")) for t in turns]
    [('user', 'Hi'), ('assistant', 'Hello'), ('tool', 'ok'), ('user', 'Go.')]
    >>> turns[1]["calls"]
    [ToolCall(name='f', arguments={})]
    """
    turns: list[dict[str, Any]] = []
    for tag, body in history_blocks(user):
        if tag in ("user", "obs"):
            turns.append({"role": "user" if tag == "user" else "tool", "content": body})
            continue
        if (
            not turns
            or turns[-1]["role"] != "assistant"
            or (tag == "response" and turns[-1]["response"] is not None)
        ):
            turns.append({"role": "assistant", "think": "", "calls": [], "response": None})
        if tag == "response":
            turns[-1]["response"] = body
        else:
            block = parse_response(f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}")  # the one grammar of calls
            if not block.calls_ok:
                raise RecordError(field, BAD_LAYOUT, f"a history call is not a JSON call ({block.located_reason}): {body[:80]!r}")
            turns[-1]["calls"].extend(block.calls)
    for turn in turns:
        if turn["role"] == "assistant":
            turn["think"] = default_think(turn["calls"], turn["response"])
    if not turns or turns[-1]["role"] != "user":
        raise RecordError(field, BAD_LAYOUT, "the dialogue does not end with a user turn")
    return tuple(turns)


def apibank_sample(item: ApiBankItem, format: Format = "toolrl", row: int = -1) -> Sample:
    """The validation sample of one ``benchmarks.apibank.ApiBankItem``.

    >>> from verl_toolrl.tasks.apibank import item_from_record
    >>> system = "**Available Tools**\\nIn your response, you can use the following tools:\\n1. Name: f\\nDescription: d\\nParameters: {}\\n\\n**Steps for Each Turn**\\n"
    >>> item = item_from_record({"system": system, "user": "<user> Go.</user>", "answer": [{"name": "f", "parameters": {}}]}, 2, 0)
    >>> s = apibank_sample(item)
    >>> s.source_id, s.category, s.query, s.messages[1]["content"]
    ('level-2-0', 'level-2', 'Go.', '<user> Go.</user>')
    """
    system, user = item.messages[0]["content"], item.messages[1]["content"]
    tools, turns = apibank_tools(system), apibank_turns(user)
    return Sample(
        source=SOURCE,
        source_id=item.id,
        tools=tools,
        turns=turns,
        calls=tuple(item.gold),
        category=f"level-{item.level}",
        split="test",
        row=row,
        messages=tuple(item.messages) if format == "toolrl" else (),
    )
