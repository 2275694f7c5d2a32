"""BFCL multi-turn evaluation: the model in the loop on BFCL's simulators, its transcripts, BFCL's verdict.

Per entry, one :class:`Trajectory`: the episode that training drives too
(:class:`~verl_toolrl.tasks.bfcl.episode.BfclEpisode`, :mod:`verl_toolrl.tasks.episode` for the loop and
BFCL's step rule), with each protocol's per-turn prompts
(:func:`verl_toolrl.tasks.bfcl.multi_turn.render_prompt`) and decoder, on the entry's own
:class:`~verl_toolrl.tasks.bfcl.environment.Environment`. Held-out functions (``multi_turn_miss_func``)
are announced at the turn BFCL adds them. Trajectories advance in lockstep, so each backend call carries
one step of every unfinished entry (vLLM and the OpenAI client batch them).

Decoding per protocol (:func:`decode`): ``toolrl`` as ToolRL's handler's ``decode_execute``
(:func:`verl_toolrl.eval.toolrl_scripts.execute_calls`: the last ``<tool_call>`` block, lines that are
not JSON skipped, calls named ``none`` dropped; a name that is not a string or parameters that are not an
object make the step undecodable, as the handler raises); ``strict`` with ``calls.parse_response`` (a step
whose tool-call part does not parse makes no call). In the dialogue, a call is written as the handler
writes it (``name(key=repr(value), …)``, :func:`~verl_toolrl.tasks.episode.python_call`).

Transcripts (``transcripts.jsonl`` in the run directory, one line per finished entry, so generation
resumes per entry) keep every step: the SHA-256 of its prompt, the raw output, the calls as decoded, the
call strings that ran (None for a refused call) and the observations. Scoring reads them only: it rebuilds
every prompt from the saved steps and checks its hash, decodes every output again and checks the calls
that ran, then gives the call strings to BFCL's ``multi_turn_checker``
(:func:`~verl_toolrl.tasks.bfcl.environment.official_verdict`). :class:`BfclMultiTurn` is the part
of the BFCL benchmark (``eval/registry.py``) that serves the four multi-turn categories.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import Format, ToolCall
from verl_toolrl.core.progress import progress_bar
from verl_toolrl.eval.backends import Backend
from verl_toolrl.eval.benchmark import BackendFactory, Prompts, Scored
from verl_toolrl.eval.bfcl import BfclBenchmark, ItemScore
from verl_toolrl.eval.generations import RunInfo, read_records_by_id
from verl_toolrl.eval.toolrl_scripts import execute_calls
from verl_toolrl.tasks.bfcl.environment import CallRefused, Environment, method_owners, official_verdict, vet_call
from verl_toolrl.tasks.bfcl.episode import BfclEpisode, BfclRenderer, decode_strict
from verl_toolrl.tasks.bfcl.multi_turn import MultiTurnEntry, load_entries
from verl_toolrl.tasks.bfcl.single_turn import MULTI_TURN_CATEGORIES
from verl_toolrl.tasks.episode import Message, Undecodable, prompt_hash, python_call, tool_message
from verl_toolrl.tasks.protocols import check_protocol

TRANSCRIPTS_FILE = "transcripts.jsonl"


# --- decoding --------------------------------------------------------------------------------------


def decode(text: str, protocol: str, format: Format) -> list[ToolCall]:
    """The calls of one step under ``protocol``, or :class:`~verl_toolrl.tasks.episode.Undecodable`.

    >>> decode('<tool_call>\\n{"name": "cd", "parameters": {"folder": "x"}}\\nnot json\\n'
    ...        '{"name": "None", "parameters": {}}\\n</tool_call>', "toolrl", "toolrl")
    [ToolCall(name='cd', arguments={'folder': 'x'})]
    >>> decode('<think> x </think>\\n<tool_call>\\n{"name": "ls", "parameters": {}}\\nnot json\\n</tool_call>',
    ...        "strict", "toolrl")
    Traceback (most recent call last):
    ...
    verl_toolrl.tasks.episode.Undecodable: tool calls do not parse: bad_json@2
    """
    if protocol == "toolrl":
        try:
            return execute_calls(text)
        except ValueError as error:
            raise Undecodable(str(error)) from None
    return decode_strict(text, format)


# --- one trajectory --------------------------------------------------------------------------------


class Trajectory(BfclEpisode):
    """One entry's run through the loop (a :class:`~verl_toolrl.tasks.bfcl.episode.BfclEpisode` with the
    protocol's decoder and per-turn prompts): :meth:`prompt` gives the next prompt (None when finished),
    :meth:`advance` takes the model's output for it, :meth:`record` is its transcript line."""

    def __init__(
        self, entry: MultiTurnEntry, protocol: str, format: Format, environment: Environment | None = None
    ) -> None:
        super().__init__(
            entry, protocol, format, decode=partial(decode, protocol=protocol, format=format), environment=environment
        )

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
                for trajectory, output in zip(batch, outputs, strict=True):
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
    if (
        not isinstance(step, dict)
        or not isinstance(step.get("output"), str)
        or not isinstance(step.get("prompt_sha256"), str)
    ):
        raise ValueError(f"{where}: a step must be an object with 'prompt_sha256' and 'output' strings")
    for key in ("calls", "executed", "observations"):
        if not isinstance(step.get(key), list):
            raise ValueError(f"{where}: a step's {key!r} must be a list")


