"""BFCL multi-turn evaluation: the model in the loop on BFCL's simulators, its transcripts, BFCL's verdict.

Per entry and user turn: render the prompt, generate, decode the calls, execute them in the entry's
:class:`~verl_toolrl.environments.bfcl_multi_turn.Environment`, append the output and the results, and
repeat until a step makes no call; a turn that reaches BFCL's step limit (more than 20 steps with calls)
ends the entry, which BFCL then fails (``multi_turn:force_terminated``). Held-out functions
(``multi_turn_miss_func``) are announced at the turn BFCL adds them. Trajectories advance in lockstep, so
each backend call carries one step of every unfinished entry (vLLM and the OpenAI client batch them).

Two message flows (``protocol``):

- ``toolrl``: ToolRL's BFCL handler (``qiancheng0/ToolRL``, ``benchmarks/BFCL/rlla_qwen.py``) on BFCL's
  prompting flow: a ``[system, user]`` prompt, the system prompt listing the docs shown at the start
  (parameters as ``json.dumps(properties)``, ``SYS`` of line 15), the whole dialogue in the user message:
  ``<user> … </user>`` with the handler's multi-turn instruction (line 79-80), the model's outputs, each
  result as ``<obs> You have made the tool call NAME. Execution returns: RESULT </obs>`` (line 85-87) and,
  after a result, the handler's request to reflect (line 88-89). Held-out docs arrive in the user message
  as BFCL's prompting handlers send them (``DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_PROMPTING``).
  Decoding as the handler's ``decode_execute`` (line 124-160): the last ``<tool_call>`` block, one JSON
  object per line, lines that are not JSON skipped, calls named ``none`` dropped; a call whose name is not
  a string or whose ``parameters`` is not an object makes the whole step undecodable, as in the handler.
  The handler's ``_format_prompt`` takes ``turn_type``; BFCL's ``OSSHandler`` of that time never passes
  it, so run unchanged its multi-turn branch is never taken. We use that branch, which the handler was
  written for, for these categories.
- ``strict``: the package's own prompt (``prompts.system_prompt`` with the docs shown so far, in the
  run's format) and chat roles: ``user`` turns ending with ``prompts.BFCL_TURN_INSTRUCTION``, the raw
  ``assistant`` outputs, one ``tool`` message per result; held-out docs join the system prompt's tool
  list at their turn, with BFCL's function-calling message. Decoding with ``calls.parse_response``: a
  step whose tool-call part does not parse makes no call.

Transcripts (``transcripts.jsonl``, one line per finished entry, so generation resumes per entry) keep
every step: the SHA-256 of its prompt, the raw output, the calls as decoded, the call strings that ran
(None for a refused call) and the observations. Scoring reads them only: it rebuilds every prompt from the
saved steps and checks its hash, decodes every output again and checks the calls that ran, then gives
the call strings to BFCL's ``multi_turn_checker`` (:func:`~verl_toolrl.environments.bfcl_multi_turn.official_verdict`).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from verl_toolrl.calls import Format, ToolCall, check_format, parse_response, render_output
from verl_toolrl.environments.bfcl_multi_turn import (
    ADDED_FUNCTIONS_PROMPT,
    ADDED_FUNCTIONS_PROMPT_FC,
    MAX_STEPS_PER_TURN,
    MULTI_TURN_CATEGORIES,
    CallRefused,
    Environment,
    MultiTurnEntry,
    ground_truth_calls,
    load_entries,
    method_owners,
    official_verdict,
    vet_call,
)
from verl_toolrl.eval.backends import Backend
from verl_toolrl.eval.bfcl_data import to_tool
from verl_toolrl.prompts import BFCL_TURN_INSTRUCTION, system_prompt

PROTOCOLS: tuple[str, ...] = ("toolrl", "strict")
TRANSCRIPTS_FILE = "transcripts.jsonl"
Message = dict[str, str]

#: ToolRL's handler (rlla_qwen.py line 80): the instruction ending every user turn of a multi-turn entry.
TOOLRL_MULTI_TURN_INSTRUCTION = (
    "Use the one or more necessary tool calls to complete the task. You could perform tool calls for multiple "
    "rounds so you can try and error. Please make a comprehensive plan about how to achieve the goal step by "
    "step, and begin to call the tool step by step. If no tools apply or required parameters are missing, "
    "please also directly state this in your response without tool calls."
)
#: ToolRL's handler (line 89): the user note after the last tool result.
TOOLRL_AFTER_RESULTS = (
    "If you think you have completed the current task, or the task cannot be finished, please respond directly "
    "without additional tool calls. If you encounter an error during tool execution or the task remains "
    "unfinished, retry with the one or more necessary tool calls according to your thought and plan until "
    "completion. Based on the tool execution feedback, reflect on if understanding or selectioin of tool is "
    "wrong, what tool calling step is missing, and how to achieve the task goal from now on."
)


def check_protocol(protocol: str, format: str) -> None:
    """``toolrl`` is ToolRL's handler and its format; ``strict`` takes either format.

    >>> check_protocol("toolrl", "hermes")
    Traceback (most recent call last):
    ...
    ValueError: protocol 'toolrl' is ToolRL's handler, written for --format toolrl (got 'hermes')
    """
    check_format(format)
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if protocol == "toolrl" and format != "toolrl":
        raise ValueError(f"protocol 'toolrl' is ToolRL's handler, written for --format toolrl (got {format!r})")


# --- decoding --------------------------------------------------------------------------------------


class Undecodable(ValueError):
    """A step whose output the protocol's decoder rejects as a whole (the turn ends, as in BFCL)."""


