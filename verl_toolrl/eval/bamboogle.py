"""Bamboogle, the paper's third benchmark: generation with a search engine in the loop, the judge, the
metrics and the report (:class:`Bamboogle`, registered in ``eval/registry.py``).

Generation (``generate``): every question without a transcript runs through its rounds
(:class:`~verl_toolrl.tasks.bamboogle.rounds.Trajectory`), all unfinished questions advancing in lockstep so
each backend call carries one round of each; their searches go to the run's engine
(:mod:`verl_toolrl.tasks.bamboogle.search`, ``run.json``'s ``options.search``), several at a time. A
finished question is appended to ``transcripts.jsonl`` (every round's prompt hash, output, calls and
observations, the dialogue, the answer), so an interrupted run resumes with the questions it had not
finished and a finished question is never run again. ToolRL's script instead re-ran every question it had
scored wrong on each rerun, so its reruns turned into best-of-k; that is not repeated here.

Judging (:func:`judge_run`): ToolRL's ``JUDGE_SYS`` / ``JUDGE_USER`` at temperature 0 on any
OpenAI-compatible server, for every answered question (a time-out or an empty answer scores 0 unjudged,
as in the script); the raw reply of each goes to ``judgments.jsonl``. A reply is correct when the text after
``- Judgment:`` is ``Yes``; a reply without that field is unjudged (counted, never a crash).

Scoring (``score``) reads the files only: it replays every transcript (each round's prompt rebuilt from the
saved results and checked against its hash, each output read again), then gives per item the judge's
verdict (``valid``; null without a judge), exact match, substring match and token F1 after SQuAD answer
normalisation (as verl's ``search_r1_like_qa_em``), and the searches made. The summary has the paper's
figures (accuracy, average tool calls per question: the ``<obs>`` count over items) and names the judge and
the search engine.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verl_toolrl.core.progress import progress_bar
from verl_toolrl.eval.backends import require
from verl_toolrl.eval.benchmark import (
    BackendFactory,
    Benchmark,
    Prompts,
    Scored,
    ScoredRun,
    markdown_table,
    percent,
)
from verl_toolrl.eval.generations import RunInfo, jsonl_lines, read_records_by_id
from verl_toolrl.tasks.bamboogle.items import CATEGORY, BamboogleItem, load_items
from verl_toolrl.tasks.bamboogle.prompts import strict_tools
from verl_toolrl.tasks.bamboogle.rounds import Trajectory
from verl_toolrl.tasks.bamboogle.search import (
    ReplayEnvironment,
    SearchEngine,
    SearchEnvironment,
    SearchSettings,
    make_engine,
    settings_from_dict,
)
from verl_toolrl.tasks.episode import prompt_hash

DATA_FILE = "data.json"
TRANSCRIPTS_FILE = "transcripts.jsonl"
JUDGMENTS_FILE = "judgments.jsonl"
NO_JUDGE = "no judge"
#: Trajectories advanced (and so searches run) at once after each backend call.
SEARCH_WORKERS = 8

JUDGE_SYS = (
    "You are a helpful assistant to help me judge if the answer for a specific query is correct or not. You will be "
    "given the query, the ground truth answer and the predicted answer. You should first think about if the predicted "
    'answer is semantically the same as the ground truth answer. If so give "Yes" in the field "Judgment", otherwise '
    'give "No".\n'
    "\n"
    "**Output Format**\n"
    "Your Response:\n"
    "- Thought: <Your brief thoughts>\n"
    "- Judgment: <Yes/No>\n"
)

JUDGE_USER = """**Query**
{query}

**Ground Truth Answer**
{ground_truth}

**Predicted Answer**
{predicted}

Your Response:
"""

#: The paper's Table 4 rows the issue quotes (accuracy %, average tool calls), for the report's reference.
PAPER_REFERENCE: dict[str, tuple[float, float]] = {
    "Qwen2.5-3B GRPO": (60.0, 1.32),
    "Qwen2.5-7B GRPO": (72.0, 1.63),
}


# --- metrics ---------------------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD answer normalisation, as verl's ``search_r1_like_qa_em.normalize_answer``: lower case, no
    punctuation, no articles, single spaces.

    >>> normalize_answer("The  Titan-IIIE!")
    'titaniiie'
    """
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(predicted: str, gold: str) -> float:
    """1.0 when the normalised texts are equal.

    >>> exact_match("James Madison.", "james madison"), exact_match("Madison", "james madison")
    (1.0, 0.0)
    """
    return float(normalize_answer(predicted) == normalize_answer(gold))


