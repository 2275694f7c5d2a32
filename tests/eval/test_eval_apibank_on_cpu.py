"""API-Bank: ToolRL's processed levels load, gold answers score 100% under both rules, bad records are
errors naming file, row and field, and the two rules differ where they should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.eval import apibank
from verl_toolrl.eval.apibank import apibank_summary
from verl_toolrl.eval.generations import RunInfo
from verl_toolrl.tasks import apibank as apibank_data


@pytest.fixture(scope="module")
def api_bank_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "toolrl" / "api_bank"


def test_levels_load_with_their_prompts(api_bank_dir: Path) -> None:
    assert apibank_data.available_levels(api_bank_dir)[:2] == [1, 2]
    items = apibank_data.load_items(api_bank_dir, [1, 2])
    assert [sum(i.level == level for i in items) for level in (1, 2)] == [399, 67]
    records = json.loads(apibank_data.level_file(api_bank_dir, 2).read_text())
    first = next(i for i in items if i.level == 2)
    assert first.messages == [
        {"role": "system", "content": records[0]["system"]},
        {"role": "user", "content": records[0]["user"]},
    ]
    assert first.gold == [ToolCall(records[0]["answer"]["name"], records[0]["answer"]["parameters"])]


def test_gold_answers_score_full_marks(api_bank_dir: Path) -> None:
    rows = []
    for item in apibank_data.load_items(api_bank_dir):
        result = apibank.score_response(render_output("I should call the tool.", item.gold), item)
        rows.append({"id": item.id, "category": f"level-{item.level}", **result})
    summary = apibank_summary(rows)
    assert summary["overall"] == {"paper": 1.0, "strict": 1.0, "count": len(rows)}
    assert all(level["paper"] == level["strict"] == 1.0 for level in summary["levels"].values())
    assert summary["failures"] == {}


def test_level_three_with_the_same_layout(tmp_path: Path, api_bank_dir: Path) -> None:
    records = json.loads(apibank_data.level_file(api_bank_dir, 2).read_text())[:5]
    apibank_data.level_file(tmp_path, 3).write_text(json.dumps(records))
    items = apibank_data.load_items(tmp_path)
    assert [item.id for item in items] == [f"level-3-{row}" for row in range(5)]


def test_rules() -> None:
    gold = [ToolCall("ModifyRegistration", {"appointment_id": "34567890", "new_appointment_date": "2023-03-26"})]
    extra_call = [ToolCall("QueryHealthData", {"user_id": "x"}), gold[0]]
    assert apibank.score_calls(extra_call, gold) == {"paper": True, "strict": False}
    assert apibank.score_calls(gold, gold) == {"paper": True, "strict": True}
    extra_param = [ToolCall(gold[0].name, {**gold[0].arguments, "new_appointment_doctor": "Dr. Lee"})]
    assert apibank.score_calls(extra_param, gold) == {"paper": False, "strict": False}
    assert apibank.score_calls([ToolCall("modifyregistration", gold[0].arguments)], gold)["paper"] is False
    assert apibank.score_calls([], gold) == {"paper": False, "strict": False}


def test_unparseable_outputs_are_wrong_and_counted_by_reason() -> None:
    item = apibank_data.item_from_record({"system": "S", "user": "U", "answer": {"name": "f", "parameters": {}}}, 2, 0)
    rows = [
        {"id": str(n), "category": "level-2", **apibank.score_response(text, item)}
        for n, text in enumerate(
            ["", "<think> x", '<think> t </think>\n<tool_call>\n{"name": "g", "parameters": {}}\n</tool_call>']
        )
    ]
    assert [row["paper"] for row in rows] == [False, False, False]
    assert apibank_summary(rows)["failures"] == {"parse:missing_think": 1, "parse:unclosed_think": 1, "wrong_call": 1}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([], "row 0: expected an object"),
        ({"user": "U", "answer": {"name": "f"}}, "row 0, field 'system'"),
        ({"system": "S", "user": "U"}, "row 0, field 'answer': missing"),
        ({"system": "S", "user": "U", "answer": []}, "row 0, field 'answer': no gold call"),
        ({"system": "S", "user": "U", "answer": {"parameters": {}}}, 'the gold call has no string "name"'),
        (
            {"system": "S", "user": "U", "answer": {"name": "f", "parameters": "x=1"}},
            'the gold call has no "parameters" object',
        ),
    ],
)
def test_bad_records_name_file_row_and_field(tmp_path: Path, record: object, message: str) -> None:
    apibank_data.level_file(tmp_path, 1).write_text(json.dumps([record]))
    with pytest.raises(ValueError, match=message) as error:
        apibank_data.load_items(tmp_path)
    assert "level-1-api_processed.json" in str(error.value)


def test_missing_files_and_formats_are_clear_errors(tmp_path: Path) -> None:
    from verl_toolrl.eval.pipeline import run_prompts

    with pytest.raises(FileNotFoundError, match="no API-Bank level files"):
        apibank_data.load_items(tmp_path)
    with pytest.raises(FileNotFoundError, match="level 3"):
        apibank_data.load_items(tmp_path, [3])
    with pytest.raises(ValueError, match="use --protocol strict for --format hermes"):
        run_prompts(RunInfo("apibank", "m", "transformers", "hermes", [], None, {}, str(tmp_path), "toolrl"))
    with pytest.raises(ValueError, match="tool_prompt 'template' needs the hermes format"):
        run_prompts(
            RunInfo("apibank", "m", "transformers", "toolrl", [], None, {}, str(tmp_path), "strict", "template")
        )