def decode_toolrl(text: str) -> list[ToolCall]:
    """ToolRL's ``decode_execute``: the calls of the last ``<tool_call>`` block (see the module docstring).

    >>> decode_toolrl('<tool_call>\\n{"name": "a", "parameters": {}}\\n</tool_call> <tool_call>\\n{"name": "cd", "parameters": {"folder": "x"}}\\nnot json\\n{"name": "None", "parameters": {}}\\n</tool_call>')
    [ToolCall(name='cd', arguments={'folder': 'x'})]
    >>> decode_toolrl('<tool_call>\\n{"name": 3, "parameters": {}}\\n</tool_call>')
    Traceback (most recent call last):
    ...
    verl_toolrl.eval.bfcl_multi_turn.Undecodable: a call's name is not a string
    """
    if "<tool_call>" not in text:
        return []
    lines = text.split("<tool_call>")[-1].split("</tool_call>")[0].strip().split("\n")
    calls = []
    for line in lines:
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):  # the handler's bare except around json.loads
            continue
        if not isinstance(value, dict):
            continue
        name, arguments = value.get("name", ""), value.get("parameters", {})
        if not isinstance(name, str):
            raise Undecodable("a call's name is not a string")
        if name.strip().lower() == "none":
            continue
        if not isinstance(arguments, dict):
            raise Undecodable(f"the parameters of {name!r} are not an object")
        calls.append(ToolCall(name, arguments))
    return calls


def decode_strict(text: str, format: Format) -> list[ToolCall]:
    """The package's parser: the calls when the tool-call part parses, else :class:`Undecodable`.

    >>> decode_strict('<think> x </think>\\n<tool_call>\\n{"name": "ls", "parameters": {}}\\n</tool_call>', "toolrl")
    [ToolCall(name='ls', arguments={})]
    """
    parsed = parse_response(text, format)
    if not parsed.calls_ok:
        raise Undecodable(f"tool calls do not parse: {parsed.reason}")
    return list(parsed.calls)


def decode(text: str, protocol: str, format: Format) -> list[ToolCall]:
    return decode_toolrl(text) if protocol == "toolrl" else decode_strict(text, format)


def display_call(call: ToolCall) -> str:
    """A call as the ToolRL handler writes it into the dialogue (``xlam_json_to_python_tool_calls``:
    ``name(key=repr(value), …)``); text for the prompt only, never evaluated.

    >>> display_call(ToolCall("cd", {"folder": "doc"}))
    "cd(folder='doc')"
    """
    return f"{call.name}({', '.join(f'{key}={value!r}' for key, value in call.arguments.items())})"


# --- prompts ---------------------------------------------------------------------------------------


