"""One Bamboogle question as an :class:`~verl_toolrl.tasks.episode.Episode` (the multi-turn loop BFCL's
evaluation and training drive): the renderer of each protocol, the decoder, and the answer.

``toolrl`` is ToolRL's ``benchmarks/Bamboogle/generate.py`` loop, quirks included: the output is stripped;
with ``<tool_call>`` in it, the first line of the first block is read with ``ast.literal_eval`` and its
``parameters.query`` searched (top 5); in the dialogue the assistant turn is re-rendered with the call as a
Python dict, the results follow as an ``<obs>`` and a nudge as a user turn (:func:`~.prompts.nudge`); a call
that does not read spends the round and changes nothing (the script's bare ``except: pass``). With
``<response>`` its text is the answer; otherwise the text after ``</think>``, or the whole output. A question
without an answer after :data:`~.prompts.MAX_ROUNDS` rounds gets :data:`~.prompts.ROUND_LIMIT_ANSWER` and
times out. Deliberate difference: a failed search becomes the observation (``"Search Error: …"``), where the
script's ``except`` swallowed it and spent the round. ``strict`` reads outputs with ``calls.parse_response``:
every call of a well-formed tool-call block runs (a ``Search`` with a string ``query`` searches, any other
call gets :data:`~.search.BAD_CALL`), each result one tool message, the same nudges as user messages; a
block that does not parse spends the round; the answer is the ``<response>`` (toolrl format) or the text
after the think.

How this maps onto the episode: one user turn; the decoder turns an output into its calls (none for an
answer, which ends the turn and the episode); an output whose tool call does not read stands for one call to
:data:`~.search.UNREAD` that runs nothing, and the renderer leaves that round out of the dialogue, so the
round is spent; the step limit is ``MAX_ROUNDS - 1`` (the episode ends when a turn makes more steps with calls
than that: the time-out). The renderer rebuilds the protocol's dialogue from the episode's conversation
(raw outputs and tool messages) before every round.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from verl_toolrl.core.calls import CALL_CLOSE, CALL_OPEN, Format, ToolCall, parse_response
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
from verl_toolrl.tasks.bamboogle.search import UNREAD
from verl_toolrl.tasks.episode import Episode, Message, Step, ToolEnvironment, python_call
from verl_toolrl.tasks.protocols import check_protocol

_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)
_UNREAD_NAME = python_call(ToolCall(UNREAD))


@dataclass(frozen=True)
class Read:
    """What one output asks for: ``kind`` is ``search`` (``calls``, and the assistant turn as the dialogue
    keeps it), ``answer`` (``answer``) or ``unparsed`` (a tool call that does not read: the round is
    spent)."""

    kind: str
    calls: tuple[ToolCall, ...] = ()
    assistant: str = ""
    answer: str = ""


def _thought(text: str, marker: str) -> str:
    if "<think>" in text:
        return text.split("<think>")[1].split("</think>")[0].strip()
    return text.split(marker)[0].strip()


def _text_answer(text: str) -> str:
    return text.split("</think>")[1].strip() if "</think>" in text else text.strip()


def read_toolrl(output: str) -> Read:
    """An output as the script reads it (after ``strip``).

    >>> call = '{"name": "Search", "parameters": {"query": "Q"}}'
    >>> read = read_toolrl("<think> Look. </think>\\n<tool_call>\\n" + call + "\\n</tool_call>")
    >>> read.kind, read.calls
    ('search', (ToolCall(name='Search', arguments={'query': 'Q'}),))
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
        query = parameters["query"]  # the script sends any literal to Serper; a string is searched as it is
        search = ToolCall(SEARCH_TOOL["name"], {"query": query if isinstance(query, str) else str(query)})
        return Read("search", (search,), f"<think> {thought} </think>\n{CALL_OPEN}\n{call}\n{CALL_CLOSE}")
    if "<response>" in text:
        thought = _thought(text, "<response>")
        answer = text.split("<response>")[1].split("</response>")[0].strip()
        return Read("answer", assistant=f"<think> {thought} </think>\n<response> {answer} </response>", answer=answer)
    return Read("answer", assistant=text, answer=_text_answer(text))


def read_strict(output: str, format: Format) -> Read:
    """An output read with the package's parser: its calls, or the answer.

    >>> call = '<tool_call>\\n{"name": "Search", "arguments": {"query": "q"}}\\n</tool_call>'
    >>> read_strict("<think>\\nt\\n</think>\\n\\n" + call, "hermes").calls
    (ToolCall(name='Search', arguments={'query': 'q'}),)
    >>> read_strict("<think>\\nt\\n</think>\\n\\nJames Madison", "hermes").answer
    'James Madison'
    """
    text = output.strip()
    parsed = parse_response(text, format)
    if not parsed.calls_ok:
        return Read("unparsed")
    if parsed.calls:
        return Read("search", parsed.calls, text)
    answer = parsed.response if parsed.response is not None else _text_answer(text)
    return Read("answer", assistant=text, answer=answer.strip())