def substring_match(predicted: str, gold: str) -> float:
    """1.0 when the normalised gold is inside the normalised prediction (verl's ``subem_check``).

    >>> substring_match("It was James Madison.", "james madison")
    1.0
    """
    return float(normalize_answer(gold) in normalize_answer(predicted))


def token_f1(predicted: str, gold: str) -> float:
    """SQuAD token F1 between the normalised texts.

    >>> round(token_f1("president James Madison", "james madison"), 3)
    0.8
    """
    predicted_tokens, gold_tokens = normalize_answer(predicted).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


# --- the judge -------------------------------------------------------------------------------------


def judge_messages(question: str, gold: str, predicted: str) -> list[dict[str, str]]:
    """The judge's prompt for one answer, as the script sends it.

    >>> judge_messages("Q?", "A", "B")[1]["content"].splitlines()[:2]
    ['**Query**', 'Q?']
    """
    user = JUDGE_USER.format(query=question, ground_truth=gold, predicted=predicted)
    return [{"role": "system", "content": JUDGE_SYS}, {"role": "user", "content": user}]


def parse_judgment(reply: str) -> bool | None:
    """The verdict of a judge's reply: the script's ``reply.split("- Judgment:")[1].strip() == "Yes"`` on the
    stripped reply; None (unjudged) when the reply has no ``- Judgment:`` field.

    >>> parse_judgment("- Thought: same person\\n- Judgment: Yes"), parse_judgment("- Judgment: Yes.")
    (True, False)
    >>> parse_judgment("Yes") is None
    True
    """
    reply = reply.strip()
    if "- Judgment:" not in reply:
        return None
    return reply.split("- Judgment:")[1].strip() == "Yes"


@dataclass(frozen=True)
class JudgeSettings:
    """An OpenAI-compatible judge: ``base_url``, ``model``, ``api_key``; temperature 0, one reply."""

    base_url: str
    model: str
    api_key: str = "EMPTY"
    timeout: float = 120.0
    retries: int = 3
    concurrency: int = 8


class Judge:
    """Chat completions from the judge's server (the ``openai`` client: its timeout and bounded retries)."""

    def __init__(self, settings: JudgeSettings) -> None:
        openai = require("openai", "openai")
        self.settings = settings
        self.client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.timeout,
            max_retries=settings.retries,
        )
        self.connection_error, self.api_error = openai.APIConnectionError, openai.APIError

    def probe(self) -> None:
        """``ValueError`` (one line) when nothing answers at the judge's URL; any HTTP answer will do (a
        server
        without ``/models`` is still reachable)."""
        try:
            self.client.with_options(max_retries=0).models.list()
        except self.connection_error as error:
            raise ValueError(f"no judge answers at --judge-base-url {self.settings.base_url} ({error})") from None
        except self.api_error:
            pass

    def reply(self, messages: list[dict[str, str]]) -> str:
        response = self.client.chat.completions.create(model=self.settings.model, messages=messages, temperature=0, n=1)
        content = response.choices[0].message.content if response.choices else None
        return (content or "").strip()


def needs_judge(record: Mapping[str, Any]) -> bool:
    """Whether the script asks its judge about an item: not a time-out, and a non-empty answer.

    >>> needs_judge({"answer": "x", "timed_out": False}), needs_judge({"answer": "", "timed_out": False})
    (True, False)
    """
    return not record["timed_out"] and record["answer"] != ""


def read_judgments(path: Path) -> dict[str, dict[str, Any]]:
    """The latest judgment line per id (a retried item has several); ``ValueError`` naming a bad line."""
    judgments: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return judgments
    for where, _, record in jsonl_lines(path):
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("id"), str)
            or not isinstance(record.get("judge"), str)
        ):
            raise ValueError(f"{where}: expected an object with 'id', 'judge', 'answer' and 'reply'")
        judgments[record["id"]] = record
    return judgments


