"""The data_preprocess commands end to end: files written, byte-identical reruns, errors, summaries,
and the written parquet loaded by verl's own RLHFDataset with a locally built tokenizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from verl_toolrl.core.calls import parse_response
from verl_toolrl.data.cli import main
from verl_toolrl.data.schema import ROW_SCHEMA
from verl_toolrl.reward import compute_score, score_range

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def samples(shared_dir) -> Path:
    return shared_dir / "data/raw_samples"


@pytest.fixture(scope="module")
def toolrl(shared_dir) -> Path:
    return shared_dir / "data/toolrl"


def run(name: str, *argv: object) -> int:
    return main(name, [str(arg) for arg in argv])


def rows_of(path: Path) -> list[dict]:
    table = pq.read_table(path)
    assert table.schema.equals(ROW_SCHEMA)
    return table.to_pylist()


def assert_rows_are_checked(rows: list[dict], format: str = "toolrl") -> None:
    for index, row in enumerate(rows):
        truth = row["reward_model"]["ground_truth"]
        assert parse_response(truth, format).ok
        assert (
            compute_score(row["data_source"], truth, truth, format=format)["score"]
            == score_range(truth, format=format)[1]
        )
        assert row["extra_info"]["index"] == index and row["extra_info"]["format"] == format
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        json.loads(row["extra_info"]["tools"])


@pytest.mark.parametrize("format", ["toolrl", "hermes"])
def test_each_command_converts_the_shared_samples(tmp_path, samples, toolrl, format, capsys):
    commands = {
        "toolace": ["--input", samples / "toolace.json"],
        "xlam": ["--input", samples / "xlam.json"],
        "hammer": ["--input", samples / "xlam.json", "--seed", 3],
        "rlla": ["--input", toolrl / "rlla_sft.json", "--skip-invalid"],
        "apibank": ["--input", toolrl / "api_bank", "--skip-invalid"],
    }
    expected = {"toolace": 22, "xlam": 11, "hammer": 11, "rlla": 399, "apibank": 460}
    for name, argv in commands.items():
        assert run(name, *argv, "--output", tmp_path / name, "--format", format) == 0
        split = "test" if name == "apibank" else "train"
        rows = rows_of(tmp_path / name / f"{split}.parquet")
        assert len(rows) == expected[name]
        assert {row["data_source"] for row in rows} == {name}
        assert_rows_are_checked(rows, format)
    out = capsys.readouterr().out
    assert "records read: 466" in out and "rows skipped: 6" in out and "unknown_tool: 6" in out


def test_rlla_keeps_the_released_split(tmp_path, toolrl):
    assert run("rlla", "--input", toolrl / "rlla_4k_test.parquet", "--output", tmp_path, "--skip-invalid") == 0
    assert sorted(os.listdir(tmp_path)) == ["test.parquet"]
    assert len(rows_of(tmp_path / "test.parquet")) == 79


def test_same_input_and_seed_give_byte_identical_parquet(tmp_path, samples):
    outputs = []
    for attempt, seed in enumerate((5, 5, 6)):
        out = tmp_path / str(attempt)
        assert run("hammer", "--input", samples / "xlam.json", "--output", out, "--seed", seed) == 0
        outputs.append((out / "train.parquet").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]  # the seed drives the masking
    for attempt in (0, 1):
        assert run("toolace", "--input", samples / "toolace.json", "--output", tmp_path / f"t{attempt}") == 0
    assert (tmp_path / "t0/train.parquet").read_bytes() == (tmp_path / "t1/train.parquet").read_bytes()


def mix_sources(samples, *, toolace: int, hammer: int, xlam: int) -> list:
    """``mix`` arguments drawing the given counts from the sample records."""
    return [
        "--toolace", samples / "toolace.json", "--xlam", samples / "xlam.json",
        "--toolace-count", toolace, "--hammer-count", hammer, "--xlam-count", xlam,
    ]  # fmt: skip


def test_mix_samples_each_source_splits_and_is_reproducible(tmp_path, samples, capsys):
    argv = [*mix_sources(samples, toolace=10, hammer=5, xlam=5), "--test-fraction", 0.1]
    assert run("mix", *argv, "--output", tmp_path / "a", "--seed", 1) == 0
    assert run("mix", *argv, "--output", tmp_path / "b", "--seed", 1) == 0
    for split in ("train", "test"):
        assert (tmp_path / "a" / f"{split}.parquet").read_bytes() == (tmp_path / "b" / f"{split}.parquet").read_bytes()
    train, test = rows_of(tmp_path / "a/train.parquet"), rows_of(tmp_path / "a/test.parquet")
    assert (len(train), len(test)) == (18, 2)
    sources = [row["data_source"] for row in train + test]
    assert {source: sources.count(source) for source in set(sources)} == {
        "toolace": 10,
        "hammer": 5,
        "xlam": 5,
    }
    xlam_ids = [r["extra_info"]["source_id"] for r in train + test if r["data_source"] in ("xlam", "hammer")]
    assert len(set(xlam_ids)) == 10, "Hammer samples come from xLAM records the xLAM part did not take"
    assert_rows_are_checked(train)
    assert "records read: 16" in capsys.readouterr().out
    assert run("mix", *argv[:-2], "--xlam-count", 8, "--output", tmp_path / "c") == 2
    assert "hammer has only 3 usable samples of the 5 asked for" in capsys.readouterr().err


def test_mix_decontamination_removes_and_counts_evaluation_queries(tmp_path, samples, capsys):
    xlam = json.loads((samples / "xlam.json").read_text())
    evaluation = {
        "system": "S",
        "user": f"**Dialogue Records History**\n<user>{xlam[0]['query'].upper()}</user>\n",
        "answer": [{"name": "f", "parameters": {}}],
    }
    apibank_dir = tmp_path / "api_bank"
    apibank_dir.mkdir()
    (apibank_dir / "level-1-api_processed.json").write_text(json.dumps([evaluation]))
    argv = [
        *mix_sources(samples, toolace=1, hammer=0, xlam=10),
        "--decontaminate",
        "apibank",
        "--apibank-dir",
        apibank_dir,
    ]
    assert run("mix", *argv, "--output", tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "decontamination: 1 samples removed" in out and "contaminated: 1" in out
    queries = {row["extra_info"]["query"] for row in rows_of(tmp_path / "out/train.parquet")}
    assert xlam[0]["query"] not in queries and len(queries) == 11


def test_a_malformed_record_stops_the_run_naming_file_row_and_field(tmp_path, samples, capsys):
    records = json.loads((samples / "xlam.json").read_text())
    records[4]["answers"] = records[4]["answers"][:-3]  # truncated JSON string
    records[7]["answers"] = json.dumps([{"name": "not_a_listed_tool", "arguments": {}}])
    del records[9]["query"]
    bad = tmp_path / "xlam_bad.json"
    bad.write_text(json.dumps(records))
    assert run("xlam", "--input", bad, "--output", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {bad}: row 4: field 'answers': bad_json: "
        f"Expecting ',' delimiter at character {len(records[4]['answers'])}"
    )
    assert not (tmp_path / "out").exists()

    assert run("xlam", "--input", bad, "--output", tmp_path / "out", "--skip-invalid") == 0
    out = capsys.readouterr().out
    assert "records read: 11\nrows written: 8 (train 8)\nrows skipped: 3" in out
    for reason in ("bad_json: 1", "missing_field: 1", "unknown_tool: 1"):
        assert reason in out
    assert len(rows_of(tmp_path / "out/train.parquet")) == 8


def test_jsonl_and_parquet_inputs_read_the_same_records(tmp_path, samples):
    records = json.loads((samples / "xlam.json").read_text())
    (tmp_path / "x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(records), tmp_path / "x.parquet")
    for name in ("x.jsonl", "x.parquet"):
        assert run("xlam", "--input", tmp_path / name, "--output", tmp_path / name.replace(".", "_")) == 0
    assert rows_of(tmp_path / "x_jsonl/train.parquet") == rows_of(tmp_path / "x_parquet/train.parquet")


def test_an_unreachable_hub_dataset_is_a_one_line_error_saying_to_pass_input(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    command = [sys.executable, "-m", "data_preprocess.xlam", "--output", str(tmp_path / "out")]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot load hub dataset 'Salesforce/xlam-function-calling-60k'")
    assert "pass --input PATH" in last


def test_bfcl_command_writes_a_test_split(tmp_path):
    pytest.importorskip("bfcl_eval", reason="the bfcl command needs the bfcl-eval wheel")
    assert run("bfcl", "--categories", "simple_python", "live_multiple", "--limit", 4, "--output", tmp_path) == 0
    rows = rows_of(tmp_path / "test.parquet")
    assert [row["extra_info"]["category"] for row in rows] == ["simple_python"] * 4 + ["live_multiple"] * 4
    assert_rows_are_checked(rows)
    with pytest.raises(SystemExit) as refused:  # a usage error: argparse exits
        run("bfcl", "--categories", "live_relevance", "--output", tmp_path)
    assert refused.value.code == 2


def test_written_parquet_loads_through_verls_rlhf_dataset(tmp_path, samples):
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    from verl_toolrl.checks.stand_in import byte_level_tokenizer

    assert run("toolace", "--input", samples / "toolace.json", "--output", tmp_path / "data") == 0
    path = tmp_path / "data/train.parquet"
    tokenizer = byte_level_tokenizer()
    config = OmegaConf.create(
        {
            "max_prompt_length": 100_000,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    dataset = RLHFDataset(str(path), tokenizer, config)
    assert len(dataset) == 22
    item = dataset[21]
    assert item["raw_prompt"][0]["role"] == "system" and item["index"] == 21
    assert item["reward_model"]["ground_truth"].startswith("<think>")
    batch = collate_fn([dataset[0], dataset[1]])
    assert list(batch["data_source"]) == ["toolace", "toolace"]


def test_mix_demo_is_the_explicit_demo_counts_of_the_sample_records(tmp_path, samples, capsys):
    assert run("mix", "--output", tmp_path / "demo", "--skip-invalid", "--demo", samples) == 0
    explicit = [*mix_sources(samples, toolace=5, hammer=1, xlam=5), "--test-fraction", 0.3, "--skip-invalid"]
    assert run("mix", *explicit, "--output", tmp_path / "explicit") == 0
    for split, count in (("train", 8), ("test", 3)):
        demo = (tmp_path / "demo" / f"{split}.parquet").read_bytes()
        assert demo == (tmp_path / "explicit" / f"{split}.parquet").read_bytes()
        assert len(rows_of(tmp_path / "demo" / f"{split}.parquet")) == count
    with pytest.raises(SystemExit) as exit:
        run("mix", "--output", tmp_path / "x", "--demo", samples, "--xlam", samples / "xlam.json")
    assert exit.value.code == 2 and "--demo takes its files from SAMPLES_DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        run("mix", "--output", tmp_path / "x", "--demo", samples, "--xlam-count", 3)
    assert exit.value.code == 2 and "--demo sets the counts and the test fraction" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_mix_draws_hammer_from_unused_xlam_records_and_irrelevance_rows(tmp_path, samples):
    xlam = json.loads((samples / "xlam.json").read_text())
    irrelevance = [{"query": f"{r['query']} (no tool)", "answers": "[]", "tools": r["tools"]} for r in xlam[:6]]
    (tmp_path / "irrelevance.json").write_text(json.dumps(irrelevance))
    argv = ["--toolace", samples / "toolace.json", "--xlam", samples / "xlam.json", "--toolace-count", 2]
    argv += ["--irrelevance", tmp_path / "irrelevance.json", "--xlam-count", 5, "--hammer-count", 12]
    assert run("mix", *argv, "--output", tmp_path / "out", "--test-fraction", 0) == 0
    rows = rows_of(tmp_path / "out/train.parquet")
    hammer = [row["extra_info"] for row in rows if row["data_source"] == "hammer"]
    xlam_ids = {row["extra_info"]["source_id"] for row in rows if row["data_source"] == "xlam"}
    drawn = {info["source_id"] for info in hammer}
    assert len(hammer) == 12 and not drawn & xlam_ids
    assert {i for i in drawn if i.startswith("irrelevance/")} == {f"irrelevance/{n}" for n in range(6)}
    assert all((info["gold_response"] is not None) == info["source_id"].startswith("irrelevance/") for info in hammer)
