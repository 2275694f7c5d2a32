"""Bamboogle's search engines: Serper's formatting and retry rules against recorded Serper-shaped replies
served from localhost, the BM25 engine on a small corpus written for this test, the retriever engine against
a local stand-in of Search-R1's retrieval server, and the environment's transcript of searches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verl_toolrl.core.calls import ToolCall
from verl_toolrl.tasks.bamboogle.search import (
    BAD_CALL,
    Bm25Engine,
    RetrieverEngine,
    SearchEnvironment,
    SearchSettings,
    SerperEngine,
    build_bm25_index,
    format_serper,
    make_engine,
)

#: Serper-shaped replies, as https://google.serper.dev/search answers (fields trimmed to what is read).
SERPER_ANSWER_BOX = {
    "searchParameters": {"q": "when was citibank founded", "type": "search", "engine": "google"},
    "answerBox": {"title": "Citibank / Founded", "answer": "June 16, 1812"},
    "organic": [
        {
            "title": "Citibank - Wikipedia",
            "link": "https://en.wikipedia.org/wiki/Citibank",
            "snippet": "Citibank was founded in 1812 as the City Bank of New York.",
            "position": 1,
        },
        {"title": "No snippet here", "link": "https://example.org", "position": 2},
        {
            "title": "Our History | Citi",
            "link": "https://www.citigroup.com/global/about-us/history",
            "snippet": "Citi's history began in 1812.",
            "position": 3,
        },
    ],
}
SERPER_SNIPPET_BOX = {
    "answerBox": {"title": "James Madison", "snippet": "James Madison was president from 1809 to 1817."},
    "organic": [{"title": f"Result {i}", "snippet": f"Snippet {i}."} for i in range(1, 8)],
}
SERPER_EMPTY = {"searchParameters": {"q": "zzzz"}, "organic": []}


def test_serper_formatting_matches_toolrl_utils() -> None:
    assert format_serper(SERPER_ANSWER_BOX) == (
        "1. Citibank / Founded\n- Answer: June 16, 1812\n"
        "2. Citibank - Wikipedia\n- Snippet: Citibank was founded in 1812 as the City Bank of New York.\n"
        "3. Our History | Citi\n- Snippet: Citi's history began in 1812."
    )
    text = format_serper(SERPER_SNIPPET_BOX, num=5)
    assert text.splitlines()[:2] == [
        "1. James Madison",
        "- Snippet: James Madison was president from 1809 to 1817.",
    ]
    assert text.splitlines()[-2:] == ["5. Result 4", "- Snippet: Snippet 4."]  # top 5, the box counted
    assert format_serper({"answerBox": {"answer": "no title"}, "organic": []}) == ""


def test_serper_engine_posts_the_query_with_the_key_and_formats_the_reply(json_server) -> None:
    with json_server(lambda path, body: (200, SERPER_ANSWER_BOX)) as (url, received):
        engine = SerperEngine(SearchSettings("serper", url=f"{url}/search"), api_key="k-123")
        assert engine.search("when was citibank founded") == format_serper(SERPER_ANSWER_BOX)
    assert received == [{"path": "/search", "key": "k-123", "body": {"q": "when was citibank founded", "num": 15}}]


def test_serper_asks_again_while_organic_is_empty_then_times_out(json_server) -> None:
    replies = iter([SERPER_EMPTY, SERPER_EMPTY, SERPER_ANSWER_BOX])
    with json_server(lambda path, body: (200, next(replies))) as (url, received):
        engine = SerperEngine(SearchSettings("serper", url=url), api_key="k", empty_sleep=0.0)
        assert engine.search("q").startswith("1. Citibank / Founded")
        assert len(received) == 3
    with json_server(lambda path, body: (200, SERPER_EMPTY)) as (url, received):
        engine = SerperEngine(SearchSettings("serper", url=url), api_key="k", empty_sleep=0.0)
        assert engine.search("q") == "Search Error: Timeout"
        assert len(received) == 7  # the script: a first request and 6 more while the organic results are empty


def test_serper_errors_become_the_observation_and_the_probe_refuses_them(json_server) -> None:
    with json_server(lambda path, body: (403, {"message": "Unauthorized.", "statusCode": 403})) as (
        url,
        received,
    ):
        engine = SerperEngine(SearchSettings("serper", url=url, retries=1), api_key="bad", sleep=0.0)
        result = engine.search("q")
        assert result.startswith("Search Error: HTTP 403") and "Unauthorized" in result
        assert len(received) == 1  # an HTTP error is an answer, not a transport failure: no retry
        with pytest.raises(ValueError, match=r"^--search serper .*HTTP 403"):
            engine.probe()
    closed = SerperEngine(
        SearchSettings("serper", url="http://127.0.0.1:9/search", timeout=2, retries=2),
        api_key="k",
        sleep=0.0,
    )
    assert closed.search("q").startswith("Search Error: ")
    with pytest.raises(ValueError, match="^--search serper"):
        closed.probe()
    with pytest.raises(ValueError, match="SERPER_API_KEY"):
        make_engine(SearchSettings("serper"), {})


def test_retriever_engine_speaks_search_r1s_api(json_server) -> None:
    def answer(path: str, body: dict) -> tuple[int, Any]:
        hits = [
            {
                "document": {"id": "7", "contents": '"Uranus"\nVoyager 2 flew by Uranus in 1986.'},
                "score": 0.9,
            },
            {
                "document": {"id": "8", "contents": '"Titan IIIE"\nVoyager 2 was launched on a Titan IIIE.'},
                "score": 0.8,
            },
        ]
        return 200, {"result": [hits[: body["topk"]] for _ in body["queries"]]}

    with json_server(answer) as (url, received):
        engine = make_engine(SearchSettings("retriever", url=f"{url}/retrieve", topk=2), {})
        assert isinstance(engine, RetrieverEngine)
        engine.probe()
        assert engine.search("Voyager 2 launch vehicle") == (
            "1. Uranus\n"
            "- Snippet: Voyager 2 flew by Uranus in 1986.\n"
            "2. Titan IIIE\n"
            "- Snippet: Voyager 2 was launched on a Titan IIIE."
        )
    assert received[-1] == {
        "path": "/retrieve",
        "key": None,
        "body": {"queries": ["Voyager 2 launch vehicle"], "topk": 2, "return_scores": True},
    }
    with json_server(lambda path, body: (200, {"unexpected": []})) as (url, _):
        assert RetrieverEngine(SearchSettings("retriever", url=url)).search("q").startswith("Search Error: ")


#: A corpus written for this test (not Wikipedia): each passage holds one fact, the distractors share words.
CORPUS = [
    {"id": "1", "title": "Citibank", "text": "Citibank was founded in 1812 as the City Bank of New York."},
    {
        "id": "2",
        "title": "James Madison",
        "text": "James Madison served as president of the United States from 1809 to 1817.",
    },
    {
        "id": "3",
        "title": "Voyager 2",
        "text": "Voyager 2 was launched on a Titan IIIE rocket and approached Uranus in 1986.",
    },
    {
        "id": "4",
        "title": "Bank of America",
        "text": "Bank of America traces its history to a bank founded in San Francisco.",
    },
    {"id": "5", "title": "Uranus", "text": "Uranus is the seventh planet from the Sun."},
]


def write_corpus(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_bm25_engine_finds_the_passage_holding_the_answer(tmp_path: Path) -> None:
    pytest.importorskip("bm25s", reason="the bm25 engine needs the eval extra: pip install bm25s PyStemmer")
    corpus = write_corpus(tmp_path / "corpus.jsonl", CORPUS)
    assert build_bm25_index(corpus, tmp_path / "index") == 5
    engine = make_engine(SearchSettings("bm25", index=str(tmp_path / "index"), corpus=str(corpus), topk=2), {})
    assert isinstance(engine, Bm25Engine)
    engine.probe()
    result = engine.search("What year was Citibank founded?")
    assert result.splitlines()[:2] == [
        "1. Citibank",
        "- Snippet: Citibank was founded in 1812 as the City Bank of New York.",
    ]
    assert len(result.splitlines()) == 4
    assert engine.search("rocket that launched the spacecraft to Uranus").startswith("1. Voyager 2\n")
    environment = SearchEnvironment(engine)
    [ran] = environment.execute([ToolCall("Search", {"query": "president 1809"})])
    assert ran.rendered == "Search(query='president 1809')" and ran.observation.startswith("1. James Madison")
    assert [query for query, _ in environment.log] == ["president 1809"]
    [refused] = environment.execute([ToolCall("Lookup", {"query": "x"})])
    assert (refused.rendered, refused.observation, refused.error) == (None, BAD_CALL, True)


def test_bm25_refuses_a_broken_corpus_and_an_index_of_another_corpus(tmp_path: Path) -> None:
    pytest.importorskip("bm25s", reason="the bm25 engine needs the eval extra: pip install bm25s PyStemmer")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(CORPUS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.jsonl:2: not JSON"):
        build_bm25_index(broken, tmp_path / "index")
    assert not (tmp_path / "index").exists()
    build_bm25_index(write_corpus(tmp_path / "a.jsonl", CORPUS), tmp_path / "index")
    other = write_corpus(tmp_path / "b.jsonl", CORPUS[:3])
    with pytest.raises(ValueError, match="was built for another corpus"):
        make_engine(SearchSettings("bm25", index=str(tmp_path / "index"), corpus=str(other)), {}).probe()
