"""Bamboogle's items as ToolRL released them: ``data.json``, a JSON list of ``{"Question", "Answer"}``.

An item's id is its 0-based position in the file (ToolRL's script keys its results the same way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORY = "bamboogle"


@dataclass(frozen=True)
class BamboogleItem:
    """One question with its gold answer."""

    id: str
    question: str
    answer: str


def item_from_record(record: Any, row: int, path: str | Path = "<records>") -> BamboogleItem:
    """One record as an item; ``ValueError`` naming the file, row and field at fault.

    >>> item_from_record({"Question": "Who?", "Answer": "Ada"}, 3)
    BamboogleItem(id='3', question='Who?', answer='Ada')
    >>> item_from_record({"Question": "Who?"}, 4, "data.json")
    Traceback (most recent call last):
    ...
    ValueError: data.json, row 4, field 'Answer': missing or not a string
    """
    if not isinstance(record, dict):
        raise ValueError(f"{path}, row {row}: expected an object with Question and Answer, got {type(record).__name__}")
    for field in ("Question", "Answer"):
        if not isinstance(record.get(field), str):
            raise ValueError(f"{path}, row {row}, field {field!r}: missing or not a string")
    return BamboogleItem(str(row), record["Question"], record["Answer"])


def load_items(path: str | Path, limit: int | None = None) -> list[BamboogleItem]:
    """The first ``limit`` items (all when None) of a ``data.json``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no Bamboogle data file (ToolRL's benchmarks/Bamboogle/data.json)")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of records, got {type(records).__name__}")
    records = records if limit is None else records[:limit]
    return [item_from_record(record, row, path) for row, record in enumerate(records)]
