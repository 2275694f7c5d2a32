"""The CPU platform and its adjustments, in fresh processes that import verl as the trainer's do: inert
unless ``VERL_PLATFORM=cpu`` selects it (GPU runs see verl's own functions), and, selected, a working gloo
process group and verl's FSDP engine for the ``cpu`` device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import json, os, sys
    import verl
    from verl.plugin.platform import get_platform
    from verl.utils import distributed, model as model_utils
    from verl.workers import engine_workers
    platform = get_platform()
    out = {
        "platform": type(platform).__name__,
        "device": platform.device_name,
        "wrapped": hasattr(engine_workers.initialize_global_process_group_ray, "__wrapped__"),
        "engine_device": os.environ.get("VERL_ENGINE_DEVICE"),
        "value_model_wrapped": hasattr(model_utils.load_valuehead_model, "__wrapped__"),
    }
    if out["wrapped"]:
        import torch.distributed as dist
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[1], RANK="0", WORLD_SIZE="1")
        engine_workers.initialize_global_process_group_ray(timeout_second=60)
        out["backend"] = dist.get_backend()
        tensor = __import__("torch").ones(3)
        dist.all_reduce(tensor)
        out["all_reduce"] = tensor.tolist()
        from verl.workers.engine import EngineRegistry
        out["engine"] = EngineRegistry.get_engine_cls("language_model", "fsdp2").__name__
        dist.destroy_process_group()
        import tempfile, torch, transformers
        config = transformers.Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                          num_attention_heads=2, num_key_value_heads=1, num_labels=1)
        with tempfile.TemporaryDirectory() as folder:
            transformers.Qwen2ForCausalLM(config).save_pretrained(folder)
            critic = model_utils.load_valuehead_model(folder, torch.float32, config, False)
        out["critic"] = [type(critic).__name__, critic.config._attn_implementation]
    print("PROBE " + json.dumps(out))
""")


def probe(platform: str | None, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VERL_PLATFORM", "VERL_ENGINE_DEVICE")}
    if platform:
        env["VERL_PLATFORM"] = platform
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(port)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE "))
    return json.loads(line[len("PROBE ") :])


def test_without_the_switch_verl_keeps_its_own_platform_and_functions() -> None:
    out = probe(None, 29611)
    assert out["platform"] != "PlatformCPU" and out["device"] == "cuda"
    assert out["wrapped"] is False and out["engine_device"] is None
    assert out["value_model_wrapped"] is False


def test_selected_it_runs_a_gloo_process_group_and_finds_the_fsdp_engine() -> None:
    out = probe("cpu", 29612)
    assert out["platform"] == "PlatformCPU" and out["device"] == "cpu"
    assert out["wrapped"] is True and out["engine_device"] == "cuda"
    assert out["backend"] == "gloo" and out["all_reduce"] == [1.0, 1.0, 1.0]
    assert out["engine"].startswith("FSDP")
    # PPO's critic: verl asks for FlashAttention 2 (CUDA-only); on CPU it is loaded with sdpa.
    assert out["value_model_wrapped"] is True and out["critic"] == ["Qwen2ForTokenClassification", "sdpa"]


def test_an_unknown_platform_is_one_line_from_check() -> None:
    env = {**os.environ, "VERL_PLATFORM": "tpu"}
    result = subprocess.run(
        [sys.executable, "-m", "verl_toolrl", "check"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "check: error: VERL_PLATFORM=tpu: no such verl platform; registered: nvidia, huawei, amd, cpu (unset it to "
        "let verl detect the device, or VERL_PLATFORM=cpu for the CPU training path)"
    ]


def test_train_cpu_refuses_bad_input_in_one_line(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "test"):
        (data / f"{split}.parquet").write_bytes(b"")
    cases = [
        ({"DATA_DIR": str(tmp_path / "none")}, "none/train.parquet not found; prepare the data first"),
        ({"DATA_DIR": str(data), "RECIPE": "toolrl_gdpo"}, "RECIPE=toolrl_gdpo is not a CPU recipe"),
        ({"DATA_DIR": str(data), "CPU_VENV": str(tmp_path / "venv")}, "is not built; run: bash recipes/setup_cpu.sh"),
    ]
    for env, message in cases:
        result = subprocess.run(
            ["bash", "recipes/train_cpu.sh"],
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
