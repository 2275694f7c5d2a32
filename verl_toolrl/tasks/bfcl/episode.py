"""A BFCL multi-turn entry as an episode (:mod:`verl_toolrl.tasks.episode`): renderers, decoder, verdict.

- :class:`BfclRenderer`: the entry's user turns and prompts, two ways. Per turn, as each protocol writes it
  (:func:`~verl_toolrl.tasks.bfcl.multi_turn.render_prompt`: the evaluation's prompts); or as a stream
  (``stream=True``, the ``strict`` chat roles, for training): every prompt extends the previous one, so the
  system prompt keeps the docs shown from the start and a ``miss_func`` turn's added docs come in its user
  message (BFCL's prompting message, as in the ``toolrl`` flow).
- :func:`decode_strict`: the ``strict`` protocol's decoder (``calls.parse_response``; a step whose
  tool-call part does not parse is :class:`~verl_toolrl.tasks.episode.Undecodable`). The ``toolrl``
  protocol's decoder is ToolRL's handler's (``verl_toolrl.eval.toolrl_scripts``), passed in by the evaluation.
- :class:`BfclEpisode`: the episode on the entry's fresh
  :class:`~verl_toolrl.tasks.bfcl.environment.Environment`,
  with BFCL's verdict on what ran (:meth:`BfclEpisode.verdict`) and, for training's reward, the state match
  of each finished turn against a second environment that ran the ground truth (``state_match=True``).
- :func:`gold_turns`: what a perfect model writes, turn by turn (the scripted policy of the tests, the
  preflight and the benchmarks; the first output of each turn is the reward's ground truth of that turn).

>>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
>>> entry = load_entries("multi_turn_base", limit=1)[0]
>>> episode = BfclEpisode(entry, "strict", "toolrl", state_match=True)
>>> for output in gold_outputs(entry):
...     _ = episode.advance(output)
>>> episode.done, episode.state_matches, episode.verdict()["valid"]
(True, [True, True, True, True], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from verl_toolrl.core.calls import Format, ToolCall, parse_response, render_output
from verl_toolrl.tasks.bfcl.environment import Environment, ground_truth_calls, official_verdict
from verl_toolrl.tasks.bfcl.multi_turn import MultiTurnEntry, render_prompt, turn_messages
from verl_toolrl.tasks.episode import MAX_STEPS_PER_TURN, Decoder, Episode, Message, Undecodable
from verl_toolrl.tasks.protocols import check_protocol

#: The texts of the gold outputs (:func:`gold_turns`).
GOLD_CALL_THINK, GOLD_ANSWER_THINK, GOLD_ANSWER = "I will call the tools.", "The task is done.", "Done."


@dataclass(frozen=True)
class BfclRenderer:
    """An entry's user turns and prompts under ``protocol`` (see the module docstring).

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> entry = load_entries("multi_turn_miss_func", limit=1)[0]
    >>> stream = BfclRenderer(entry, "strict", "toolrl", stream=True)
    >>> per_turn = BfclRenderer(entry, "strict", "toolrl")
    >>> [m["content"][:9] for m in stream.opening(3)], [m["content"][:9] for m in per_turn.opening(3)]
    (["[{'name':"], ['I have up'])
    """

    entry: MultiTurnEntry
    protocol: str
    format: Format
    stream: bool = False

    def __post_init__(self) -> None:
        check_protocol(self.protocol, self.format)
        if self.stream and self.protocol != "strict":
            raise ValueError(f"a stream renders the strict protocol's chat roles, not {self.protocol!r}")

    @property
    def num_turns(self) -> int:
        return self.entry.num_turns

    def opening(self, turn: int) -> list[Message]:
        held_out_in_message = self.stream and turn in self.entry.held_out  # the stream's system prompt is fixed
        return turn_messages(self.entry, turn, "toolrl" if held_out_in_message else self.protocol)

    def prompt(self, turn: int, dialogue: Sequence[Message]) -> list[Message]:
        return render_prompt(self.entry, 0 if self.stream else turn, dialogue, self.protocol, self.format)

    def first_prompt(self) -> list[Message]:
        """The prompt of the entry's first step."""
        return self.prompt(0, self.opening(0))


