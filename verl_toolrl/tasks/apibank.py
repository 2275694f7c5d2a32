"""API-Bank as ToolRL released it: its processed levels, their prompts and gold calls.

ToolRL released API-Bank levels as JSON lists of records ``{"system", "user", "answer", "other"}``
(``level-{1,2,3}-api_processed.json``). ``system`` and ``user`` ARE the prompt of both protocols (already
in the toolrl prompt format, ending with the instruction to make one tool call; ToolRL's
``benchmarks/API-Bank/generate.py`` sends exactly these two messages); ``answer`` is the gold call, one
``{"name", "parameters"}`` object (level 2 and 3) or a list of them (level 1).

In the ``hermes`` format the prompt is rebuilt (:func:`item_prompt`): the tools are read out of the
released system prompt (:func:`apibank_tools`; their parameters are Python reprs) and the dialogue out of
the released user message (:func:`apibank_turns`: ``<user>``, ``<response>``, ``<tool_call>``, ``<obs>``
blocks), then rendered with ``verl_toolrl.core.prompts``. The released prompt's quirks are kept in the
``toolrl`` format (level 2 says ``***Dialogue Records History**``).

Part of the benchmark layer (``verl_toolrl.tasks``): the data converters (``verl_toolrl.data``) and
the evaluation (``verl_toolrl.eval``) read the items and their prompts from here.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import (
    CALL_CLOSE,
    CALL_OPEN,
    Format,
    ToolCall,
    call_problem,
    describe_call_problem,
    parse_response,
)
from verl_toolrl.core.errors import BAD_LAYOUT, RecordError
from verl_toolrl.core.prompts import (
    TOOLRL_TOOLS_HEADER,
    chat_messages,
    check_tool_prompt,
    default_think,
    history_blocks,
    template_tool_prompt,
    tool_listing_entries,
)
from verl_toolrl.core.tools import prompt_tools, tool_from_flat

LEVELS: tuple[int, ...] = (1, 2, 3)
_FILE_PATTERN = re.compile(r"level-(\d+)-api_processed\.json$")
_LISTING_END = "\n\n**Steps for Each Turn**"  # what follows the tool listing of a released system prompt


@dataclass(frozen=True)
class ApiBankItem:
    """One API-Bank record: ``id`` is ``level-{level}-{row}`` (row: 0-based position in the file)."""

    id: str
    level: int
    messages: list[dict[str, str]]
    gold: list[ToolCall]
    source: dict[str, Any]


def level_file(directory: str | Path, level: int) -> Path:
    """The file holding one level.

    >>> level_file("api_bank", 2).name
    'level-2-api_processed.json'
    """
    return Path(directory) / f"level-{level}-api_processed.json"


def available_levels(directory: str | Path) -> list[int]:
    """The levels whose files are in ``directory``, ascending."""
    return sorted(int(m.group(1)) for p in Path(directory).iterdir() if (m := _FILE_PATTERN.search(p.name)))


def _gold_call(value: Any, where: str) -> ToolCall:
    call = {"parameters": {}, **value} if isinstance(value, dict) else value  # parameters may be left out
    problem = call_problem(call, "parameters")
    if problem is not None:
        raise ValueError(f"{where}: the gold call {describe_call_problem(problem)}, got {value!r:.120}")
    return ToolCall(call["name"], call["parameters"])


def item_from_record(record: Any, level: int, row: int, path: str | Path = "<records>") -> ApiBankItem:
    """One processed record as an item; raises ``ValueError`` naming the file, row and field at fault.

    >>> record = {"system": "S", "user": "U", "answer": {"name": "f", "parameters": {"x": "1"}}, "other": {}}
    >>> item = item_from_record(record, level=2, row=0)
    >>> item.id, item.gold, [m["role"] for m in item.messages]
    ('level-2-0', [ToolCall(name='f', arguments={'x': '1'})], ['system', 'user'])
    """
    where = f"{path}, row {row}"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected an object with system/user/answer, got {type(record).__name__}")
    for field in ("system", "user"):
        if not isinstance(record.get(field), str):
            raise ValueError(f"{where}, field {field!r}: missing or not a string")
    if "answer" not in record:
        raise ValueError(f"{where}, field 'answer': missing")
    answer = record["answer"]
    answers = answer if isinstance(answer, list) else [answer]
    if not answers:
        raise ValueError(f"{where}, field 'answer': no gold call")
    gold = [_gold_call(value, f"{where}, field 'answer'") for value in answers]
    return ApiBankItem(
        id=f"level-{level}-{row}",
        level=level,
        messages=[{"role": "system", "content": record["system"]}, {"role": "user", "content": record["user"]}],
        gold=gold,
        source=record.get("other") or {},
    )


def load_level(directory: str | Path, level: int, limit: int | None = None) -> list[ApiBankItem]:
    """The first ``limit`` items (all when None) of one level."""
    path = level_file(directory, level)
    if not path.is_file():
        raise FileNotFoundError(f"API-Bank level {level}: no file {path}")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from error
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of records, got {type(records).__name__}")
    records = records if limit is None else records[:limit]
    return [item_from_record(record, level, row, path) for row, record in enumerate(records)]


def load_items(
    directory: str | Path, levels: Iterable[int] | None = None, limit: int | None = None
) -> list[ApiBankItem]:
    """Items of the given levels (every level found in ``directory`` when None), level by level."""
    chosen = list(levels) if levels is not None else available_levels(directory)
    if not chosen:
        raise FileNotFoundError(f"no API-Bank level files (level-N-api_processed.json) in {directory}")
    return [item for level in chosen for item in load_level(directory, level, limit)]


def apibank_tools(system: str, field: str = "system") -> tuple[dict[str, Any], ...]:
    """The tools of a released API-Bank system prompt (parameters written as Python reprs).

    >>> system = ("**Available Tools**\\nIn your response, you can use the following tools:\\n"
    ...           "1. Name: Add\\nDescription: Adds.\\nParameters: {'a': {'type': 'int', 'description': 'x'}}\\n\\n"
    ...           "**Steps for Each Turn**\\n")
    >>> apibank_tools(system)[0]["parameters"]
    {'a': {'description': 'x', 'type': 'int', 'default': ''}}
    """
    start, end = system.find(TOOLRL_TOOLS_HEADER), system.find(_LISTING_END)
    if start < 0 or end < start:
        raise RecordError(field, BAD_LAYOUT, "no '**Available Tools**' listing before '**Steps for Each Turn**'")
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

    >>> turns = apibank_turns('**Dialogue Records History**\\n<user>Hi</user>\\n<response>Hello</response>\\n'
    ...                       '<tool_call>\\n{"name": "f", "parameters": {}}\\n</tool_call>\\n<obs> ok </obs>\\n\\n'
    ...                       '<user> Go.</user>\\n')
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
        if not turns or turns[-1]["role"] != "assistant" or (tag == "response" and turns[-1]["response"] is not None):
            turns.append({"role": "assistant", "think": "", "calls": [], "response": None})
        if tag == "response":
            turns[-1]["response"] = body
        else:
            block = parse_response(f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}")  # the one grammar of calls
            if not block.calls_ok:
                raise RecordError(
                    field, BAD_LAYOUT, f"a history call is not a JSON call ({block.located_reason}): {body[:80]!r}"
                )
            turns[-1]["calls"].extend(block.calls)
    for turn in turns:
        if turn["role"] == "assistant":
            turn["think"] = default_think(turn["calls"], turn["response"])
    if not turns or turns[-1]["role"] != "user":
        raise RecordError(field, BAD_LAYOUT, "the dialogue does not end with a user turn")
    return tuple(turns)


def item_prompt(
    item: ApiBankItem, format: Format = "toolrl", tool_prompt: str = "system"
) -> tuple[list[dict[str, str]], list[dict[str, Any]] | None]:
    """An item's prompt in ``format``: its messages, and the tool schemas its chat template lists (None
    unless ``tool_prompt`` is ``template``). In the toolrl format the released messages; in the hermes format
    the tools and dialogue read out of them and rendered (the validation rows' prompt, built by the data
    command from the same reading), with ``--tool-prompt template`` rewritten by
    ``prompts.template_tool_prompt``. ``ValueError`` naming the item when its released prompt cannot be read.

    >>> system = ("**Available Tools**\\nIn your response, you can use the following tools:\\n"
    ...           "1. Name: f\\nDescription: d\\nParameters: {}\\n\\n**Steps for Each Turn**\\n")
    >>> record = {"system": system, "user": "<user> Go.</user>", "answer": [{"name": "f", "parameters": {}}]}
    >>> item = item_from_record(record, 2, 0)
    >>> item_prompt(item)[0] == item.messages
    True
    >>> messages, tools = item_prompt(item, "hermes", "template")
    >>> "<tools>" in messages[0]["content"], tools[0]["function"]["name"]
    (False, 'f')
    """
    check_tool_prompt(tool_prompt, format)
    if format == "toolrl":
        return item.messages, None
    system, user = item.messages[0]["content"], item.messages[1]["content"]
    try:
        tools = prompt_tools(apibank_tools(system), format)
        messages = chat_messages(tools, apibank_turns(user), format)
    except ValueError as error:
        raise ValueError(
            f"API-Bank item {item.id}: its released prompt cannot be read in the {format} format: {error}"
        ) from None
    if tool_prompt == "system":
        return messages, None
    return template_tool_prompt(messages, tools)