def judged_reply(judgment: Mapping[str, Any] | None, answer: str) -> str | None:
    """The judge's reply about ``answer``, if it has given one (a judgment of another answer does not count).

    >>> judged_reply({"answer": "x", "reply": "- Judgment: Yes"}, "x")
    '- Judgment: Yes'
    >>> judged_reply({"answer": "y", "reply": "- Judgment: Yes"}, "x") is None
    True
    """
    if not judgment or judgment.get("answer") != answer or not isinstance(judgment.get("reply"), str):
        return None
    return judgment["reply"]


def judge_run(
    output: str | Path, info: RunInfo, items: Mapping[str, BamboogleItem], judge: Judge, progress: bool = True
) -> int:
    """Judge every answered item of the run in ``output`` without a reply in ``judgments.jsonl``; returns how
    many were asked. The first request goes alone: a judge that cannot be reached is a one-line
    ``ValueError`` before anything is written; a later failed request is saved as an error (unjudged, asked
    again by the next run)."""
    output = Path(output)
    path = output / JUDGMENTS_FILE
    judgments = read_judgments(path)
    others = {j["judge"] for j in judgments.values()} - {judge.settings.model}
    if others:
        raise ValueError(
            f"{path} holds judgments by {sorted(others)[0]}, not --judge-model {judge.settings.model}; "
            "score into a new run directory or delete that file"
        )
    records = read_transcripts(output / TRANSCRIPTS_FILE, items, info)
    todo = [r for r in records if needs_judge(r) and judged_reply(judgments.get(r["id"]), r["answer"]) is None]
    if not todo:
        return 0

    def ask(record: Mapping[str, Any], first: bool = False) -> dict[str, Any]:
        item = items[record["id"]]
        line: dict[str, Any] = {"id": item.id, "judge": judge.settings.model, "answer": record["answer"]}
        try:
            line["reply"] = judge.reply(judge_messages(item.question, item.answer, record["answer"]))
        except judge.api_error as error:
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            if first:
                what = "no judge answers at" if isinstance(error, judge.connection_error) else "a judge refuses"
                raise ValueError(f"{what} --judge-base-url {judge.settings.base_url} ({reason})") from None
            line.update(reply=None, error=reason)
        return line

    first_line = ask(todo[0], first=True)
    with (
        open(path, "a", encoding="utf-8") as handle,
        progress_bar(total=len(todo), description="judge bamboogle", enabled=progress) as bar,
    ):
        handle.write(json.dumps(first_line, ensure_ascii=False) + "\n")
        bar.update(1)
        with ThreadPoolExecutor(max(1, judge.settings.concurrency)) as pool:
            for line in pool.map(ask, todo[1:]):
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                handle.flush()
                bar.update(1)
    return len(todo)


# --- transcripts -----------------------------------------------------------------------------------


def search_settings(info: RunInfo) -> SearchSettings:
    """The run's search engine settings (``run.json``: ``options.search``)."""
    options = info.options or {}
    if not isinstance(options.get("search"), dict):
        raise ValueError("a Bamboogle run needs options.search in run.json (the search engine settings)")
    try:
        return settings_from_dict(options["search"])
    except TypeError as error:
        raise ValueError(f"run.json options.search: {error}") from None


def search_engine(info: RunInfo, environ: Mapping[str, str]) -> SearchEngine:
    """The run's engine, not yet probed (``make_engine``: Serper's key from ``environ``)."""
    return make_engine(search_settings(info), environ)


