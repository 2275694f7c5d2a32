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
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verl_toolrl.core.calls import (
    CALL_CLOSE,
    CALL_OPEN,
    RESPONSE_CLOSE,
    RESPONSE_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    Format,
    ToolCall,
    check_format,
    parse_response,
    render_output,
)

#: The history's own tags (the model-output tags are the ``calls`` constants).
USER_OPEN, USER_CLOSE = "<user>", "</user>"
OBS_OPEN, OBS_CLOSE = "<obs>", "</obs>"
#: The blocks of a history, as released data writes them (spacing varies there; see :func:`history_blocks`).
HISTORY_BLOCK_TAGS: tuple[str, ...] = ("user", "response", "tool_call", "obs")
TOOL_DESCRIPTION_LINE, TOOL_PARAMETERS_LINE = "\nDescription: ", "\nParameters: "
_TOOL_ENTRY = re.compile(r"^(\d+)\. Name: ", re.MULTILINE)
_HISTORY_BLOCK = re.compile(rf"<({'|'.join(HISTORY_BLOCK_TAGS)})>(.*?)</\1>", re.DOTALL)

TOOLRL_INTRO = (
    "You are a helpful multi-turn dialogue assistant capable of leveraging tool calls to solve user tasks and provide "
    "structured chat responses.\n\n"
)
TOOLRL_TOOLS_HEADER = "**Available Tools**\nIn your response, you can use the following tools:\n"
TOOLRL_RULES = (
    "**Steps for Each Turn**\n"
    "1. **Think:** Recall relevant context and analyze the current user goal.\n"
    "2. **Decide on Tool Usage:** If a tool is needed, specify the tool and its parameters.\n"
    "3. **Respond Appropriately:** If a response is needed, generate one while maintaining consistency across user "
    "queries.\n"
    "\n"
    "**Output Format**\n"
    "```plaintext\n"
    "<think> Your thoughts and reasoning </think>\n"
    "<tool_call>\n"
    '{"name": "Tool name", "parameters": {"Parameter name": "Parameter content", "... ...": "... ..."}}\n'
    '{"name": "... ...", "parameters": {"... ...": "... ...", "... ...": "... ..."}}\n'
    "...\n"
    "</tool_call>\n"
    "<response> AI's final response </response>\n"
    "```\n"
    "\n"
    "**Important Notes**\n"
    "1. You must always include the `<think>` field to outline your reasoning. Provide at least one of `<tool_call>` "
    "or `<response>`. Decide whether to use `<tool_call>` (possibly multiple times), `<response>`, or both.\n"
    "2. You can invoke multiple tool calls simultaneously in the `<tool_call>` fields. Each tool call should be a "
    'JSON object with a "name" field and an "parameters" field containing a dictionary of parameters. If no '
    'parameters are needed, leave the "parameters" field an empty dictionary.\n'
    "3. Refer to the previous dialogue records in the history, including the user's queries, previous `<tool_call>`, "
    "`<response>`, and any tool feedback noted as `<obs>` (if exists)."
)
HISTORY_HEADER = "**Dialogue Records History**\n"

HERMES_INTRO = "You are a helpful assistant that can call functions to solve the user's task.\n\n"
HERMES_TOOLS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
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