def turn_messages(entry: MultiTurnEntry, turn: int, protocol: str) -> list[Message]:
    """The user messages that open turn ``turn``; at a turn that adds held-out functions, BFCL's message
    announcing them (the docs themselves in the ``toolrl`` flow, which has no tool list to extend)."""
    if turn in entry.held_out:
        if protocol == "toolrl":
            return [{"role": "user", "content": ADDED_FUNCTIONS_PROMPT.format(functions=entry.held_out[turn])}]
        return [{"role": "user", "content": ADDED_FUNCTIONS_PROMPT_FC}]
    return [{"role": m["role"], "content": m["content"]} for m in entry.questions[turn]]


def toolrl_system_prompt(functions: Sequence[Mapping[str, Any]]) -> str:
    """The handler's ``SYS`` with its tool listing: the package's ToolRL system prompt over the docs with
    ``parameters`` cut to their ``properties``, plus the trailing newline of the handler's string."""
    tools = [{"name": f["name"], "description": f["description"], "parameters": f["parameters"].get("properties", {})} for f in functions]
    return system_prompt(tools, "toolrl") + "\n"


def toolrl_user_prompt(conversation: Sequence[Message]) -> str:
    """The handler's ``USER_PROMPT`` over a BFCL-style conversation (user, assistant, tool messages).

    >>> print(toolrl_user_prompt([{"role": "user", "content": "Go."}, {"role": "assistant", "content": "<think> a </think>"},
    ...     {"role": "tool", "name": "cd(folder='x')", "content": "ok"}]).replace(TOOLRL_MULTI_TURN_INSTRUCTION, "[I]").replace(TOOLRL_AFTER_RESULTS, "[R]"))
    **Dialogue Records History**
    <user> Go.
    [I] </user>
    <BLANKLINE>
    <think> a </think>
    <obs> You have made the tool call cd(folder='x'). Execution returns: ok </obs>
    <BLANKLINE>
    <user> [R] </user>
    """
    text = "**Dialogue Records History**\n"
    for index, message in enumerate(conversation):
        role = message["role"]
        if role == "user":
            text += f"<user> {message['content'].strip()}\n{TOOLRL_MULTI_TURN_INSTRUCTION} </user>\n"
        elif role == "tool":
            text += f"<obs> You have made the tool call {message['name'].strip()}. Execution returns: {message['content'].strip()} </obs>\n"
            if index == len(conversation) - 1:
                text += f"\n<user> {TOOLRL_AFTER_RESULTS} </user>\n"
        elif role == "assistant":
            text += f"\n{message['content'].strip()}\n"
    return text.strip()


def strict_tools(entry: MultiTurnEntry, turn: int) -> list[dict[str, Any]]:
    return [to_tool(doc) for doc in entry.functions_at(turn)]


def render_prompt(entry: MultiTurnEntry, turn: int, conversation: Sequence[Message], protocol: str, format: Format) -> list[Message]:
    """The chat messages of the next step, from the conversation so far."""
    if protocol == "toolrl":
        return [
            {"role": "system", "content": toolrl_system_prompt(entry.functions)},
            {"role": "user", "content": toolrl_user_prompt(conversation)},
        ]
    messages = [{"role": "system", "content": system_prompt(strict_tools(entry, turn), format)}]
    for message in conversation:
        if message["role"] == "user" and message.get("announces") != "functions":
            messages.append({"role": "user", "content": f"{message['content']}\n{BFCL_TURN_INSTRUCTION[format]}"})
        else:
            messages.append({"role": message["role"], "content": message["content"]})
    return messages


def prompt_hash(messages: Sequence[Message]) -> str:
    return hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode("utf-8")).hexdigest()


# --- one trajectory --------------------------------------------------------------------------------


@dataclass
class Step:
    """One model step: ``calls`` as decoded (``display_call``), ``executed`` the call strings that ran
    (None for a refused call), ``observations`` one per call; ``undecodable`` the decoder's reason."""

    prompt_sha256: str
    output: str
    calls: list[str] = field(default_factory=list)
    executed: list[str | None] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    undecodable: str | None = None


