"""Hammer's function masking (arXiv 2410.04587) over xLAM-layout records → samples.

Models trained on real function and parameter names lean on the names as lexical cues; Hammer
replaces them with random strings so that the model must read the descriptions. The rules below follow
Hammer's own data script, ``train/data_processing.py`` of ``MadeAgents/Hammer`` (commit ff415d9), cited
by line; each sample is seeded by ``seed`` and the record id, so a record is masked the same way whatever
else is converted (Hammer draws from one global ``random.seed(12)`` stream instead, lines 9 and 280).

``masking="hammer"`` (the default, as published):

1. a sample is masked with probability 2/3 and kept as it is otherwise (line 283,
   ``if random.random() > 1/3``, "Masking ratio p=1-1/3=0.67"; line 286 keeps the rest);
2. the tool list is deduplicated by name, the first entry kept (lines 71-78, 108-115);
3. every function name becomes a random string of 5–15 characters and every parameter name one of 4–10,
   drawn from letters, digits, ``_`` and ``.`` (lines 104, 119; 69, 88), distinct within the sample and
   within the tool (Hammer does not check collisions);
4. the same renaming is applied to the target calls (lines 90-93, 121-124) and here also to every call
   and tool result of the history (``[{"name": …}]`` observations), so the sample stays consistent; a
   call to an unlisted tool or with an undeclared argument is an error;
5. the tool order is shuffled (lines 96, 130);
6. parameter defaults are rewritten (``replace_param_default_values_news``, lines 160-218): a default
   (not a list, not empty, line 180-183) that a target call of its tool passes as its value (compared as
   strings, line 190) becomes a new random value (``generate_random_value``, lines 137-145: an int plus
   1–4, a float plus ``random()``, a string 5 random characters); the new value replaces the old one in
   the tool's default, in its description (line 205), in the call arguments equal to it (lines 209-211),
   and in the user query, also capitalised, lower- and upper-cased (lines 146-153, 213).

Two deliberate departures, both to keep every row well formed: Hammer re-adds random copies of the
deduplicated tools when the record listed a name twice (lines 94-95, 128-129), which would show the same
tool twice in a prompt; here the list stays deduplicated. And it adds ``random()`` to a boolean default
(line 142, ``type(True) != int``), making it a float; here booleans keep their default.

``masking="full"`` is the earlier behaviour: every sample masked (rules 2-5), defaults left alone.

Records already in Hammer's processed SFT layout (``instruction`` with ``[BEGIN OF AVAILABLE TOOLS]``,
``output`` with the answer list, e.g. its ``masking_sft_data_example.json``) are read as they are,
already masked.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from verl_toolrl.core.calls import ToolCall
from verl_toolrl.core.errors import (
    BAD_JSON_FIELD,
    BAD_LAYOUT,
    UNKNOWN_PARAMETER,
    UNKNOWN_TOOL,
    RecordError,
    field_of,
)
from verl_toolrl.core.tools import tool_from_flat
from verl_toolrl.data.schema import Sample
from verl_toolrl.data.xlam import NO_TOOL_RESPONSE, xlam_calls, xlam_sample

HUB_NAME = "Salesforce/xlam-function-calling-60k"
SOURCE = "hammer"
NAME_ALPHABET = string.ascii_letters + string.digits + "_."
FUNCTION_NAME_LENGTH = (5, 15)  # data_processing.py:119
PARAMETER_NAME_LENGTH = (4, 10)  # data_processing.py:88
MASK_PROBABILITY = 2 / 3  # data_processing.py:283, masked when random() > 1/3
DEFAULT_STRING_LENGTH = 5  # data_processing.py:145
INT_DEFAULT_STEP = (1, 4)  # data_processing.py:140
MASKINGS: tuple[str, ...] = ("hammer", "full")

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
        return ToolCall(self.functions[call.name], {keys[key]: value for key, value in call.arguments.items()})

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

    >>> tools = ({"name": "get_weather", "description": "Weather now.", "parameters": {"city": {"type": "str"}},
    ...           "required": ["city"]},)
    >>> s = Sample("xlam", "1", tools, ({"role": "user", "content": "Paris?"},),
    ...            calls=(ToolCall("get_weather", {"city": "Paris"}),))
    >>> m = mask_sample(s, random.Random(0))
    >>> (m.calls[0].name == m.tools[0]["name"] != "get_weather",
    ...  list(m.calls[0].arguments) == list(m.tools[0]["parameters"]) == m.tools[0]["required"])
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


def new_default(value: Any, rng: random.Random) -> Any:
    """Hammer's replacement for a parameter default (``generate_random_value``, data_processing.py:137-145):
    an int plus 1–4, a float plus ``random()``, a string of 5 random characters; None for anything else
    (booleans, lists, objects: left alone).

    >>> rng = random.Random(0)
    >>> new_default(7, rng) in range(8, 12), 0.5 < new_default(0.5, rng) < 1.5, len(new_default("json", rng))
    (True, True, 5)
    >>> new_default(True, rng) is None and new_default([1], rng) is None
    True
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value + rng.randint(*INT_DEFAULT_STEP)
    if isinstance(value, float):
        return value + rng.random()
    if isinstance(value, str):
        return "".join(rng.choice(NAME_ALPHABET) for _ in range(DEFAULT_STRING_LENGTH))
    return None


def replace_in_query(query: str, old: Any, new: Any) -> str:
    """``old`` replaced by ``new`` as is, capitalised, lower- and upper-cased (data_processing.py:146-153).

    >>> replace_in_query("Game on: game, GAME", "game", "xY1_z")
    'Xy1_z on: xY1_z, XY1_Z'
    """
    old, new = str(old), str(new)
    for transform in (str, str.capitalize, str.lower, str.upper):
        query = query.replace(transform(old), transform(new))
    return query