def read_transcripts(
    path: str | Path, entries: Mapping[str, MultiTurnEntry], protocol: str, format: Format
) -> list[dict[str, Any]]:
    """Every transcript line, checked for shape and for belonging to this run (known id, its category,
    protocol and format, no repeats); errors name the file and line."""

    def check(record: dict[str, Any], where: str) -> None:
        entry = entries.get(record["id"])
        if entry is None:
            raise ValueError(f"{where}: id {record['id']!r} is not an entry of this run")
        for key, expected in (("category", entry.category), ("protocol", protocol), ("format", format)):
            if record.get(key) != expected:
                raise ValueError(f"{where}: {key} {record.get(key)!r}, this run has {expected!r}")
        turns = record.get("turns")
        if (
            not isinstance(turns, list)
            or not all(isinstance(t, list) for t in turns)
            or not isinstance(record.get("finished"), bool)
        ):
            raise ValueError(f"{where}: 'turns' must be a list of step lists and 'finished' a boolean")
        for steps in turns:
            for step in steps:
                _check_step(step, where)

    return list(read_records_by_id(path, check).values())


def replayed_calls(
    entry: MultiTurnEntry, record: Mapping[str, Any], where: str = TRANSCRIPTS_FILE
) -> list[list[list[str]]]:
    """The call strings that ran, per turn and step, after checking the transcript against this run:
    every prompt rebuilt from the saved steps has the saved hash, and every output decodes again to the
    saved calls, vetted alike. Raises ``ValueError`` naming the entry, turn and step otherwise."""
    protocol, format = record["protocol"], record["format"]
    renderer = BfclRenderer(entry, protocol, format)
    owners = method_owners(entry.involved_classes)
    allowed = frozenset(owners)
    conversation: list[Message] = []
    executed: list[list[list[str]]] = []
    for turn, steps in enumerate(record["turns"]):
        if turn >= entry.num_turns:
            raise ValueError(f"{where}: {entry.id} has {entry.num_turns} turns, the transcript more")
        conversation.extend(renderer.opening(turn))
        executed.append([])
        for number, step in enumerate(steps):
            at = f"{where}: {entry.id} turn {turn} step {number}"
            if prompt_hash(renderer.prompt(turn, conversation)) != step["prompt_sha256"]:
                raise ValueError(
                    f"{at}: the prompt differs from the one this run sends (another run, protocol or data version?)"
                )
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
            if (
                [python_call(c) for c in calls] != step["calls"]
                or expected != step["executed"]
                or len(step["observations"]) != len(calls)
            ):
                raise ValueError(f"{at}: the saved calls are not what the output decodes to")
            for call, observation in zip(calls, step["observations"], strict=True):
                conversation.append(tool_message(call, observation))
            executed[-1].append([text for text in expected if text is not None])
    return executed


# --- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryScore(ItemScore):
    """BFCL's verdict on one entry (``error_type`` is the checker's), with the turns and steps it ran."""

    turns: int = 0
    steps: int = 0


def score_record(entry: MultiTurnEntry, record: Mapping[str, Any], where: str = TRANSCRIPTS_FILE) -> EntryScore:
    """BFCL's verdict on one transcript (checked first, see :func:`replayed_calls`)."""
    executed = replayed_calls(entry, record, where)
    verdict = official_verdict(entry, executed)
    steps = sum(len(turn) for turn in record["turns"])
    return EntryScore(
        entry.id,
        entry.category,
        verdict["valid"],
        verdict["error_type"],
        verdict["error_message"],
        len(record["turns"]),
        steps,
    )


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


class BfclMultiTurn(BfclBenchmark):
    """The four multi-turn categories as a part of the BFCL benchmark: an item is an entry, its prompt the
    first step's, its generation a transcript (``transcripts.jsonl``), its score BFCL's verdict."""

    categories = MULTI_TURN_CATEGORIES

    def items(self, info: RunInfo) -> dict[str, Any]:
        return load_multi_turn_entries([c for c in info.categories if c in self.categories], info.limit)

    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts:
        return {
            entry_id: (entry.category, BfclRenderer(entry, info.protocol, info.format).first_prompt())  # type: ignore[arg-type]
            for entry_id, entry in items.items()
        }

    def generate(
        self,
        output: Path,
        info: RunInfo,
        items: Mapping[str, Any],
        backend: BackendFactory,
        batch_size: int,
        progress: bool,
    ) -> None:
        path = output / TRANSCRIPTS_FILE
        done = len(read_transcripts(path, items, info.protocol, info.format)) if path.is_file() else 0  # type: ignore[arg-type]
        with progress_bar(total=len(items), description="generate bfcl multi-turn", enabled=progress) as bar:
            bar.update(done)
            generate(path, items, info.protocol, info.format, backend, batch_size, bar.update)  # type: ignore[arg-type]

    def score(
        self, output: Path, info: RunInfo, items: Mapping[str, Any], workers: int, progress: bool, allow_missing: bool
    ) -> Scored:
        path = output / TRANSCRIPTS_FILE
        records = read_transcripts(path, items, info.protocol, info.format) if path.is_file() else []  # type: ignore[arg-type]
        order = {entry_id: number for number, entry_id in enumerate(items)}
        records.sort(key=lambda record: order[record["id"]])  # transcripts are written as entries finish
        missing = sorted(set(items) - {record["id"] for record in records})
        if missing and not allow_missing:
            raise ValueError(
                f"{path}: {len(missing)} multi-turn entries of this run have no transcript (first: {missing[:3]}); "
                "finish `generate` or pass --allow-missing"
            )
        with progress_bar(total=len(records), description="score bfcl multi-turn", enabled=progress) as bar:
            scores = score_records(items, records, workers=workers, where=str(path))  # type: ignore[arg-type]
            bar.update(len(records))
        return Scored([asdict(score) for score in scores], missing)
