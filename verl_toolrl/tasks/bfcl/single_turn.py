"""BFCL data: items, possible answers, function docs and prompts per protocol, from the ``bfcl-eval`` wheel.

Everything BFCL-specific that is not scoring lives here (the benchmark layer), so the evaluation
(``verl_toolrl.eval``) and the data converters (``verl_toolrl.data``) read the same items the same way:

- category names: the 13 single-turn categories (:data:`SINGLE_TURN_CATEGORIES`) and the four multi-turn
  ones (:data:`MULTI_TURN_CATEGORIES`, scored by their own implementation of the evaluation's benchmark
  interface), groups (:data:`CATEGORY_GROUPS`) and :func:`expand_categories`;
- :func:`load_items` reads one single-turn category with BFCL's own loaders
  (``bfcl_eval.utils.load_dataset_entry`` / ``load_ground_truth_entry``): the docs as the model sees them
  (with BFCL's language hints: Java and JavaScript parameters become strings) and as the checker reads
  them (without);
- prompts: :func:`item_messages` per protocol: ``toolrl`` writes ToolRL's handler prompt
  (:mod:`verl_toolrl.tasks.bfcl.toolrl_handler`), ``strict`` the package's own (:func:`strict_messages`:
  ``prompts.system_prompt`` with the docs as tools (:func:`to_tool`), BFCL's system message appended,
  ``prompts.BFCL_TURN_INSTRUCTION`` ending the current user turn);
- :func:`gold_calls` renders the possible answer as :class:`~verl_toolrl.core.calls.ToolCall` s that BFCL's
  ``ast_checker`` accepts: the first acceptable value of each parameter, optional ones (``""`` among the
  acceptable values) left out, Java/JavaScript values written as the source strings BFCL's type converters
  parse back; :func:`gold_output` writes them as a model would.

Install: ``pip install --no-deps bfcl-eval==2026.3.23`` (its data and checker need nothing else that this
package does not already bring). Importing ``bfcl_eval`` creates folders under ``BFCL_PROJECT_ROOT``;
when that is unset, :func:`bfcl_utils` points it at a scratch folder in the temp directory first.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from verl_toolrl.core.calls import Format, ToolCall, check_format, render_output
from verl_toolrl.core.prompts import BFCL_TURN_INSTRUCTION, chat_messages, check_tool_prompt, template_tool_prompt
from verl_toolrl.tasks.bfcl import toolrl_handler
from verl_toolrl.tasks.protocols import Protocol, check_protocol

BFCL_VERSION = "2026.3.23"
INSTALL_HINT = f"pip install --no-deps bfcl-eval=={BFCL_VERSION}"

NON_LIVE_AST_CATEGORIES: tuple[str, ...] = (
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
)
LIVE_AST_CATEGORIES: tuple[str, ...] = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
AST_CATEGORIES: tuple[str, ...] = NON_LIVE_AST_CATEGORIES + LIVE_AST_CATEGORIES
#: Scored on whether a call is present (relevance) or absent (irrelevance), not on its content.
RELEVANCE_CATEGORIES: tuple[str, ...] = ("irrelevance", "live_irrelevance", "live_relevance")
#: BFCL v4's single-turn categories (``bfcl_eval.constants.category_mapping.SINGLE_TURN_CATEGORY``).
SINGLE_TURN_CATEGORIES: tuple[str, ...] = (
    *NON_LIVE_AST_CATEGORIES,
    "irrelevance",
    *LIVE_AST_CATEGORIES,
    "live_irrelevance",
    "live_relevance",
)
#: BFCL's multi-turn categories (``bfcl_eval.constants.category_mapping.MULTI_TURN_CATEGORY``), 200 entries each.
MULTI_TURN_CATEGORIES: tuple[str, ...] = (
    "multi_turn_base",
    "multi_turn_miss_func",
    "multi_turn_miss_param",
    "multi_turn_long_context",
)
#: Every category the evaluation knows, in BFCL's order.
CATEGORIES: tuple[str, ...] = SINGLE_TURN_CATEGORIES + MULTI_TURN_CATEGORIES
#: Items whose possible answer no output can satisfy under BFCL's checker, with the reason.
KNOWN_DEFECTS: dict[str, str] = {
    "live_simple_106-63-0": "required parameters whose list of acceptable values is empty",
    "live_simple_112-68-0": "required parameters whose list of acceptable values is empty",
    "live_multiple_507-149-4": "a required parameter whose only acceptable value is '' (absent)",
    "live_multiple_964-207-0": "a required parameter whose only acceptable value is '' (absent)",
    "live_multiple_862-181-3": "the answer uses a parameter the function doc does not declare",
    "simple_java_36": "an ArrayList of 'any': BFCL's converter reads every element as a string, the answer has numbers",
    "simple_java_65": (
        "an ArrayList of 'any': BFCL's converter reads every element as a string, the answer has booleans"
    ),
}
#: Names ``--categories`` accepts besides single categories.
CATEGORY_GROUPS: dict[str, tuple[str, ...]] = {
    "all": CATEGORIES,
    "single_turn": SINGLE_TURN_CATEGORIES,
    "multi_turn": MULTI_TURN_CATEGORIES,
    "ast": AST_CATEGORIES,
    "non_live": NON_LIVE_AST_CATEGORIES + ("irrelevance",),
    "live": LIVE_AST_CATEGORIES + ("live_irrelevance", "live_relevance"),
    "relevance": RELEVANCE_CATEGORIES,
}


@dataclass(frozen=True)
class BfclItem:
    """One single-turn BFCL test item.

    ``messages`` is the item's one turn (BFCL roles ``system``/``user``/``assistant``); ``functions`` are
    the docs the checker reads; ``prompt_functions`` the docs shown to the model (BFCL's language hints
    added); ``possible_answer`` is BFCL's ground truth (``[{name: {param: [acceptable values]}}]``), None for
    the relevance categories.
    """

    id: str
    category: str
    messages: list[dict[str, str]]
    functions: list[dict[str, Any]]
    prompt_functions: list[dict[str, Any]]
    possible_answer: list[dict[str, dict[str, list[Any]]]] | None

    @property
    def language(self) -> str:
        return language(self.category)


def language(category: str) -> str:
    """The language BFCL checks a category's calls in: ``python``, ``java`` or ``javascript``.

    >>> language("simple_java"), language("simple_javascript"), language("live_multiple")
    ('java', 'javascript', 'python')
    """
    if "javascript" in category:
        return "javascript"
    return "java" if "java" in category else "python"


def expand_categories(names: Iterable[str], allowed: Sequence[str] = CATEGORIES) -> list[str]:
    """Category names from names and group names (``all``, ``single_turn``, ``multi_turn``, ``ast``,
    ``non_live``, ``live``, ``relevance``), in BFCL's order, without repeats, restricted to ``allowed``
    (a group expands to its allowed members; a single category outside ``allowed`` is an error).
    Raises ``ValueError`` naming the valid choices.

    >>> expand_categories(["live_simple", "simple_java", "simple_java"])
    ['simple_java', 'live_simple']
    >>> len(expand_categories(["all"])), len(expand_categories(["all"], SINGLE_TURN_CATEGORIES))
    (17, 13)
    >>> expand_categories(["multi_turn_base"], SINGLE_TURN_CATEGORIES)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: BFCL category 'multi_turn_base' is not available here; valid: all, single_turn, multi_turn, ast,
    non_live, live, relevance, simple_python, simple_java, simple_javascript, multiple, parallel, parallel_multiple,
    irrelevance, live_simple, live_multiple, live_parallel, live_parallel_multiple, live_irrelevance, live_relevance
    """
    chosen: set[str] = set()
    for name in names:
        if name in CATEGORY_GROUPS:
            chosen.update(c for c in CATEGORY_GROUPS[name] if c in allowed)
        elif name in allowed:
            chosen.add(name)
        else:
            valid = ", ".join([*CATEGORY_GROUPS, *(c for c in CATEGORIES if c in allowed)])
            problem = (
                f"BFCL category {name!r} is not available here"
                if name in CATEGORIES
                else f"unknown BFCL category {name!r}"
            )
            raise ValueError(f"{problem}; valid: {valid}")
    return [category for category in CATEGORIES if category in chosen]


def default_project_root() -> Path:
    """The scratch folder used as ``BFCL_PROJECT_ROOT`` when the caller did not set one."""
    return Path(tempfile.gettempdir()) / "verl_toolrl_bfcl"


def bfcl_utils() -> ModuleType:
    """``bfcl_eval.utils`` (BFCL's data loaders), imported with ``BFCL_PROJECT_ROOT`` set.

    >>> bfcl_utils().__name__
    'bfcl_eval.utils'
    """
    os.environ.setdefault("BFCL_PROJECT_ROOT", str(default_project_root()))
    try:
        from bfcl_eval import utils  # after BFCL_PROJECT_ROOT is set: bfcl_eval reads it at import
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("bfcl_eval"):
            raise ModuleNotFoundError(f"BFCL evaluation needs bfcl-eval: {INSTALL_HINT}") from error
        raise
    return utils


def load_items(category: str, limit: int | None = None) -> list[BfclItem]:
    """The first ``limit`` items (all when None) of one single-turn category, in BFCL's order.

    >>> item = load_items("simple_python", limit=1)[0]
    >>> item.id, item.functions[0]["name"], item.possible_answer[0]["calculate_triangle_area"]["base"]
    ('simple_python_0', 'calculate_triangle_area', [10])
    >>> item.prompt_functions[0]["description"].endswith("Note that the provided function is in Python 3 syntax.")
    True
    """
    if category not in SINGLE_TURN_CATEGORIES:
        raise ValueError(f"unknown BFCL single-turn category {category!r}; valid: {', '.join(SINGLE_TURN_CATEGORIES)}")
    utils = bfcl_utils()
    raw = utils.load_dataset_entry(category, include_prereq=False, include_language_specific_hint=False)
    hinted = utils.load_dataset_entry(category, include_prereq=False, include_language_specific_hint=True)
    answers: list[Any] = [None] * len(raw)
    if category not in RELEVANCE_CATEGORIES:
        truth = utils.load_ground_truth_entry(category)
        by_id = {entry["id"]: entry["ground_truth"] for entry in truth}
        missing = [entry["id"] for entry in raw if entry["id"] not in by_id]
        if missing:
            raise ValueError(f"BFCL {category}: no possible answer for {missing[:5]} ({len(missing)} items)")
        answers = [by_id[entry["id"]] for entry in raw]
    items = []
    for entry, shown, answer in zip(raw, hinted, answers, strict=True):
        if entry["id"] != shown["id"] or len(entry["question"]) != 1:
            raise ValueError(f"BFCL {category} item {entry['id']}: expected one turn with matching docs")
        items.append(
            BfclItem(
                id=entry["id"],
                category=category,
                messages=entry["question"][0],
                functions=entry["function"],
                prompt_functions=shown["function"],
                possible_answer=answer,
            )
        )
    return items if limit is None else items[:limit]


def to_tool(function: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as the package's tool dict (``name``, ``description``, ``parameters``: BFCL's
    JSON schema, unchanged and not copied, as BFCL's own prompting handlers show it).

    >>> to_tool({"name": "f", "description": "Adds.", "parameters": {"type": "dict", "properties": {}}})
    {'name': 'f', 'description': 'Adds.', 'parameters': {'type': 'dict', 'properties': {}}}
    """
    return {
        "name": function["name"],
        "description": function.get("description", ""),
        "parameters": function.get("parameters", {}),
    }


def item_messages(item: BfclItem, format: Format = "toolrl", protocol: Protocol = "strict") -> list[dict[str, str]]:
    """The ``[system, user]`` prompt of an item under ``protocol``: ToolRL's handler prompt
    (:mod:`~verl_toolrl.tasks.bfcl.toolrl_handler`, toolrl format only) or :func:`strict_messages`.

    >>> item = load_items("simple_python", limit=1)[0]
    >>> toolrl = item_messages(item, protocol="toolrl")
    >>> toolrl[1]["content"].splitlines()[1][:30], "Parameters: {" in toolrl[0]["content"]
    ('<user> Find the area of a tria', True)
    """
    check_protocol(protocol, format)
    if protocol == "toolrl":
        return toolrl_handler.messages(item.prompt_functions, item.messages)
    return strict_messages(item, format)


def item_prompt(
    item: BfclItem, format: Format = "toolrl", protocol: Protocol = "strict", tool_prompt: str = "system"
) -> tuple[list[dict[str, str]], list[dict[str, Any]] | None]:
    """An item's prompt: its messages (:func:`item_messages`) and the tool schemas its chat template lists,
    None unless ``tool_prompt`` is ``template`` (hermes only: the system prompt then leaves the tools to
    the template, as in ``--tool-prompt template`` data, see ``prompts.template_tool_prompt``).

    >>> item = load_items("simple_python", limit=1)[0]
    >>> messages, tools = item_prompt(item, "hermes", tool_prompt="template")
    >>> "<tools>" in messages[0]["content"], tools[0]["function"]["name"]
    (False, 'calculate_triangle_area')
    """
    check_tool_prompt(tool_prompt, format)
    messages = item_messages(item, format, protocol)
    if tool_prompt == "system":
        return messages, None
    return template_tool_prompt(messages, [to_tool(function) for function in item.prompt_functions])


def strict_messages(item: BfclItem, format: Format = "toolrl") -> list[dict[str, str]]:
    """The ``[system, user]`` prompt of an item in the package's own prompt format (``--protocol strict``).

    BFCL's system message (live items have one) follows the package's system prompt after a blank line,
    as BFCL's handlers do; earlier turns are rendered as history, and ``prompts.BFCL_TURN_INSTRUCTION``
    ends the last user turn.

    >>> doc = {"name": "f", "description": "Adds.", "parameters": {"type": "dict", "properties": {}}}
    >>> item = BfclItem("live_simple_0-0-0", "live_simple", [{"role": "system", "content": "Be brief."},
    ...     {"role": "user", "content": "Add 1 and 2."}], [doc], [doc], [{"f": {}}])
    >>> system, user = [m["content"] for m in strict_messages(item)]
    >>> system.endswith("\\n\\nBe brief."), user.splitlines()[1]
    (True, '<user> Add 1 and 2.')
    """
    check_format(format)
    system_notes = [m["content"] for m in item.messages if m["role"] == "system"]
    turns: list[dict[str, Any]] = []
    for message in item.messages:
        if message["role"] == "user":
            turns.append({"role": "user", "content": message["content"]})
        elif message["role"] == "assistant":
            turns.append({"role": "assistant", "think": "", "response": message["content"]})
        elif message["role"] != "system":
            raise ValueError(f"BFCL item {item.id}: unexpected message role {message['role']!r}")
    last_user = max((i for i, turn in enumerate(turns) if turn["role"] == "user"), default=None)
    if last_user is None:
        raise ValueError(f"BFCL item {item.id}: no user message")
    turns[last_user] = {"role": "user", "content": f"{turns[last_user]['content']}\n{BFCL_TURN_INSTRUCTION[format]}"}
    messages = chat_messages([to_tool(function) for function in item.prompt_functions], turns, format)
    if system_notes:
        messages[0]["content"] += "\n\n" + "\n\n".join(system_notes)
    return messages


# --- gold answers ---------------------------------------------------------------------------------


def _first(acceptable: Sequence[Any]) -> Any:
    return next(value for value in acceptable if value != "")


def _is_optional(acceptable: Sequence[Any]) -> bool:
    """``""`` among the acceptable values: the parameter may be left out."""
    return "" in acceptable


def _has_value(acceptable: Sequence[Any]) -> bool:
    """Some acceptable value besides ``""`` (BFCL has a few parameters without one: data defects)."""
    return any(value != "" for value in acceptable)


def _pick_dict(answer: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """A nested dict answer (``{key: [acceptable values]}``) with the first value of each required key."""
    return {key: _first(values) for key, values in answer.items() if not _is_optional(values)}


def _schema_kind(schema: Mapping[str, Any], lang: str) -> tuple[str, str | None]:
    """(declared type, declared item type) of one parameter."""
    items = schema.get("items") or {}
    return schema.get("type", "string"), items.get("type") if isinstance(items, Mapping) else None


def _python_value(value: Any, kind: str, item_kind: str | None) -> Any:
    if kind == "dict" and isinstance(value, dict):
        return _pick_dict(value)
    if kind in ("array", "tuple") and item_kind == "dict" and isinstance(value, list):
        return [_pick_dict(entry) if isinstance(entry, dict) else entry for entry in value]
    return value


def _java_scalar(value: Any, kind: str | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "long" and isinstance(value, int):
        return f"{value}L"
    if kind == "float" and isinstance(value, (int, float)):
        return f"{value}f"
    return json.dumps(value)


def _java_literal(value: Any) -> str:
    """A value as a Java literal inside a collection (strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    return _java_scalar(value, None)


def _java_value(value: Any, kind: str, item_kind: str | None) -> str:
    if isinstance(value, str):
        return value
    if kind == "HashMap" and isinstance(value, dict):
        puts = " ".join(f"put({json.dumps(key)}, {_java_literal(v)});" for key, v in _pick_dict(value).items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}" if puts else "new HashMap<>()"
    if kind == "ArrayList" and isinstance(value, list):
        if item_kind in ("String", "char"):
            elements = ", ".join(json.dumps(str(v)) for v in value)
        else:
            elements = ", ".join(_java_scalar(v, item_kind) if item_kind else _java_literal(v) for v in value)
        return f"new ArrayList<>(Arrays.asList({elements}))" if value else "new ArrayList<>()"
    if kind == "Array" and isinstance(value, list):
        if item_kind:
            elements = ", ".join(_java_scalar(v, item_kind) for v in value)
        else:
            elements = ", ".join(_java_literal(v) for v in value)
        return f"new {_JAVA_ARRAY_TYPE.get(item_kind or '', 'Object')}[]{{{elements}}}"
    return _java_scalar(value, kind)


_JAVA_ARRAY_TYPE = {"integer": "int", "String": "String", "long": "long", "double": "double", "boolean": "boolean"}


def _js_literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_js_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_js_literal(v)}" for key, v in value.items()) + "}"
    return json.dumps(value)


def _js_value(value: Any, kind: str, item_kind: str | None) -> str:
    if isinstance(value, str):
        return value
    if kind == "dict" and isinstance(value, dict):
        return _js_literal(_pick_dict(value))
    if kind == "Bigint" and isinstance(value, int):
        return f"{value}n"
    return _js_literal(value)


def _gold_value(acceptable: Sequence[Any], schema: Mapping[str, Any], lang: str) -> Any:
    kind, item_kind = _schema_kind(schema, lang)
    value = _first(acceptable)
    if lang == "java":
        return _java_value(value, kind, item_kind)
    if lang == "javascript":
        return _js_value(value, kind, item_kind)
    return _python_value(value, kind, item_kind)


def gold_calls(item: BfclItem) -> list[ToolCall]:
    """The possible answer as calls BFCL's checker accepts: per call, the first acceptable value of each
    parameter; parameters whose acceptable values include ``""`` (optional) are left out unless the doc
    requires them, and so are parameters with no acceptable value at all (data defects). Java and
    JavaScript values are the source strings BFCL's type converters read (``"5L"``, ``"true"``,
    ``new ArrayList<>(...)``, ``[1, 2]``). Empty for the relevance categories.

    >>> doc = {"name": "area", "parameters": {"type": "dict", "properties": {
    ...     "base": {"type": "integer"}, "unit": {"type": "string"}, "exact": {"type": "boolean"}}}}
    >>> answer = [{"area": {"base": [10], "unit": ["units", ""], "exact": [True]}}]
    >>> gold_calls(BfclItem("simple_python_0", "simple_python", [], [doc], [doc], answer))
    [ToolCall(name='area', arguments={'base': 10, 'exact': True})]
    >>> gold_calls(BfclItem("simple_java_0", "simple_java", [], [doc], [doc], answer))
    [ToolCall(name='area', arguments={'base': '10', 'exact': 'true'})]
    """
    if item.possible_answer is None:
        return []
    docs = {function["name"]: function for function in item.functions}
    calls = []
    for answer in item.possible_answer:
        ((name, parameters),) = answer.items()
        schema = docs.get(name, {}).get("parameters", {})
        properties, required = schema.get("properties", {}), set(schema.get("required", ()))
        arguments = {
            param: _gold_value(acceptable, properties.get(param, {}), item.language)
            for param, acceptable in parameters.items()
            if _has_value(acceptable) and (param in required or not _is_optional(acceptable))
        }
        calls.append(ToolCall(name, arguments))
    return calls


def gold_output(item: BfclItem, format: Format = "toolrl") -> str:
    """The gold answer written as a model would write it: the gold calls, a plain answer where no tool
    fits (irrelevance), and for ``live_relevance`` (no answer to check; any call counts) a call of the
    item's first function.

    >>> doc = {"name": "area", "parameters": {"type": "dict", "properties": {"base": {"type": "integer"}}}}
    >>> print(gold_output(BfclItem("simple_python_0", "simple_python", [], [doc], [doc], [{"area": {"base": [10]}}])))
    <think> I will call the tools. </think>
    <tool_call>
    {"name": "area", "parameters": {"base": 10}}
    </tool_call>
    """
    if item.category == "live_relevance":
        return render_output("I will call a tool.", [ToolCall(item.functions[0]["name"], {})], format=format)
    calls = gold_calls(item)
    if calls:
        return render_output("I will call the tools.", calls, format=format)
    return render_output("No tool fits.", response="I cannot help with that.", format=format)
