"""One multi-turn episode: user turns, model steps, tool calls run in an environment, BFCL's step rule.

Training (the agent loop, :mod:`verl_toolrl.plugin.multi_turn_agent_loop`) and evaluation
(:mod:`verl_toolrl.eval.bfcl_multi_turn`) drive the same :class:`Episode`; what differs is a parameter:

- the **environment** (:class:`ToolEnvironment`): reset once per trajectory, it executes the parsed calls
  of one step and returns one :class:`Execution` per call (the observation text, the call string that ran
  or None when refused, whether it is an error). BFCL's simulators are one
  (:class:`verl_toolrl.tasks.bfcl.environment.Environment`); a search engine whose calls return search
  results is another;
- the **renderer** (:class:`Renderer`): how many user turns there are, the messages that open a turn, and
  the prompt of the next step from the dialogue so far (the per-turn prompt of each protocol for
  evaluation; a prompt that only grows, for training's append-only token stream);
- the **decoder**: a model output to its calls, or :class:`Undecodable` (the turn ends, as in BFCL).

The loop, as BFCL's ``BaseHandler.inference_multi_turn_prompting`` (``bfcl_eval/model_handler/
base_handler.py``) runs it: a turn opens with its user messages; each step appends the raw output as an
``assistant`` message; a step without calls (or one that cannot be decoded) ends the turn; a step with calls
runs them and appends one ``tool`` message per call, ``{"role": "tool", "name": <the call as ToolRL's
handler writes it, python_call>, "content": <observation>}`` (one rule: the ``toolrl`` prompt reads the
name, the chat prompts drop it). BFCL counts the steps with calls of a turn and ends the whole entry
(``force_quit``, which BFCL fails as ``multi_turn:force_terminated``) when ``count > MAXIMUM_STEP_LIMIT``:
a turn may make :data:`MAX_STEPS_PER_TURN` steps with calls, and the one after them ends the entry.

**Hash seed.** A transcript is a function of the outputs only, with one exception in BFCL's simulators:
some render a Python ``set`` into an observation (``TravelAPI.book_flight``'s "Invalid travel class. Must be
one of {...}", ``TicketAPI.edit_ticket``'s invalid fields), and a set of strings iterates in an order
that follows the process's hash seed. The text cannot be canonicalised from outside without rewriting
BFCL's messages, so the processes that run episodes start with ``PYTHONHASHSEED`` pinned to
:data:`HASH_SEED`: the evaluation command re-executes itself under it (:func:`exec_with_pinned_hash_seed`),
and the multi-turn training recipe gives it to every Ray worker
(``ray_kwargs.ray_init.runtime_env.env_vars.PYTHONHASHSEED``). This is a determinism requirement, not a
switch: nothing reads the variable to choose behaviour; :func:`hash_seed_pinned` only reports whether the
running interpreter has it.

>>> from verl_toolrl.core.calls import ToolCall
>>> class Echo:  # an environment: each call returns its argument
...     def reset(self) -> None: ...
...     def execute(self, calls):
...         return [Execution(c, python_call(c), str(c.arguments.get("text")), False) for c in calls]
>>> class OneTurn:  # a renderer: one user turn, the dialogue as the prompt
...     num_turns = 1
...     def opening(self, turn): return [{"role": "user", "content": "Say hi."}]
...     def prompt(self, turn, dialogue): return list(dialogue)
>>> decode = lambda text: [ToolCall("echo", {"text": text[5:]})] if text.startswith("echo ") else []
>>> episode = Episode(Echo(), OneTurn(), decode)
>>> episode.advance("echo hi"), episode.prompt()[-1]
('observations', {'role': 'tool', 'name': "echo(text='hi')", 'content': 'hi'})
>>> episode.advance("Done."), episode.done, [len(steps) for steps in episode.turns]
('done', True, [2])
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from verl_toolrl.core.calls import ToolCall

#: BFCL's ``MAXIMUM_STEP_LIMIT`` (``bfcl_eval.constants.default_prompts``): a turn may make this many steps
#: with calls; one more ends the entry.
MAX_STEPS_PER_TURN = 20
#: The ``PYTHONHASHSEED`` episodes run under (see the module docstring).
HASH_SEED = "0"
Message = dict[str, str]


@dataclass(frozen=True)
class Execution:
    """One call and what came of it: ``rendered`` is the call string that ran (None when refused);
    ``observation`` the result text; ``error`` whether it is an error."""

    call: ToolCall
    rendered: str | None
    observation: str
    error: bool


class ToolEnvironment(Protocol):
    """What an episode runs calls in: fresh state after :meth:`reset`, one execution per call."""

    def reset(self) -> None: ...

    def execute(self, calls: Sequence[ToolCall]) -> list[Execution]: ...


class Renderer(Protocol):
    """How an episode is shown to the model: its user turns and the prompt of each step."""

    @property
    def num_turns(self) -> int: ...

    def opening(self, turn: int) -> list[Message]: ...

    def prompt(self, turn: int, dialogue: Sequence[Message]) -> list[Message]: ...


class Undecodable(ValueError):
    """A step whose output the decoder rejects as a whole (the turn ends, as in BFCL)."""


Decoder = Callable[[str], list[ToolCall]]


def python_call(call: ToolCall) -> str:
    """A call as ToolRL's BFCL handler writes it (``decode_execute``), and as a tool message names it.

    >>> python_call(ToolCall("cd", {"folder": "docs", "n": 2}))
    "cd(folder='docs', n=2)"
    """
    return f"{call.name}({', '.join(f'{key}={value!r}' for key, value in call.arguments.items())})"


def tool_message(call: ToolCall, observation: str) -> Message:
    """The dialogue's message for one executed call (the one rule for training and evaluation).

    >>> tool_message(ToolCall("ls", {}), "a.txt")
    {'role': 'tool', 'name': 'ls()', 'content': 'a.txt'}
    """
    return {"role": "tool", "name": python_call(call), "content": observation}


def prompt_hash(messages: Sequence[Message]) -> str:
    """The SHA-256 of a prompt's messages (what a transcript keeps of each prompt).

    >>> prompt_hash([{"role": "user", "content": "hi"}])[:12]
    '5e0e587876e2'
    """
    return hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class Step:
    """One model step: ``calls`` as decoded (:func:`python_call`), ``executed`` the call strings that ran
    (None for a refused call), ``observations`` one per call; ``undecodable`` the decoder's reason."""

    prompt_sha256: str
    output: str
    calls: list[str] = field(default_factory=list)
    executed: list[str | None] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    undecodable: str | None = None