class Trajectory:
    """One entry's run through the loop: :meth:`prompt` gives the next prompt (None when finished),
    :meth:`advance` takes the model's output for it."""

    def __init__(self, entry: MultiTurnEntry, protocol: str, format: Format, environment: Environment | None = None) -> None:
        check_protocol(protocol, format)
        self.entry, self.protocol, self.format = entry, protocol, format
        self.environment = environment or Environment(entry)
        self.conversation: list[Message] = []
        self.turns: list[list[Step]] = []
        self.force_quit = False
        self._pending: list[Message] | None = None
        self._open_turn(0)

    @property
    def done(self) -> bool:
        return self._pending is None

    def _open_turn(self, turn: int) -> None:
        if turn >= self.entry.num_turns:
            self._pending = None
            return
        self.turns.append([])
        for message in turn_messages(self.entry, turn, self.protocol):
            if turn in self.entry.held_out:
                message = {**message, "announces": "functions"}
            self.conversation.append(message)
        self._pending = render_prompt(self.entry, turn, self.conversation, self.protocol, self.format)

    def prompt(self) -> list[Message] | None:
        return self._pending

    def advance(self, output: str) -> None:
        if self._pending is None:
            raise RuntimeError(f"{self.entry.id}: the trajectory is finished")
        turn = len(self.turns) - 1
        step = Step(prompt_hash(self._pending), output)
        self.turns[turn].append(step)
        self.conversation.append({"role": "assistant", "content": output})
        try:
            calls = decode(output, self.protocol, self.format)
        except Undecodable as reason:
            step.undecodable, calls = str(reason), []
        if not calls:
            self._open_turn(turn + 1)
            return
        for result in self.environment.execute(calls):
            step.calls.append(display_call(result.call))
            step.executed.append(result.rendered)
            step.observations.append(result.observation)
            self.conversation.append({"role": "tool", "name": display_call(result.call), "content": result.observation})
        if len(self.turns[turn]) > MAX_STEPS_PER_TURN:
            self.force_quit, self._pending = True, None
            return
        self._pending = render_prompt(self.entry, turn, self.conversation, self.protocol, self.format)

    def record(self) -> dict[str, Any]:
        """The transcript line of a finished trajectory."""
        return {
            "id": self.entry.id,
            "category": self.entry.category,
            "protocol": self.protocol,
            "format": self.format,
            "finished": not self.force_quit,
            "turns": [[asdict(step) for step in steps] for steps in self.turns],
        }


def gold_outputs(entry: MultiTurnEntry, format: Format = "toolrl") -> list[str]:
    """What a perfect model writes, step by step: each turn's ground-truth calls in one step, then an answer
    without calls (a turn without ground truth gets the answer only). Replayed through :class:`Trajectory`
    it is BFCL's ground truth as model output (the scripted policy of the tests and the benchmark).

    >>> outputs = gold_outputs(load_entries("multi_turn_base", limit=1)[0])
    >>> len(outputs), outputs[0].splitlines()[2]
    (8, '{"name": "cd", "parameters": {"folder": "document"}}')
    """
    outputs = []
    for calls in ground_truth_calls(entry):
        if calls:
            outputs.append(render_output("I will call the tools.", calls, format=format))
        outputs.append(render_output("The task is done.", response="Done.", format=format))
    return outputs


def run_scripted(entry: MultiTurnEntry, outputs: Iterable[str], protocol: str, format: Format) -> Trajectory:
    """Drive one trajectory with given outputs (a scripted policy in place of a model) until it finishes
    or the outputs run out."""
    trajectory = Trajectory(entry, protocol, format)
    for output in outputs:
        if trajectory.done:
            break
        trajectory.advance(output)
    return trajectory


# --- generation ------------------------------------------------------------------------------------


def load_multi_turn_entries(categories: Iterable[str], limit: int | None = None) -> dict[str, MultiTurnEntry]:
    return {e.id: e for category in categories for e in load_entries(category, limit)}


