"""The benchmark interface: a second BFCL part plugs in next to the single-turn one and the pipeline, the
summary and the report treat its categories like any other.

The multi-turn part is not in this build, so a stand-in part serves the four multi-turn categories here (the
one thing this test cannot have): it keeps its own transcript file, as the interface lets a multi-step
part do. Everything else is real: BFCL's single-turn items, prompts, checker, the pipeline and the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from verl_toolrl.eval import pipeline, registry
from verl_toolrl.eval.benchmark import BackendFactory, Prompts, Scored
from verl_toolrl.eval.bfcl import Bfcl, BfclBenchmark, BfclSingleTurn
from verl_toolrl.eval.generations import RunInfo
from verl_toolrl.eval.report import write_report
from verl_toolrl.tasks.bfcl import single_turn as bfcl_data


@dataclass(frozen=True)
class _Entry:
    id: str
    category: str


class StandInMultiTurn(BfclBenchmark):
    """Two entries per multi-turn category; an entry is right when the model's answer says "done"."""

    categories = bfcl_data.MULTI_TURN_CATEGORIES
    transcripts = "stand_in_transcripts.jsonl"

    def items(self, info: RunInfo) -> dict[str, Any]:
        return {f"{c}_{n}": _Entry(f"{c}_{n}", c) for c in info.categories for n in range(2)}

    def prompts(self, info: RunInfo, items: Mapping[str, Any]) -> Prompts:
        return {i: (item.category, [{"role": "user", "content": f"task {i}"}]) for i, item in items.items()}

    def generate(
        self,
        output: Path,
        info: RunInfo,
        items: Mapping[str, Any],
        backend: BackendFactory,
        batch_size: int,
        progress: bool,
    ) -> None:
        engine = backend()
        prompts = self.prompts(info, items)
        with open(output / self.transcripts, "a", encoding="utf-8") as handle:
            for item_id, (_, messages) in prompts.items():
                handle.write(json.dumps({"id": item_id, "steps": engine.generate([messages])}) + "\n")

    def score(
        self, output: Path, info: RunInfo, items: Mapping[str, Any], workers: int, progress: bool, allow_missing: bool
    ) -> Scored:
        done = [json.loads(line) for line in (output / self.transcripts).read_text().splitlines()]
        rows = [
            {
                "id": d["id"],
                "category": items[d["id"]].category,
                "valid": "done" in d["steps"][0],
                "error_type": None if "done" in d["steps"][0] else "multi_turn:wrong",
            }
            for d in done
        ]
        return Scored(rows, sorted(set(items) - {d["id"] for d in done}))


class _Backend:
    built = 0

    def __init__(self) -> None:
        _Backend.built += 1

    def generate(self, batch: Sequence[list[dict[str, str]]]) -> list[str]:
        out = []
        for messages in batch:
            text = messages[-1]["content"]
            out.append("done" if "multi_turn_base" in text or "miss_func" in text else "<think> no </think>")
        return out


def test_a_second_part_plugs_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BENCHMARKS, "bfcl", Bfcl((BfclSingleTurn(), StandInMultiTurn())))
    benchmark = registry.get_benchmark("bfcl")
    categories = benchmark.expand(["irrelevance", "multi_turn"])
    assert categories == ["irrelevance", *bfcl_data.MULTI_TURN_CATEGORIES]
    assert len(benchmark.expand(["all"])) == 17

    info = RunInfo("bfcl", "m", "none", "toolrl", categories, 3, {}, None, "toolrl")
    pipeline.generate(tmp_path, info, lambda: _Backend(), progress=False)
    assert _Backend.built == 1  # one model for both parts
    summary = pipeline.score(tmp_path, progress=False)
    assert summary["items"] == 3 + 8 and summary["protocol"] == "toolrl"
    assert summary["categories"]["multi_turn_base"]["accuracy"] == 1.0
    assert summary["categories"]["multi_turn_miss_param"]["accuracy"] == 0.0
    by_name = {a["name"]: a for a in summary["aggregates"]}
    assert by_name["multi_turn_overall"]["value"] == 0.5 and by_name["multi_turn_overall"]["missing"] == []
    assert by_name["overall"]["value"] is None and "multi_turn_base" not in by_name["overall"]["missing"]
    assert summary["failures"]["multi_turn:wrong"] == 4

    report, _ = write_report([tmp_path], tmp_path / "report")
    text = report.read_text()
    assert "| multi_turn_base | 2 | 100.00 |" in text and "| **multi_turn_overall** | 50.00 |" in text
