"""The BFCL multi-turn loop: message flows per protocol, lockstep generation over a backend, resume per
entry, the step limit, transcripts checked when scored, BFCL's verdict, and a real (tiny, random, local)
model through the transformers backend.

Where a test needs a model's choices, a scripted policy stands in for it: a backend that answers each
prompt with the output a script gives for it (BFCL's ground truth rendered as model output, or hostile
calls); everything else (environment, simulators, checker, files) is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.core.prompts import BFCL_TURN_INSTRUCTION
from verl_toolrl.data.bfcl_multi_turn import write
from verl_toolrl.eval import bfcl_multi_turn as mt
from verl_toolrl.eval.__main__ import main, parse_args, run_info
from verl_toolrl.eval.backends import Sampling, make_backend
from verl_toolrl.eval.bfcl import summary
from verl_toolrl.eval.generations import RunInfo
from verl_toolrl.eval.pipeline import generate, run_items, score
from verl_toolrl.eval.registry import get_benchmark
from verl_toolrl.eval.report import write_report
from verl_toolrl.tasks.bfcl import toolrl_handler
from verl_toolrl.tasks.bfcl.episode import gold_outputs
from verl_toolrl.tasks.bfcl.multi_turn import ADDED_FUNCTIONS_PROMPT_FC, HELDOUT_FILE, MultiTurnEntry, load_entries
from verl_toolrl.tasks.bfcl.single_turn import (
    CATEGORIES,
    MULTI_TURN_CATEGORIES,
    expand_categories,
    gold_output,
    item_messages,
)
from verl_toolrl.tasks.episode import MAX_STEPS_PER_TURN

pytest.importorskip("bfcl_eval", reason="needs bfcl-eval: pip install --no-deps bfcl-eval==2026.3.23")

FLOWS = [("toolrl", "toolrl"), ("strict", "toolrl"), ("strict", "hermes")]


pytestmark = pytest.mark.usefixtures("bfcl_scratch")


@pytest.fixture(scope="module")
def entries() -> dict[str, MultiTurnEntry]:
    """Four entries of each category (long context included)."""
    return mt.load_multi_turn_entries(MULTI_TURN_CATEGORIES, limit=4)


class ScriptedBackend:
    """A stand-in for a model: answers every prompt with the output its script maps that prompt to."""

    name = "scripted"

    def __init__(self, script: dict[str, str], fail_after: int | None = None) -> None:
        self.script, self.fail_after, self.batches = script, fail_after, []

    def generate(self, prompts: Sequence[list[dict[str, str]]]) -> list[str]:
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise KeyboardInterrupt("interrupted")
        self.batches.append(len(prompts))
        return [self.script[mt.prompt_hash(prompt)] for prompt in prompts]


def gold_script(entries: dict[str, MultiTurnEntry], protocol: str, format: str) -> dict[str, str]:
    """prompt hash -> output, from ground-truth trajectories (no two entries share a prompt with different outputs)."""
    script: dict[str, str] = {}
    for entry in entries.values():
        trajectory = mt.Trajectory(entry, protocol, format)
        for output in gold_outputs(entry, format):
            key = mt.prompt_hash(trajectory.prompt())
            assert script.setdefault(key, output) == output
            trajectory.advance(output)
        assert trajectory.done
    return script


@pytest.mark.parametrize(("protocol", "format"), FLOWS)
def test_ground_truth_policy_through_generate_and_score_is_valid(
    entries: dict[str, MultiTurnEntry], tmp_path: Path, protocol: str, format: str
) -> None:
    backend = ScriptedBackend(gold_script(entries, protocol, format))
    path = mt.generate(tmp_path / mt.TRANSCRIPTS_FILE, entries, protocol, format, backend, batch_size=5)
    assert backend.batches[0] == 5 and max(backend.batches) == 5  # one step of several entries per call
    records = mt.read_transcripts(path, entries, protocol, format)
    assert sorted(r["id"] for r in records) == sorted(entries)
    scores = mt.score_records(entries, records, workers=2, chunk_size=3)
    assert [s.valid for s in scores] == [True] * len(entries)
    scored = summary([asdict(s) for s in scores])
    assert next(a["value"] for a in scored["aggregates"] if a["name"] == "multi_turn_overall") == 1.0
    assert scored["correct"] == 16
    first = next(r for r in records if r["id"] == "multi_turn_base_0")
    assert [len(steps) for steps in first["turns"]] == [2, 2, 2, 2]  # calls, then an answer, per turn
    step = first["turns"][0][0]
    assert step["executed"] == [
        "cd(folder='document')",
        "mkdir(dir_name='temp')",
        "mv(source='final_report.pdf', destination='temp')",
    ]
    assert step["observations"][0] == '{"current_working_directory": "document"}'


def test_generation_resumes_per_entry(entries: dict[str, MultiTurnEntry], tmp_path: Path) -> None:
    script = gold_script(entries, "strict", "hermes")
    path = tmp_path / mt.TRANSCRIPTS_FILE
    with pytest.raises(KeyboardInterrupt):
        mt.generate(path, entries, "strict", "hermes", ScriptedBackend(script, fail_after=4), batch_size=16)
    finished = {r["id"] for r in mt.read_transcripts(path, entries, "strict", "hermes")}
    assert 0 < len(finished) < len(entries)  # entries with fewer steps were written as they finished
    resumed = ScriptedBackend(script)
    mt.generate(path, entries, "strict", "hermes", resumed, batch_size=16)
    assert resumed.batches[0] == len(entries) - len(finished)
    records = mt.read_transcripts(path, entries, "strict", "hermes")
    assert len(records) == len(entries) and all(s.valid for s in mt.score_records(entries, records, workers=1))


def test_toolrl_flow_follows_the_handler(entries: dict[str, MultiTurnEntry]) -> None:
    entry = entries["multi_turn_base_0"]
    trajectory = mt.Trajectory(entry, "toolrl", "toolrl")
    system, user = trajectory.prompt()
    assert system["content"].startswith("You are a helpful multi-turn dialogue assistant")
    assert system["content"].endswith("(if exists).\n")
    assert "Name: post_tweet\nDescription: This tool belongs to the TwitterAPI" in system["content"]
    assert 'Parameters: {"content": {"type": "string"' in system["content"]  # properties only
    question = entry.questions[0][0]["content"].strip()
    assert (
        user["content"]
        == f"**Dialogue Records History**\n<user> {question}\n{toolrl_handler.SINGLE_TURN_INSTRUCTION} </user>"
    )
    trajectory.advance(render_output("t", [ToolCall("cd", {"folder": "document"})]))
    user = trajectory.prompt()[1]["content"]
    assert user.endswith(
        "<obs> You have made the tool call cd(folder='document'). Execution returns: {\"current_working_directory\": "
        '"document"} </obs>\n'
        "\n"
        f"<user> {toolrl_handler.AFTER_LAST_RESULT} </user>"
    )
    assert "\n<think> t </think>\n<tool_call>\n" in user


def test_held_out_functions_appear_at_their_turn(entries: dict[str, MultiTurnEntry]) -> None:
    entry = next(e for e in entries.values() if e.held_out)
    turn = min(entry.held_out)
    names = [doc["name"] for doc in entry.held_out[turn]]
    for protocol, format in FLOWS:
        trajectory = mt.Trajectory(entry, protocol, format)
        answer = render_output("no", response="I cannot.", format=format)
        for _ in range(turn):
            assert not any(f'"{name}"' in trajectory.prompt()[0]["content"] for name in names)
            trajectory.advance(answer)
        prompt = trajectory.prompt()
        if protocol == "toolrl":
            assert (
                str(entry.held_out[turn]) in prompt[1]["content"]
            )  # in the user message, as BFCL's prompting handlers
            assert not any(f"Name: {name}\n" in prompt[0]["content"] for name in names)
        else:
            shown = (lambda n: f"Name: {n}\n") if format == "toolrl" else (lambda n: f'"name": "{n}"')
            assert all(shown(name) in prompt[0]["content"] for name in names)  # in the tool list
            assert prompt[-1] == {"role": "user", "content": ADDED_FUNCTIONS_PROMPT_FC}
            assert prompt[1]["content"].endswith(BFCL_TURN_INSTRUCTION[format])


def test_step_limit_ends_the_entry(entries: dict[str, MultiTurnEntry]) -> None:
    entry = entries["multi_turn_base_0"]
    always = render_output("again", [ToolCall("ls", {})])
    trajectory = mt.run_scripted(entry, [always] * 100, "toolrl", "toolrl")
    assert trajectory.done and trajectory.force_quit
    assert [len(steps) for steps in trajectory.turns] == [MAX_STEPS_PER_TURN + 1]
    score = mt.score_record(entry, json.loads(json.dumps(trajectory.record())))
    assert (score.valid, score.error_type) == (False, "multi_turn:force_terminated")


def test_hostile_outputs_run_nothing_through_the_loop(entries: dict[str, MultiTurnEntry], tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    payload = f"__import__('os').system('touch {sentinel}')"
    entry = entries["multi_turn_base_0"]
    hostile = [
        '<think> x </think>\n<tool_call>\n{"name": "'
        + payload.replace('"', '\\"')
        + '", "parameters": {}}\n</tool_call>',
        render_output(
            "x", [ToolCall("os.system", {"command": f"touch {sentinel}"}), ToolCall("cd", {f"folder={payload}": "x"})]
        ),
        render_output("x", [ToolCall("echo", {"content": payload, "file_name": f"{payload}.txt"})]),
        render_output("done", response="ok"),
    ] * 4
    for protocol, format in [("toolrl", "toolrl"), ("strict", "toolrl")]:
        trajectory = mt.run_scripted(entry, hostile, protocol, format)
        record = json.loads(json.dumps(trajectory.record()))
        assert record["turns"][0][0]["executed"] == [None]
        assert record["turns"][0][1]["executed"] == [None, None]
        assert all(o.startswith("Error during execution: ") for o in record["turns"][0][1]["observations"])
        assert not mt.score_record(entry, record).valid
    assert not sentinel.exists()


def test_tampered_transcripts_are_errors_naming_the_line(entries: dict[str, MultiTurnEntry], tmp_path: Path) -> None:
    entry = entries["multi_turn_base_0"]
    record = mt.run_scripted(entry, gold_outputs(entry), "toolrl", "toolrl").record()
    forged = json.loads(json.dumps(record))
    forged["turns"][0][0]["executed"][0] = "mkdir(dir_name='elsewhere')"
    with pytest.raises(ValueError, match="turn 0 step 0: the saved calls"):
        mt.score_record(entry, forged)
    other = json.loads(json.dumps(record))
    other["turns"][0][0]["observations"][0] = "something else"  # changes the next prompt
    with pytest.raises(ValueError, match="turn 0 step 1: the prompt differs"):
        mt.score_record(entry, other)
    path = tmp_path / mt.TRANSCRIPTS_FILE
    path.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"transcripts.jsonl:2: id 'multi_turn_base_0' repeats line 1"):
        mt.read_transcripts(path, entries, "toolrl", "toolrl")
    with pytest.raises(ValueError, match=r"transcripts.jsonl:1: protocol 'toolrl', this run has 'strict'"):
        mt.read_transcripts(path, entries, "strict", "toolrl")


def test_transformers_backend_runs_the_loop(tmp_path: Path) -> None:
    """A 2-layer random Qwen2 through the transformers backend, on the entry with the shortest prompt (its
    tokenizer, built locally, learns merges from that prompt to keep the sequence short)."""
    pytest.importorskip("torch")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from verl_toolrl.checks.preflight import byte_level_tokenizer

    entry = next(e for e in load_entries("multi_turn_miss_func") if e.id == "multi_turn_miss_func_105")
    prompt = mt.Trajectory(entry, "toolrl", "toolrl").prompt()
    tokenizer = byte_level_tokenizer([m["content"] for m in prompt], vocab_size=4000)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=65536,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model_dir = tmp_path / "tiny"
    Qwen2ForCausalLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    backend = make_backend("transformers", str(model_dir), Sampling(max_new_tokens=4), device="cpu")
    chosen = {entry.id: entry}
    path = mt.generate(tmp_path / mt.TRANSCRIPTS_FILE, chosen, "toolrl", "toolrl", backend)
    records = mt.read_transcripts(path, chosen, "toolrl", "toolrl")
    assert [len(steps) for steps in records[0]["turns"]] == [1] * entry.num_turns  # random text: no call
    score = mt.score_records(chosen, records, workers=1)[0]
    assert (score.valid, score.error_type) == (False, "multi_turn:empty_turn_model_response")


def test_openai_backend_runs_the_loop_against_a_local_server(
    entries: dict[str, MultiTurnEntry], tmp_path: Path, chat_server
) -> None:
    """An OpenAI-compatible endpoint (a local HTTP server answering from the ground-truth script) receives
    the strict flow's chat messages, tool-role results included."""
    pytest.importorskip("openai")
    chosen = {i: entries[i] for i in ("multi_turn_base_1", "multi_turn_miss_func_0")}
    script = gold_script(chosen, "strict", "hermes")
    with chat_server(lambda messages: script[mt.prompt_hash(messages)]) as (url, requests):
        backend = make_backend("openai", "served", Sampling(max_new_tokens=64), base_url=url, concurrency=2)
        path = mt.generate(tmp_path / mt.TRANSCRIPTS_FILE, chosen, "strict", "hermes", backend)
    assert len(requests) == len(script) and requests[0]["max_tokens"] == 64
    assert any(m["role"] == "tool" for body in requests for m in body["messages"])
    records = mt.read_transcripts(path, chosen, "strict", "hermes")
    assert all(s.valid for s in mt.score_records(chosen, records, workers=1))