def rewrite_defaults(sample: Sample, rng: random.Random) -> Sample:
    """Hammer's default-value rewriting (``replace_param_default_values_news``, data_processing.py:160-218)
    on an already masked sample: each default a target call of its tool passes as its value (compared as
    strings) gets a new random value, in the tool (default and description), in the target's arguments
    equal to it, and in the user turns.

    >>> kind = {"description": "e.g. game (default)", "type": "str", "default": "game"}
    >>> tools = ({"name": "f", "description": "Giveaways.", "parameters": {"kind": kind}, "required": []},)
    >>> s = Sample("hammer", "1", tools, ({"role": "user", "content": "Any game giveaways?"},),
    ...            calls=(ToolCall("f", {"kind": "game"}),))
    >>> r = rewrite_defaults(s, random.Random(1))
    >>> new = r.tools[0]["parameters"]["kind"]["default"]
    >>> (r.calls[0].arguments == {"kind": new}, r.query == f"Any {new} giveaways?",
    ...  r.tools[0]["parameters"]["kind"]["description"] == f"e.g. {new} (default)")
    (True, True, True)
    """
    tools, calls, turns = [dict(tool) for tool in sample.tools], list(sample.calls), list(sample.turns)
    for tool in tools:
        parameters = {key: dict(spec) for key, spec in tool["parameters"].items()}
        tool["parameters"] = parameters
        for key, spec in parameters.items():
            default = spec.get("default", "")
            if isinstance(default, list) or default in (None, ""):
                continue
            own = [n for n, call in enumerate(calls) if call.name == tool["name"] and key in call.arguments]
            if not any(str(calls[n].arguments[key]) == str(default) for n in own):
                continue
            value = new_default(default, rng)
            if value is None:
                continue
            spec["default"] = value
            spec["description"] = str(spec.get("description", "")).replace(str(default), str(value))
            for n in own:
                if calls[n].arguments[key] == default:
                    calls[n] = ToolCall(calls[n].name, {**calls[n].arguments, key: value})
                    turns = [
                        {**turn, "content": replace_in_query(turn["content"], default, value)}
                        if turn["role"] == "user"
                        else turn
                        for turn in turns
                    ]
    return replace(sample, tools=tuple(tools), calls=tuple(calls), turns=tuple(turns))


def hammer_sample(sample: Sample, seed: int, masking: str = "hammer") -> Sample:
    """``sample`` masked as Hammer masks its training data (``masking="hammer"``: with probability 2/3,
    names and defaults; see the module docstring) or always, names only (``"full"``); source ``hammer``.

    >>> tools = ({"name": "get_weather", "description": "Weather.", "parameters": {"city": {"type": "str"}},
    ...           "required": ["city"]},)
    >>> s = Sample("xlam", "1", tools, ({"role": "user", "content": "Paris?"},),
    ...            calls=(ToolCall("get_weather", {"city": "Paris"}),))
    >>> masked = [hammer_sample(replace(s, source_id=str(n)), 0).tools[0]["name"] != "get_weather" for n in range(300)]
    >>> (0.6 < sum(masked) / 300 < 0.73,
    ...  all(hammer_sample(s, n, "full").tools[0]["name"] != "get_weather" for n in range(20)))
    (True, True)
    """
    if masking not in MASKINGS:
        raise ValueError(f"unknown masking {masking!r}; valid maskings: {', '.join(MASKINGS)}")
    rng = sample_rng(seed, sample.source_id)
    if masking == "full":
        return mask_sample(sample, rng)
    if not rng.random() > 1 - MASK_PROBABILITY:
        return replace(sample, source=SOURCE)
    return rewrite_defaults(mask_sample(sample, rng), rng)


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
        raise RecordError(field, BAD_JSON_FIELD, f"{error.msg} at character {error.pos}") from None


def hammer_processed_sample(record: Mapping[str, Any], row: int) -> Sample:
    """A record of Hammer's processed (already masked) SFT layout.

    >>> record = {"instruction": '[BEGIN OF AVAILABLE TOOLS]\\n'
    ...           '[{"name": "x1Y.z", "description": "Adds.", "parameters": {"q9Za": {"type": "int"}}}]\\n'
    ...           '[END OF AVAILABLE TOOLS]\\n\\n[BEGIN OF QUERY]\\nAdd 2\\n[END OF QUERY]\\n\\n',
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
        tools=tuple(tool_from_flat(tool, f"instruction.tools[{number}]") for number, tool in enumerate(tools)),
        turns=({"role": "user", "content": query},),
        calls=calls,
        response=None if calls else NO_TOOL_RESPONSE,
        row=row,
    )


def hammer_converter(seed: int, masking: str = "hammer") -> Callable[[Any, int], list[Sample]]:
    """The converter of the ``hammer`` command: xLAM-layout records masked with ``seed`` (see
    :func:`hammer_sample`); records in Hammer's processed layout read as they are.

    >>> convert = hammer_converter(0, "full")
    >>> record = {"id": 5, "query": "Hi", "answers": "[]",
    ...           "tools": '[{"name": "f", "description": "d", "parameters": {}}]'}
    >>> [(s.source, s.tools[0]["name"] != "f", s.response is not None) for s in convert(record, 0)]
    [('hammer', True, True)]
    """

    def convert(record: Any, row: int) -> list[Sample]:
        if isinstance(record, Mapping) and "instruction" in record and "query" not in record:
            return [hammer_processed_sample(record, row)]
        return [hammer_sample(xlam_sample(record, row), seed, masking)]

    return convert
