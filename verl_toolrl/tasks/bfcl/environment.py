"""BFCL's multi-turn environment: its simulators with fresh state, safe execution of parsed calls, BFCL's verdict.

One unit that the evaluation's multi-turn loop and multi-turn RL both drive; it knows nothing of prompts,
backends or rewards. What it owns:

- **Entries** come from the benchmark layer (:mod:`verl_toolrl.tasks.bfcl.multi_turn`); their
  ground truth per turn, BFCL's call strings, is read here as :class:`~verl_toolrl.core.calls.ToolCall` s
  (:func:`ground_truth_calls`: ``ast``, literals only, positional arguments named from the signatures).
- **Fresh state** (:class:`Environment`): every environment builds its own simulator instances from the
  entry's initial configuration, as BFCL's executor does (``_load_scenario`` on a deep copy, the long
  context added for ``long_context`` entries), and keeps them on itself: two environments of one entry
  never share anything. BFCL's executor instead caches instances in module globals keyed by model name
  and entry id, so a reused name continues from an old state (:func:`official_verdict` gives BFCL's
  checker a new name every time and removes the instances afterwards).
- **Execution of parsed calls only** (:meth:`Environment.execute`): a call runs when its name is a public
  method of the entry's simulators (as in BFCL's executor), its arguments bind to its signature and none
  would make a simulator compute for hours (:data:`COSTLY_ARGUMENTS`); the method is then called
  directly with the parsed JSON values, and nothing goes through ``eval``. Results
  are stringified as BFCL's executor does; an unknown function, arguments that do not fit, or an exception
  inside a simulator become an observation ``Error during execution: …``, never an exception.
- **BFCL's verdict** (:func:`official_verdict`): the official ``multi_turn_checker`` (state and response
  checks after every turn) on the call strings of the calls that ran. Those strings are built here
  (:func:`render_call`: a vetted function name, keyword arguments as ``repr`` of JSON values), so they are
  the only thing of a model's making that reaches the ``eval`` inside BFCL's checker.

Install: ``pip install --no-deps bfcl-eval==2026.3.23``; importing ``bfcl_eval`` creates folders under
``BFCL_PROJECT_ROOT``, which is pointed at a scratch folder when it is unset.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import inspect
import json
import keyword
import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from verl_toolrl.core.calls import ToolCall
from verl_toolrl.tasks.bfcl.multi_turn import MultiTurnEntry
from verl_toolrl.tasks.bfcl.single_turn import bfcl_utils
from verl_toolrl.tasks.episode import Execution

ERROR_PREFIX = "Error during execution: "
#: Deepest nesting of lists/objects an argument may have (Python's parser rejects deeper literals).
MAX_ARGUMENT_DEPTH = 32
#: Arguments with which a simulator would compute for hours or exhaust memory (BFCL's own harness hangs on
#: them too): (class, method) -> (argument, largest magnitude run). ``power`` is limited only when both
#: operands are integers (exact big-integer powers); the precisions are decimal digits.
COSTLY_ARGUMENTS: dict[tuple[str, str], tuple[str, int]] = {
    ("MathAPI", "power"): ("exponent", 10_000),
    ("MathAPI", "logarithm"): ("precision", 1_000),
    ("MathAPI", "square_root"): ("precision", 1_000),
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMULATORS = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"


@functools.cache
def bfcl_module(name: str) -> ModuleType:
    """A module of the ``bfcl-eval`` wheel, imported with ``BFCL_PROJECT_ROOT`` set (``benchmarks.bfcl.bfcl_utils``
    sets it and explains a missing wheel); looked up once per name (the loop asks for the checker every turn).

    >>> bfcl_module("bfcl_eval.constants.default_prompts").MAXIMUM_STEP_LIMIT
    20
    """
    bfcl_utils()
    return importlib.import_module(name)


# --- rendering and vetting calls ---------------------------------------------------------------------


class CallRefused(ValueError):
    """A parsed call that may not run: the reason is the observation the model gets."""


def _check_value(value: Any, depth: int = 0) -> None:
    """JSON values only (``json.loads`` output), finite numbers, bounded nesting."""
    if depth > MAX_ARGUMENT_DEPTH:
        raise CallRefused(f"an argument nests deeper than {MAX_ARGUMENT_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CallRefused(f"an argument is not a finite number ({value!r})")
        return
    if isinstance(value, list):
        for element in value:
            _check_value(element, depth + 1)
        return
    if isinstance(value, dict):
        for key, element in value.items():
            if not isinstance(key, str):
                raise CallRefused("an object argument has a key that is not a string")
            _check_value(element, depth + 1)
        return
    raise CallRefused(f"an argument of type {type(value).__name__} is not a JSON value")


def _shown(value: Any) -> str:
    """A name from model output as an observation shows it: JSON-quoted, at most 100 characters."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def render_call(name: str, arguments: Mapping[str, Any]) -> str:
    """The call string BFCL's executor and checker evaluate: ``name(key=repr(value), …)``. ``name`` and the
    keys must be plain identifiers and the values JSON values, else :class:`CallRefused`; ``repr`` of
    those is always a literal, so the string can do nothing but call ``name``.

    >>> render_call("cd", {"folder": "it's"}), render_call("mean", {"numbers": [1, 2.5, None, True]})
    ('cd(folder="it\\'s")', 'mean(numbers=[1, 2.5, None, True])')
    >>> render_call("__import__('os').system", {})
    Traceback (most recent call last):
    ...
    verl_toolrl.tasks.bfcl.environment.CallRefused: unknown function "__import__('os').system"
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise CallRefused(f"unknown function {_shown(name)}")
    for key, value in arguments.items():
        if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key) or keyword.iskeyword(key):
            raise CallRefused(f"{name} has no parameter {_shown(key)}")
        _check_value(value)
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in arguments.items())})"


@functools.cache
def simulator_class(class_name: str) -> type:
    """One of BFCL's simulator classes by name (``GorillaFileSystem``, ``MathAPI``, …)."""
    mapping = bfcl_module("bfcl_eval.constants.executable_backend_config").CLASS_FILE_PATH_MAPPING
    if class_name not in mapping or not mapping[class_name].startswith(_SIMULATORS):
        raise ValueError(f"unknown BFCL simulator class {class_name!r}")
    return getattr(bfcl_module(mapping[class_name]), class_name)


