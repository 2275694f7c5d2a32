"""Bamboogle end to end through the command line: a served policy (a local OpenAI-compatible stand-in
answering from a script) with a Search-R1 retrieval stand-in and a judge stand-in, then resuming, scoring
without a judge, reporting runs side by side, a real tiny model through the transformers backend with a BM25
index, and the bad inputs that must stop a run with one line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verl_toolrl.eval.__main__ import main
from verl_toolrl.tasks.bamboogle.prompts import ROUND_LIMIT_ANSWER, toolrl_system_prompt

ITEM_SCORE_KEYS = {"id", "valid", "em", "subem", "f1", "searches"}
#: The first three records of ToolRL's Bamboogle data.json, copied here so the test needs no shared material.
DATA = [
    {
        "Question": "Who was president of the United States in the year that Citibank was founded?",
        "Answer": "james madison",
    },
    {
        "Question": "What rocket was the first spacecraft that ever approached Uranus launched on?",
        "Answer": "Titan IIIE",
    },
    {
        "Question": "In what year was the company that was founded as Sound of Music added to the S&P 500?",
        "Answer": "1999",
    },
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bamboogle"
    folder.mkdir()
    (folder / "data.json").write_text(json.dumps(DATA), encoding="utf-8")
    return folder


def call(query: str) -> str:
    return (
        f"<think> Search. </think>\n<tool_call>\n"
        f'{{"name": "Search", "parameters": {{"query": "{query}"}}}}\n</tool_call>'
    )


def policy(messages: list[dict]) -> str:
    """Item 0 searches once then answers; item 1 answers at once; item 2 searches until it times out."""
    user = messages[-1]["content"]
    if "Citibank" in user:
        return (
            "<think> Madison. </think>\n<response> James Madison </response>"
            if "<obs>" in user
            else call("Citibank founded")
        )
    if "Uranus" in user:
        return "<think> I know. </think>\n<response> Titan IIIE </response>"
    return call("more")


def judge(messages: list[dict]) -> str:
    predicted = messages[1]["content"].split("**Predicted Answer**\n")[1]
    if "Titan" in predicted:
        return "The answer looks right."  # no Judgment field: unjudged
    return "- Thought: the same person.\n- Judgment: " + ("Yes" if "Madison" in predicted else "No")


def retriever(path: str, body: dict) -> tuple[int, Any]:
    return 200, {
        "result": [
            [{"document": {"id": "1", "contents": f'"Result"\nAbout {q}.'}, "score": 1.0}] for q in body["queries"]
        ]
    }


def files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def stand_ins(chat_server, json_server):
    with (
        chat_server(policy) as (policy_url, policy_requests),
        chat_server(judge) as (judge_url, judge_requests),
        json_server(retriever) as (search_url, searches),
    ):
        yield {
            "policy": policy_url,
            "policy_requests": policy_requests,
            "judge": judge_url,
            "judge_requests": judge_requests,
            "search": f"{search_url}/retrieve",
            "searches": searches,
        }


def served(stand_ins: dict, output: Path, *extra: str) -> list[str]:
    return [
        "bamboogle",
        "run",
        "--data-dir",
        str(output.parent / "bamboogle"),
        "--backend",
        "openai",
        "--model",
        "policy",
        "--base-url",
        stand_ins["policy"],
        "--search",
        "retriever",
        "--search-url",
        stand_ins["search"],
        "--limit",
        "3",
        "--quiet",
        "--output",
        str(output),
        *extra,
    ]


def test_served_run_with_retriever_and_judge(stand_ins: dict, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(served(stand_ins, out, "--judge-base-url", stand_ins["judge"], "--judge-model", "judge-m")) == 0
    assert {
        "run.json",
        "transcripts.jsonl",
        "judgments.jsonl",
        "item_scores.jsonl",
        "scores.json",
        "report.md",
        "chart.png",
    } <= files(out)

    first = stand_ins["policy_requests"][0]
    assert first["messages"][0]["content"] == toolrl_system_prompt() and first["temperature"] == 0.0
    assert first["max_tokens"] == 4096
    rows = {row["id"]: row for row in read_lines(out / "item_scores.jsonl")}
    assert all(ITEM_SCORE_KEYS <= set(row) for row in rows.values())
    assert (rows["0"]["valid"], rows["0"]["em"], rows["0"]["searches"], rows["0"]["outcome"]) == (
        True,
        1.0,
        1,
        "correct",
    )
    assert (rows["1"]["valid"], rows["1"]["em"], rows["1"]["outcome"]) == (None, 1.0, "unjudged")
    assert (rows["2"]["valid"], rows["2"]["searches"], rows["2"]["answer"]) == (False, 4, ROUND_LIMIT_ANSWER)
    assert len(stand_ins["judge_requests"]) == 2  # the time-out is not judged, as in the script
    assert all(r["temperature"] == 0 and r["model"] == "judge-m" for r in stand_ins["judge_requests"])
    assert [j["reply"] for j in read_lines(out / "judgments.jsonl")][0].endswith("Judgment: Yes")

    scores = json.loads((out / "scores.json").read_text())
    assert scores["judge"] == "judge-m" and scores["search"].startswith("retriever (http://127.0.0.1:")
    assert scores["overall"]["accuracy"] == pytest.approx(1 / 3) and scores["overall"]["avg_searches"] == pytest.approx(
        5 / 3
    )
    assert (scores["unjudged"], scores["timeouts"]) == (1, 1)
    transcript = {r["id"]: r for r in read_lines(out / "transcripts.jsonl")}
    assert transcript["0"]["rounds"][0]["executed"] == ["Search(query='Citibank founded')"]
    assert transcript["0"]["rounds"][0]["observations"] == ["1. Result\n- Snippet: About Citibank founded."]
    assert (
        "<obs> Search results for the first tool call query:\n1. Result"
        in stand_ins["policy_requests"][3]["messages"][1]["content"]
    )
    report = (out / "report.md").read_text()
    assert "| run | accuracy (%) | avg tool calls |" in report and "judge-m" in report and "33.33" in report

    # resuming: a finished item is never generated again; the judge asks only about what it has not judged
    lines = (out / "transcripts.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["id"] != "1"]
    (out / "transcripts.jsonl").write_text("\n".join(kept) + "\n")
    stand_ins["policy_requests"].clear()
    stand_ins["judge_requests"].clear()
    assert main(served(stand_ins, out, "--judge-base-url", stand_ins["judge"], "--judge-model", "judge-m")) == 0
    assert (
        len(stand_ins["policy_requests"]) == 1 and "Uranus" in stand_ins["policy_requests"][0]["messages"][1]["content"]
    )
    assert stand_ins["judge_requests"] == []  # the same answer as before: its saved reply stands
    assert json.loads((out / "scores.json").read_text())["overall"] == scores["overall"]

    # without a judge: EM/SubEM/F1 still, valid null, the report says so; runs side by side
    bare = tmp_path / "bare"
    assert main(served(stand_ins, bare)) == 0
    bare_scores = json.loads((bare / "scores.json").read_text())
    assert bare_scores["judge"] is None and bare_scores["overall"]["accuracy"] is None
    assert bare_scores["overall"]["em"] == pytest.approx(2 / 3)
    assert all(row["valid"] is None for row in read_lines(bare / "item_scores.jsonl"))
    assert "no judge" in (bare / "report.md").read_text()
    assert (
        main(
            [
                "bamboogle",
                "report",
                str(out),
                str(bare),
                "--labels",
                "judged",
                "bare",
                "--output",
                str(tmp_path / "cmp"),
            ]
        )
        == 0
    )
    table = (tmp_path / "cmp" / "report.md").read_text()
    assert "| judged | 33.33 | 1.67 |" in table and "| bare | n/a | 1.67 |" in table


def test_score_replays_transcripts_and_refuses_an_edited_one(
    stand_ins: dict, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(served(stand_ins, out)) == 0
    records = read_lines(out / "transcripts.jsonl")
    records[0]["answer"] = "Something else"
    (out / "transcripts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    capsys.readouterr()
    assert main(["bamboogle", "score", "--output", str(out), "--quiet"]) == 2
    assert "the saved answer is not what the rounds give" in capsys.readouterr().err


def test_strict_protocol_with_the_chat_templates_tools(
    chat_server, json_server, data_dir: Path, tmp_path: Path
) -> None:
    def hermes_policy(messages: list[dict]) -> str:
        if messages[-1]["role"] == "user" and len(messages) == 2:
            return (
                "<think>\n"
                "Search.\n"
                "</think>\n"
                "\n"
                "<tool_call>\n"
                '{"name": "Search", "arguments": {"query": "q"}}\n'
                "</tool_call>"
            )
        return "<think>\nDone.\n</think>\n\nJames Madison"

    with chat_server(hermes_policy) as (url, requests), json_server(retriever) as (search_url, _):
        args = [
            "bamboogle",
            "run",
            "--backend",
            "openai",
            "--model",
            "p",
            "--base-url",
            url,
            "--format",
            "hermes",
            "--tool-prompt",
            "template",
            "--data-dir",
            str(data_dir),
            "--search",
            "retriever",
            "--search-url",
            f"{search_url}/retrieve",
            "--limit",
            "1",
            "--quiet",
            "--output",
            str(tmp_path / "strict"),
        ]
        assert main(args) == 0
    assert requests[0]["tools"][0]["function"]["name"] == "Search"
    assert [m["role"] for m in requests[1]["messages"]] == ["system", "user", "assistant", "tool", "user"]
    scores = json.loads((tmp_path / "strict" / "scores.json").read_text())
    assert scores["protocol"] == "strict" and scores["overall"]["em"] == 1.0


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer randomly initialised Qwen2 with a byte-level tokenizer and a chat template, saved locally."""
    torch = pytest.importorskip("torch")
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
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_qwen2")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


