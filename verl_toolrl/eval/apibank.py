"""API-Bank scoring under each protocol, and the benchmark (:class:`ApiBank`).

Items and their prompts come from the task (:mod:`verl_toolrl.tasks.apibank`, :func:`item_prompt`); in the
toolrl format the prompts are the released ones under both protocols. In the hermes format
(``--protocol strict``) they are the validation rows' prompts the data command writes (the tools and
dialogue read out of the released prompt and rendered in the hermes format), with ``--tool-prompt
template`` rewritten by ``prompts.template_tool_prompt`` as the data command does, so the model sees the
prompt it was validated on.

``--protocol toolrl`` scores as ToolRL's scripts did: ``generate.py``'s parsing and ``evaluate.py``'s loop
(:mod:`verl_toolrl.eval.toolrl_scripts`), one rule, ``toolrl``. Under ``--protocol strict`` two rules score a
response, both read with :func:`verl_toolrl.core.calls.parse_response`:

- ``paper``: correct when any predicted call has the gold name and exactly the gold parameters (ToolRL's
  rule applied to the package's parser);
- ``strict``: correct when the predicted calls are exactly the gold calls (same number, same order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from verl_toolrl.core.calls import Format, ToolCall, parse_response
from verl_toolrl.core.progress import progress_bar
from verl_toolrl.eval.benchmark import Prompts, Scored, ScoredRun, SingleShot, markdown_table, percent
from verl_toolrl.eval.generations import Generation, RunInfo
from verl_toolrl.eval.toolrl_scripts import apibank_correct, apibank_tool_calls
from verl_toolrl.tasks.apibank import LEVELS, ApiBankItem, item_prompt, load_items

RULES: tuple[str, ...] = ("paper", "strict")


def score_calls(predicted: Sequence[ToolCall], gold: Sequence[ToolCall]) -> dict[str, bool]:
    """Both rules for one response's calls.

    >>> gold = [ToolCall("f", {"x": "1"})]
    >>> score_calls([ToolCall("g"), ToolCall("f", {"x": "1"})], gold)
    {'paper': True, 'strict': False}
    >>> score_calls([ToolCall("f", {"x": 1})], gold)
    {'paper': False, 'strict': False}
    """
    paper = any(call.name == want.name and call.arguments == want.arguments for call in predicted for want in gold)
    strict = len(predicted) == len(gold) and all(
        call.name == want.name and call.arguments == want.arguments for call, want in zip(predicted, gold, strict=True)
    )
    return {"paper": paper, "strict": strict}


def score_response(text: str, item: ApiBankItem, format: Format = "toolrl") -> dict[str, Any]:
    """Score one generation: both rules plus the parser's failure reason (None when it parsed).

    A response that does not parse scores what its well-formed calls score (usually nothing); it never raises.

    >>> from verl_toolrl.tasks.apibank import item_from_record
    >>> item = item_from_record({"system": "S", "user": "U", "answer": [{"name": "f", "parameters": {}}]}, 1, 0)
    >>> score_response('<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n</tool_call>', item)
    {'paper': True, 'strict': True, 'reason': None}
    >>> score_response("no tags", item)["reason"]
    'missing_think'
    """
    parsed = parse_response(text, format)
    return {**score_calls(parsed.calls, item.gold), "reason": parsed.reason}


def score_toolrl(text: str, item: ApiBankItem) -> dict[str, Any]:
    """Score one generation as ToolRL's scripts did (``generate.py`` parsing, ``evaluate.py`` verdict).

    >>> from verl_toolrl.tasks.apibank import item_from_record
    >>> item = item_from_record({"system": "S", "user": "U", "answer": [{"name": "f", "parameters": {"x": 1}}]}, 1, 0)
    >>> score_toolrl('<tool_call>\\n{"x": 1}\\n</tool_call>', item)
    {'toolrl': True, 'calls': 1}
    """
    calls = apibank_tool_calls(text)
    return {"toolrl": apibank_correct(calls, item.gold), "calls": len(calls)}


#: The rules of each protocol: name -> what it credits.
PROTOCOL_RULES: dict[str, dict[str, str]] = {
    "toolrl": {
        "toolrl": "ToolRL's evaluate.py: any JSON line of the last <tool_call> block has the first gold call's name "
        "and parameters (Python ==), or is a parameters object equal to the gold's; an exception ends the loop"
    },
    "strict": {
        "paper": "correct when any predicted call has the gold name and exactly the gold parameters",
        "strict": "correct when the predicted calls are exactly the gold calls",
    },
}


def apibank_summary(rows: Sequence[dict[str, Any]], protocol: str = "strict") -> dict[str, Any]:
    """Per-level and micro-averaged accuracy under the protocol's rules, and failures by reason.

    >>> rows = [{"category": "level-1", "paper": True, "strict": False, "reason": None},
    ...         {"category": "level-2", "paper": False, "strict": False, "reason": "missing_think"}]
    >>> s = apibank_summary(rows)
    >>> s["overall"], s["failures"]
    ({'paper': 0.5, 'strict': 0.0, 'count': 2}, {'parse:missing_think': 1})
    """
    rules = PROTOCOL_RULES[protocol]
    first = next(iter(rules))
    levels: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        levels.setdefault(row["category"], []).append(row)

    def accuracy(subset: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {**{rule: sum(r[rule] for r in subset) / len(subset) for rule in rules}, "count": len(subset)}

    def reason(row: dict[str, Any]) -> str:
        if protocol == "toolrl":
            return "no_json_line" if not row["calls"] else "wrong_call"
        return f"parse:{row['reason']}" if row["reason"] else "wrong_call"

    failures = Counter(reason(row) for row in rows if not row[first])
    return {
        "benchmark": "apibank",
        "protocol": protocol,
        "items": len(rows),
        "levels": {name: accuracy(subset) for name, subset in sorted(levels.items())},
        "overall": accuracy(rows) if rows else None,
        "rules": rules,
        "failures": dict(failures.most_common()),
    }


class ApiBank(SingleShot):
    """ToolRL's processed API-Bank levels; categories are the levels (``level-N``)."""

    name = "apibank"
    categories = tuple(str(level) for level in LEVELS)
    tool_templates = True

    def expand(self, names: Sequence[str]) -> list[str]:
        return [str(int(name)) for name in names]

    def check(self, info: RunInfo) -> None:
        super().check(info)
        if info.data_dir is None:
            raise ValueError("an API-Bank run needs data_dir (the folder of level-N-api_processed.json files)")

    def items(self, info: RunInfo) -> dict[str, Any]:
        levels = [int(level) for level in info.categories] if info.categories else None
        return {item.id: item for item in load_items(info.data_dir or "", levels, info.limit)}

    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts:
        return {
            i: (f"level-{item.level}", item_prompt(item, info.format, info.tool_prompt)[0]) for i, item in items.items()
        }

    def prompt_tools(self, info: RunInfo, items: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        if info.tool_prompt == "system":
            return {}
        return {i: tools for i, item in items.items() if (tools := item_prompt(item, info.format, info.tool_prompt)[1])}

    def score_outputs(
        self, info: RunInfo, items: Mapping[str, Any], generations: Sequence[Generation], workers: int, progress: bool
    ) -> list[dict[str, Any]]:
        rows = []
        with progress_bar(total=len(generations), description="score apibank", enabled=progress) as bar:
            for generation in generations:
                item = items[generation.id]
                if info.protocol == "toolrl":
                    result = score_toolrl(generation.output, item)
                else:
                    result = score_response(generation.output, item, info.format)  # type: ignore[arg-type]
                rows.append({"id": generation.id, "category": generation.category, **result})
                bar.update(1)
        first = next(iter(PROTOCOL_RULES[info.protocol]))
        return [{**row, "valid": bool(row[first])} for row in rows]

    def summary(self, info: RunInfo, scored: Scored) -> dict[str, Any]:
        return apibank_summary(scored.rows, info.protocol)

    def series(self, summary: Mapping[str, Any]) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        rules = list(summary.get("rules") or PROTOCOL_RULES["strict"])
        for name, level in [*summary["levels"].items(), ("overall", summary["overall"])]:
            for rule in rules:
                values[f"{name} ({rule})"] = level[rule] if level else None
        return values

    def report_rows(self, runs: Sequence[ScoredRun]) -> list[str]:
        levels: list[str] = []
        for run in runs:
            levels.extend(level for level in run.summary["levels"] if level not in levels)
        columns = [(run, rule) for run in runs for rule in run.summary.get("rules") or PROTOCOL_RULES["strict"]]
        header = ["level", "items", *(f"{run.label} ({rule})" for run, rule in columns)]
        rows = []
        for level in [*levels, "overall"]:
            stats = {
                id(run): run.summary["overall"] if level == "overall" else run.summary["levels"].get(level)
                for run in runs
            }
            counts = {str(s["count"]) for s in stats.values() if s}
            cells = [percent(stats[id(run)][rule] if stats[id(run)] else None) for run, rule in columns]
            rows.append([f"**{level}**" if level == "overall" else level, "/".join(sorted(counts)), *cells])
        notes = {rule: text for run in runs for rule, text in (run.summary.get("rules") or {}).items()}
        return [
            "## API-Bank accuracy (%)",
            "",
            *markdown_table(header, rows),
            "",
            *(f"- {rule} rule: {text} (overall is micro-averaged over items)" for rule, text in notes.items()),
        ]
