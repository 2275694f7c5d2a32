"""Evaluation runs end to end: generate with a real (tiny, random, local) model through the transformers
backend and through an OpenAI-compatible HTTP server, score without regenerating, report and compare;
generation files with bad lines are errors naming the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from verl_toolrl.eval.__main__ import main
from verl_toolrl.eval.generations import (
    Generation,
    RunInfo,
    append_generations,
    read_generations,
    write_run_info,
)
from verl_toolrl.eval.pipeline import run_items, run_prompts, score
from verl_toolrl.tasks.bfcl import single_turn as bfcl_data

pytest.importorskip("bfcl_eval", reason="needs bfcl-eval: pip install --no-deps bfcl-eval==2026.3.23")

CATEGORIES = ["simple_python", "parallel", "irrelevance", "live_relevance"]


@pytest.fixture(scope="module", autouse=True)
def bfcl_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BFCL_PROJECT_ROOT", str(tmp_path_factory.mktemp("bfcl_project_root")))
        yield


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer randomly initialised Qwen2 with a byte-level tokenizer and a chat template, saved locally."""
    pytest.importorskip("torch")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from verl_toolrl.checks.stand_in import byte_level_tokenizer

    tokenizer = byte_level_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_qwen2")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_gold_run(directory: Path, limit: int = 3, format: str = "toolrl", protocol: str = "strict") -> RunInfo:
    """A run directory whose generations are the gold answers (written through the real file functions)."""
    info = RunInfo("bfcl", "gold", "transformers", format, CATEGORIES, limit, {}, None, protocol=protocol)
    write_run_info(directory, info)
    items = run_items(info)
    append_generations(
        directory / "generations.jsonl",
        (Generation(i, c, m, bfcl_data.gold_output(items[i], format)) for i, (c, m) in run_prompts(info).items()),
    )
    return info


def test_transformers_backend_end_to_end(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "base"
    common = [
        "--model",
        str(tiny_model),
        "--backend",
        "transformers",
        "--limit",
        "2",
        "--max-new-tokens",
        "6",
        "--quiet",
    ]
    assert main(["bfcl", "generate", *common, "--categories", *CATEGORIES, "--output", str(run)]) == 0
    generations = read_generations(run / "generations.jsonl")
    assert [g.category for g in generations] == [c for c in CATEGORIES for _ in range(2)]
    assert generations[0].messages[1]["content"].startswith("**Dialogue Records History**\n<user> ")
    assert (
        generations[0]
        .messages[1]["content"]
        .endswith(
            "call the tool with the name as 'None'. Otherwise, you should use one or more necessary tool calls "
            "to complete the given task in this turn. </user>"
        )
    )
    assert all(isinstance(g.output, str) for g in generations)

    # scoring reads the saved generations back and never builds a backend
    monkeypatch.setattr("verl_toolrl.eval.__main__.make_backend", lambda *a, **k: pytest.fail("score regenerated"))
    before = (run / "generations.jsonl").read_bytes()
    assert main(["bfcl", "score", "--output", str(run), "--quiet", "--workers", "2"]) == 0
    assert (run / "generations.jsonl").read_bytes() == before
    scores = json.loads((run / "scores.json").read_text())
    assert scores["items"] == 8 and set(scores["categories"]) == set(CATEGORIES)
    assert scores["categories"]["simple_python"]["accuracy"] == 0.0  # a random model does not write calls
    assert sum(scores["failures"].values()) == scores["items"] - scores["correct"]
    assert (run / "chart.png").stat().st_size > 1000
    assert "| simple_python | 2 |" in (run / "report.md").read_text()
    assert "### Aggregates (%)" in capsys.readouterr().out

    assert json.loads((run / "scores.json").read_text())["protocol"] == "toolrl"  # the default

    # one chart and one table compare the base run with a gold run of the same protocol
    gold = tmp_path / "gold"
    write_gold_run(gold, limit=2, protocol="toolrl")
    score(gold, progress=False)
    assert (
        main(["bfcl", "report", str(run), str(gold), "--labels", "base", "trained", "--output", str(tmp_path / "cmp")])
        == 0
    )
    table = (tmp_path / "cmp" / "report.md").read_text()
    assert "| simple_python | 2 | 0.00 | 100.00 |" in table and "| **v4_overall** |" in table
    assert "| run | Overall | Non-Live AST | Live | Multi-turn | Relevance | Irrelevance | not scored |" in table
    assert "| trained | n/a | n/a | n/a | n/a | 100.00 | n/a | missing: all multi-turn, simple_java," in table
    assert (tmp_path / "cmp" / "chart.png").stat().st_size > 1000

    # runs of different protocols are not compared unless asked to
    strict = tmp_path / "strict"
    write_gold_run(strict, limit=2, protocol="strict")
    score(strict, progress=False)
    compare = ["bfcl", "report", str(run), str(strict), "--output", str(tmp_path / "mixed")]
    assert main(compare) == 2
    assert (
        "cannot compare runs scored under different protocols (base: toolrl, strict: strict)" in capsys.readouterr().err
    )
    assert main([*compare, "--allow-mixed-protocols"]) == 0
    assert "**Mixed protocols**" in (tmp_path / "mixed" / "report.md").read_text()


def test_apibank_end_to_end(tiny_model: Path, tmp_path: Path, shared_dir: Path) -> None:
    run = tmp_path / "apibank"
    data_dir = shared_dir / "data" / "toolrl" / "api_bank"
    args = ["--model", str(tiny_model), "--data-dir", str(data_dir), "--levels", "1", "2", "--limit", "2"]
    assert main(["apibank", "run", *args, "--max-new-tokens", "4", "--output", str(run), "--quiet"]) == 0
    scores = json.loads((run / "scores.json").read_text())
    assert set(scores["levels"]) == {"level-1", "level-2"} and scores["overall"]["count"] == 4
    assert "## API-Bank accuracy (%)" in (run / "report.md").read_text()


def test_openai_backend_against_a_local_server(tmp_path: Path, chat_server) -> None:
    pytest.importorskip("openai")
    info = RunInfo("bfcl", "served", "openai", "hermes", ["simple_python", "multiple"], 3, {}, None, protocol="strict")
    items = run_items(info)
    answers = {json.dumps(m): bfcl_data.gold_output(items[i], "hermes") for i, (_, m) in run_prompts(info).items()}
    with chat_server(lambda messages: answers.get(json.dumps(messages), "no answer")) as (url, requests):
        args = ["--model", "served", "--backend", "openai", "--base-url", url, "--format", "hermes", "--limit", "3"]
        assert (
            main(
                [
                    "bfcl",
                    "run",
                    *args,
                    "--categories",
                    "simple_python",
                    "multiple",
                    "--max-new-tokens",
                    "64",
                    "--output",
                    str(tmp_path / "run"),
                    "--quiet",
                ]
            )
            == 0
        )
    assert len(requests) == 6 and requests[0]["max_tokens"] == 64
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert scores["correct"] == scores["items"] == 6


# --- bad generation files ---------------------------------------------------------------------------


def _lines(run: Path) -> list[str]:
    return (run / "generations.jsonl").read_text().splitlines()


def _rewrite(run: Path, lines: list[str]) -> None:
    (run / "generations.jsonl").write_text("\n".join(lines) + "\n")


def test_gold_run_scores_full_marks_but_for_known_defects(tmp_path: Path) -> None:
    write_gold_run(tmp_path)
    summary = score(tmp_path, progress=False)
    assert summary["correct"] == summary["items"] == 12


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: lines.__setitem__(1, lines[1][:-5]), r"generations.jsonl:2: not JSON"),
        (
            lambda lines: lines.__setitem__(2, json.dumps({**json.loads(lines[2]), "id": ""})),
            r":3: missing or empty 'id'",
        ),
        (
            lambda lines: lines.__setitem__(
                0, json.dumps({k: v for k, v in json.loads(lines[0]).items() if k != "id"})
            ),
            r":1: missing or empty 'id'",
        ),
        (
            lambda lines: lines.__setitem__(3, json.dumps({**json.loads(lines[3]), "output": None})),
            r":4: 'output' must be a string",
        ),
        (lambda lines: lines.__setitem__(4, lines[0]), r":5: id 'simple_python_0' repeats line 1"),
        (
            lambda lines: lines.__setitem__(5, json.dumps({**json.loads(lines[5]), "id": "simple_python_99999"})),
            r":6: id 'simple_python_99999' is not an item",
        ),
        (
            lambda lines: lines.__setitem__(6, lines[6].replace("<user> ", "<user> Also, ", 1)),
            r":7: the prompt of '.*' differs",
        ),
        (lambda lines: lines.__setitem__(1, "[1, 2]"), r":2: expected a JSON object"),
    ],
)
def test_bad_generation_lines_are_errors_naming_the_line(tmp_path: Path, edit, message: str) -> None:
    write_gold_run(tmp_path)
    lines = _lines(tmp_path)
    edit(lines)
    _rewrite(tmp_path, lines)
    with pytest.raises(ValueError, match=message):
        score(tmp_path, progress=False)