def generate(
    path: str | Path,
    entries: Mapping[str, MultiTurnEntry],
    protocol: str,
    format: Format,
    backend: Backend | Callable[[], Backend],
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Run every entry without a transcript in ``path`` through the loop, appending one line per finished
    entry (an interrupted run resumes with the entries it had not finished). ``backend`` may be a
    factory, called only when something is left to do; ``progress`` is called with each finished count."""
    check_protocol(protocol, format)
    path = Path(path)
    done = {record["id"] for record in read_transcripts(path, entries, protocol, format)} if path.is_file() else set()
    todo = [Trajectory(entry, protocol, format) for entry_id, entry in entries.items() if entry_id not in done]
    if not todo:
        return path
    engine = backend() if callable(backend) and not hasattr(backend, "generate") else backend
    active = todo
    with open(path, "a", encoding="utf-8") as handle:
        while active:
            for start in range(0, len(active), max(1, batch_size)):
                batch = active[start : start + batch_size]
                outputs = engine.generate([trajectory.prompt() for trajectory in batch])  # type: ignore[union-attr,misc]
                if len(outputs) != len(batch):
                    raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(batch)} prompts")
                for trajectory, output in zip(batch, outputs):
                    trajectory.advance(output)
            finished = [t for t in active if t.done]
            for trajectory in finished:
                handle.write(json.dumps(trajectory.record(), ensure_ascii=False) + "\n")
            handle.flush()
            if progress and finished:
                progress(len(finished))
            active = [t for t in active if not t.done]
    return path


# --- reading transcripts back ----------------------------------------------------------------------


def _check_step(step: Any, where: str) -> None:
    if not isinstance(step, dict) or not isinstance(step.get("output"), str) or not isinstance(step.get("prompt_sha256"), str):
        raise ValueError(f"{where}: a step must be an object with 'prompt_sha256' and 'output' strings")
    for key in ("calls", "executed", "observations"):
        if not isinstance(step.get(key), list):
            raise ValueError(f"{where}: a step's {key!r} must be a list")


def read_transcripts(
    path: str | Path, entries: Mapping[str, MultiTurnEntry], protocol: str, format: Format
) -> list[dict[str, Any]]:
    """Every transcript line, checked for shape and for belonging to this run (known id, its category,
    protocol and format, no repeats); errors name the file and line."""
    path = Path(path)
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not JSON ({error.msg} at column {error.colno})") from error
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise ValueError(f"{where}: expected a transcript object with an 'id'")
            entry = entries.get(record["id"])
            if entry is None:
                raise ValueError(f"{where}: id {record['id']!r} is not an entry of this run")
            if record["id"] in seen:
                raise ValueError(f"{where}: id {record['id']!r} repeats line {seen[record['id']]}")
            for key, expected in (("category", entry.category), ("protocol", protocol), ("format", format)):
                if record.get(key) != expected:
                    raise ValueError(f"{where}: {key} {record.get(key)!r}, this run has {expected!r}")
            turns = record.get("turns")
            if not isinstance(turns, list) or not all(isinstance(t, list) for t in turns) or not isinstance(record.get("finished"), bool):
                raise ValueError(f"{where}: 'turns' must be a list of step lists and 'finished' a boolean")
            for steps in turns:
                for step in steps:
                    _check_step(step, where)
            seen[record["id"]] = number
            records.append(record)
    return records


def replayed_calls(entry: MultiTurnEntry, record: Mapping[str, Any], where: str = TRANSCRIPTS_FILE) -> list[list[list[str]]]:
    """The call strings that ran, per turn and step, after checking the transcript against this run:
    every prompt rebuilt from the saved steps has the saved hash, and every output decodes again to the
    saved calls, vetted alike. Raises ``ValueError`` naming the entry, turn and step otherwise."""
    protocol, format = record["protocol"], record["format"]
    owners = method_owners(entry.involved_classes)
    allowed = frozenset(owners)
    conversation: list[Message] = []
    executed: list[list[list[str]]] = []
    for turn, steps in enumerate(record["turns"]):
        if turn >= entry.num_turns:
            raise ValueError(f"{where}: {entry.id} has {entry.num_turns} turns, the transcript more")
        for message in turn_messages(entry, turn, protocol):
            conversation.append({**message, "announces": "functions"} if turn in entry.held_out else message)
        executed.append([])
        for number, step in enumerate(steps):
            at = f"{where}: {entry.id} turn {turn} step {number}"
            if prompt_hash(render_prompt(entry, turn, conversation, protocol, format)) != step["prompt_sha256"]:
                raise ValueError(f"{at}: the prompt differs from the one this run sends (another run, protocol or data version?)")
            conversation.append({"role": "assistant", "content": step["output"]})
            try:
                calls = decode(step["output"], protocol, format)
            except Undecodable:
                calls = []
            expected = []
            for call in calls:
                try:
                    expected.append(vet_call(call, allowed, owners)[1])
                except CallRefused:
                    expected.append(None)
            if [display_call(c) for c in calls] != step["calls"] or expected != step["executed"] or len(step["observations"]) != len(calls):
                raise ValueError(f"{at}: the saved calls are not what the output decodes to")
            for call, observation in zip(calls, step["observations"]):
                conversation.append({"role": "tool", "name": display_call(call), "content": observation})
            executed[-1].append([text for text in expected if text is not None])
    return executed


# --- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryScore:
    id: str
    category: str
    valid: bool
    error_type: str | None = None
    error: str | None = None
    turns: int = 0
    steps: int = 0


def score_record(entry: MultiTurnEntry, record: Mapping[str, Any], where: str = TRANSCRIPTS_FILE) -> EntryScore:
    """BFCL's verdict on one transcript (checked first, see :func:`replayed_calls`)."""
    executed = replayed_calls(entry, record, where)
    verdict = official_verdict(entry, executed)
    steps = sum(len(turn) for turn in record["turns"])
    return EntryScore(entry.id, entry.category, verdict["valid"], verdict["error_type"], verdict["error_message"], len(record["turns"]), steps)


_WORKER_ENTRIES: dict[str, MultiTurnEntry] = {}


def _init_worker(entries: dict[str, MultiTurnEntry]) -> None:
    _WORKER_ENTRIES.clear()
    _WORKER_ENTRIES.update(entries)


def _score_chunk(chunk: Sequence[tuple[dict[str, Any], str]]) -> list[EntryScore]:
    return [score_record(_WORKER_ENTRIES[record["id"]], record, where) for record, where in chunk]


def score_records(
    entries: Mapping[str, MultiTurnEntry],
    records: Sequence[dict[str, Any]],
    workers: int = 2,
    chunk_size: int = 25,
    where: str = TRANSCRIPTS_FILE,
) -> list[EntryScore]:
    """Score transcripts, in order, over ``workers`` processes (1: in this process)."""
    items = [(record, where) for record in records]
    chunks = [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]
    if workers <= 1 or len(chunks) <= 1:
        _init_worker(dict(entries))
        return [score for chunk in chunks for score in _score_chunk(chunk)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else methods[0])
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(dict(entries),)) as pool:
        return [score for result in pool.map(_score_chunk, chunks) for score in result]


