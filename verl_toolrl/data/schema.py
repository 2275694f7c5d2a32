"""The one row schema every data command writes, the ``Sample`` it is rendered from, and the parquet writer.

A row, in the layout verl's ``RLHFDataset`` and reward loop read:

========================  =============================================================================
``data_source``           the source dataset: ``toolace``, ``xlam``, ``hammer``, ``rlla``, ``bfcl``, ``apibank``
``prompt``                ``[system, user]`` chat messages (``verl_toolrl.core.prompts.chat_messages``)
``ability``               ``"tool_use"``
``reward_model``          ``style`` ``"rule"``; ``ground_truth``: the target in the row's output format
``extra_info``            ``split``, ``index`` (position in its split), ``source``, ``source_id`` (record id in
                          the source, ``/turn-N`` for one assistant turn of a dialogue), ``category`` (BFCL
                          category; ``""`` elsewhere), ``format`` (``toolrl``/``hermes``), ``tools`` (JSON of
                          the tool list exactly as the system prompt shows it), ``query`` (the last user
                          turn), ``gold_calls`` (JSON list of ``{"name", "arguments"}``), ``gold_response``
                          (the target's response text, or null)
========================  =============================================================================

Every row is checked before it is written (:func:`build_row`): the target only calls tools of its tool
list, its ground truth parses with ``verl_toolrl.core.calls.parse_response`` back to the same calls and
response, and the ground truth scored against itself gets the maximum reward of ``verl_toolrl.reward``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from verl_toolrl.core.calls import (
    CALL_WITHOUT_NAME,
    Format,
    ToolCall,
    call_problem,
    describe_call_problem,
    parse_response,
    render_output,
)
from verl_toolrl.core.errors import (
    BAD_GROUND_TRUTH,
    EMPTY_TARGET,
    UNKNOWN_TOOL,
    WRONG_TYPE,
    RecordError,
)
from verl_toolrl.core.prompts import chat_messages, default_think, template_tool_prompt
from verl_toolrl.core.tools import prompt_tools

ABILITY = "tool_use"
REWARD_STYLE = "rule"
SPLITS: tuple[str, ...] = ("train", "test")

_STRING = pa.string()
EXTRA_INFO_TYPE = pa.struct(
    [
        ("split", _STRING),
        ("index", pa.int64()),
        ("source", _STRING),
        ("source_id", _STRING),
        ("category", _STRING),
        ("format", _STRING),
        ("tools", _STRING),
        ("query", _STRING),
        ("gold_calls", _STRING),
        ("gold_response", _STRING),
    ]
)
#: The parquet schema of every file the data commands write.
ROW_SCHEMA = pa.schema(
    [
        ("data_source", _STRING),
        ("prompt", pa.list_(pa.struct([("role", _STRING), ("content", _STRING)]))),
        ("ability", _STRING),
        ("reward_model", pa.struct([("style", _STRING), ("ground_truth", _STRING)])),
        ("extra_info", EXTRA_INFO_TYPE),
    ]
)


@dataclass(frozen=True)
class Sample:
    """One training/validation example before rendering: the tools, the dialogue so far and the target.

    ``tools`` are package tool dicts (see ``verl_toolrl.core.tools``); ``turns`` are
    ``verl_toolrl.core.prompts.render_turn`` turns; the target is ``calls`` and/or ``response`` with ``think``
    (None: the default thought of ``prompts.default_think``). ``split`` empty means the command's default;
    ``row`` is the record's 0-based row in its input file (for error messages). ``messages``, when set,
    is a prompt built elsewhere (BFCL's by ``verl_toolrl.tasks.bfcl.single_turn``, API-Bank's released one) and
    used as it is; ``tools`` then holds the tool list exactly as that prompt shows it.
    """

    source: str
    source_id: str
    tools: tuple[dict[str, Any], ...]
    turns: tuple[dict[str, Any], ...]
    calls: tuple[ToolCall, ...] = ()
    response: str | None = None
    think: str | None = None
    category: str = ""
    split: str = ""
    row: int = -1
    messages: tuple[dict[str, str], ...] = ()

    @property
    def query(self) -> str:
        """The content of the last user turn ("" when there is none).

        >>> Sample("x", "0", (), ({"role": "user", "content": "Hi"},), response="Hello").query
        'Hi'
        """
        for turn in reversed(self.turns):
            if turn["role"] == "user":
                return turn["content"]
        return ""


def check_target(sample: Sample) -> None:
    """Raise :class:`RecordError` unless the target is non-empty and calls only listed tools with
    JSON-object arguments.

    >>> check_target(Sample("x", "0", ({"name": "f"},), (), calls=(ToolCall("g"),)))
    Traceback (most recent call last):
    ...
    verl_toolrl.core.errors.RecordError: field 'target.calls[0].name': unknown_tool: 'g' is not in the tool list (f)
    """
    if not sample.calls and sample.response is None:
        raise RecordError("target", EMPTY_TARGET, "the target has neither calls nor a response")
    names = {tool["name"] for tool in sample.tools}
    for number, call in enumerate(sample.calls):
        problem = call_problem({"name": call.name, "parameters": call.arguments})
        if problem is not None:
            field = "name" if problem == CALL_WITHOUT_NAME else "arguments"
            raise RecordError(
                f"target.calls[{number}].{field}", WRONG_TYPE, f"the call {describe_call_problem(problem)}"
            )
        if call.name not in names:
            listed = ", ".join(sorted(names)) or "no tools"
            raise RecordError(
                f"target.calls[{number}].name",
                UNKNOWN_TOOL,
                f"{call.name!r} is not in the tool list ({listed})",
            )
        if not all(isinstance(key, str) for key in call.arguments):
            raise RecordError(
                f"target.calls[{number}].arguments", WRONG_TYPE, "argument names must be strings (JSON object keys)"
            )


def render_ground_truth(sample: Sample, format: Format = "toolrl") -> str:
    """The target text of ``sample`` in ``format``.

    >>> print(render_ground_truth(Sample("x", "0", (), (), calls=(ToolCall("f", {"a": 1}),))))
    <think> I should use the appropriate tool with proper parameters to respond to the user's need. </think>
    <tool_call>
    {"name": "f", "parameters": {"a": 1}}
    </tool_call>
    """
    think = sample.think if sample.think is not None else default_think(sample.calls, sample.response)
    return render_output(think, sample.calls, sample.response, format)


def check_ground_truth(ground_truth: str, sample: Sample, format: Format = "toolrl") -> None:
    """Raise :class:`RecordError` (``bad_ground_truth``) unless ``ground_truth`` parses back to the
    sample's calls and response and scores the maximum reward against itself.

    >>> s = Sample("x", "0", ({"name": "f"},), (), calls=(ToolCall("f"),))
    >>> check_ground_truth(render_ground_truth(s), s)
    >>> check_ground_truth(render_ground_truth(s) + " extra", s)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    verl_toolrl.core.errors.RecordError: field 'reward_model.ground_truth': bad_ground_truth: the parser reads it as
    stray_text
    """
    from verl_toolrl.reward import compute_score, score_range  # the reward imports nothing from data

    where = "reward_model.ground_truth"
    parsed = parse_response(ground_truth, format)
    if not parsed.ok:
        raise RecordError(where, BAD_GROUND_TRUTH, f"the parser reads it as {parsed.located_reason}")
    if parsed.calls != tuple(sample.calls):
        raise RecordError(where, BAD_GROUND_TRUTH, "the parser reads other calls than the target's")
    expected_response = sample.response.strip() if sample.response is not None else None
    if parsed.response != expected_response:
        raise RecordError(where, BAD_GROUND_TRUTH, "the parser reads another response than the target's")
    try:
        score = compute_score(sample.source, ground_truth, ground_truth, format=format)["score"]
        best = score_range(ground_truth, format=format)[1]
    except ValueError as error:
        raise RecordError(where, BAD_GROUND_TRUTH, f"the reward rejects it: {error}") from None
    if score != best:
        raise RecordError(where, BAD_GROUND_TRUTH, f"it scores {score} against itself, not the maximum {best}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def sample_prompt(sample: Sample, format: Format = "toolrl") -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """A sample's tools (as ``extra_info.tools`` stores them) and its ``prompt`` messages in ``format``:
    its own messages when it has them, else the package's prompt for its tools and turns. The evaluation
    prompts API-Bank in the hermes format with this too, so both show the same prompt.

    >>> tools = ({"name": "f", "description": "Adds.", "parameters": {}},)
    >>> s = Sample("xlam", "7", tools, ({"role": "user", "content": "Add"},))
    >>> tools, prompt = sample_prompt(s, "hermes")
    >>> tools[0]["function"]["name"], [m["role"] for m in prompt]
    ('f', ['system', 'user'])
    """
    if sample.messages:
        return list(sample.tools), [{"role": m["role"], "content": m["content"]} for m in sample.messages]
    tools = prompt_tools(sample.tools, format)
    return tools, chat_messages(tools, sample.turns, format)


def build_row(sample: Sample, format: Format = "toolrl", split: str = "train") -> dict[str, Any]:
    """The parquet row for ``sample`` in ``format``, checked (see :func:`check_target`,
    :func:`check_ground_truth`). ``extra_info.index`` is set when the row is written.

    >>> s = Sample("xlam", "7", ({"name": "f", "description": "Adds.", "parameters": {}},),
    ...            ({"role": "user", "content": "Add"},), calls=(ToolCall("f"),))
    >>> row = build_row(s)
    >>> [m["role"] for m in row["prompt"]], row["extra_info"]["gold_calls"]
    (['system', 'user'], '[{"name": "f", "arguments": {}}]')
    """
    check_target(sample)
    ground_truth = render_ground_truth(sample, format)
    check_ground_truth(ground_truth, sample, format)
    tools, prompt = sample_prompt(sample, format)
    return {
        "data_source": sample.source,
        "prompt": prompt,
        "ability": ABILITY,
        "reward_model": {"style": REWARD_STYLE, "ground_truth": ground_truth},
        "extra_info": {
            "split": sample.split or split,
            "index": -1,
            "source": sample.source,
            "source_id": sample.source_id,
            "category": sample.category,
            "format": format,
            "tools": _json(tools),
            "query": sample.query,
            "gold_calls": _json([{"name": call.name, "arguments": call.arguments} for call in sample.calls]),
            "gold_response": sample.response.strip() if sample.response is not None else None,
        },
    }


def with_template_tools(row: Mapping[str, Any]) -> dict[str, Any]:
    """A hermes row for the ``toolrl_tool_template`` agent loop (``--tool-prompt template``): the system
    prompt no longer lists the tools (the model's own chat template lists ``extra_info.tools``, the same
    schemas), anything appended to it (BFCL's system message) is kept. Raises ``ValueError`` for a row whose
    system prompt does not start with the package's hermes prompt for its tools.

    >>> s = Sample("xlam", "7", ({"name": "f", "description": "Adds.", "parameters": {}},),
    ...            ({"role": "user", "content": "Add"},), calls=(ToolCall("f"),))
    >>> row = with_template_tools(build_row(s, "hermes"))
    >>> "<tools>" in row["prompt"][0]["content"], json.loads(row["extra_info"]["tools"])[0]["function"]["name"]
    (False, 'f')
    """
    info = row["extra_info"]
    try:
        if info["format"] != "hermes":
            raise ValueError(f"format {info['format']!r}")
        prompt, tools = template_tool_prompt(row["prompt"], json.loads(info["tools"]))
    except ValueError:
        raise ValueError(
            f"row {info['source_id']!r}: --tool-prompt template needs a --format hermes row whose "
            "system prompt lists its extra_info.tools"
        ) from None
    return {**row, "prompt": prompt, "extra_info": {**info, "tools": _json(tools)}}


def write_parquet(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, batch_rows: int = 2048) -> int:
    """Write ``rows`` (from :func:`build_row`) to ``path`` with ``extra_info.index`` set to each row's
    position; returns the number written. Same rows, same bytes: fixed schema, codec and row groups,
    no timestamps; the file appears atomically (written beside it, then renamed).

    >>> import tempfile, pyarrow.parquet as pq
    >>> s = Sample("xlam", "0", ({"name": "f"},), ({"role": "user", "content": "Go"},), calls=(ToolCall("f"),))
    >>> path = os.path.join(tempfile.mkdtemp(), "train.parquet")
    >>> written = write_parquet([build_row(s), build_row(s)], path)
    >>> written, pq.read_table(path).column("extra_info").to_pylist()[1]["index"]
    (2, 1)
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + ".partial"
    with pq.ParquetWriter(partial, ROW_SCHEMA, compression="zstd", compression_level=3) as writer:
        for start in range(0, len(rows), batch_rows):
            batch = []
            for index, row in enumerate(rows[start : start + batch_rows], start=start):
                batch.append({**row, "extra_info": {**row["extra_info"], "index": index}})
            writer.write_table(pa.Table.from_pylist(batch, schema=ROW_SCHEMA), row_group_size=batch_rows)
        if not rows:
            writer.write_table(ROW_SCHEMA.empty_table())
    os.replace(partial, path)
    return len(rows)


def splits_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by ``extra_info.split``, in order of first appearance.

    >>> list(splits_of([{"extra_info": {"split": "test"}}, {"extra_info": {"split": "train"}}]))
    ['test', 'train']
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["extra_info"]["split"], []).append(row)
    return groups