def test_one_bfcl_run_covers_single_and_multi_turn(tmp_path: Path) -> None:
    """``bfcl`` with single- and multi-turn categories through the pipeline (generate, score, report): the
    multi-turn part writes transcripts beside the single-turn generations and feeds the paper's table."""
    assert get_benchmark("bfcl").expand(["all"]) == list(CATEGORIES) == expand_categories(["single_turn", "multi_turn"])
    info = RunInfo("bfcl", "gold", "none", "toolrl", ["simple_python", *MULTI_TURN_CATEGORIES], 2, {}, None, "toolrl")
    items = run_items(info)
    multi = {i: e for i, e in items.items() if isinstance(e, MultiTurnEntry)}
    script = gold_script(multi, "toolrl", "toolrl")
    for item_id, item in items.items():
        if item_id not in multi:
            script[mt.prompt_hash(item_messages(item, "toolrl", "toolrl"))] = gold_output(item, "toolrl")
    generate(tmp_path, info, ScriptedBackend(script), batch_size=4, progress=False)
    assert (tmp_path / "generations.jsonl").is_file() and (tmp_path / mt.TRANSCRIPTS_FILE).is_file()
    summary = score(tmp_path, workers=1, progress=False)
    assert summary["items"] == summary["correct"] == 10 and summary["missing"] == []
    assert {c: v["count"] for c, v in summary["categories"].items() if c in MULTI_TURN_CATEGORIES} == dict.fromkeys(
        MULTI_TURN_CATEGORIES, 2
    )
    assert next(a for a in summary["aggregates"] if a["name"] == "multi_turn_overall")["value"] == 1.0
    report, _ = write_report([tmp_path], tmp_path / "report")
    assert "| multi_turn_long_context | 2 | 100.00 |" in report.read_text()


