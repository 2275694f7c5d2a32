"""One Bamboogle question, round by round: the prompt of each round, what an output asks for, the searches
it runs (through an environment) and the final answer, under either protocol.

``toolrl`` is ToolRL's ``benchmarks/Bamboogle/generate.py`` loop, quirks included: the output is stripped;
with ``<tool_call>`` in it, the first line of the first block is read with ``ast.literal_eval`` and its
``parameters.query`` searched (top 5); the assistant turn is re-rendered with the call as a Python dict, the
results follow as an ``<obs>`` and a nudge as a user turn (:func:`~.prompts.nudge`); a call that does not
read spends the round and changes nothing (the script's bare ``except: pass``). With ``<response>`` its text
is the answer; otherwise the text after ``</think>``, or the whole output. A question without an answer
after :data:`~.prompts.MAX_ROUNDS` rounds gets :data:`~.prompts.ROUND_LIMIT_ANSWER` and times out.
Deliberate difference: a failed search becomes the observation (``"Search Error: …"``), where the script's
``except`` swallowed it and spent the round. ``strict`` reads outputs with ``calls.parse_response``: every
``Search`` call of a well-formed tool-call block runs (each result one tool message), a block that does not
parse spends the round, an answer is the ``<response>`` (toolrl format) or the text after the think.

:class:`Trajectory` is driven from outside (``prompt`` then ``advance``), so a batched generation loop can
advance many questions in lockstep; the environment (``reset``; ``execute(queries) -> results``) is a
:class:`~.search.SearchEnvironment` for a live run and a :class:`~.search.ReplayEnvironment` when a saved
transcript is read back.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from verl_toolrl.core.calls import CALL_CLOSE, CALL_OPEN, Format, parse_response
from verl_toolrl.tasks.bamboogle.items import BamboogleItem
from verl_toolrl.tasks.bamboogle.prompts import (
    FIRST_USER,
    MAX_ROUNDS,
    OBS_PREFIX,
    ROUND_LIMIT_ANSWER,
    SEARCH_TOOL,
    nudge,
    strict_messages,
    strict_tools,
    toolrl_messages,
)
from verl_toolrl.tasks.protocols import check_protocol

Message = dict[str, str]
#: The result of a strict-protocol call that is not a ``Search`` with a string ``query``.
BAD_CALL = 'Error: the only tool is Search, called with a string "query".'
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


class Environment(Protocol):
    def reset(self) -> None: ...

    def execute(self, queries: Sequence[str]) -> list[str]: ...


@dataclass(frozen=True)
class Read:
    """What one output asks for: ``kind`` is ``search`` (``queries``, and the assistant turn as the dialogue
    keeps it), ``answer`` (``answer``) or ``unparsed`` (a tool call that does not read: the round is
    spent)."""

    kind: str
    queries: tuple[str | None, ...] = ()
    assistant: str = ""
    answer: str = ""


def _thought(text: str, marker: str) -> str:
    return (
        text.split("<think>")[1].split("</think>")[0].strip()
        if "<think>" in text
        else text.split(marker)[0].strip()
    )


def _text_answer(text: str) -> str:
    return text.split("</think>")[1].strip() if "</think>" in text else text.strip()


def read_toolrl(output: str) -> Read:
    """An output as the script reads it (after ``strip``).

    >>> call = '{"name": "Search", "parameters": {"query": "Q"}}'
    >>> read = read_toolrl("<think> Look. </think>\\n<tool_call>\\n" + call + "\\n</tool_call>")
    >>> read.kind, read.queries
    ('search', ('Q',))
    >>> print(read.assistant)
    <think> Look. </think>
    <tool_call>
    {'name': 'Search', 'parameters': {'query': 'Q'}}
    </tool_call>
    >>> read_toolrl("<think> x </think>\\n<response> James Madison </response>").answer
    'James Madison'
    >>> read_toolrl("<tool_call>\\nnot a call\\n</tool_call>").kind
    'unparsed'
    """
    text = output.strip()
    if CALL_OPEN in text:
        thought = _thought(text, CALL_OPEN)
        line = text.split(CALL_OPEN)[1].split(CALL_CLOSE)[0].strip().split("\n")[0]
        try:
            call = ast.literal_eval(line)  # as the script; a literal, never evaluated code
        except _LITERAL_ERRORS:
            return Read("unparsed")
        parameters = call.get("parameters") if isinstance(call, dict) else None
        if not isinstance(parameters, dict) or "query" not in parameters:
            return Read("unparsed")
        query = parameters["query"]
        assistant = f"<think> {thought} </think>\n{CALL_OPEN}\n{call}\n{CALL_CLOSE}"
        return Read("search", (query if isinstance(query, str) else str(query),), assistant)
    if "<response>" in text:
        thought = _thought(text, "<response>")
        answer = text.split("<response>")[1].split("</response>")[0].strip()
        return Read(
            "answer", assistant=f"<think> {thought} </think>\n<response> {answer} </response>", answer=answer
        )
    return Read("answer", assistant=text, answer=_text_answer(text))


def read_strict(output: str, format: Format) -> Read:
    """An output read with the package's parser: the ``Search`` calls' queries (None for a call to another
    tool or without a string ``query``: it gets :data:`BAD_CALL` as its result), or the answer.

    >>> call = '<tool_call>\\n{"name": "Search", "arguments": {"query": "q"}}\\n</tool_call>'
    >>> read_strict("<think>\\nt\\n</think>\\n\\n" + call, "hermes").queries
    ('q',)
    >>> read_strict("<think>\\nt\\n</think>\\n\\nJames Madison", "hermes").answer
    'James Madison'
    """
    text = output.strip()
    parsed = parse_response(text, format)
    if not parsed.calls_ok:
        return Read("unparsed")
    if parsed.calls:
        queries = tuple(
            call.arguments["query"]
            if call.name == SEARCH_TOOL["name"] and isinstance(call.arguments.get("query"), str)
            else None
            for call in parsed.calls
        )
        return Read("search", queries, text)
    answer = parsed.response if parsed.response is not None else _text_answer(text)
    return Read("answer", assistant=text, answer=answer.strip())


def prompt_hash(messages: Sequence[Message]) -> str:
    return hashlib.sha256(json.dumps(list(messages), ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class Round:
    """One generation: the SHA-256 of its prompt, the raw output, what it was read as, the queries it ran
    and their results."""

    prompt_sha256: str
    output: str
    kind: str
    queries: list[str | None] = field(default_factory=list)
    results: list[str] = field(default_factory=list)


class Trajectory:
    """One question's rounds under ``protocol``: :meth:`prompt` (None when finished), :meth:`advance`."""

    def __init__(
        self,
        item: BamboogleItem,
        protocol: str,
        format: Format,
        environment: Environment,
        tool_prompt: str = "system",
    ) -> None:
        check_protocol(protocol, format)
        self.item, self.protocol, self.format, self.tool_prompt = item, protocol, format, tool_prompt
        self.environment = environment
        self.environment.reset()
        self.rounds: list[Round] = []
        self.answer: str | None = None
        self.timed_out = False
        if protocol == "toolrl":
            self.dialogue: list[Message] = [
                {"role": "user", "content": FIRST_USER.format(question=item.question)}
            ]
        else:
            self.dialogue = strict_messages(item.question, format, tool_prompt)

    @property
    def done(self) -> bool:
        return self.answer is not None

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        """The tool schemas the chat template lists (``--tool-prompt template``), else None."""
        return strict_tools(self.tool_prompt) if self.protocol == "strict" else None

    @property
    def searches(self) -> int:
        """Searches run (the script's ``<obs>`` count under ``toolrl``)."""
        return sum(query is not None for r in self.rounds for query in r.queries)

    def prompt(self) -> list[Message] | None:
        if self.done:
            return None
        return (
            toolrl_messages(self.dialogue) if self.protocol == "toolrl" else [dict(m) for m in self.dialogue]
        )

    def advance(self, output: str) -> None:
        prompt = self.prompt()
        if prompt is None:
            raise RuntimeError(f"Bamboogle item {self.item.id}: the trajectory is finished")
        read = read_toolrl(output) if self.protocol == "toolrl" else read_strict(output, self.format)  # type: ignore[arg-type]
        step = Round(prompt_hash(prompt), output, read.kind)
        self.rounds.append(step)
        if read.kind == "search":
            step.queries = list(read.queries)
            found = iter(self.environment.execute([q for q in read.queries if q is not None]))
            step.results = [next(found) if query is not None else BAD_CALL for query in read.queries]
            if self.protocol == "toolrl":
                self.dialogue.append({"role": "assistant", "content": read.assistant})
                self.dialogue.append({"role": "obs", "content": f"{OBS_PREFIX}{step.results[0]}"})
            else:
                self.dialogue.append({"role": "assistant", "content": read.assistant})
                self.dialogue.extend({"role": "tool", "content": result} for result in step.results)
            self.dialogue.append({"role": "user", "content": nudge(len(self.rounds))})
        elif read.kind == "answer":
            self.dialogue.append({"role": "assistant", "content": read.assistant})
            self.answer = read.answer
            return
        if len(self.rounds) >= MAX_ROUNDS:
            self.answer, self.timed_out = ROUND_LIMIT_ANSWER, True

    def record(self) -> dict[str, Any]:
        """The transcript line of a finished trajectory."""
        return {
            "id": self.item.id,
            "protocol": self.protocol,
            "format": self.format,
            "tool_prompt": self.tool_prompt,
            "question": self.item.question,
            "answer": self.answer,
            "timed_out": self.timed_out,
            "searches": self.searches,
            "rounds": [asdict(step) for step in self.rounds],
            "dialogue": self.dialogue,
        }