def score_transcripts(
    path: str | Path, entries: Mapping[str, MultiTurnEntry], protocol: str, format: Format, workers: int = 2
) -> list[EntryScore]:
    """Read, check and score a transcript file (entries without a transcript are not scored)."""
    records = read_transcripts(path, entries, protocol, format)
    return score_records(entries, records, workers=workers, where=str(path))


def summary(scores: Sequence[EntryScore]) -> dict[str, Any]:
    """Accuracy per category and BFCL v3's multi-turn overall (unweighted mean of the four categories,
    ``eval_runner_helper.py`` of ``ShishirPatil/gorilla`` at 448d2d82), failures by BFCL's error type."""
    per_category: dict[str, list[int]] = {}
    failures: dict[str, int] = {}
    for score in scores:
        counts = per_category.setdefault(score.category, [0, 0])
        counts[0] += score.valid
        counts[1] += 1
        if not score.valid:
            failures[score.error_type or "unknown"] = failures.get(score.error_type or "unknown", 0) + 1
    categories = {c: {"accuracy": right / n, "count": n} for c, (right, n) in per_category.items()}
    missing = [c for c in MULTI_TURN_CATEGORIES if c not in categories]
    overall = None if missing else sum(categories[c]["accuracy"] for c in MULTI_TURN_CATEGORIES) / len(MULTI_TURN_CATEGORIES)
    return {
        "items": len(scores),
        "correct": sum(score.valid for score in scores),
        "categories": categories,
        "aggregate": {
            "name": "multi_turn",
            "formula": "BFCL v3 Multi-turn = mean(multi_turn_base, multi_turn_miss_func, multi_turn_miss_param, multi_turn_long_context)",
            "value": overall,
            "missing": missing,
        },
        "failures": dict(sorted(failures.items(), key=lambda kv: -kv[1])),
    }
