"""API-Bank as ToolRL released it: its processed levels, their prompts and gold calls.

ToolRL released API-Bank levels as JSON lists of records ``{"system", "user", "answer", "other"}``
(``level-{1,2,3}-api_processed.json``). ``system`` and ``user`` ARE the prompt of both protocols (already
in the toolrl prompt format, ending with the instruction to make one tool call; ToolRL's
``benchmarks/API-Bank/generate.py`` sends exactly these two messages); ``answer`` is the gold call, one
``{"name", "parameters"}`` object (level 2 and 3) or a list of them (level 1).

Part of the benchmark layer (``verl_toolrl.tasks``): the data converters (``verl_toolrl.data``) and
the evaluation (``verl_toolrl.eval``) read the items from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import ToolCall, call_problem, describe_call_problem

LEVELS: tuple[int, ...] = (1, 2, 3)
_FILE_PATTERN = re.compile(r"level-(\d+)-api_processed\.json$")


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


def load_items(directory: str | Path, levels: Iterable[int] | None = None, limit: int | None = None) -> list[ApiBankItem]:
    """Items of the given levels (every level found in ``directory`` when None), level by level."""
    chosen = list(levels) if levels is not None else available_levels(directory)
    if not chosen:
        raise FileNotFoundError(f"no API-Bank level files (level-N-api_processed.json) in {directory}")
    return [item for level in chosen for item in load_level(directory, level, limit)]