def test_the_evaluation_runs_exactly_the_held_out_ids_of_the_training_data(tmp_path: Path, capsys) -> None:
    """``--ids DATA/heldout_ids.json``: the run holds exactly the held-out entries of the multi-turn data
    command (nothing trained on), generates and scores those; an id that is no entry is one error line."""
    write(tmp_path / "data", ["multi_turn_base", "multi_turn_miss_param"], limit=10, heldout_fraction=0.2, seed=3)
    ids_file = tmp_path / "data" / HELDOUT_FILE
    held_out = json.loads(ids_file.read_text())["ids"]
    wanted = sorted(i for ids in held_out.values() for i in ids)
    info = run_info(
        parse_args(["bfcl", "generate", "--model", "gold", "--ids", str(ids_file), "--output", str(tmp_path / "run")])
    )
    assert info.categories == ["multi_turn_base", "multi_turn_miss_param"] and sorted(info.ids) == wanted
    items = run_items(info)
    assert sorted(items) == wanted and len(wanted) == 4
    trained = {e["index"] for e in pd.read_parquet(tmp_path / "data" / "train.parquet")["extra_info"]}
    assert not trained & set(items)
    generate(
        tmp_path / "run", info, ScriptedBackend(gold_script(items, "toolrl", "toolrl")), batch_size=4, progress=False
    )
    summary = score(tmp_path / "run", workers=1, progress=False)
    assert summary["items"] == summary["correct"] == 4
    scored = [json.loads(line)["id"] for line in (tmp_path / "run" / mt.TRANSCRIPTS_FILE).read_text().splitlines()]
    assert sorted(scored) == wanted

    held_out["multi_turn_base"].append("multi_turn_base_9999")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ids": held_out}))
    assert main(["bfcl", "generate", "--model", "gold", "--ids", str(bad), "--output", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: --ids: 1 id(s) are not bfcl items of categories multi_turn_base, multi_turn_miss_param, first "
        "'multi_turn_base_9999'"
    ]
    assert not (tmp_path / "bad" / "run.json").exists()


def test_the_command_writes_the_same_transcripts_under_any_hash_seed(tmp_path: Path, chat_server) -> None:
    """``python -m verl_toolrl.eval bfcl generate`` in processes started with different hash seeds, a served
    model answering with a call whose observation renders a Python set (the travel simulator's error
    message, whose order follows the seed): the command pins the seed, so the transcripts are
    byte-identical."""
    pytest.importorskip("openai")
    book = ToolCall(
        "book_flight",
        {
            "access_token": "secureAccessToken12345",
            "card_id": "144756014165",
            "travel_date": "2026-11-15",
            "travel_from": "SFO",
            "travel_to": "ORD",
            "travel_class": "premium",
        },
    )
    first = render_output("go", [book])
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({"ids": {"multi_turn_base": ["multi_turn_base_152"]}}))
    transcripts = []
    with chat_server(
        lambda messages: render_output("done", response="ok") if "Must be one of" in json.dumps(messages) else first
    ) as (url, _):
        for seed in ("1", "2", "3"):
            output = tmp_path / f"seed{seed}"
            env = {
                **os.environ,
                "PYTHONHASHSEED": seed,
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                "BFCL_PROJECT_ROOT": str(tmp_path / "bfcl"),
            }
            command = [
                sys.executable,
                "-m",
                "verl_toolrl.eval",
                "bfcl",
                "generate",
                "--backend",
                "openai",
                "--model",
                "served",
                "--base-url",
                url,
                "--ids",
                str(ids),
                "--output",
                str(output),
                "--quiet",
            ]
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, result.stderr[-3000:]
            transcripts.append((output / mt.TRANSCRIPTS_FILE).read_bytes())
    assert transcripts[0] == transcripts[1] == transcripts[2]
    observations = json.loads(transcripts[0])["turns"][0][0]["observations"]
    assert "Invalid travel class. Must be one of {" in observations[0]