def _check_record(record: dict[str, Any], items: Mapping[str, BamboogleItem], info: RunInfo, where: str) -> None:
    if record["id"] not in items:
        raise ValueError(f"{where}: id {record['id']!r} is not an item of this run")
    for key, expected in (
        ("protocol", info.protocol),
        ("format", info.format),
        ("tool_prompt", info.tool_prompt),
    ):
        if record.get(key) != expected:
            raise ValueError(f"{where}: {key} {record.get(key)!r}, this run has {expected!r}")
    rounds = record.get("rounds")
    if not isinstance(rounds, list) or not all(
        isinstance(r, dict)
        and isinstance(r.get("output"), str)
        and isinstance(r.get("prompt_sha256"), str)
        and all(isinstance(r.get(key), list) for key in ("calls", "executed", "observations"))
        for r in rounds
    ):
        raise ValueError(
            f"{where}: 'rounds' must be a list of objects with prompt_sha256, output, calls, executed, observations"
        )
    if not isinstance(record.get("answer"), str) or not isinstance(record.get("timed_out"), bool):
        raise ValueError(f"{where}: 'answer' must be a string and 'timed_out' a boolean")


def read_transcripts(path: Path, items: Mapping[str, BamboogleItem], info: RunInfo) -> list[dict[str, Any]]:
    """Every transcript line, checked for shape and for belonging to this run (known id, protocol, format,
    tool prompt, no repeats), in the items' order; errors name the file and line."""
    if not path.is_file():
        return []
    records = read_records_by_id(path, lambda record, where: _check_record(record, items, info, where))
    return [records[item_id] for item_id in items if item_id in records]


def replay(item: BamboogleItem, record: Mapping[str, Any], info: RunInfo) -> Trajectory:
    """The trajectory rebuilt from a transcript's outputs and saved results; ``ValueError`` naming the line
    and round where a prompt, a reading or the answer differs from what was saved."""
    where = record.get("where", TRANSCRIPTS_FILE)
    saved = [observation for step in record["rounds"] for observation in step["observations"]]
    trajectory = Trajectory(item, info.protocol, info.format, ReplayEnvironment(saved), info.tool_prompt)  # type: ignore[arg-type]
    for number, step in enumerate(record["rounds"], start=1):
        prompt = trajectory.prompt()
        if prompt is None or prompt_hash(prompt) != step["prompt_sha256"]:
            raise ValueError(
                f"{where}: round {number}: the prompt differs from the one this run sends "
                "(another run or data version?)"
            )
        trajectory.advance(step["output"])
        ran = trajectory.rounds[-1]
        if (ran.calls, ran.executed) != (step["calls"], step["executed"]):
            raise ValueError(f"{where}: round {number}: the saved calls are not what the output makes")
    if trajectory.answer != record["answer"] or trajectory.timed_out != record["timed_out"]:
        raise ValueError(f"{where}: the saved answer is not what the rounds give")
    return trajectory


# --- the benchmark ---------------------------------------------------------------------------------


def item_row(
    item: BamboogleItem, record: Mapping[str, Any], judgment: Mapping[str, Any] | None, judge: str | None
) -> dict[str, Any]:
    """One line of ``item_scores.jsonl``; ``judge`` names the run's judge (None: scored without one).

    >>> item = BamboogleItem("0", "Q?", "james madison")
    >>> judgment = {"answer": "James Madison", "reply": "- Judgment: Yes"}
    >>> row = item_row(item, {"answer": "James Madison", "timed_out": False, "searches": 1}, judgment, "m")
    >>> row["valid"], row["em"], row["searches"], row["outcome"]
    (True, 1.0, 1, 'correct')
    """
    answer, timed_out = record["answer"], record["timed_out"]
    scored = "" if timed_out else answer
    valid: bool | None = None
    if judge is None:
        outcome = "timeout" if timed_out else "empty_answer" if answer == "" else NO_JUDGE
    elif timed_out or answer == "":
        valid, outcome = False, "timeout" if timed_out else "empty_answer"
    else:
        reply = judged_reply(judgment, answer)
        valid = parse_judgment(reply) if reply is not None else None
        outcome = "unjudged" if valid is None else "correct" if valid else "judged_wrong"
    return {
        "id": item.id,
        "category": CATEGORY,
        "valid": valid,
        "answer": answer,
        "gold": item.answer,
        "em": exact_match(scored, item.answer),
        "subem": substring_match(scored, item.answer) if scored else 0.0,
        "f1": token_f1(scored, item.answer),
        "searches": record["searches"],
        "timed_out": timed_out,
        "outcome": outcome,
        "judge": judge,
        "judge_reply": judged_reply(judgment, answer),
    }


