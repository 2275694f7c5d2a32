"""The prompts of ToolRL's BFCL handler (``--protocol toolrl``), re-implemented from its source.

ToolRL evaluated BFCL with its own model handler, ``benchmarks/BFCL/rlla_qwen.py`` of
``qiancheng0/ToolRL`` (commit 8cee13ec0ca72f0461da372a93a6fd8140dbb840), class ``RLLAHandler``, method
``_format_prompt`` (lines 48-99). The handler writes one raw Qwen prompt string,
``<|im_start|>system\\n{SYSTEM}<|im_end|>\\n<|im_start|>user\\n{USER}<|im_end|>\\n<|im_start|>assistant\\n``,
which is exactly what a Qwen2.5 chat template renders for the two messages ``[system, user]`` built here:

- **system** (lines 15-40, 53-70): the ToolRL system prompt (``prompts.system_prompt``, the same words)
  listing each function as ``N. Name / Description / Parameters`` where Parameters is
  ``json.dumps(doc["parameters"]["properties"])`` (the properties only, not the whole schema), with the
  template's final newline;
- **user** (lines 72-97): ``**Dialogue Records History**`` then, per message: system messages dropped
  (BFCL's live system prompts and BFCL's own default prompt alike); a user message as
  ``<user> {text} + the handler's single-turn instruction </user>`` (call a tool named 'None' when nothing
  fits); an assistant message as its stripped text between blank lines; a tool result as ``<obs> You have
  made the tool call {name}. Execution returns: {result} </obs>``, followed, when it is the last message,
  by the handler's instruction to reflect and retry; the whole stripped.

The handler takes ``turn_type`` but BFCL's ``OSSHandler._query_prompting`` calls ``_format_prompt(message,
function)`` without it, so the multi-turn instruction (line 80) is never sent, on multi-turn entries too:
:func:`handler_user_prompt` defaults to that behaviour. The function docs are BFCL's after its language hints
(``func_doc_language_specific_pre_processing``, applied by ``OSSHandler._pre_query_processing_prompting``),
i.e. ``BfclItem.prompt_functions``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from verl_toolrl.core.prompts import HISTORY_HEADER, system_prompt

TurnType = Literal["single_turn", "multi_turn"]

#: Appended to each user message (rlla_qwen.py line 82).
SINGLE_TURN_INSTRUCTION = (
    "If there's no appropriate tools to apply or required parameters are missing, please directly inform me "
    "in your response without any tool call, or call the tool with the name as 'None'. Otherwise, you should "
    "use one or more necessary tool calls to complete the given task in this turn."
)
#: Appended to each user message when ``turn_type="multi_turn"`` (line 80; never reached through BFCL).
MULTI_TURN_INSTRUCTION = (
    "Use the one or more necessary tool calls to complete the task. You could perform tool calls for multiple "
    "rounds so you can try and error. Please make a comprehensive plan about how to achieve the goal step by "
    "step, and begin to call the tool step by step. If no tools apply or required parameters are missing, "
    "please also directly state this in your response without tool calls."
)
#: Follows a tool result that is the last message (line 89; "selectioin" as in the source).
AFTER_LAST_RESULT = (
    "If you think you have completed the current task, or the task cannot be finished, please respond directly "
    "without additional tool calls. If you encounter an error during tool execution or the task remains "
    "unfinished, retry with the one or more necessary tool calls according to your thought and plan until "
    "completion. Based on the tool execution feedback, reflect on if understanding or selectioin of tool is "
    "wrong, what tool calling step is missing, and how to achieve the task goal from now on."
)


def handler_system_prompt(functions: Sequence[Mapping[str, Any]]) -> str:
    """The handler's system message for BFCL function docs (their ``parameters.properties`` only).

    >>> doc = {"name": "f", "description": "Adds.",
    ...        "parameters": {"type": "dict", "properties": {"x": {"type": "integer"}}}}
    >>> handler_system_prompt([doc]).split("\\n")[4:7]
    ['1. Name: f', 'Description: Adds.', 'Parameters: {"x": {"type": "integer"}}']
    >>> handler_system_prompt([doc]).endswith("(if exists).\\n")
    True
    """
    tools = [
        {"name": f["name"], "description": f["description"], "parameters": f["parameters"].get("properties", {})}
        for f in functions
    ]
    return system_prompt(tools, "toolrl") + "\n"


def handler_user_prompt(messages: Sequence[Mapping[str, Any]], turn_type: TurnType = "single_turn") -> str:
    """The handler's user message for a BFCL message list (roles system, user, assistant, tool; a tool
    message carries ``name``: the executed call, and ``content``: its result).

    >>> messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Add 1 and 2. "}]
    >>> print(handler_user_prompt(messages).replace(SINGLE_TURN_INSTRUCTION, "{SINGLE_TURN_INSTRUCTION}"))
    **Dialogue Records History**
    <user> Add 1 and 2.
    {SINGLE_TURN_INSTRUCTION} </user>
    """
    instruction = MULTI_TURN_INSTRUCTION if turn_type == "multi_turn" else SINGLE_TURN_INSTRUCTION
    text = HISTORY_HEADER
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "user":
            text += f"<user> {message['content'].strip()}\n{instruction} </user>\n"
        elif role == "tool":
            text += f"<obs> You have made the tool call {message['name'].strip()}. "
            text += f"Execution returns: {message['content'].strip()} </obs>\n"
            if index == len(messages) - 1:
                text += f"\n<user> {AFTER_LAST_RESULT} </user>\n"
        elif role == "assistant":
            text += f"\n{message['content'].strip()}\n"
        elif role != "system":
            raise ValueError(f"unexpected message role {role!r}; valid: system, user, assistant, tool")
    return text.strip()


def messages(
    functions: Sequence[Mapping[str, Any]],
    dialogue: Sequence[Mapping[str, Any]],
    turn_type: TurnType = "single_turn",
) -> list[dict[str, str]]:
    """The ``[system, user]`` chat messages the handler's prompt string encodes.

    >>> [m["role"] for m in messages([], [{"role": "user", "content": "Hi"}])]
    ['system', 'user']
    """
    return [
        {"role": "system", "content": handler_system_prompt(functions)},
        {"role": "user", "content": handler_user_prompt(dialogue, turn_type)},
    ]


def prompt_string(chat: Sequence[Mapping[str, str]]) -> str:
    """The raw prompt the handler sends for :func:`messages` (what a Qwen chat template renders).

    >>> prompt_string([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    '<|im_start|>system\\nS<|im_end|>\\n<|im_start|>user\\nU<|im_end|>\\n<|im_start|>assistant\\n'
    """
    system, user = chat
    return (
        f"<|im_start|>system\n{system['content']}<|im_end|>\n"
        f"<|im_start|>user\n{user['content']}<|im_end|>\n<|im_start|>assistant\n"
    )