class Episode:
    """One trajectory: :meth:`prompt` gives the next prompt (None when finished), :meth:`advance` takes the
    model's output for it (see the module docstring)."""

    def __init__(
        self,
        environment: ToolEnvironment,
        renderer: Renderer,
        decode: Decoder,
        step_limit: int = MAX_STEPS_PER_TURN,
    ) -> None:
        self.environment, self.renderer, self.decode, self.step_limit = (
            environment,
            renderer,
            decode,
            step_limit,
        )
        self.environment.reset()
        self.conversation: list[Message] = []
        self.turns: list[list[Step]] = []  # [turn][step]
        self.force_quit = False
        self.calls = self.call_errors = 0
        self._pending: list[Message] | None = None
        self._open_turn(0)

    @property
    def done(self) -> bool:
        return self._pending is None

    @property
    def turn(self) -> int:
        """The index of the current (or last) turn."""
        return len(self.turns) - 1

    @property
    def turns_finished(self) -> int:
        """Turns that ended with a step without calls (a turn cut short by the step limit is not)."""
        return len(self.turns) - (self.force_quit or not self.done)

    def prompt(self) -> list[Message] | None:
        return self._pending

    def _open_turn(self, turn: int) -> None:
        if turn >= self.renderer.num_turns:
            self._pending = None
            return
        self.turns.append([])
        self.conversation.extend(self.renderer.opening(turn))
        self._pending = self.renderer.prompt(turn, self.conversation)

    def _turn_closed(self, turn: int) -> None:
        """Called when ``turn`` ends with a step without calls, before the next turn opens."""

    def advance(self, output: str) -> str:
        """Take the output for :meth:`prompt`: ``"observations"`` (calls ran), ``"next_turn"``, ``"done"``."""
        if self._pending is None:
            raise RuntimeError("the episode is finished")
        turn = self.turn
        step = Step(prompt_hash(self._pending), output)
        self.turns[turn].append(step)
        self.conversation.append({"role": "assistant", "content": output})
        try:
            calls = self.decode(output)
        except Undecodable as reason:
            step.undecodable, calls = str(reason), []
        if not calls:
            self._turn_closed(turn)
            self._open_turn(turn + 1)
            return "done" if self.done else "next_turn"
        for execution in self.environment.execute(calls):
            step.calls.append(python_call(execution.call))
            step.executed.append(execution.rendered)
            step.observations.append(execution.observation)
            self.conversation.append(tool_message(execution.call, execution.observation))
            self.calls += 1
            self.call_errors += execution.error
        if len(self.turns[turn]) > self.step_limit:  # BFCL: count > MAXIMUM_STEP_LIMIT ends the entry
            self.force_quit, self._pending = True, None
            return "done"
        self._pending = self.renderer.prompt(turn, self.conversation)
        return "observations"

    def executed(self) -> list[list[list[str]]]:
        """The call strings that ran per turn and step (refused ones left out), for BFCL's checker."""
        return [[[text for text in step.executed if text is not None] for step in steps] for steps in self.turns]


def hash_seed_pinned() -> bool:
    """Whether this interpreter runs with ``PYTHONHASHSEED`` = :data:`HASH_SEED` (no hash randomization)."""
    return sys.flags.hash_randomization == 0


def exec_with_pinned_hash_seed() -> None:
    """Re-execute this process's command line with ``PYTHONHASHSEED`` = :data:`HASH_SEED` unless it already
    runs so (the entry point of a command that runs episodes calls it first; see the module docstring)."""
    if hash_seed_pinned():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**os.environ, "PYTHONHASHSEED": HASH_SEED})
