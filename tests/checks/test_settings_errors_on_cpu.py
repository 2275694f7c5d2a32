"""A newcomer's mistakes, each answered with one line and exit status 2, never a traceback.

Settings (``python -m verl_toolrl check`` / ``preflight``, the quickstart, the launcher), data files
given to the preflight, a tokenizer path, an unreachable hub, and a machine that cannot train.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

from verl_toolrl.__main__ import main
from verl_toolrl.checks.hub import hub_reachable, offline_notice
from verl_toolrl.reward import VARIANTS

ROOT = Path(__file__).resolve().parents[2]
TARGET = '<think> call it </think>\n<tool_call>\n{"name": "f", "parameters": {"a": 1}}\n</tool_call>'

#: (override, what the one line must say: the key, the bad value, the valid choices)
MISTAKES = [
    ("reward.reward_kwargs.variant=dynamc", ["reward.reward_kwargs.variant", "'dynamc'", ", ".join(VARIANTS)]),
    ("reward.reward_kwargs.schedule_steps=-5", ["reward.reward_kwargs.schedule_steps", "-5", "positive number"]),
    ("reward.reward_model.enable=true", ["reward.reward_model.enable=True", "valid choices", "false"]),
    (
        "reward.reward_kwargs.varient=dynamic",
        ["reward.reward_kwargs.varient", "unknown key", "valid keys: variant, format, matching, values"],
    ),
]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    rows = [
        {
            "data_source": "rlla",
            "prompt": [{"role": "user", "content": f"question {i}"}],
            "ability": "tool_use",
            "reward_model": {"ground_truth": TARGET, "style": "rule"},
            "extra_info": {"index": i},
        }
        for i in range(2)
    ]
    for split in ("train", "test"):
        pd.DataFrame(rows).to_parquet(tmp_path / f"{split}.parquet")
    return tmp_path


def data_overrides(data_dir: Path, train: str = "train.parquet") -> list[str]:
    return [f"data.train_files={data_dir / train}", f"data.val_files={data_dir / 'test.parquet'}"]


@pytest.mark.parametrize("command", ["check", "preflight"])
@pytest.mark.parametrize("override, says", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_bad_setting_is_one_line_naming_key_value_and_choices(command, override, says, data_dir, offline, capsys):
    assert main([command, *data_overrides(data_dir), override]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"{command}: error: ")
    for part in says:
        assert part in line


@pytest.mark.parametrize(
    "override, says",
    [
        ("data.prompt_filter.max_skips=-1", "data.prompt_filter.max_skips=-1: must be an integer >= 0"),
        ("data.prompt_filter.window=0", "data.prompt_filter.window=0: must be an integer >= 1"),
        ("data.dataloader_num_workers=4", "data.dataloader_num_workers=4: the prompt filter needs 0"),
        ("reward.reward_manager.name=naive", "reward.reward_manager.name=naive: the prompt filter needs the toolrl"),
        ("data.val_files=TRAIN", "data.val_files is data.train_files: the prompt filter"),
    ],
)
def test_a_bad_prompt_filter_setting_is_one_line_naming_the_key(override, says, data_dir, offline, capsys):
    override = override.replace("TRAIN", str(data_dir / "train.parquet"))
    assert main(["check", *data_overrides(data_dir), "toolrl/prompt_filter=variance", override]) == 2
    assert says in one_line(capsys.readouterr().err)


def test_a_bare_preflight_names_the_missing_data_option(offline, capsys):
    assert main(["preflight"]) == 2  # the recipe does not inherit verl's gsm8k paths
    line = one_line(capsys.readouterr().err)
    assert "data.train_files: not set; give data.train_files=DIR/train.parquet" in line
    assert "python -m data_preprocess.mix" in line


def test_a_data_file_that_is_not_there_is_named(data_dir, offline, capsys):
    assert main(["preflight", *data_overrides(data_dir, "nope.parquet")]) == 2
    assert f"data.train_files={data_dir / 'nope.parquet'}: no such file" in one_line(capsys.readouterr().err)


def test_a_corrupt_parquet_is_named(data_dir, offline, capsys):
    (data_dir / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    assert main(["preflight", *data_overrides(data_dir, "bad.parquet")]) == 2
    assert f"{data_dir / 'bad.parquet'}: not a readable parquet file" in one_line(capsys.readouterr().err)


def test_a_parquet_without_reward_model_is_named(data_dir, offline, capsys):
    pd.DataFrame({"prompt": [[{"role": "user", "content": "q"}]]}).to_parquet(data_dir / "plain.parquet")
    assert main(["preflight", *data_overrides(data_dir, "plain.parquet")]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{data_dir / 'plain.parquet'}: no column 'reward_model'" in line


def test_a_bad_tokenizer_path_is_one_line(data_dir, offline, capsys, tmp_path):
    assert main(["preflight", "--tokenizer", str(tmp_path / "no-tokenizer"), *data_overrides(data_dir)]) == 2
    assert f"--tokenizer {tmp_path / 'no-tokenizer'}: cannot be loaded" in one_line(capsys.readouterr().err)


def test_check_without_mistakes_reports_the_settings(offline, capsys):
    assert main(["check", "reward.reward_kwargs.variant=dynamic"]) == 0
    assert "recipe toolrl_grpo: reward settings valid (RewardOptions(variant='dynamic'" in capsys.readouterr().out


# ---------------------------------------------------------------- the hub, probed once


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_hub_probe_tells_a_listening_host_from_a_closed_port(closed_port):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert hub_reachable(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=5)
    assert not hub_reachable(f"http://127.0.0.1:{closed_port}", timeout=5)


def test_an_unreachable_hub_is_said_once_and_the_preflight_goes_offline(closed_port, monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # restored after the test, whatever main sets
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    assert offline_notice(os.environ) is not None
    assert main(["preflight"]) == 2  # stops at the missing data, after the notice
    out = capsys.readouterr().out
    assert out.count("does not answer") == 1 and "working offline (HF_HUB_OFFLINE=1)" in out
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert main(["hub"]) == 0  # now offline: nothing to probe
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().out


def test_the_hub_command_fails_when_the_hub_does_not_answer(closed_port, monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    assert main(["hub"]) == 1
    assert f"the Hugging Face hub (http://127.0.0.1:{closed_port}) does not answer" in capsys.readouterr().out


# ---------------------------------------------------------------- the shell entry points


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, check=False, text=True, cwd=ROOT, timeout=600, env={**os.environ, **env}
    )


def test_the_quickstart_stops_on_a_bad_setting_before_building_data(tmp_path):
    result = run(
        ["bash", "recipes/quickstart.sh", "reward.reward_kwargs.varient=dynamic"],
        {"DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("check: error: reward.reward_kwargs.varient: unknown key; valid keys: variant")
    assert "== 2/4 data" not in result.stdout and not (tmp_path / "data").exists()


def test_the_ppo_preflight_offline_validates_the_critic_with_a_stand_in(data_dir):
    result = run(
        ["python", "-m", "verl_toolrl", "preflight", "--config-name", "toolrl_ppo", *data_overrides(data_dir)],
        {"HF_HUB_OFFLINE": "1"},  # the recipe's model is a hub id: neither its tokenizer nor config loads
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "could not load the critic's model config 'Qwen/Qwen2.5-3B-Instruct'" in result.stdout
    assert "validating the critic with a local stand-in model config" in result.stdout
    assert "could not load the tokenizer of 'Qwen/Qwen2.5-3B-Instruct'" in result.stdout
    assert "preflight: all checks passed" in result.stdout


@pytest.mark.skipif(
    torch.cuda.is_available() and all(importlib.util.find_spec(m) for m in ("vllm", "transfer_queue")),
    reason="this machine can train",
)
def test_the_launcher_says_what_training_lacks_before_starting_ray(data_dir):
    result = run(["bash", "recipes/run_toolrl.sh"], {"DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    line = one_line(result.stderr)
    assert line.startswith("run_toolrl.sh: cannot train here, missing ")
    assert "a GPU" in line and "or the CPU training path (see the README's CPU training section)" in line
    assert "run_toolrl.sh: toolrl_grpo on" not in result.stdout  # the trainer (and Ray) never started