def bamboogle_summary(
    rows: Sequence[Mapping[str, Any]], judge: str | None, search: str, protocol: str
) -> dict[str, Any]:
    """Accuracy (None without a judge), average searches per question, EM, SubEM, F1, and the outcomes.

    >>> rows = [{"valid": True, "em": 1.0, "subem": 1.0, "f1": 1.0, "searches": 1, "outcome": "correct"},
    ...         {"valid": None, "em": 0.0, "subem": 0.0, "f1": 0.5, "searches": 2, "outcome": "unjudged"}]
    >>> s = bamboogle_summary(rows, "gpt-4o", "serper", "toolrl")
    >>> s["overall"]["accuracy"], s["overall"]["avg_searches"], s["unjudged"], s["failures"]
    (0.5, 1.5, 1, {'unjudged': 1})
    """
    count = len(rows)

    def mean(key: str) -> float | None:
        return sum(float(r[key]) for r in rows) / count if count else None

    outcomes = Counter(r["outcome"] for r in rows)
    return {
        "benchmark": "bamboogle",
        "protocol": protocol,
        "items": count,
        "judge": judge,
        "search": search,
        "overall": {
            "accuracy": (sum(r["valid"] is True for r in rows) / count if count else None) if judge else None,
            "avg_searches": mean("searches"),
            "em": mean("em"),
            "subem": mean("subem"),
            "f1": mean("f1"),
            "count": count,
        },
        "unjudged": outcomes.get("unjudged", 0),
        "timeouts": outcomes.get("timeout", 0),
        "failures": {k: v for k, v in outcomes.most_common() if k not in ("correct", NO_JUDGE)},
    }


