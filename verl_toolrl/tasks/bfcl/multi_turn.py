"""BFCL multi-turn entries and their prompts per protocol, from the ``bfcl-eval`` wheel.

- :func:`load_entries` reads one of the four multi-turn categories
  (:data:`~verl_toolrl.tasks.bfcl.single_turn.MULTI_TURN_CATEGORIES`, 200 entries each) with BFCL's own loaders: the
  user messages per turn, the function docs shown from the start (with BFCL's language hint), the functions held out
  until a later turn (``miss_func``: their docs come at the turn BFCL adds them, :meth:`MultiTurnEntry.functions_at`),
  the simulators' initial configuration and BFCL's ground truth per turn (call strings).
- :func:`entry_spec` / :func:`entry_from_spec`: an entry as JSON, the environment spec a training row carries
  (``extra_info.bfcl_entry``, rows of :data:`MULTI_TURN_AGENT`, the agent loop's name);
- :func:`render_prompt` writes the prompt of the next step from the dialogue so far (BFCL-style messages:
  ``user``; ``assistant`` with the raw output; ``tool`` with ``name``, the call, and ``content``, its result,
  as :func:`verl_toolrl.tasks.episode.tool_message` writes them):
  - ``toolrl``: ToolRL's handler on BFCL's prompting flow (:func:`verl_toolrl.tasks.bfcl.toolrl_handler.messages`:
    ``[system, user]``, the docs shown from the start in the system prompt, the whole dialogue in the user
    message). Held-out docs arrive in a user message, as BFCL's prompting handlers send them
    (:data:`ADDED_FUNCTIONS_PROMPT`, BFCL's ``DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_PROMPTING``).
    The handler's user instruction is its single-turn one: its ``_format_prompt`` has a ``turn_type``, but
    BFCL's ``OSSHandler._query_prompting`` never passes it (see ``toolrl_handler``), so run as released
    its multi-turn branch is never reached.
  - ``strict``: the package's system prompt (``prompts.system_prompt``) over the docs shown so far, then
    chat roles: ``user`` messages ending with ``prompts.BFCL_TURN_INSTRUCTION``, the raw ``assistant``
    outputs, one ``tool`` message per result. Held-out docs join the tool list at their turn, announced by
    BFCL's function-calling message (:data:`ADDED_FUNCTIONS_PROMPT_FC`).

The environment that executes the calls is :mod:`verl_toolrl.tasks.bfcl.environment`; the episode that
drives both is :mod:`verl_toolrl.tasks.bfcl.episode`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import Format
from verl_toolrl.core.prompts import BFCL_TURN_INSTRUCTION, system_prompt
from verl_toolrl.tasks.bfcl import toolrl_handler
from verl_toolrl.tasks.bfcl.single_turn import MULTI_TURN_CATEGORIES, bfcl_utils, to_tool
from verl_toolrl.tasks.protocols import check_protocol

#: The name verl knows the multi-turn agent loop by (the ``agent_name`` of rows run on BFCL's simulators).
MULTI_TURN_AGENT = "toolrl_bfcl_multi_turn"
#: The held-out id list python -m data_preprocess.bfcl_multi_turn writes beside its rows, and the
#: evaluation's ``--ids`` reads: the split between training and evaluation.
HELDOUT_FILE = "heldout_ids.json"
#: Training's protocol: chat roles, so the token stream of a trajectory only grows.
PROTOCOL = "strict"
#: The user message of a turn at which held-out functions are added (BFCL's prompting handlers).
ADDED_FUNCTIONS_PROMPT = "{functions}\nI have updated some more functions you can choose from. What about now?"
#: The same for function-calling (tool-role) handlers, whose docs go to the tool list instead.
ADDED_FUNCTIONS_PROMPT_FC = "I have updated some more functions you can choose from. What about now?"
Message = dict[str, str]


@dataclass(frozen=True)
class MultiTurnEntry:
    """One BFCL multi-turn entry.

    ``questions[t]`` are the user messages of turn ``t`` (empty at a turn where held-out functions are
    added); ``functions`` the docs shown from the start; ``held_out[t]`` the docs added at turn ``t``;
    ``ground_truth[t]`` BFCL's call strings for turn ``t`` (empty where the model should not manage).
    """

    id: str
    category: str
    questions: list[list[dict[str, str]]]
    functions: list[dict[str, Any]]
    held_out: dict[int, list[dict[str, Any]]]
    ground_truth: list[list[str]]
    initial_config: dict[str, Any]
    involved_classes: list[str]
    _system_prompts: dict[tuple[str, str, int], str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_turns(self) -> int:
        return len(self.questions)

    @property
    def long_context(self) -> bool:
        """BFCL loads its simulators with extra content for these entries."""
        return "long_context" in self.category or "composite" in self.category

    def functions_at(self, turn: int) -> list[dict[str, Any]]:
        """The docs the model has been shown by turn ``turn``: the initial ones, then each held-out group
        from the turn it is added.

        >>> entry = load_entries("multi_turn_miss_func", limit=1)[0]
        >>> names = [{f["name"] for f in entry.functions_at(turn)} for turn in (2, 3)]
        >>> sorted(entry.held_out), "sort" in names[0], "sort" in names[1]
        ([3], False, True)
        """
        docs = list(self.functions)
        for added_at in sorted(self.held_out):
            if added_at <= turn:
                docs.extend(self.held_out[added_at])
        return docs

    def system_prompt(self, turn: int, protocol: str, format: Format) -> str:
        """The system message of every step of turn ``turn`` (computed once per tool list)."""
        docs = self.entry_functions(turn, protocol)
        key = (protocol, format, len(docs))
        if key not in self._system_prompts:
            if protocol == "toolrl":
                self._system_prompts[key] = toolrl_handler.handler_system_prompt(docs)
            else:
                self._system_prompts[key] = system_prompt([to_tool(doc) for doc in docs], format)
        return self._system_prompts[key]

    def entry_functions(self, turn: int, protocol: str) -> list[dict[str, Any]]:
        """The docs in the system prompt: those shown so far (``strict``), or those shown from the start
        (``toolrl``: BFCL's prompting flow sends held-out docs in a user message instead)."""
        return self.functions if protocol == "toolrl" else self.functions_at(turn)

    def checker_entry(self) -> dict[str, Any]:
        """The entry as BFCL's ``multi_turn_checker`` reads it."""
        return {"id": self.id, "initial_config": self.initial_config, "involved_classes": self.involved_classes}


def load_entries(category: str, limit: int | None = None) -> list[MultiTurnEntry]:
    """The first ``limit`` entries (all when None) of one multi-turn category, in BFCL's order.

    >>> entry = load_entries("multi_turn_base", limit=1)[0]
    >>> entry.id, entry.num_turns, entry.ground_truth[0][:1], entry.involved_classes
    ('multi_turn_base_0', 4, ["cd(folder='document')"], ['TwitterAPI', 'GorillaFileSystem'])
    """
    if category not in MULTI_TURN_CATEGORIES:
        raise ValueError(f"unknown BFCL multi-turn category {category!r}; valid: {', '.join(MULTI_TURN_CATEGORIES)}")
    utils = bfcl_utils()
    raw = utils.load_dataset_entry(category, include_prereq=False, include_language_specific_hint=True)
    truth = {entry["id"]: entry["ground_truth"] for entry in utils.load_ground_truth_entry(category)}
    entries = []
    for record in raw if limit is None else raw[:limit]:
        if record["id"] not in truth:
            raise ValueError(f"BFCL {category}: no ground truth for {record['id']}")
        ground_truth = truth[record["id"]]
        if len(ground_truth) != len(record["question"]):
            raise ValueError(
                f"BFCL {record['id']}: {len(record['question'])} turns but {len(ground_truth)} ground-truth turns"
            )
        entries.append(
            MultiTurnEntry(
                id=record["id"],
                category=category,
                questions=record["question"],
                functions=record["function"],
                held_out={int(turn): docs for turn, docs in record.get("missed_function", {}).items()},
                ground_truth=ground_truth,
                initial_config=record.get("initial_config", {}),
                involved_classes=record["involved_classes"],
            )
        )
    return entries


_SPEC_FIELDS = (
    "id",
    "category",
    "questions",
    "functions",
    "held_out",
    "ground_truth",
    "initial_config",
    "involved_classes",
)


def entry_spec(entry: MultiTurnEntry) -> str:
    """The entry as JSON (its environment spec, a training row's ``extra_info.bfcl_entry``);
    :func:`entry_from_spec` reads it back.

    >>> entry = load_entries("multi_turn_miss_func", limit=1)[0]
    >>> entry_from_spec(entry_spec(entry)) == entry
    True
    """
    return json.dumps({name: getattr(entry, name) for name in _SPEC_FIELDS}, ensure_ascii=False)


def entry_from_spec(spec: str | Mapping[str, Any]) -> MultiTurnEntry:
    """A :class:`MultiTurnEntry` from :func:`entry_spec` (a ``ValueError`` naming what is missing).

    >>> entry_from_spec({"id": "x"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: extra_info.bfcl_entry lacks category, questions, functions, held_out, ...
    """
    fields = json.loads(spec) if isinstance(spec, str) else dict(spec)
    missing = [name for name in _SPEC_FIELDS if name not in fields]
    if missing:
        raise ValueError(f"extra_info.bfcl_entry lacks {', '.join(missing)}")
    fields["held_out"] = {int(turn): docs for turn, docs in fields["held_out"].items()}
    return MultiTurnEntry(**{name: fields[name] for name in _SPEC_FIELDS})


def turn_messages(entry: MultiTurnEntry, turn: int, protocol: str) -> list[Message]:
    """The user messages that open turn ``turn``: the entry's, or at a turn that adds held-out functions
    BFCL's message announcing them (with the docs in the ``toolrl`` flow, which has no tool list to extend;
    marked ``announces`` so that the strict flow adds no instruction to it).

    >>> entry = load_entries("multi_turn_miss_func", limit=1)[0]
    >>> turn_messages(entry, 3, "strict")  # doctest: +NORMALIZE_WHITESPACE
    [{'role': 'user', 'content': 'I have updated some more functions you can choose from. What about now?',
      'announces': 'functions'}]
    """
    if turn in entry.held_out:
        text = (
            ADDED_FUNCTIONS_PROMPT.format(functions=entry.held_out[turn])
            if protocol == "toolrl"
            else ADDED_FUNCTIONS_PROMPT_FC
        )
        return [{"role": "user", "content": text, "announces": "functions"}]
    return [{"role": m["role"], "content": m["content"]} for m in entry.questions[turn]]


def render_prompt(
    entry: MultiTurnEntry, turn: int, dialogue: Sequence[Mapping[str, str]], protocol: str, format: Format
) -> list[Message]:
    """The chat messages of the next step of turn ``turn``, from the dialogue so far (see the module docstring).

    >>> entry = load_entries("multi_turn_base", limit=1)[0]
    >>> [m["role"] for m in render_prompt(entry, 0, turn_messages(entry, 0, "strict"), "strict", "hermes")]
    ['system', 'user']
    """
    check_protocol(protocol, format)
    system = {"role": "system", "content": entry.system_prompt(turn, protocol, format)}
    if protocol == "toolrl":  # toolrl_handler.messages, with the system message computed once
        return [system, {"role": "user", "content": toolrl_handler.handler_user_prompt(dialogue)}]
    messages = [system]
    for message in dialogue:
        content = message["content"]
        if message["role"] == "user" and message.get("announces") != "functions":
            content = f"{content}\n{BFCL_TURN_INSTRUCTION[format]}"
        messages.append({"role": message["role"], "content": content})
    return messages


def read_heldout_ids(path: str | Path) -> dict[str, list[str]]:
    """The held-out ids by category of a ``heldout_ids.json`` (:func:`write`); a ``ValueError`` naming the
    file and what is wrong with it.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / HELDOUT_FILE
    >>> _ = path.write_text('{"seed": 0, "fraction": 0.2, "ids": {"multi_turn_base": ["multi_turn_base_4"]}}')
    >>> read_heldout_ids(path)
    {'multi_turn_base': ['multi_turn_base_4']}
    >>> _ = path.write_text('{"ids": {"multi_turn_bass": []}}')
    >>> read_heldout_ids(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...heldout_ids.json: ids.multi_turn_bass: not a BFCL multi-turn category; valid: multi_turn_base, ...
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (python -m data_preprocess.bfcl_multi_turn writes {HELDOUT_FILE})")
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))["ids"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: not a {HELDOUT_FILE} (a JSON object with 'ids': {{category: [id, ...]}}): {error}"
        ) from None
    if not isinstance(ids, dict):
        raise ValueError(f"{path}: ids: not an object of category -> [id, ...]")
    for category, category_ids in ids.items():
        if category not in MULTI_TURN_CATEGORIES:
            raise ValueError(
                f"{path}: ids.{category}: not a BFCL multi-turn category; valid: {', '.join(MULTI_TURN_CATEGORIES)}"
            )
        if not isinstance(category_ids, list) or not all(isinstance(i, str) for i in category_ids):
            raise ValueError(f"{path}: ids.{category}: not a list of id strings")
    return {category: list(category_ids) for category, category_ids in ids.items()}
