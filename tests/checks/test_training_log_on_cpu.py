"""Reading a training run back: the per-step metrics from verl's file logger, and the per-step share of
zero-variance groups from verl's rollout dump.

The metrics file is written by verl's own ``FileLogger`` (``verl.utils.tracking``, the ``file`` logger of
``trainer.logger``), given its path by ``VERL_FILE_LOGGER_PATH`` as ``recipes/train_cpu.sh`` gives it.

The dump is written in the layout of verl 0.9.1's v1 trainer (``trainer_base._write_generations``: one
``<step>.jsonl`` per step, ``input``/``output``/``gts``/``score``/``step`` and the trajectory key ``uid``,
``{prompt uid}_{session}_{index}``); the trainer's writer itself needs TransferQueue, which this environment
lacks, so the test writes the same fields. Scores are the package's real reward of real responses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from verl.utils.tracking import FileLogger

from verl_toolrl.checks.training_log import main, rollout_records, step_metrics, step_rewards, zero_variance_fraction
from verl_toolrl.reward import compute_score

GOLD = '<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {"x": 1}}\n</tool_call>'
WRONG_ARGUMENT = '<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {"x": 2}}\n</tool_call>'
NO_TAGS = "I would call f."


def write_dump(directory: Path, step: int, groups: dict[str, list[str]]) -> list[dict]:
    """One step's dump: each group's responses to the GOLD target, scored by the real reward."""
    rows = []
    for uid, outputs in groups.items():
        for session, output in enumerate(outputs):
            score = compute_score("", output, GOLD, step=step)["score"]
            rows.append(
                {"input": "p", "output": output, "gts": GOLD, "score": score, "step": step, "uid": f"{uid}_{session}_0"}
            )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{step}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def test_one_group_in_three_without_reward_variance_is_a_third(tmp_path: Path) -> None:
    rows = write_dump(
        tmp_path,
        1,
        {
            "a1b2-c3": [GOLD, GOLD],  # all equal: no GRPO signal
            "d4e5-f6": [GOLD, NO_TAGS],
            "0718-29": [NO_TAGS, WRONG_ARGUMENT],
        },
    )
    scores = {row["output"]: row["score"] for row in rows}
    assert len(set(scores.values())) == 3  # the three responses score differently, so only group a1b2-c3 is flat
    write_dump(tmp_path, 2, {"a": [GOLD, GOLD], "b": [NO_TAGS, NO_TAGS]})
    write_dump(tmp_path, 3, {"a": [GOLD], "b": [NO_TAGS]})  # one rollout per prompt: no group to judge
    summary = step_rewards(rollout_records(tmp_path))
    assert summary[1]["zero_variance_groups"] == 1 / 3
    assert summary[2]["zero_variance_groups"] == 1.0
    assert "zero_variance_groups" not in summary[3]
    assert all(step["score_mismatch"] == 0 for step in summary.values())


def test_a_dump_without_trajectory_keys_has_no_figure_and_scores_within_tolerance_are_equal() -> None:
    assert zero_variance_fraction([{"score": 1.0}, {"score": 1.0}]) is None
    rows = [{"uid": "g_0_0", "score": 0.5}, {"uid": "g_1_0", "score": 0.5 + 1e-9}]
    assert zero_variance_fraction(rows) == 1.0
    assert zero_variance_fraction(rows, tolerance=0.0) == 0.0


def verl_file_log(path: Path, monkeypatch: pytest.MonkeyPatch, steps: dict[int, list[dict]]) -> Path:
    """Log ``steps`` (each step's ``Tracking.log`` calls, in order) through verl's own file logger."""
    monkeypatch.setenv("VERL_FILE_LOGGER_PATH", str(path))
    logger = FileLogger("toolrl", "test")
    for step, calls in steps.items():
        for data in calls:
            logger.log(data, step)
    logger.finish()
    return path


def test_step_metrics_reads_verls_file_logger_merging_a_steps_lines(tmp_path: Path, monkeypatch) -> None:
    path = verl_file_log(
        tmp_path / "run.jsonl",
        monkeypatch,
        {
            1: [{"critic/score/mean": np.float64(-1.5), "response_length/max": np.int32(160), "note": "text"}],
            # the last step: its training metrics, then the final validation in a second line
            2: [{"critic/score/mean": 0.5, "actor/grad_norm": np.float32(0.25)}, {"val-core/x/reward/mean@1": 1.0}],
        },
    )
    assert step_metrics(path) == {
        1: {"critic/score/mean": -1.5, "response_length/max": 160.0},
        2: {"critic/score/mean": 0.5, "actor/grad_norm": 0.25, "val-core/x/reward/mean@1": 1.0},
    }


def test_a_log_that_is_not_verls_jsonl_is_one_line_naming_file_and_line(tmp_path: Path, capsys) -> None:
    log = tmp_path / "train.log"
    log.write_text('{"step": 1, "data": {}}\n(TaskRunner pid=1) step:1 - critic/score/mean:1.5\n')
    with pytest.raises(ValueError, match=r"train\.log:2: not a line of verl's file logger"):
        step_metrics(log)
    assert main([str(log)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {log}:2: ")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main([str(empty)]) == 1


def test_the_per_step_table_prints_the_fraction(tmp_path: Path, capsys, monkeypatch) -> None:
    write_dump(tmp_path / "rollouts", 1, {"a": [GOLD, GOLD], "b": [GOLD, NO_TAGS], "c": [NO_TAGS, WRONG_ARGUMENT]})
    log = verl_file_log(
        tmp_path / "metrics.jsonl", monkeypatch, {1: [{"critic/score/mean": np.float64(1.5), "timing_s/step": 3.0}]}
    )
    capsys.readouterr()  # the logger's own "Creating file logger at ..."
    assert main([str(log), "--rollouts", str(tmp_path / "rollouts")]) == 0
    header, rule, row = capsys.readouterr().out.splitlines()
    assert set(rule) == {"|", "-"}
    cells = dict(
        zip(
            (c.strip() for c in header.strip("|").split("|")),
            (c.strip() for c in row.strip("|").split("|")),
            strict=True,
        )
    )
    assert cells["zero-var groups"] == "0.333" and cells["score mean"] == "1.500" and cells["step s"] == "3.000"