def read_output(output: str, protocol: str, format: Format) -> Read:
    """``output`` read under ``protocol``."""
    return read_toolrl(output) if protocol == "toolrl" else read_strict(output, format)


def decode(output: str, protocol: str, format: Format) -> list[ToolCall]:
    """The episode's decoder: the calls of an output; none for an answer; one :data:`~.search.UNREAD` call
    for a tool call that does not read (the round is spent).

    >>> decode("<tool_call>\\n[1]\\n</tool_call>", "toolrl", "toolrl")
    [ToolCall(name='<unread tool call>', arguments={})]
    """
    read = read_output(output, protocol, format)
    return [ToolCall(UNREAD)] if read.kind == "unparsed" else list(read.calls)


@dataclass(frozen=True)
class BamboogleRenderer:
    """One question's single user turn and the prompt of each round under ``protocol`` (see the module
    docstring): :meth:`dialogue` rebuilds the protocol's dialogue from the episode's conversation."""

    item: BamboogleItem
    protocol: str
    format: Format
    tool_prompt: str = "system"

    num_turns = 1

    def opening(self, turn: int) -> list[Message]:
        return [{"role": "user", "content": FIRST_USER.format(question=self.item.question)}]

    def dialogue(self, conversation: Sequence[Message]) -> list[Message]:
        """The rounds as the protocol shows them: spent rounds left out, assistant turns re-rendered
        (``toolrl``), results as ``<obs>`` (``toolrl``) or tool messages (``strict``), nudges after
        searches."""
        history: list[Message] = []
        rounds = 0
        for index, message in enumerate(conversation):
            if message["role"] == "user":
                history.append({"role": "user", "content": message["content"]})
            if message["role"] != "assistant":
                continue
            rounds += 1
            results = []
            for following in conversation[index + 1 :]:
                if following["role"] != "tool":
                    break
                results.append(following)
            if any(result.get("name") == _UNREAD_NAME for result in results):
                continue  # a tool call that did not read: the round is spent, the dialogue unchanged
            read = read_output(message["content"], self.protocol, self.format)
            history.append({"role": "assistant", "content": read.assistant})
            if not results:
                continue
            if self.protocol == "toolrl":
                history.append({"role": "obs", "content": f"{OBS_PREFIX}{results[0]['content']}"})
            else:
                history.extend({"role": "tool", "content": result["content"]} for result in results)
            history.append({"role": "user", "content": nudge(rounds)})
        return history

    def prompt(self, turn: int, dialogue: Sequence[Message]) -> list[Message]:
        history = self.dialogue(dialogue)
        if self.protocol == "toolrl":
            return toolrl_messages(history)
        return strict_messages(self.item.question, self.format, self.tool_prompt)[:1] + history


class Trajectory:
    """One question's episode: :meth:`prompt` (None when finished), :meth:`advance`, then :attr:`answer`."""

    def __init__(
        self,
        item: BamboogleItem,
        protocol: str,
        format: Format,
        environment: ToolEnvironment,
        tool_prompt: str = "system",
    ) -> None:
        check_protocol(protocol, format)
        self.item, self.protocol, self.format, self.tool_prompt = item, protocol, format, tool_prompt
        self.renderer = BamboogleRenderer(item, protocol, format, tool_prompt)
        reader = partial(decode, protocol=protocol, format=format)
        self.episode = Episode(environment, self.renderer, reader, step_limit=MAX_ROUNDS - 1)

    @property
    def done(self) -> bool:
        return self.episode.done

    @property
    def timed_out(self) -> bool:
        return self.episode.force_quit

    @property
    def rounds(self) -> list[Step]:
        """The episode's steps (prompt hash, output, calls, what ran, observations)."""
        return self.episode.turns[0]

    @property
    def answer(self) -> str | None:
        """The final answer (None while unfinished; :data:`~.prompts.ROUND_LIMIT_ANSWER` on a time-out)."""
        if not self.done:
            return None
        if self.timed_out:
            return ROUND_LIMIT_ANSWER
        return read_output(self.rounds[-1].output, self.protocol, self.format).answer

    @property
    def kinds(self) -> list[str]:
        """Each round read as ``search``, ``answer`` or ``unparsed``."""
        return [read_output(step.output, self.protocol, self.format).kind for step in self.rounds]

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        """The tool schemas the chat template lists (``--tool-prompt template``), else None."""
        return strict_tools(self.tool_prompt) if self.protocol == "strict" else None

    @property
    def searches(self) -> int:
        """Searches run (the script's ``<obs>`` count under ``toolrl``)."""
        return sum(text is not None for step in self.rounds for text in step.executed)

    @property
    def dialogue(self) -> list[Message]:
        return self.renderer.dialogue(self.episode.conversation)

    def prompt(self) -> list[Message] | None:
        return self.episode.prompt()

    def advance(self, output: str) -> None:
        self.episode.advance(output)

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