@functools.cache
def _signatures(class_name: str) -> dict[str, inspect.Signature]:
    """Public methods of a simulator class and their signatures without ``self``."""
    signatures = {}
    for name, function in inspect.getmembers(simulator_class(class_name), inspect.isfunction):
        if not name.startswith("_"):
            signature = inspect.signature(function)
            signatures[name] = signature.replace(parameters=list(signature.parameters.values())[1:])
    return signatures


def method_owners(involved_classes: Iterable[str]) -> dict[str, str]:
    """Method name → the class that provides it (a later class wins, as in BFCL's executor).

    >>> method_owners(["MathAPI"])["mean"]
    'MathAPI'
    """
    owners: dict[str, str] = {}
    for class_name in involved_classes:
        owners.update((name, class_name) for name in _signatures(class_name))
    return owners


def vet_call(call: ToolCall, allowed: frozenset[str], owners: Mapping[str, str]) -> tuple[str, str]:
    """``(class name, call string)`` of a call that may run, else :class:`CallRefused` with the reason.

    >>> vet_call(ToolCall("mean", {"numbers": [1]}), frozenset({"mean"}), {"mean": "MathAPI"})
    ('MathAPI', 'mean(numbers=[1])')
    >>> vet_call(ToolCall("mean", {"nums": [1]}), frozenset({"mean"}), {"mean": "MathAPI"})
    Traceback (most recent call last):
    ...
    verl_toolrl.tasks.bfcl.environment.CallRefused: bad arguments for mean: missing a required argument: 'numbers'
    """
    if not isinstance(call.name, str) or call.name not in allowed or call.name not in owners:
        raise CallRefused(f"unknown function {_shown(call.name)}")
    if not isinstance(call.arguments, dict):
        raise CallRefused(f"the arguments of {call.name} are not an object")
    rendered = render_call(call.name, call.arguments)
    class_name = owners[call.name]
    try:
        _signatures(class_name)[call.name].bind(**call.arguments)
    except TypeError as error:
        raise CallRefused(f"bad arguments for {call.name}: {error}") from None
    _check_cost(class_name, call)
    return class_name, rendered


