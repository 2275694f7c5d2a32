"""ToolRL's released data (``rlla_sft.json``, ``rlla_4k`` parquet) → samples in this package's schema.

Two layouts are read: the SFT JSON records ``{"instruction", "input", "output"}`` and verl parquet
rows ``{"prompt": [system, user], "reward_model": {"ground_truth"}, "extra_info": {"split", "index"}}``.
The tools are parsed out of the system prompt (``prompts.parse_toolrl_tools``) and the dialogue out
of the user message (``prompts.parse_history``); both must render back byte for byte, which makes
this converter the reference check of the prompt format. The target's calls and response are read
from the output after its ``</think>`` (the SFT outputs carry long reasoning that sometimes mentions
the tags) and re-rendered with the default thought, as in ToolRL's RL data. Parquet rows keep their
``extra_info.split``; SFT records go to ``train``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verl_toolrl.core.calls import THINK_CLOSE, THINK_OPEN, ToolCall, parse_response
from verl_toolrl.core.errors import BAD_LAYOUT, WRONG_TYPE, RecordError, field_of
from verl_toolrl.core.prompts import parse_history, parse_toolrl_tools
from verl_toolrl.core.tools import required_from_types
from verl_toolrl.data.schema import Sample

SOURCE = "rlla"


def released_target(text: str, field: str = "output") -> tuple[tuple[ToolCall, ...], str | None]:
    """(calls, response) of a released ToolRL output; the thought before the first ``</think>`` is
    ignored whatever it mentions.

    >>> released_target(
    ...     '<think> I put it in <tool_call> tags. </think>\\n'
    ...     '<tool_call>\\n{"name": "f", "parameters": {"a": 1}}\\n</tool_call>'
    ... )
    ((ToolCall(name='f', arguments={'a': 1}),), None)
    """
    end = text.find(THINK_CLOSE)
    if not text.lstrip().startswith(THINK_OPEN) or end < 0:
        raise RecordError(field, BAD_LAYOUT, "the output does not start with a <think> … </think> block")
    parsed = parse_response(f"{THINK_OPEN} - {text[end:]}", "toolrl")
    if not parsed.ok:
        raise RecordError(field, BAD_LAYOUT, f"the output after </think> does not parse ({parsed.located_reason})")
    return parsed.calls, parsed.response


def _tools(system: str, field: str) -> tuple[dict[str, Any], ...]:
    try:
        tools = parse_toolrl_tools(system)
    except ValueError as error:
        raise RecordError(field, BAD_LAYOUT, str(error)) from None
    return tuple({**tool, "required": required_from_types(tool["parameters"])} for tool in tools)


def _turns(text: str, field: str) -> tuple[dict[str, Any], ...]:
    try:
        return tuple(parse_history(text))
    except ValueError as error:
        raise RecordError(field, BAD_LAYOUT, str(error)) from None


def rlla_record_to_samples(record: Any, row: int) -> list[Sample]:
    """The converter of the ``rlla`` command: one sample per released record or row.

    >>> from verl_toolrl.core.prompts import system_prompt
    >>> record = {"instruction": system_prompt([{"name": "f", "description": "d", "parameters": {}}]),
    ...           "input": "**Dialogue Records History**\\n<user> Go </user>",
    ...           "output": '<think> sure </think>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n</tool_call>'}
    >>> [(s.source_id, s.query, s.calls, s.split) for s in rlla_record_to_samples(record, 3)]
    [('3', 'Go', (ToolCall(name='f', arguments={}),), '')]
    """
    if isinstance(record, Mapping) and "prompt" in record:
        messages = field_of(record, "prompt", list)
        if len(messages) != 2 or not all(isinstance(m, Mapping) for m in messages):
            raise RecordError("prompt", WRONG_TYPE, "expected [system, user] messages")
        system = field_of(messages[0], "content", str, "prompt[0].content")
        user = field_of(messages[1], "content", str, "prompt[1].content")
        reward_model = field_of(record, "reward_model", Mapping)
        output = field_of(reward_model, "ground_truth", str, "reward_model.ground_truth")
        extra = record.get("extra_info") or {}
        split, record_id = str(extra.get("split") or ""), extra.get("index", row)
        fields = ("prompt[0].content", "prompt[1].content", "reward_model.ground_truth")
    else:
        system = field_of(record, "instruction", str)
        user = field_of(record, "input", str)
        output = field_of(record, "output", str)
        split, record_id = "", row
        fields = ("instruction", "input", "output")
    tools, turns = _tools(system, fields[0]), _turns(user, fields[1])
    calls, response = released_target(output, fields[2])
    return [Sample(SOURCE, str(record_id), tools, turns, calls, response, split=split, row=row)]
