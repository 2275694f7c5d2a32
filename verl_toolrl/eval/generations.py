"""The files of one evaluation run, and the generation file format.

A run's output directory holds:

- ``run.json``: what was run (benchmark, model, backend, format, categories, sampling, protocol) —
  :class:`RunInfo`;
- ``generations.jsonl``: one JSON object per line, ``{"id", "category", "messages", "output"}`` (and
  ``"tools"``, the schemas handed to the chat template, under ``--tool-prompt template``): the raw
  generation with the exact prompt it answered; written by ``generate``, only read by ``score``;
- ``item_scores.jsonl`` and ``scores.json``: written by ``score``; ``report.md`` and a chart by ``report``.

Reading is strict: a line that is not a JSON object, lacks a field, repeats an id, or holds a prompt other
than the one this run would send is an error naming the file and line (see :func:`read_generations` and
:func:`check_against`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
GENERATIONS_FILE = "generations.jsonl"
ITEM_SCORES_FILE = "item_scores.jsonl"
SCORES_FILE = "scores.json"
REPORT_FILE = "report.md"
CHART_FILE = "chart.png"


@dataclass(frozen=True)
class Generation:
    """One raw generation: the item's id and category, the chat messages sent, the text returned, and the
    tool schemas the chat template was given (None: none, the system prompt lists the tools)."""

    id: str
    category: str
    messages: list[dict[str, str]]
    output: str
    tools: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class RunInfo:
    """What a run generated with; ``score`` reads the format and the protocol from here.

    ``protocol``: ``toolrl`` or ``strict`` (``verl_toolrl.tasks.protocols``); a ``run.json`` written
    before protocols existed has none and was a ``strict`` run. ``tool_prompt``: ``system`` (the system
    prompt lists the tools) or ``template`` (hermes: the chat template does, ``prompts.TOOL_PROMPTS``).
    ``ids``: exactly these items of the categories (``--ids``, e.g. the held-out ids of the multi-turn
    training data); None: every item. ``options``: settings of one benchmark's own (Bamboogle:
    ``{"search": …}``, the search engine), None for the others.
    """

    benchmark: str
    model: str
    backend: str
    format: str
    categories: list[str]
    limit: int | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    protocol: str = "toolrl"
    tool_prompt: str = "system"
    ids: list[str] | None = None
    options: dict[str, Any] | None = None


def write_run_info(directory: str | Path, info: RunInfo) -> Path:
    path = Path(directory) / RUN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
    return path


def read_run_info(directory: str | Path) -> RunInfo:
    """The run's ``run.json``; a missing file or field is an error naming it."""
    path = Path(directory) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no run description; run `generate` into {directory} first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunInfo(**{"protocol": "strict", **data})
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{path}: not a run description ({error})") from error


def generation_line(generation: Generation) -> str:
    """One line of ``generations.jsonl``.

    >>> print(generation_line(Generation("a", "multiple", [{"role": "user", "content": "Hi"}], "<think> x </think>")))
    {"id": "a", "category": "multiple", "messages": [{"role": "user", "content": "Hi"}], "output": "<think> x </think>"}
    """
    data = asdict(generation)
    if data["tools"] is None:
        del data["tools"]
    return json.dumps(data, ensure_ascii=False)


def append_generations(path: str | Path, generations: Iterable[Generation]) -> int:
    """Append generations to a JSONL file (created if absent); returns how many were written."""
    written = 0
    with open(path, "a", encoding="utf-8") as handle:
        for generation in generations:
            handle.write(generation_line(generation) + "\n")
            written += 1
    return written


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    )


def generation_from(data: Any, where: str) -> Generation:
    """One parsed line as a :class:`Generation`; ``ValueError`` naming ``where`` and the field at fault.

    >>> generation_from({"id": "a", "category": "c", "messages": [], "output": "x"}, "f:1").output
    'x'
    >>> generation_from({"category": "c", "messages": [], "output": "x"}, "f:2")
    Traceback (most recent call last):
    ...
    ValueError: f:2: missing or empty 'id'
    """
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for name in ("id", "category"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise ValueError(f"{where}: missing or empty {name!r}")
    if not _is_messages(data.get("messages")):
        raise ValueError(f"{where}: 'messages' must be a list of {{role, content}} string objects")
    if not isinstance(data.get("output"), str):
        raise ValueError(f"{where}: 'output' must be a string")
    tools = data.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(tool, dict) for tool in tools)):
        raise ValueError(f"{where}: 'tools' must be a list of tool schema objects")
    return Generation(data["id"], data["category"], data["messages"], data["output"], tools)