def _check_cost(class_name: str, call: ToolCall) -> None:
    """Refuse the arguments of :data:`COSTLY_ARGUMENTS` beyond their limit.

    >>> _check_cost("MathAPI", ToolCall("power", {"base": 10, "exponent": 10**9}))
    Traceback (most recent call last):
    ...
    verl_toolrl.tasks.bfcl.environment.CallRefused: bad arguments for power: exponent beyond 10000 is not computed
    >>> _check_cost("MathAPI", ToolCall("power", {"base": 1.5, "exponent": 1e9}))  # floats overflow at once
    """
    name, limit = COSTLY_ARGUMENTS.get((class_name, call.name), (None, 0))
    value = call.arguments.get(name) if name else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or abs(value) <= limit:
        return
    if call.name == "power" and not all(type(call.arguments.get(k)) is int for k in ("base", "exponent")):
        return
    raise CallRefused(f"bad arguments for {call.name}: {name} beyond {limit} is not computed")


def result_text(result: Any) -> str:
    """A method's return value as BFCL's executor writes it: strings as they are, dicts as JSON (``str``
    when not serialisable), anything else ``str``.

    >>> result_text({"a": 1}), result_text("ok"), result_text(None)
    ('{"a": 1}', 'ok', 'None')
    """
    if type(result) is str:
        return result
    if type(result) is dict:
        try:
            return json.dumps(result)
        except (TypeError, ValueError):
            return str(result)
    return str(result)


# --- the environment -------------------------------------------------------------------------------


@dataclass
class Environment:
    """One trajectory through one entry: its own fresh simulator instances (a
    :class:`~verl_toolrl.tasks.episode.ToolEnvironment`; ``reset`` starts them again).

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> entry = load_entries("multi_turn_base", limit=1)[0]
    >>> env = Environment(entry)
    >>> [e.observation for e in env.execute([ToolCall("cd", {"folder": "document"}), ToolCall("rm -rf", {})])]
    ['{"current_working_directory": "document"}', 'Error during execution: unknown function "rm -rf"']
    >>> Environment(entry).instances["GorillaFileSystem"]._current_dir.name
    'workspace'
    """

    entry: MultiTurnEntry
    instances: dict[str, Any] = field(init=False)
    _owners: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._owners = method_owners(self.entry.involved_classes)
        self.reset()

    def reset(self) -> None:
        """Fresh simulator instances from the entry's initial configuration (a trajectory's start)."""
        stateless = set(bfcl_module("bfcl_eval.constants.executable_backend_config").STATELESS_CLASSES)
        self.instances = {}
        for class_name in self.entry.involved_classes:
            instance = simulator_class(class_name)()
            if class_name not in stateless:
                config = copy.deepcopy(self.entry.initial_config.get(class_name, {}))
                instance._load_scenario(config, long_context=self.entry.long_context)
            self.instances[class_name] = instance

    @property
    def allowed(self) -> frozenset[str]:
        """The callable function names: every public method of the entry's simulators, as BFCL's executor
        has them (held-out functions included: a model that calls one before its doc is shown gets it
        run, as in BFCL's harness, and one entry's ground truth does so, ``multi_turn_miss_func_49``)."""
        return frozenset(self._owners)

    def execute_one(self, call: ToolCall) -> Execution:
        """Run one parsed call; never raises on the call's content."""
        try:
            class_name, rendered = vet_call(call, self.allowed, self._owners)
        except CallRefused as refusal:
            return Execution(call, None, ERROR_PREFIX + str(refusal), True)
        try:
            observation = result_text(getattr(self.instances[class_name], call.name)(**call.arguments))
        except Exception as error:  # a simulator's own failure is the model's observation, as in BFCL
            return Execution(call, rendered, ERROR_PREFIX + str(error), True)
        return Execution(call, rendered, observation, False)

    def execute(self, calls: Iterable[ToolCall]) -> list[Execution]:
        """Run the calls of one step in order (an :class:`~verl_toolrl.tasks.episode.Execution` each:
        ``observation`` the result text or ``Error during execution: …``)."""
        return [self.execute_one(call) for call in calls]

    def state(self) -> dict[str, dict[str, Any]]:
        """Every instance's public attributes (what BFCL's state check compares), deep-copied."""
        return {
            name: copy.deepcopy({k: v for k, v in vars(instance).items() if not k.startswith("_")})
            for name, instance in self.instances.items()
        }

    def state_matches(self, other: Environment) -> tuple[bool, dict[str, Any]]:
        """BFCL's ``state_checker`` between this environment and ``other`` (e.g. one that ran the ground
        truth): ``(equal, differences)``."""
        checker = bfcl_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker")
        result = checker.state_checker(self.instances, other.instances)
        return result["valid"], result.get("details", {}).get("differences", {})