def decode_strict(text: str, format: Format) -> list[ToolCall]:
    """The calls of one output under the ``strict`` protocol, or
    :class:`~verl_toolrl.tasks.episode.Undecodable`.

    >>> call = '{"name": "ls", "parameters": {}}'
    >>> decode_strict(f"<think> x </think>\\n<tool_call>\\n{call}\\n</tool_call>", "toolrl")
    [ToolCall(name='ls', arguments={})]
    >>> decode_strict(f"<think> x </think>\\n<tool_call>\\n{call}\\nnot json\\n</tool_call>", "toolrl")
    Traceback (most recent call last):
    ...
    verl_toolrl.tasks.episode.Undecodable: tool calls do not parse: bad_json@2
    """
    parsed = parse_response(text, format)
    if not parsed.calls_ok:
        raise Undecodable(f"tool calls do not parse: {parsed.located_reason}")
    return list(parsed.calls)


class BfclEpisode(Episode):
    """One trajectory through one entry (see the module docstring); ``decode`` defaults to
    :func:`decode_strict` and is required for the ``toolrl`` protocol."""

    def __init__(
        self,
        entry: MultiTurnEntry,
        protocol: str = "strict",
        format: Format = "toolrl",
        *,
        stream: bool = False,
        decode: Decoder | None = None,
        step_limit: int = MAX_STEPS_PER_TURN,
        state_match: bool = False,
        environment: Environment | None = None,
    ) -> None:
        renderer = BfclRenderer(entry, protocol, format, stream)
        if decode is None:
            if protocol != "strict":
                raise ValueError(f"the {protocol} protocol has its own decoder: pass decode")
            decode = partial(decode_strict, format=format)
        self.entry, self.protocol, self.format = entry, protocol, format
        self.state_matches: list[bool] = []  # one per finished turn, with state_match
        self._truth = Environment(entry) if state_match else None
        self._truth_calls = ground_truth_calls(entry) if state_match else []
        super().__init__(environment or Environment(entry), renderer, decode, step_limit)

    def _turn_closed(self, turn: int) -> None:
        if self._truth is not None:
            self._truth.execute(self._truth_calls[turn])
            self.state_matches.append(self.environment.state_matches(self._truth)[0])

    def verdict(self) -> dict[str, Any]:
        """BFCL's verdict on the calls that ran, in the turns BFCL's loop would have reached: all of them
        when the episode ended (by its last turn or the step limit), the finished ones when it was cut
        short (training's length budget), which BFCL fails as ``multi_turn:force_terminated``."""
        executed = self.executed()
        return official_verdict(self.entry, executed if self.done else executed[: self.turns_finished])


def gold_turns(entry: MultiTurnEntry, format: Format = "toolrl") -> list[list[str]]:
    """What a perfect model writes in each turn: the turn's ground-truth calls in one step, then an answer
    without calls (a turn without ground truth: the answer only).

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> turns = gold_turns(load_entries("multi_turn_base", limit=1)[0])
    >>> [len(outputs) for outputs in turns], turns[0][0].splitlines()[2]
    ([2, 2, 2, 2], '{"name": "cd", "parameters": {"folder": "document"}}')
    """
    answer = render_output(GOLD_ANSWER_THINK, response=GOLD_ANSWER, format=format)
    return [
        ([render_output(GOLD_CALL_THINK, calls, format=format)] if calls else []) + [answer]
        for calls in ground_truth_calls(entry)
    ]


def gold_outputs(entry: MultiTurnEntry, format: Format = "toolrl") -> list[str]:
    """:func:`gold_turns`, step after step: replayed through an episode, BFCL's ground truth as model output.

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> len(gold_outputs(load_entries("multi_turn_base", limit=1)[0]))
    8
    """
    return [output for outputs in gold_turns(entry, format) for output in outputs]