def test_another_runs_prompts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = write_gold_run(tmp_path, format="toolrl")
    write_run_info(tmp_path, RunInfo(**{**info.__dict__, "format": "hermes"}))  # generations were toolrl prompts
    assert main(["bfcl", "score", "--output", str(tmp_path), "--quiet"]) == 2
    assert "generations.jsonl:1: the prompt of 'simple_python_0' differs" in capsys.readouterr().err


def test_missing_generations_need_allow_missing(tmp_path: Path) -> None:
    write_gold_run(tmp_path)
    _rewrite(tmp_path, _lines(tmp_path)[:-2])
    with pytest.raises(ValueError, match="2 items of this run have no generation"):
        score(tmp_path, progress=False)
    summary = score(tmp_path, progress=False, allow_missing=True)
    assert summary["items"] == 10 and len(summary["missing"]) == 2


def test_generate_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    from verl_toolrl.eval.pipeline import generate

    info = write_gold_run(tmp_path)
    _rewrite(tmp_path, _lines(tmp_path)[:-3])
    items = run_items(info)
    by_prompt = {json.dumps(m): bfcl_data.gold_output(items[i]) for i, (_, m) in run_prompts(info).items()}

    class Table:
        name = "table"
        calls: ClassVar[list[int]] = []

        def generate(self, prompts: list) -> list[str]:
            self.calls.append(len(prompts))
            return [by_prompt[json.dumps(p)] for p in prompts]

    backend = Table()
    generate(tmp_path, info, backend, batch_size=2, progress=False)
    assert backend.calls == [2, 1] and len(_lines(tmp_path)) == 12
    with pytest.raises(ValueError, match="other settings"):
        generate(tmp_path, RunInfo(**{**info.__dict__, "limit": 4}), backend, progress=False)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bfcl", "score", "--output", str(tmp_path / "nothing"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["bfcl", "generate", "--model", "m", "--categories", "simple_c", "--output", str(tmp_path)]) == 2
    assert "unknown BFCL category 'simple_c'" in capsys.readouterr().err


def test_a_missing_backend_dependency_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    args = ["--model", "m", "--backend", "vllm", "--categories", "simple_python", "--limit", "1"]
    assert main(["bfcl", "generate", *args, "--output", str(tmp_path), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error == "error: the vllm backend needs vllm: pip install 'verl-toolrl[gpu]' (vLLM needs a CUDA GPU)\n"
