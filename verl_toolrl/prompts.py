"""Prompt text: the system prompt that lists the tools and the user turn that carries the dialogue.

One source of truth for the wording of every prompt the project writes (training data, validation
data, evaluation), in both output formats:

- ``toolrl``: ToolRL's system prompt, byte for byte as in its released ``rlla_4k`` data: the tools as
  ``N. Name / Description / Parameters`` entries, then the steps, the output format and the notes.
- ``hermes``: the tool block of the Qwen2.5/Qwen3 chat templates (``<tools>`` with one JSON schema per
  line) and the ``<tool_call>`` instruction, plus the same request to think first.

The user turn is the same for both: ``**Dialogue Records History**`` followed by the conversation so far
(``<user>``, earlier assistant outputs, tool results as ``<obs>``), blank-line separated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verl_toolrl.calls import Format, ToolCall, check_format, render_output

TOOLRL_INTRO = 'You are a helpful multi-turn dialogue assistant capable of leveraging tool calls to solve user tasks and provide structured chat responses.\n\n'
TOOLRL_TOOLS_HEADER = "**Available Tools**\nIn your response, you can use the following tools:\n"
TOOLRL_RULES = (
    '**Steps for Each Turn**\n'
    '1. **Think:** Recall relevant context and analyze the current user goal.\n'
    '2. **Decide on Tool Usage:** If a tool is needed, specify the tool and its parameters.\n'
    '3. **Respond Appropriately:** If a response is needed, generate one while maintaining consistency across user queries.\n'
    '\n'
    '**Output Format**\n'
    '```plaintext\n'
    '<think> Your thoughts and reasoning </think>\n'
    '<tool_call>\n'
    '{"name": "Tool name", "parameters": {"Parameter name": "Parameter content", "... ...": "... ..."}}\n'
    '{"name": "... ...", "parameters": {"... ...": "... ...", "... ...": "... ..."}}\n'
    '...\n'
    '</tool_call>\n'
    "<response> AI's final response </response>\n"
    '```\n'
    '\n'
    '**Important Notes**\n'
    '1. You must always include the `<think>` field to outline your reasoning. Provide at least one of `<tool_call>` or `<response>`. Decide whether to use `<tool_call>` (possibly multiple times), `<response>`, or both.\n'
    '2. You can invoke multiple tool calls simultaneously in the `<tool_call>` fields. Each tool call should be a JSON object with a "name" field and an "parameters" field containing a dictionary of parameters. If no parameters are needed, leave the "parameters" field an empty dictionary.\n'
    "3. Refer to the previous dialogue records in the history, including the user's queries, previous `<tool_call>`, `<response>`, and any tool feedback noted as `<obs>` (if exists)."
)
HISTORY_HEADER = "**Dialogue Records History**\n"

HERMES_INTRO = "You are a helpful assistant that can call functions to solve the user's task.\n\n"
HERMES_TOOLS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
)
HERMES_RULES = (
    "\n\nAlways reason first inside <think> </think>. Then either call one or more functions, "
    "or answer the user directly in plain text when no function fits or the request lacks required "
    "parameters. The conversation so far is in the user message; tool results appear as <obs>."
)


def _render_toolrl_tool(number: int, tool: Mapping[str, Any]) -> str:
    return (
        f"{number}. Name: {tool['name']}\n"
        f"Description: {tool.get('description', '')}\n"
        f"Parameters: {json.dumps(tool.get('parameters', {}))}"
    )


def _render_hermes_tool(tool: Mapping[str, Any]) -> str:
    schema = tool if tool.get("type") == "function" else {"type": "function", "function": dict(tool)}
    return json.dumps(schema, ensure_ascii=False)


def system_prompt(tools: Sequence[Mapping[str, Any]], format: Format = "toolrl") -> str:
    """The system prompt listing ``tools`` (dicts with ``name``, ``description``, ``parameters``).

    >>> print(system_prompt([{"name": "f", "description": "Adds.", "parameters": {"x": {"type": "int"}}}]).split("\\n")[4])
    1. Name: f
    >>> "<tools>" in system_prompt([], "hermes")
    True
    """
    check_format(format)
    if format == "toolrl":
        listing = "\n".join(_render_toolrl_tool(n, tool) for n, tool in enumerate(tools, start=1))
        return f"{TOOLRL_INTRO}{TOOLRL_TOOLS_HEADER}{listing}\n\n{TOOLRL_RULES}"
    listing = "\n".join(_render_hermes_tool(tool) for tool in tools)
    return HERMES_INTRO + HERMES_TOOLS.replace("{tools}", listing) + HERMES_RULES


def render_turn(turn: Mapping[str, Any], format: Format = "toolrl") -> str:
    """One history entry. ``turn["role"]`` is ``user`` (``content``), ``assistant`` (``think``, ``calls``,
    ``response``) or ``tool`` (``content``: the tool results, shown as an observation).

    >>> render_turn({"role": "user", "content": "Hi"})
    '<user> Hi </user>'
    >>> render_turn({"role": "tool", "content": '[{"name": "f", "results": 1}]'})
    '<obs> [{"name": "f", "results": 1}] </obs>'
    """
    role = turn["role"]
    if role == "user":
        return f"<user> {turn['content']} </user>"
    if role == "tool":
        return f"<obs> {turn['content']} </obs>"
    if role == "assistant":
        calls = [call if isinstance(call, ToolCall) else ToolCall(**call) for call in turn.get("calls", ())]
        return render_output(turn.get("think", ""), calls, turn.get("response"), format)
    raise ValueError(f"unknown turn role {role!r}; valid roles: user, assistant, tool")


def user_prompt(turns: Iterable[Mapping[str, Any]], format: Format = "toolrl") -> str:
    """The user message: the dialogue so far, one blank line between exchanges; a tool result follows
    the assistant output that asked for it on the next line.

    >>> print(user_prompt([{"role": "user", "content": "Weather in Paris?"}]))
    **Dialogue Records History**
    <user> Weather in Paris? </user>
    """
    chunks: list[str] = []
    for turn in turns:
        text = render_turn(turn, format)
        if turn["role"] == "tool" and chunks:
            chunks[-1] += "\n" + text
        else:
            chunks.append(text)
    return HISTORY_HEADER + "\n\n".join(chunks)


def chat_messages(
    tools: Sequence[Mapping[str, Any]], turns: Iterable[Mapping[str, Any]], format: Format = "toolrl"
) -> list[dict[str, str]]:
    """The ``prompt`` column of a verl row: ``[system, user]`` chat messages.

    >>> [m["role"] for m in chat_messages([], [{"role": "user", "content": "Hi"}])]
    ['system', 'user']
    """
    return [
        {"role": "system", "content": system_prompt(tools, format)},
        {"role": "user", "content": user_prompt(turns, format)},
    ]
