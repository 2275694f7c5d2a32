"""The tiny policy's command line: bad input refused in one line, exit 2, before building anything; the
prompts a policy built with distractors starts undecided on, saved beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from verl_toolrl.cpu.tiny_policy import UNDECIDED_FILE, distractor, main

CALL = '<think> x </think>\n<tool_call>\n{"name": "f", "parameters": {"a": %d}}\n</tool_call>'


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--distractors", "2"], "error: --distractors 2: a share, between 0 and 1"),
        (["--data", "missing.parquet"], "error: missing.parquet: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, arguments: list[str], message: str) -> None:
    data = tmp_path / "train.parquet"
    data.write_bytes(b"")  # never read: the options are refused first
    options = {"--data": str(data), "--output": str(tmp_path / "policy")}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        options[flag] = value
    assert main([item for pair in options.items() for item in pair]) == 2
    error = capsys.readouterr().err
    assert error.startswith(message) and error.count("\n") == 1, error
    assert not (tmp_path / "policy").exists()


def test_a_policy_with_distractors_lists_the_targets_it_starts_undecided_on(tmp_path: Path) -> None:
    targets = [CALL % n for n in range(4)] + ["<think> x </think>\n<response> hi </response>"]
    data = tmp_path / "train.parquet"
    pd.DataFrame(
        {
            "prompt": [[{"role": "user", "content": f"question {n}"}] for n in range(len(targets))],
            "reward_model": [{"style": "rule", "ground_truth": target} for target in targets],
        }
    ).to_parquet(data)
    command = ["--data", str(data), "--steps", "1", "--vocab-size", "300", "--distractors", "0.5"]
    assert main([*command, "--output", str(tmp_path / "policy")]) == 0
    listed = json.loads((tmp_path / "policy" / UNDECIDED_FILE).read_text())
    assert len(listed) == 2 and set(listed) < set(targets[:4])  # half of the four calls; never the text answer
    assert all(distractor(target) is not None for target in listed)
    assert main([*command[:-1], "0", "--output", str(tmp_path / "settled")]) == 0
    assert json.loads((tmp_path / "settled" / UNDECIDED_FILE).read_text()) == []
