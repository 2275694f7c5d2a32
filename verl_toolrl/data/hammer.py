"""Hammer's function masking (arXiv 2410.04587) over xLAM-layout records → samples.

Models trained on real function and parameter names lean on the names as lexical cues; Hammer
replaces them with random strings so that the model must read the descriptions. Here, for each sample
(seeded by ``seed`` and the record id, so a record is masked the same way whatever else is converted):

1. the tool list is deduplicated by name (the first entry kept), as Hammer's code does;
2. every function name becomes a random string of 5–15 characters of ``[A-Za-z0-9_.]``, and every
   parameter name one of 4–10 characters, distinct within the sample and within the tool;
3. the same renaming is applied to the target calls and to every call and tool result of the history
   (``[{"name": …}]`` observations), so the sample stays consistent; a call to an unlisted tool or with
   an undeclared argument is an error (it could not be renamed consistently);
4. the tool order is shuffled.

Descriptions, types, defaults and the query are kept; Hammer's default-value rewriting and its
probability-2/3 masking are not reproduced (every sample is masked). Records already in Hammer's
processed SFT layout (``instruction`` with ``[BEGIN OF AVAILABLE TOOLS]``, ``output`` with the answer
list, e.g. its ``masking_sft_data_example.json``) are read as they are, already masked.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from verl_toolrl.calls import ToolCall
from verl_toolrl.data.errors import (
    BAD_JSON,
    BAD_LAYOUT,
    UNKNOWN_PARAMETER,
    UNKNOWN_TOOL,
    RecordError,
    field_of,
)
from verl_toolrl.data.schema import Sample
from verl_toolrl.data.tools import tool_from_flat
from verl_toolrl.data.xlam import NO_TOOL_RESPONSE, xlam_calls, xlam_sample

HUB_NAME = "Salesforce/xlam-function-calling-60k"
SOURCE = "hammer"
NAME_ALPHABET = string.ascii_letters + string.digits + "_."
FUNCTION_NAME_LENGTH = (5, 15)
PARAMETER_NAME_LENGTH = (4, 10)

TOOLS_OPEN, TOOLS_CLOSE = "[BEGIN OF AVAILABLE TOOLS]\n", "\n[END OF AVAILABLE TOOLS]"
QUERY_OPEN, QUERY_CLOSE = "[BEGIN OF QUERY]\n", "\n[END OF QUERY]"


def sample_rng(seed: int, source_id: str) -> random.Random:
    """The random generator of one sample: fixed by the run's seed and the record's id.

    >>> sample_rng(0, "7").random() == sample_rng(0, "7").random() != sample_rng(1, "7").random()
    True
    """
    return random.Random(f"hammer:{seed}:{source_id}")


def random_name(rng: random.Random, lengths: tuple[int, int], taken: set[str]) -> str:
    """A new random name of ``lengths`` (inclusive) characters of ``NAME_ALPHABET``, not in ``taken`` (added).

    >>> taken = set(); name = random_name(random.Random(0), FUNCTION_NAME_LENGTH, taken)
    >>> 5 <= len(name) <= 15 and set(name) <= set(NAME_ALPHABET) and taken == {name}
    True
    """
    while True:
        name = "".join(rng.choices(NAME_ALPHABET, k=rng.randint(*lengths)))
        if name not in taken:
            taken.add(name)
            return name


class _Masking:
    """The renaming of one sample: function names, and parameter names per (original) function."""

    def __init__(self, tools: tuple[dict[str, Any], ...], rng: random.Random):
        self.functions: dict[str, str] = {}
        self.parameters: dict[str, dict[str, str]] = {}
        taken: set[str] = set()
        for tool in tools:
            self.functions[tool["name"]] = random_name(rng, FUNCTION_NAME_LENGTH, taken)
            keys: set[str] = set()
            self.parameters[tool["name"]] = {
                key: random_name(rng, PARAMETER_NAME_LENGTH, keys) for key in tool["parameters"]
            }

    def tool(self, tool: dict[str, Any]) -> dict[str, Any]:
        keys = self.parameters[tool["name"]]
        return {
            **tool,
            "name": self.functions[tool["name"]],
            "parameters": {keys[key]: spec for key, spec in tool["parameters"].items()},
            "required": [keys[key] for key in tool.get("required", ()) if key in keys],
        }

    def call(self, call: ToolCall, field: str) -> ToolCall:
        if call.name not in self.functions:
            raise RecordError(f"{field}.name", UNKNOWN_TOOL, f"{call.name!r} is not in the tool list")
        keys = self.parameters[call.name]
        for key in call.arguments:
            if key not in keys:
                raise RecordError(
                    f"{field}.arguments.{key}",
                    UNKNOWN_PARAMETER,
                    f"{call.name!r} declares no parameter {key!r}",
                )
        return ToolCall(
            self.functions[call.name], {keys[key]: value for key, value in call.arguments.items()}
        )

    def observation(self, content: str) -> str:
        try:
            results = json.loads(content)
        except json.JSONDecodeError:
            return content
        if not isinstance(results, list):
            return content
        renamed = [
            {**item, "name": self.functions.get(item["name"], item["name"])}
            if isinstance(item, dict) and isinstance(item.get("name"), str)
            else item
            for item in results
        ]
        return json.dumps(renamed, ensure_ascii=False)


def mask_sample(sample: Sample, rng: random.Random) -> Sample:
    """``sample`` with masked function and parameter names, consistently in the tool list, the target
    and the history; the tool list deduplicated by name and shuffled. Source becomes ``hammer``.

    >>> tools = ({"name": "get_weather", "description": "Weather now.", "parameters": {"city": {"type": "str"}}, "required": ["city"]},)
    >>> s = Sample("xlam", "1", tools, ({"role": "user", "content": "Paris?"},), calls=(ToolCall("get_weather", {"city": "Paris"}),))
    >>> m = mask_sample(s, random.Random(0))
    >>> m.calls[0].name == m.tools[0]["name"] != "get_weather", list(m.calls[0].arguments) == list(m.tools[0]["parameters"]) == m.tools[0]["required"]
    (True, True)
    >>> m.calls[0].arguments[m.tools[0]["required"][0]], m.tools[0]["description"]
    ('Paris', 'Weather now.')
    """
    unique: dict[str, dict[str, Any]] = {}
    for tool in sample.tools:
        unique.setdefault(tool["name"], tool)
    tools = tuple(unique.values())
    masking = _Masking(tools, rng)
    masked_tools = [masking.tool(tool) for tool in tools]
    rng.shuffle(masked_tools)
    turns = []
    for number, turn in enumerate(sample.turns):
        if turn["role"] == "assistant":
            calls = [
                masking.call(
                    call if isinstance(call, ToolCall) else ToolCall(**call),
                    f"turns[{number}].calls[{index}]",
                )
                for index, call in enumerate(turn.get("calls", ()))
            ]
            turn = {**turn, "calls": calls}
        elif turn["role"] == "tool":
            turn = {**turn, "content": masking.observation(turn["content"])}
        turns.append(turn)
    calls = tuple(masking.call(call, f"target.calls[{index}]") for index, call in enumerate(sample.calls))
    return replace(sample, source=SOURCE, tools=tuple(masked_tools), turns=tuple(turns), calls=calls)


def _between(text: str, opener: str, closer: str, field: str) -> str:
    start = text.find(opener)
    end = text.find(closer, start + len(opener)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise RecordError(field, BAD_LAYOUT, f"no text between {opener.strip()!r} and {closer.strip()!r}")
    return text[start + len(opener) : end]


def _decoded(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(field, BAD_JSON, f"{error.msg} at character {error.pos}") from None


def hammer_processed_sample(record: Mapping[str, Any], row: int) -> Sample:
    """A record of Hammer's processed (already masked) SFT layout.

    >>> record = {"instruction": '[BEGIN OF AVAILABLE TOOLS]\\n[{"name": "x1Y.z", "description": "Adds.", "parameters": {"q9Za": {"type": "int"}}}]\\n[END OF AVAILABLE TOOLS]\\n\\n[BEGIN OF QUERY]\\nAdd 2\\n[END OF QUERY]\\n\\n',
    ...           "input": "", "output": '```\\n[{"name": "x1Y.z", "arguments": {"q9Za": 2}}]\\n```'}
    >>> s = hammer_processed_sample(record, 0)
    >>> s.query, s.calls
    ('Add 2', (ToolCall(name='x1Y.z', arguments={'q9Za': 2}),))
    """
    instruction = field_of(record, "instruction", str)
    output = field_of(record, "output", str).strip()
    tools = _decoded(_between(instruction, TOOLS_OPEN, TOOLS_CLOSE, "instruction"), "instruction")
    if not isinstance(tools, list):
        raise RecordError("instruction", BAD_LAYOUT, "the tool list is not a JSON list")
    query = _between(instruction, QUERY_OPEN, QUERY_CLOSE, "instruction")
    if not (output.startswith("```") and output.endswith("```") and len(output) >= 6):
        raise RecordError("output", BAD_LAYOUT, "the answer is not a ``` fenced JSON list")
    answers = _decoded(output[3:-3].strip(), "output")
    if not isinstance(answers, list):
        raise RecordError("output", BAD_LAYOUT, "the answer is not a JSON list")
    calls = xlam_calls(answers, "output")
    return Sample(
        source=SOURCE,
        source_id=str(record.get("id", row)),
        tools=tuple(
            tool_from_flat(tool, f"instruction.tools[{number}]") for number, tool in enumerate(tools)
        ),
        turns=({"role": "user", "content": query},),
        calls=calls,
        response=None if calls else NO_TOOL_RESPONSE,
        row=row,
    )


def hammer_converter(seed: int) -> Callable[[Any, int], list[Sample]]:
    """The converter of the ``hammer`` command: xLAM-layout records masked with ``seed``; records in
    Hammer's processed layout read as they are.

    >>> convert = hammer_converter(0)
    >>> record = {"id": 5, "query": "Hi", "answers": "[]", "tools": '[{"name": "f", "description": "d", "parameters": {}}]'}
    >>> [(s.source, s.tools[0]["name"] != "f", s.response is not None) for s in convert(record, 0)]
    [('hammer', True, True)]
    """

    def convert(record: Any, row: int) -> list[Sample]:
        if isinstance(record, Mapping) and "instruction" in record and "query" not in record:
            return [hammer_processed_sample(record, row)]
        sample = xlam_sample(record, row)
        return [mask_sample(sample, sample_rng(seed, sample.source_id))]

    return convert
