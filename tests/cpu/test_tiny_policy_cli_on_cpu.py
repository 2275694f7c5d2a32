"""The tiny policy's command line refuses bad input in one line, exit 2, before building anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from verl_toolrl.cpu.tiny_policy import main


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