class Bamboogle(Benchmark):
    """ToolRL's Bamboogle (one category, ``bamboogle``): items from ``data_dir/data.json``, a transcript per
    item (``transcripts.jsonl``), the judge's replies (``judgments.jsonl``, :func:`judge_run`)."""

    name = "bamboogle"
    categories = (CATEGORY,)
    tool_templates = True

    def expand(self, names: Sequence[str]) -> list[str]:
        unknown = [name for name in names if name not in ("all", CATEGORY)]
        if unknown:
            raise ValueError(f"unknown Bamboogle category {unknown[0]!r}; valid: {CATEGORY}")
        return [CATEGORY]

    def check(self, info: RunInfo) -> None:
        super().check(info)
        if info.data_dir is None:
            raise ValueError(f"a Bamboogle run needs data_dir (the folder of ToolRL's {DATA_FILE})")
        search_settings(info)

    def items(self, info: RunInfo) -> dict[str, Any]:
        return {item.id: item for item in load_items(Path(info.data_dir or "") / DATA_FILE, info.limit)}

    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts:
        prompts: Prompts = {}
        for item_id, item in items.items():
            trajectory = Trajectory(item, info.protocol, info.format, ReplayEnvironment([]), info.tool_prompt)  # type: ignore[arg-type]
            prompts[item_id] = (CATEGORY, trajectory.prompt() or [])
        return prompts

    def prompt_tools(self, info: RunInfo, items: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        tools = strict_tools(info.tool_prompt) if info.protocol == "strict" else None
        return {item_id: tools for item_id in items} if tools else {}

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
        done = {record["id"] for record in read_transcripts(path, items, info)}
        todo = [item for item_id, item in items.items() if item_id not in done]
        if not todo:
            return
        engine = search_engine(info, os.environ)  # the Serper key is read where the engine is made, never saved
        engine.probe()
        policy = backend()
        active = [
            Trajectory(item, info.protocol, info.format, SearchEnvironment(engine), info.tool_prompt) for item in todo
        ]  # type: ignore[arg-type]
        with (
            open(path, "a", encoding="utf-8") as handle,
            progress_bar(total=len(items), description="generate bamboogle", enabled=progress) as bar,
        ):
            bar.update(len(done))
            while active:
                for start in range(0, len(active), max(1, batch_size)):
                    batch = active[start : start + max(1, batch_size)]
                    prompts = [trajectory.prompt() for trajectory in batch]
                    tools = [trajectory.tools for trajectory in batch]
                    outputs = policy.generate(prompts, tools=tools) if any(tools) else policy.generate(prompts)  # type: ignore[arg-type]
                    if len(outputs) != len(batch):
                        raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(batch)} prompts")
                    with ThreadPoolExecutor(SEARCH_WORKERS) as pool:  # searches wait on the network
                        list(pool.map(Trajectory.advance, batch, outputs))
                finished = [t for t in active if t.done]
                for trajectory in finished:
                    handle.write(json.dumps(trajectory.record(), ensure_ascii=False) + "\n")
                handle.flush()
                bar.update(len(finished))
                active = [t for t in active if not t.done]

    def score(
        self,
        output: Path,
        info: RunInfo,
        items: Mapping[str, Any],
        workers: int,
        progress: bool,
        allow_missing: bool,
    ) -> Scored:
        path = output / TRANSCRIPTS_FILE
        records = read_transcripts(path, items, info)
        missing = sorted(set(items) - {record["id"] for record in records}, key=int)
        if missing and not allow_missing:
            raise ValueError(
                f"{path}: {len(missing)} Bamboogle items of this run have no transcript "
                f"(first: {missing[:3]}); "
                "finish `generate` or pass --allow-missing"
            )
        judgments = read_judgments(output / JUDGMENTS_FILE)
        judge = next(iter(sorted({j["judge"] for j in judgments.values()})), None)
        rows = []
        for record in records:
            replay(items[record["id"]], record, info)
            rows.append(item_row(items[record["id"]], record, judgments.get(record["id"]), judge))
        return Scored(rows, missing)

    def summary(self, info: RunInfo, scored: Scored) -> dict[str, Any]:
        judge = next((row["judge"] for row in scored.rows if row["judge"]), None)
        return bamboogle_summary(scored.rows, judge, search_settings(info).describe(), info.protocol)

    def series(self, summary: Mapping[str, Any]) -> dict[str, float | None]:
        overall = summary.get("overall") or {}
        return {
            "accuracy (judge)": overall.get("accuracy"),
            "exact match": overall.get("em"),
            "substring match": overall.get("subem"),
            "token F1": overall.get("f1"),
        }

    def report_rows(self, runs: Sequence[ScoredRun]) -> list[str]:
        header = [
            "run",
            "accuracy (%)",
            "avg tool calls",
            "EM (%)",
            "SubEM (%)",
            "F1 (%)",
            "judge",
            "search",
            "unjudged",
            "timeouts",
        ]
        rows = []
        for run in runs:
            overall = run.summary.get("overall") or {}
            searches = overall.get("avg_searches")
            rows.append(
                [
                    run.label,
                    percent(overall.get("accuracy")),
                    "n/a" if searches is None else f"{searches:.2f}",
                    percent(overall.get("em")),
                    percent(overall.get("subem")),
                    percent(overall.get("f1")),
                    str(run.summary.get("judge") or NO_JUDGE),
                    str(run.summary.get("search", "")),
                    str(run.summary.get("unjudged", 0)),
                    str(run.summary.get("timeouts", 0)),
                ]
            )
        reference = "; ".join(
            f"{name} {acc:.1f}% with {calls:.2f} calls" for name, (acc, calls) in PAPER_REFERENCE.items()
        )
        return [
            "## Bamboogle (the paper's Table 4 layout)",
            "",
            *markdown_table(header, rows),
            "",
            "- accuracy: the judge's verdict (ToolRL's judge prompt, temperature 0) over all items; "
            "a time-out or "
            "an empty answer counts as wrong, an unjudged reply (no `- Judgment:` field) as not correct; "
            f"`{NO_JUDGE}`: the run was scored without one",
            "- avg tool calls: searches per question; EM / SubEM / F1: exact match, substring match "
            "and token F1 "
            "after SQuAD answer normalisation (verl's search_r1_like_qa_em)",
            "- a resumed run generates only the missing items (ToolRL's script re-ran its wrong items, best-of-k)",
            f"- the paper (Table 4): {reference}",
        ]
