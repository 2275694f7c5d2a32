"""A dumped multi-turn trajectory replayed on fresh simulators: did its observations come from its own
environment (a fresh set of its entry's BFCL simulators, driven by its own outputs) and from nothing else,
another rollout of the same entry included?

verl dumps each training trajectory's response decoded without special tokens (``trainer.rollout_data_dir``).
With the tiny policy's ChatML template that text is the model's outputs, each followed by what the agent loop
appended after it, one ``"\\n{role}\\n{content}"`` per message (tool observations cut as the recipe cuts them,
the next user turn) and ``"\\nassistant\\n"`` before the next output. :func:`replay` searches the split of the
text into outputs whose replay on a fresh episode renders every appended message exactly; a trajectory that
saw another's state (a file another rollout created, a directory another entered) has an observation no
fresh replay gives, and no split explains it.

    >>> rendered([{"role": "tool", "content": "abc"}], limit=None, side="middle")
    '\\ntool\\nabc\\nassistant\\n'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from verl_toolrl.core.calls import Format
from verl_toolrl.plugin.multi_turn_agent_loop import training_episode, truncate
from verl_toolrl.tasks.bfcl.episode import BfclEpisode
from verl_toolrl.tasks.bfcl.multi_turn import MultiTurnEntry

#: Where an output can end in the decoded text: the start of the next message.
BOUNDARY = re.compile(r"\n(?:tool|user|assistant)\n")


def rendered(messages: Sequence[dict[str, str]], limit: int | None, side: str) -> str:
    """The decoded text the loop appends after an output: ``messages`` (tool observations cut to ``limit``
    characters at ``side``), then the next generation prompt."""
    parts = [
        f"\n{m['role']}\n{truncate(m['content'], limit, side) if m['role'] == 'tool' else m['content']}"
        for m in messages
    ]
    return "".join(parts) + "\nassistant\n"


def step(episode: BfclEpisode, output: str, limit: int | None, side: str) -> str | None:
    """Advance ``episode`` by one output: the text the loop appends after it, or None when the episode ended."""
    answered = len(episode.prompt())
    episode.advance(output)
    return None if episode.done else rendered(episode.prompt()[answered + 1 :], limit, side)


def transcript(episode: BfclEpisode, outputs: Sequence[str], limit: int | None, side: str) -> str:
    """The decoded response of a trajectory that gave ``outputs`` in ``episode`` (which it advances): each
    output and what the loop appended after it, up to the last output (where the loop stopped)."""
    appended = [step(episode, output, limit, side) or "" for output in outputs]
    return "".join(output + after for output, after in zip(outputs[:-1], appended, strict=False)) + outputs[-1]


def replay(
    entry: MultiTurnEntry,
    text: str,
    format: Format,
    max_assistant_turns: int | None,
    limit: int | None,
    side: str,
) -> list[str] | None:
    """The outputs of the trajectory whose decoded response is ``text``, found by replaying them on fresh
    simulators, or None when no split of ``text`` into outputs replays to it. The last output is the text
    after the last appended message (the loop stopped there: the episode ended, or the response budget)."""

    def search(outputs: list[str], start: int) -> list[str] | None:
        ends = [match.start() for match in BOUNDARY.finditer(text, start)]
        for end in ends:  # the shortest output first
            episode = training_episode(entry, format, max_assistant_turns)
            for output in outputs:
                episode.advance(output)
            appended = step(episode, text[start:end], limit, side)
            if appended is not None and text.startswith(appended, end):
                found = search([*outputs, text[start:end]], end + len(appended))
                if found is not None:
                    return found
        return None if ends else [*outputs, text[start:]]

    return search([], 0)