# --- ground truth ----------------------------------------------------------------------------------


def parse_call_string(text: str, owners: Mapping[str, str]) -> ToolCall:
    """A BFCL call string (``sort('final_report.pdf')``, ``cd(folder='..')``) as a :class:`ToolCall`:
    read with ``ast`` (literal arguments only, never evaluated), positional arguments named from the
    method's signature.

    >>> parse_call_string("sort('final_report.pdf')", method_owners(["GorillaFileSystem"]))
    ToolCall(name='sort', arguments={'file_name': 'final_report.pdf'})
    """
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id not in owners:
        raise ValueError(f"not a call of a known function: {text!r}")
    parameters = list(_signatures(owners[node.func.id])[node.func.id].parameters)
    if len(node.args) > len(parameters):
        raise ValueError(f"too many positional arguments: {text!r}")
    arguments = {name: ast.literal_eval(value) for name, value in zip(parameters, node.args, strict=False)}
    for argument in node.keywords:
        if argument.arg is None:
            raise ValueError(f"**kwargs in a call string: {text!r}")
        arguments[argument.arg] = ast.literal_eval(argument.value)
    return ToolCall(node.func.id, arguments)


def ground_truth_calls(entry: MultiTurnEntry) -> list[list[ToolCall]]:
    """The ground truth of every turn as parsed calls.

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> ground_truth_calls(load_entries("multi_turn_base", limit=1)[0])[0][0]
    ToolCall(name='cd', arguments={'folder': 'document'})
    """
    owners = method_owners(entry.involved_classes)
    return [[parse_call_string(text, owners) for text in turn] for turn in entry.ground_truth]


# --- BFCL's verdict ----------------------------------------------------------------------------------


def official_verdict(entry: MultiTurnEntry, executed: Sequence[Sequence[Sequence[str]]]) -> dict[str, Any]:
    """BFCL's verdict on one trajectory: ``executed[turn][step]`` are the call strings that ran at that
    step (built by :func:`render_call`; steps without calls may be left out or empty). Fewer turns than
    the entry has (the step limit ended it early) fail it as BFCL does (``multi_turn:force_terminated``).

    Returns ``{"valid": bool, "error_type": str | None, "error_message": str | None}``. The checker's
    simulator instances are created under a name of their own and removed afterwards.

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> entry = load_entries("multi_turn_base", limit=1)[0]
    >>> official_verdict(entry, [[turn] for turn in entry.ground_truth])["valid"]
    True
    >>> official_verdict(entry, [[turn] for turn in entry.ground_truth[:-1]] + [[]])["error_type"]
    'multi_turn:empty_turn_model_response'
    """
    if len(executed) != entry.num_turns:
        return {
            "valid": False,
            "error_type": "multi_turn:force_terminated",
            "error_message": f"{len(executed)} of {entry.num_turns} turns were run (step limit reached)",
        }
    decoded = [[list(step) for step in turn if step] for turn in executed]
    checker = bfcl_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker")
    utils = bfcl_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils")
    name = f"verl_toolrl_{uuid.uuid4().hex}"
    try:
        result = checker.multi_turn_checker(decoded, entry.ground_truth, entry.checker_entry(), entry.category, name)
    except Exception as error:  # the checker asserts on mismatched instances; never on our calls
        result = {"valid": False, "error_type": f"checker:{type(error).__name__}", "error_message": str(error)[:300]}
    finally:
        for key in [key for key in vars(utils) if key.startswith(name)]:
            del vars(utils)[key]
    return {
        "valid": bool(result["valid"]),
        "error_type": result.get("error_type"),
        "error_message": result.get("error_message"),
    }