#: A corpus written for this test (not Wikipedia).
CORPUS = [
    {"id": str(i), "title": f"Passage {i}", "text": f"Fact number {i} about Citibank and Uranus."} for i in range(4)
]


def test_transformers_backend_with_a_bm25_index(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("bm25s", reason="the bm25 engine needs the eval extra: pip install bm25s PyStemmer")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    assert main(["bamboogle", "index", "--corpus", str(corpus), "--index", str(tmp_path / "index")]) == 0
    out = tmp_path / "run"
    args = [
        "bamboogle",
        "run",
        "--data-dir",
        str(data_dir),
        "--backend",
        "transformers",
        "--model",
        str(tiny_model),
        "--device",
        "cpu",
        "--max-new-tokens",
        "6",
        "--search",
        "bm25",
        "--index",
        str(tmp_path / "index"),
        "--corpus",
        str(corpus),
        "--limit",
        "2",
        "--quiet",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["items"] == 2 and scores["judge"] is None and scores["search"].startswith("bm25 (")
    assert len(read_lines(out / "transcripts.jsonl")) == 2


def test_bad_inputs_stop_with_one_line(
    stand_ins: dict,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fails(args: list[str], message: str, output: Path) -> None:
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not files(output) & {
            "transcripts.jsonl",
            "judgments.jsonl",
            "item_scores.jsonl",
            "scores.json",
            "report.md",
        }

    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    out = tmp_path / "no_key"
    fails(
        [
            "bamboogle",
            "run",
            "--data-dir",
            str(data_dir),
            "--backend",
            "openai",
            "--model",
            "p",
            "--base-url",
            stand_ins["policy"],
            "--output",
            str(out),
        ],
        "SERPER_API_KEY",
        out,
    )
    assert not out.exists()

    out = tmp_path / "no_search"
    fails(
        served(stand_ins, out)[:-2]
        + ["--search-url", "http://127.0.0.1:9/retrieve", "--search-retries", "0", "--output", str(out)],
        "--search retriever",
        out,
    )

    out = tmp_path / "no_judge"
    fails(
        served(stand_ins, out, "--judge-base-url", "http://127.0.0.1:9/v1"),
        "no judge answers at --judge-base-url",
        out,
    )
    assert not out.exists()  # the judge is probed before anything is generated
    assert main(["bamboogle", "generate", *served(stand_ins, out)[2:]]) == 0
    capsys.readouterr()
    assert main(["bamboogle", "score", "--output", str(out), "--judge-base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "no judge answers at --judge-base-url" in capsys.readouterr().err
    assert files(out) == {"run.json", "transcripts.jsonl"}

    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(CORPUS[0]) + "\n{broken\n")
    fails(
        ["bamboogle", "index", "--corpus", str(broken), "--index", str(tmp_path / "index")],
        "broken.jsonl:2: not JSON",
        tmp_path / "index",
    )
    assert not (tmp_path / "index").exists()

    corpus, other = tmp_path / "corpus.jsonl", tmp_path / "other.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    other.write_text("".join(json.dumps(r) + "\n" for r in CORPUS[:2]))
    assert main(["bamboogle", "index", "--corpus", str(corpus), "--index", str(tmp_path / "index")]) == 0
    out = tmp_path / "other_corpus"
    fails(
        [
            "bamboogle",
            "run",
            "--data-dir",
            str(data_dir),
            "--backend",
            "openai",
            "--model",
            "p",
            "--base-url",
            stand_ins["policy"],
            "--search",
            "bm25",
            "--index",
            str(tmp_path / "index"),
            "--corpus",
            str(other),
            "--output",
            str(out),
            "--quiet",
        ],
        "was built for another corpus",
        out,
    )
