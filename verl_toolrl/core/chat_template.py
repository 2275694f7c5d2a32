"""What a model's own chat template adds around the response: a prefilled think block, and the tools.

Some chat templates end the generation prompt inside a think block: Qwen3 thinking checkpoints (e.g.
Qwen3-4B-Thinking-2507) render ``<|im_start|>assistant\\n<think>\\n``, so the model's response starts
*after* ``<think>`` and never contains it; scored as it is, every response misses the think block and the
format reward is 0 (the failure reported against TRL in trl#6966). Qwen3 hybrid checkpoints prefill a
closed, empty think block when ``enable_thinking=False`` is passed (``data.apply_chat_template_kwargs``).

:func:`think_prefill` reads this from the tokenizer's own template, once, by rendering a probe
conversation; the reward manager (start-up), the preflight report and the evaluation's decoding all
call it, and score ``prefill + response``: the model's full output, the prefilled tag included.
``THINK_PREFILL_MODES`` are the values of the option that overrides the detection
(``reward.reward_kwargs.think_prefill``, the evaluation's ``--think-prefill``).

The tools: :func:`row_tools` reads a row's tool schemas for the template (``toolrl_tool_template``
passes them as ``tools=``), and :func:`leaves_tools_to_template` tells the rows that need that loop.
:func:`chat_prompt_text` / :func:`chat_prompt_ids` render a prompt as verl's token builder does (the chat
template with the generation prompt, and ``tools=``): the evaluation's local backends and the preflight
render with them, so a ``--tool-prompt template`` prompt is the one the agent loop sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from verl_toolrl.core.calls import THINK_CLOSE, THINK_OPEN

#: ``auto``: detect from the template; ``none``: score the response as decoded; ``open``: the template
#: opens a think block the response continues (prepend ``OPEN_PREFILL``), whatever the detection says.
THINK_PREFILL_MODES: tuple[str, ...] = ("auto", "none", "open")
OPEN_PREFILL = THINK_OPEN + "\n"  # what Qwen3 thinking checkpoints prefill
_PROBE = "Which tools do you have?"  # any user text the template copies verbatim
#: The name of the single-turn agent loop (verl_toolrl.plugin.agent_loop) that renders prompts with the row's
#: tools in the chat template (``tools=``), for rows built with ``--tool-prompt template``.
TOOL_TEMPLATE_AGENT = "toolrl_tool_template"


@dataclass(frozen=True)
class ThinkPrefill:
    """The part of a generation prompt that belongs to the model's output: ``kind`` is ``none`` (no think
    block), ``open`` (the response continues an opened ``<think>``) or ``closed`` (a complete, usually
    empty, think block precedes the response); ``text`` is that part, from the first ``<think>`` on."""

    kind: Literal["none", "open", "closed"]
    text: str = ""

    def describe(self) -> str:
        """One line for the preflight report.

        >>> print(ThinkPrefill("open", "<think>\\n").describe())
        the generation prompt opens a think block ('<think>\\n'): responses are scored with it prepended
        """
        if self.kind == "none":
            return "the generation prompt opens no think block: responses are scored as decoded"
        if self.kind == "open":
            return f"the generation prompt opens a think block ({self.text!r}): responses are scored with it prepended"
        return (
            f"the generation prompt holds a closed think block ({self.text!r}, e.g. enable_thinking=False): "
            "responses are scored with it prepended, so the model's own output must not open another"
        )


def prefill_of_generation_prompt(generation_prompt: str) -> ThinkPrefill:
    """The think prefill at the end of a rendered generation prompt (the text after the last message).

    >>> prefill_of_generation_prompt("<|im_start|>assistant\\n")
    ThinkPrefill(kind='none', text='')
    >>> prefill_of_generation_prompt("<|im_start|>assistant\\n<think>\\n")
    ThinkPrefill(kind='open', text='<think>\\n')
    >>> prefill_of_generation_prompt("<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n")
    ThinkPrefill(kind='closed', text='<think>\\n\\n</think>\\n\\n')
    """
    first = generation_prompt.find(THINK_OPEN)
    if first < 0:
        return ThinkPrefill("none")
    text = generation_prompt[first:]
    last_open = text.rfind(THINK_OPEN)
    closed = text.find(THINK_CLOSE, last_open) >= 0
    return ThinkPrefill("closed" if closed else "open", text)


def think_prefill(tokenizer: Any, chat_template_kwargs: Mapping[str, Any] | None = None) -> ThinkPrefill:
    """What the tokenizer's chat template prefills of the response, with the keyword arguments verl passes
    to it (``data.apply_chat_template_kwargs``, e.g. ``enable_thinking``). A tokenizer without a chat
    template prefills nothing.

    >>> from verl_toolrl.checks.stand_in import byte_level_tokenizer
    >>> tokenizer = byte_level_tokenizer()
    >>> think_prefill(tokenizer).kind
    'none'
    >>> tokenizer.chat_template += "{% if add_generation_prompt %}<think>\\n{% endif %}"
    >>> think_prefill(tokenizer)
    ThinkPrefill(kind='open', text='<think>\\n')
    """
    if not getattr(tokenizer, "chat_template", None):
        return ThinkPrefill("none")
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": _PROBE}],
        add_generation_prompt=True,
        tokenize=False,
        **dict(chat_template_kwargs or {}),
    )
    return prefill_of_generation_prompt(rendered[rendered.rfind(_PROBE) + len(_PROBE) :])


def resolve_think_prefill(
    mode: str, tokenizer: Any, chat_template_kwargs: Mapping[str, Any] | None = None
) -> ThinkPrefill:
    """The prefill to score with under ``mode``, one of ``THINK_PREFILL_MODES``: an option its reader has
    validated (``reward.reward_kwargs.think_prefill``: :class:`verl_toolrl.reward.config.RewardOptions`;
    the evaluation's ``--think-prefill``: its argument parser); anything else is a ``ValueError``.

    >>> resolve_think_prefill("open", None).text, resolve_think_prefill("none", None).kind
    ('<think>\\n', 'none')
    >>> resolve_think_prefill("always", None)
    Traceback (most recent call last):
    ...
    ValueError: think_prefill: unknown value 'always'; valid choices: auto, none, open
    """
    if mode == "none":
        return ThinkPrefill("none")
    if mode == "open":
        return ThinkPrefill("open", OPEN_PREFILL)
    if mode == "auto":
        return think_prefill(tokenizer, chat_template_kwargs)
    valid = ", ".join(THINK_PREFILL_MODES)
    raise ValueError(f"think_prefill: unknown value {mode!r}; valid choices: {valid}")


def model_continuation(target: str, prefill: ThinkPrefill) -> str:
    """What a model whose template prefills ``prefill`` generates to produce ``target`` as its full output:
    the target after the opening tag (``open``), or after its think block (``closed``), so that
    ``prefill.text + model_continuation(target, prefill)`` is the target (up to the think's whitespace).

    >>> target = "<think> t </think>\\n<response> hi </response>"
    >>> model_continuation(target, ThinkPrefill("open", "<think>\\n"))
    ' t </think>\\n<response> hi </response>'
    >>> model_continuation(target, ThinkPrefill("closed", "<think>\\n\\n</think>\\n\\n"))
    '<response> hi </response>'
    """
    if prefill.kind == "open" and target.startswith(THINK_OPEN):
        return target[len(THINK_OPEN) :]
    if prefill.kind == "closed" and target.startswith(THINK_OPEN) and THINK_CLOSE in target:
        return target.split(THINK_CLOSE, 1)[1].lstrip("\n")
    return target


def row_tools(extra_info: Mapping[str, Any] | None, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tool schemas of one row (``extra_info.tools``) for the chat template; ``ValueError`` naming the
    row when they are missing or malformed, or when its system prompt already lists them.

    >>> tools = [{"type": "function", "function": {"name": "f", "description": "", "parameters": {}}}]
    >>> row_tools({"tools": json.dumps(tools)}, [{"role": "user", "content": "hi"}]) == tools
    True
    >>> listed = [{"role": "system", "content": "Tools: <tools>...</tools>"}]
    >>> row_tools({"tools": "[]", "source_id": "7"}, listed)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: row 7: toolrl_tool_template hands extra_info.tools to the chat template, but the system prompt already
    lists tools; build the data with --format hermes --tool-prompt template, or use single_turn_agent
    """
    info = extra_info or {}
    where = f"row {info.get('source_id', info.get('index', '?'))}"
    if info.get("format", "hermes") != "hermes":
        raise ValueError(
            f"{where}: {TOOL_TEMPLATE_AGENT} needs --format hermes rows (the chat templates' own tool "
            f"format), got format {info.get('format')!r}"
        )
    if _lists_tools(messages):
        raise ValueError(
            f"{where}: {TOOL_TEMPLATE_AGENT} hands extra_info.tools to the chat template, but the system "
            "prompt already lists tools; build the data with --format hermes --tool-prompt template, "
            "or use single_turn_agent"
        )
    try:
        tools = json.loads(info["tools"])
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where}: extra_info.tools must be a JSON list of tool schemas ({error})") from None
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise ValueError(f"{where}: extra_info.tools must be a JSON list of tool schemas, got {info['tools'][:80]!r}")
    return tools


def _lists_tools(messages: Sequence[Mapping[str, Any]]) -> bool:
    first = messages[0] if len(messages) else {}  # a list, or the numpy array pandas reads
    return first.get("role") == "system" and "<tools>" in str(first.get("content", ""))


def leaves_tools_to_template(row: Mapping[str, Any]) -> bool:
    """Whether a row was built with ``--tool-prompt template``: a hermes row with tools in ``extra_info``
    whose system prompt does not list them (only ``toolrl_tool_template`` shows them to the model).

    >>> row = {"prompt": [{"role": "system", "content": "Be helpful."}],
    ...        "extra_info": {"format": "hermes", "tools": '[{"type": "function"}]'}}
    >>> no_tools = {**row, "extra_info": {"format": "hermes", "tools": "[]"}}
    >>> leaves_tools_to_template(row), leaves_tools_to_template(no_tools)
    (True, False)
    """
    info = row.get("extra_info") or {}
    has_tools = info.get("tools") not in (None, "[]")
    return info.get("format") == "hermes" and has_tools and not _lists_tools(row["prompt"])


def chat_prompt_text(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> str:
    """A prompt as the model sees it: its chat template with the generation prompt and, when given, the tool
    schemas, as ``toolrl_tool_template`` hands them to it (``tools=``; None or empty: no tools).

    >>> from verl_toolrl.checks.stand_in import byte_level_tokenizer
    >>> chat_prompt_text(byte_level_tokenizer(), [{"role": "user", "content": "hi"}]).endswith("assistant\\n")
    True
    """
    return _render(tokenizer, messages, tools, chat_template_kwargs, tokenize=False)


def chat_prompt_ids(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> list[int]:
    """The token ids of :func:`chat_prompt_text`, as verl builds a prompt (no special tokens added).

    >>> from verl_toolrl.checks.stand_in import byte_level_tokenizer
    >>> len(chat_prompt_ids(byte_level_tokenizer(), [{"role": "user", "content": "hi"}]))
    21
    """
    encoded = _render(tokenizer, messages, tools, chat_template_kwargs, tokenize=True)
    return list(encoded["input_ids"] if isinstance(encoded, Mapping) else encoded)


def _render(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    tools: Sequence[Mapping[str, Any]] | None,
    chat_template_kwargs: Mapping[str, Any] | None,
    tokenize: bool,
) -> Any:
    return tokenizer.apply_chat_template(
        [dict(message) for message in messages],
        tools=list(tools) if tools else None,
        add_generation_prompt=True,
        tokenize=tokenize,
        **dict(chat_template_kwargs or {}),
    )