def hermes_tool_schema(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool as the function schema a hermes prompt lists (and a chat template's ``tools=`` takes):
    ``{"type": "function", "function": tool}``, unchanged when it already is one.

    >>> hermes_tool_schema({"name": "f", "parameters": {}})
    {'type': 'function', 'function': {'name': 'f', 'parameters': {}}}
    """
    return dict(tool) if tool.get("type") == "function" else {"type": "function", "function": dict(tool)}


def _render_hermes_tool(tool: Mapping[str, Any]) -> str:
    return json.dumps(hermes_tool_schema(tool), ensure_ascii=False)


#: Where the tools are shown: ``system`` (listed in the system prompt written here) or ``template`` (the
#: hermes format only: the system prompt leaves them out and the ``toolrl_tool_template`` agent loop hands
#: ``extra_info.tools`` to the model's own chat template, which lists them in its native tool block).
TOOL_PROMPTS: tuple[str, ...] = ("system", "template")


def check_tool_prompt(tool_prompt: str, format: Format = "toolrl") -> None:
    """``ValueError`` unless ``tool_prompt`` is one of ``TOOL_PROMPTS`` and usable with ``format``.

    >>> check_tool_prompt("template", "toolrl")
    Traceback (most recent call last):
    ...
    ValueError: tool_prompt 'template' needs the hermes format (the templates' own tool format)
    """
    check_format(format)
    if tool_prompt not in TOOL_PROMPTS:
        valid = ", ".join(TOOL_PROMPTS)
        raise ValueError(f"unknown tool_prompt {tool_prompt!r}; valid tool_prompts: {valid}")
    if tool_prompt == "template" and format != "hermes":
        raise ValueError("tool_prompt 'template' needs the hermes format (the templates' own tool format)")


def system_prompt(tools: Sequence[Mapping[str, Any]], format: Format = "toolrl", tool_prompt: str = "system") -> str:
    """The system prompt listing ``tools`` (dicts with ``name``, ``description``, ``parameters``).

    >>> tools = [{"name": "f", "description": "Adds.", "parameters": {"x": {"type": "int"}}}]
    >>> print(system_prompt(tools).split("\\n")[4])
    1. Name: f
    >>> "<tools>" in system_prompt([], "hermes"), "<tools>" in system_prompt([], "hermes", "template")
    (True, False)
    """
    check_tool_prompt(tool_prompt, format)
    if tool_prompt == "template":
        return HERMES_INTRO.rstrip("\n") + HERMES_RULES
    if format == "toolrl":
        listing = "\n".join(_render_toolrl_tool(n, tool) for n, tool in enumerate(tools, start=1))
        return f"{TOOLRL_INTRO}{TOOLRL_TOOLS_HEADER}{listing}\n\n{TOOLRL_RULES}"
    listing = "\n".join(_render_hermes_tool(tool) for tool in tools)
    return HERMES_INTRO + HERMES_TOOLS.replace("{tools}", listing) + HERMES_RULES


def template_tool_prompt(
    messages: Sequence[Mapping[str, str]], tools: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """A hermes prompt that lists ``tools`` in its system prompt, as ``--tool-prompt template`` shows it:
    the messages with the system prompt's tool listing taken out (what follows it, e.g. BFCL's system
    message, is kept) and the tool schemas the model's chat template lists instead (``tools=``). The one
    rewrite the data commands (``data.schema.with_template_tools``) and the evaluation both apply.
    ``ValueError`` when the system prompt does not start with the hermes prompt for ``tools``.

    >>> listed = chat_messages(
    ...     [{"name": "f", "description": "", "parameters": {}}], [{"role": "user", "content": "Hi"}], "hermes"
    ... )
    >>> messages, schemas = template_tool_prompt(listed, [{"name": "f", "description": "", "parameters": {}}])
    >>> "<tools>" in messages[0]["content"], messages[1] == listed[1], schemas[0]["function"]["name"]
    (False, True, 'f')
    """
    listed = system_prompt(tools, "hermes")
    system = dict(messages[0]) if len(messages) else {}
    if system.get("role") != "system" or not str(system.get("content", "")).startswith(listed):
        raise ValueError("the system prompt does not start with the hermes prompt listing its tools")
    content = system_prompt((), "hermes", "template") + system["content"][len(listed) :]
    rest = [{"role": m["role"], "content": m["content"]} for m in messages[1:]]
    return [{"role": "system", "content": content}, *rest], [hermes_tool_schema(tool) for tool in tools]


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
        return f"{USER_OPEN} {turn['content']} {USER_CLOSE}"
    if role == "tool":
        return f"{OBS_OPEN} {turn['content']} {OBS_CLOSE}"
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


# --- Reading released prompts back, and the default thoughts of data targets ---

#: The thought ToolRL's released data gives every call target and every earlier call in a history.
DEFAULT_THINK_CALL = "I should use the appropriate tool with proper parameters to respond to the user's need."
#: The thought ToolRL's released data gives every response-only target and earlier response.
DEFAULT_THINK_RESPONSE = "I should directly respond to the user's need."


def default_think(calls: Sequence[Any] = (), response: str | None = None) -> str:
    """The thought a converted target carries: the call thought when there are calls, else the response one.

    >>> default_think([ToolCall("f")]) == DEFAULT_THINK_CALL, default_think((), "Hi") == DEFAULT_THINK_RESPONSE
    (True, True)
    """
    return DEFAULT_THINK_CALL if calls else DEFAULT_THINK_RESPONSE


def _toolrl_listing(text: str) -> str:
    head, tail = TOOLRL_INTRO + TOOLRL_TOOLS_HEADER, "\n\n" + TOOLRL_RULES
    if not text.startswith(head) or not text.endswith(tail):
        raise ValueError("not a ToolRL system prompt: its fixed intro or rules differ from prompts.TOOLRL_*")
    return text[len(head) : len(text) - len(tail)]


def parse_toolrl_tools(text: str) -> list[dict[str, Any]]:
    """The tools listed in a ToolRL system prompt: the inverse of ``system_prompt(tools, "toolrl")``.

    Raises ``ValueError`` saying what is wrong when the text is not a ToolRL system prompt, an entry is
    malformed, or the tools do not render back to exactly ``text``.

    >>> tools = [{"name": "Get Weather", "description": "Now.", "parameters": {"city": {"type": "str"}}}]
    >>> parse_toolrl_tools(system_prompt(tools)) == tools
    True
    """
    listing = _toolrl_listing(text)
    decoder = json.JSONDecoder()
    tools: list[dict[str, Any]] = []
    position = 0
    while position < len(listing):
        number = len(tools) + 1
        opener = f"{number}. Name: "
        if not listing.startswith(opener, position):
            raise ValueError(f"tool entry {number}: expected {opener!r} at character {position} of the listing")
        name_end = listing.find(TOOL_DESCRIPTION_LINE, position)
        if name_end < 0:
            raise ValueError(f"tool entry {number}: no 'Description:' line")
        name = listing[position + len(opener) : name_end]
        search_from, parameters, end = name_end, None, -1
        while parameters is None:
            marker = listing.find(TOOL_PARAMETERS_LINE, search_from)
            if marker < 0:
                raise ValueError(f"tool entry {number} ({name!r}): no 'Parameters:' line holding JSON")
            try:
                parameters, end = decoder.raw_decode(listing, marker + len(TOOL_PARAMETERS_LINE))
            except ValueError:
                search_from = marker + 1
                continue
            if end < len(listing) and not listing.startswith(f"\n{number + 1}. Name: ", end):
                parameters, search_from = None, marker + 1
        description = listing[name_end + len(TOOL_DESCRIPTION_LINE) : marker]
        tools.append({"name": name, "description": description, "parameters": parameters})
        position = end + 1 if end < len(listing) else end
    if system_prompt(tools, "toolrl") != text:
        raise ValueError("the parsed tools do not render back to the same system prompt")
    return tools


def _take(text: str, position: int, opener: str, closer: str) -> tuple[str, int]:
    end = text.find(closer, position + len(opener))
    if end < 0:
        raise ValueError(f"{opener.strip()} at character {position} is not closed by {closer.strip()!r}")
    return text[position + len(opener) : end], end + len(closer)


def parse_history(text: str) -> list[dict[str, Any]]:
    """The turns of a ToolRL user message: the inverse of ``user_prompt(turns, "toolrl")``.

    Assistant turns come back with ``think``, ``calls`` (``ToolCall``) and ``response`` (None when absent).
    Raises ``ValueError`` saying where the text stops following the format, or when the turns do not
    render back to exactly ``text``.

    >>> turns = [{"role": "user", "content": "Hi"},
    ...          {"role": "assistant", "think": "t", "calls": [ToolCall("f", {"x": 1})], "response": None},
    ...          {"role": "tool", "content": "[1]"}, {"role": "user", "content": "Thanks"}]
    >>> parse_history(user_prompt(turns)) == turns
    True
    """
    if not text.startswith(HISTORY_HEADER):
        raise ValueError(f"a ToolRL user message starts with {HISTORY_HEADER.strip()!r}")
    turns: list[dict[str, Any]] = []
    position = len(HISTORY_HEADER)
    while position < len(text):
        if text.startswith("\n", position):
            position += 1
        elif text.startswith(f"{USER_OPEN} ", position):
            content, position = _take(text, position, f"{USER_OPEN} ", f" {USER_CLOSE}")
            turns.append({"role": "user", "content": content})
        elif text.startswith(f"{OBS_OPEN} ", position):
            content, position = _take(text, position, f"{OBS_OPEN} ", f" {OBS_CLOSE}")
            turns.append({"role": "tool", "content": content})
        elif text.startswith(f"{THINK_OPEN} ", position):
            start = position
            think, position = _take(text, position, f"{THINK_OPEN} ", f" {THINK_CLOSE}")
            if text.startswith(f"\n{CALL_OPEN}\n", position):
                _, position = _take(text, position, f"\n{CALL_OPEN}\n", f"\n{CALL_CLOSE}")
            response = None
            if text.startswith(f"\n{RESPONSE_OPEN} ", position):
                response, position = _take(text, position, f"\n{RESPONSE_OPEN} ", f" {RESPONSE_CLOSE}")
            output = parse_response(text[start:position])  # the one grammar of model output
            if not output.calls_ok:
                raise ValueError(f"assistant output at character {start}: {output.located_reason}")
            turns.append({"role": "assistant", "think": think, "calls": list(output.calls), "response": response})
        else:
            raise ValueError(f"unexpected text at character {position}: {text[position : position + 40]!r}")
    if user_prompt(turns, "toolrl") != text:
        raise ValueError("the parsed turns do not render back to the same user message")
    return turns


def history_blocks(text: str) -> list[tuple[str, str]]:
    """The ``(tag, stripped body)`` of each history block (``HISTORY_BLOCK_TAGS``) in a user message, in
    order: the lenient reader for released data whose spacing differs from :func:`user_prompt`'s
    (:func:`parse_history` is the exact inverse).

    >>> history_blocks("**Dialogue Records History**\\n<user>Hi</user>\\n<obs> ok </obs>\\n<user> Go. </user>")
    [('user', 'Hi'), ('obs', 'ok'), ('user', 'Go.')]
    """
    return [(tag, body.strip()) for tag, body in _HISTORY_BLOCK.findall(text)]


def tool_listing_entries(listing: str) -> list[tuple[str, str, str]]:
    """``(name, description, parameters text)`` of each ``N. Name: …`` entry of a ToolRL tool listing
    (the part of the system prompt after ``TOOLRL_TOOLS_HEADER``), whatever notation the parameters use.

    >>> tool_listing_entries(
    ...     "1. Name: Add\\nDescription: Adds.\\nParameters: {'a': 1}\\n2. Name: Sub\\nDescription: S.\\nParameters: {}"
    ... )
    [('Add', 'Adds.', "{'a': 1}"), ('Sub', 'S.', '{}')]
    """
    starts = [match.start() for match in _TOOL_ENTRY.finditer(listing)] + [len(listing)]
    entries = []
    for begin, stop in zip(starts, starts[1:], strict=False):
        entry = listing[begin:stop].rstrip("\n")
        name, _, rest = entry.partition(TOOL_DESCRIPTION_LINE)
        description, _, parameters = rest.rpartition(TOOL_PARAMETERS_LINE)
        entries.append((name.split(". Name: ", 1)[1], description, parameters))
    return entries


#: The instruction the evaluation appends to the current user turn of every BFCL item (ToolRL's BFCL
#: handler did the same), so that a model asked for something no tool can do answers instead of calling.
BFCL_TURN_INSTRUCTION: dict[str, str] = {
    "toolrl": (
        "If none of the available tools fits this request, or it lacks a required parameter, "
        "do not call a tool: answer directly inside <response> </response>."
    ),
    "hermes": (
        "If none of the available functions fits this request, or it lacks a required parameter, "
        "do not call a function: answer directly in plain text."
    ),
}
