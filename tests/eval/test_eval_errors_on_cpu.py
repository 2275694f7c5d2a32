"""Ordinary mistakes with the evaluation and data commands: each is one line and exit status 2 (or, for
argparse, its usage of the step given), never a traceback or a silent wrong result."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from verl_toolrl.core.errors import SourceError
from verl_toolrl.data.cli import main as data_main
from verl_toolrl.data.io import read_local
from verl_toolrl.eval.__main__ import DEFAULT_APIBANK_DIR, build_parser, main
from verl_toolrl.eval.generations import RunInfo, write_run_info

ROOT = Path(__file__).resolve().parents[2]
BFCL = ["--categories", "simple_python", "--limit", "1", "--quiet"]


@pytest.fixture(autouse=True)
def bfcl_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFCL_PROJECT_ROOT", str(tmp_path / "bfcl_project_root"))


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: ")
    return err.strip()


def test_a_model_path_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-model"
    assert (
        main(["bfcl", "generate", "--model", str(missing), "--device", "cpu", *BFCL, "--output", str(tmp_path / "r")])
        == 2
    )
    assert f"model '{missing}' cannot be loaded" in one_line_error(capsys)


def test_a_hub_model_offline(tmp_path: Path) -> None:
    pytest.importorskip("bfcl_eval")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "verl_toolrl.eval",
            "bfcl",
            "generate",
            "--model",
            "Qwen/Qwen2.5-0.5B-Instruct",
            "--device",
            "cpu",
            *BFCL,
            "--output",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "BFCL_PROJECT_ROOT": str(tmp_path / "root")},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and "model 'Qwen/Qwen2.5-0.5B-Instruct' cannot be loaded" in result.stderr


def test_the_openai_backend_without_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openai")
    pytest.importorskip("bfcl_eval")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    url = f"http://127.0.0.1:{port}/v1"
    assert (
        main(
            [
                "bfcl",
                "generate",
                "--backend",
                "openai",
                "--model",
                "m",
                "--base-url",
                url,
                *BFCL,
                "--output",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert f"no OpenAI-compatible server answers at {url}" in one_line_error(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_device_cuda_without_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("bfcl_eval")
    assert main(["bfcl", "generate", "--model", "m", "--device", "cuda", *BFCL, "--output", str(tmp_path / "r")]) == 2
    assert "device 'cuda': torch sees no CUDA device here; use --device cpu" in one_line_error(capsys)


def test_limit_zero_is_refused_by_the_step(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bfcl", "generate", "--model", "m", "--limit", "0", "--output", str(tmp_path / "r")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --limit: must be at least 1, got 0" in err and not (tmp_path / "r").exists()


def test_an_unknown_flag_shows_the_steps_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bfcl", "generate", "--model", "m", "--output", str(tmp_path), "--temprature", "0.5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m verl_toolrl.eval bfcl generate ")
    assert "unrecognized arguments: --temprature 0.5" in err


def test_the_default_apibank_dir_does_not_depend_on_the_working_directory(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["apibank", "generate", "--model", "m", "--output", "r"])
    assert args.data_dir == DEFAULT_APIBANK_DIR and args.data_dir.is_dir()
    assert args.data_dir.resolve() == (shared_dir / "data" / "toolrl" / "api_bank").resolve()


def test_a_missing_apibank_dir_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "api_bank"
    assert (
        main(["apibank", "generate", "--model", "m", "--data-dir", str(missing), "--output", str(tmp_path / "r")]) == 2
    )
    assert f"--data-dir {missing}: no such folder" in one_line_error(capsys)


def test_apibank_score_refuses_a_bfcl_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run_info(tmp_path, RunInfo("bfcl", "m", "transformers", "toolrl", ["simple_python"], 1, {}, None))
    assert main(["apibank", "score", "--output", str(tmp_path), "--quiet"]) == 2
    error = one_line_error(capsys)
    assert f"--output {tmp_path} holds a bfcl run, not apibank" in error
    assert f"python -m verl_toolrl.eval bfcl score --output {tmp_path}" in error
    assert not (tmp_path / "scores.json").exists()


# ---------------------------------------------------------------- data preprocessors


def test_a_json_error_reads_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"id": "unterminated}]')
    with pytest.raises(SourceError) as error:
        read_local(path)
    assert str(error.value) == f"{path}: not JSON (Unterminated string starting at: line 1 column 9)"
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"id": 1}\n{"id": "unterminated}\n')
    with pytest.raises(SourceError) as error:
        read_local(lines)
    assert str(error.value) == f"{lines}: line 2 is not JSON (Invalid control character at: column 22)"


def test_a_corrupt_parquet_given_to_a_preprocessor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rlla.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    assert data_main("rlla", ["--input", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: not a readable parquet file" in err