def jsonl_lines(path: str | Path) -> Iterator[tuple[str, int, Any]]:
    """Each non-blank line of a JSONL file as ``(where, number, value)``: ``where`` (``path:number``) names
    it in errors, ``value`` is the line parsed; a line that is not JSON is a ``ValueError`` naming it.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.jsonl"
    >>> _ = path.write_text('{"id": "a"}\\n\\n[1]\\n')
    >>> [(number, value) for _, number, value in jsonl_lines(path)]
    [(1, {'id': 'a'}), (3, [1])]
    """
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not JSON ({error.msg} at column {error.colno})") from None
            yield where, number, value


def read_records_by_id(path: str | Path, check: Callable[[Any, str], None]) -> dict[str, dict[str, Any]]:
    """Every JSON object of a JSONL file by its ``id``, in file order, each passed to ``check(record, where)``
    (which raises ``ValueError`` naming ``where``) and stamped with its ``where``; a repeated id is an error.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.jsonl"
    >>> _ = path.write_text('{"id": "a"}\\n{"id": "a"}\\n')
    >>> read_records_by_id(path, lambda record, where: None)
    Traceback (most recent call last):
    ...
    ValueError: ...t.jsonl:2: id 'a' repeats line 1
    """
    records: dict[str, dict[str, Any]] = {}
    lines: dict[str, int] = {}
    for where, number, record in jsonl_lines(path):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ValueError(f"{where}: expected a JSON object with an 'id'")
        check(record, where)
        if record["id"] in lines:
            raise ValueError(f"{where}: id {record['id']!r} repeats line {lines[record['id']]}")
        lines[record["id"]], records[record["id"]] = number, {**record, "where": where}
    return records


def read_generations(path: str | Path) -> list[Generation]:
    """Every generation in a JSONL file, in order; blank lines are skipped, duplicates are an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no generations; run `generate` first")
    generations: list[Generation] = []
    seen: dict[str, int] = {}
    for where, number, data in jsonl_lines(path):
        generation = generation_from(data, where)
        if generation.id in seen:
            raise ValueError(f"{where}: id {generation.id!r} repeats line {seen[generation.id]}")
        seen[generation.id] = number
        generations.append(generation)
    return generations


def check_against(
    generations: Sequence[Generation],
    expected: Mapping[str, tuple[str, list[dict[str, str]]]],
    path: str | Path = GENERATIONS_FILE,
    tools: Mapping[str, list[dict[str, Any]]] | None = None,
) -> None:
    """Check generations against this run's items: ``expected`` maps id -> (category, prompt messages),
    ``tools`` id -> the tool schemas its chat template is given (an id not in it: none).

    The n-th generation is reported as line n of ``path`` (blank lines aside). Raises ``ValueError`` for an
    unknown id, a wrong category, or a prompt that differs from the one this run sends.

    >>> g = Generation("a", "c", [{"role": "user", "content": "Hi"}], "x")
    >>> check_against([g], {"a": ("c", [{"role": "user", "content": "Hi"}])})
    >>> check_against([g], {"a": ("c", [{"role": "user", "content": "Bye"}])})  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: generations.jsonl:1: the prompt of 'a' differs from this run's prompt for it
    (a generation file from another run, format or data version?)
    """
    for number, generation in enumerate(generations, start=1):
        where = f"{path}:{number}"
        if generation.id not in expected:
            raise ValueError(f"{where}: id {generation.id!r} is not an item of this run")
        category, messages = expected[generation.id]
        if generation.category != category:
            raise ValueError(
                f"{where}: id {generation.id!r} has category {generation.category!r}, expected {category!r}"
            )
        if generation.messages != messages or generation.tools != (tools or {}).get(generation.id):
            raise ValueError(
                f"{where}: the prompt of {generation.id!r} differs from this run's prompt for it "
                "(a generation file from another run, format or data version?)"
            )
