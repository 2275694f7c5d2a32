"""Bamboogle's prompts per protocol: the ``Search`` tool, the system prompt, the first user turn, the
per-round nudges and the rendering of a dialogue into one user message.

``toolrl`` (ToolRL's ``benchmarks/Bamboogle/generate.py``): the training system prompt listing ``Search``
(the script's ``SYS``, byte for byte: the package's toolrl system prompt plus the script's final newline);
the whole dialogue rendered into one user message (the script's ``form_user_prompt``: ``<user> … </user>``
and ``<obs> … </obs>`` blocks, assistant turns inlined). ``strict``: the package's system prompt in the run's
format (or the model's chat template listing the tool, ``--tool-prompt template``), the question as a user
message, assistant outputs as assistant messages, search results as tool messages, the same nudges as user
messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from verl_toolrl.core.calls import Format
from verl_toolrl.core.prompts import HISTORY_HEADER, hermes_tool_schema, system_prompt

#: The one tool, as the script's ``SYS`` lists it.
SEARCH_TOOL: dict[str, Any] = {
    "name": "Search",
    "description": "Search the answer for a specific query leveraging the google search engine",
    "parameters": {"query": {"description": "The query to search for.", "type": "string", "default": ""}},
}
#: The script's ``USER``: the first user turn.
FIRST_USER = (
    "{question}\nPerform tool call if you are not sure about the answer. Make a plan to solve the problem step by step."
)
#: The user turn after a search in rounds 1-2, and in rounds 3-4.
CONTINUE_NUDGE = (
    "Please continue to search if needed. If you can obtain the answer, "
    "please do not call any tool and directly provide a succinct answer in the response."
)
ANSWER_NUDGE = "Do not make tool call any more. Please directly provide a succinct answer in your next response."
#: What precedes the search results in an observation.
OBS_PREFIX = "Search results for the first tool call query:\n"
#: Rounds (generations) per question; a question still unanswered after them times out with this answer.
MAX_ROUNDS = 4
ROUND_LIMIT_ANSWER = "Round Limit Exceeded, no answer is derived."
#: Results per search.
TOP_K = 5


def nudge(round_number: int) -> str:
    """The user turn that follows a search in round ``round_number`` (1-based), as the script words it.

    >>> nudge(2) == CONTINUE_NUDGE, nudge(3) == ANSWER_NUDGE
    (True, True)
    """
    return CONTINUE_NUDGE if round_number < MAX_ROUNDS - 1 else ANSWER_NUDGE


def toolrl_system_prompt() -> str:
    """The script's ``SYS``.

    >>> toolrl_system_prompt().splitlines()[4]
    '1. Name: Search'
    """
    return system_prompt([SEARCH_TOOL], "toolrl") + "\n"


def history_prompt(history: Sequence[Mapping[str, str]]) -> str:
    """The script's ``form_user_prompt``: the dialogue (roles ``user``, ``obs``, ``assistant``) as one text.

    >>> history = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "<think> t </think>"}]
    >>> print(history_prompt(history))
    **Dialogue Records History**
    <user> Q? </user>
    <BLANKLINE>
    <think> t </think>
    """
    text = HISTORY_HEADER
    for turn in history:
        if turn["role"] == "user":
            text += f"<user> {turn['content']} </user>\n\n"
        elif turn["role"] == "obs":
            text += f"<obs> {turn['content']} </obs>\n\n"
        elif turn["role"] == "assistant":
            text += f"{turn['content']}\n"
    return text.strip()


def toolrl_messages(history: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The chat messages of one round under ``toolrl``: the system prompt and the rendered dialogue.

    >>> [m["role"] for m in toolrl_messages([{"role": "user", "content": FIRST_USER.format(question="Q?")}])]
    ['system', 'user']
    """
    return [
        {"role": "system", "content": toolrl_system_prompt()},
        {"role": "user", "content": history_prompt(history)},
    ]


def strict_messages(question: str, format: Format, tool_prompt: str = "system") -> list[dict[str, str]]:
    """The first prompt under ``strict``: the package's system prompt listing ``Search`` (none with
    ``tool_prompt="template"``: the chat template lists it, :func:`strict_tools`) and the question.

    >>> messages = strict_messages("Q?", "hermes")
    >>> '"name": "Search"' in messages[0]["content"], messages[1]["content"].splitlines()[0]
    (True, 'Q?')
    """
    return [
        {"role": "system", "content": system_prompt([SEARCH_TOOL], format, tool_prompt)},
        {"role": "user", "content": FIRST_USER.format(question=question)},
    ]


def strict_tools(tool_prompt: str) -> list[dict[str, Any]] | None:
    """The tool schemas the chat template lists under ``--tool-prompt template`` (None otherwise).

    >>> strict_tools("template")[0]["function"]["name"], strict_tools("system")
    ('Search', None)
    """
    return [hermes_tool_schema(SEARCH_TOOL)] if tool_prompt == "template" else None
