"""Search engines for the ``Search`` tool, and the environment that runs a trajectory's searches.

Every engine turns a query into the text the model sees, in the layout of ToolRL's
``benchmarks/Bamboogle/utils.py`` (``search_serper``): numbered results,
``"{i}. {title}\\n- Snippet: {text}"``, top ``topk``. Every engine has a timeout and bounded retries;
:meth:`SearchEngine.search` never raises: a failure becomes the observation text (``"Search Error: …"``).
:meth:`SearchEngine.probe` is the one check that raises (``ValueError``, one line), made once before a run
so that an unreachable endpoint stops it early.

- ``serper``: Google results through Serper's HTTP API (answer box first, then organic results; the script's
  rule of asking again while the organic results are empty, then ``"Search Error: Timeout"``);
- ``bm25``: a local ``bm25s`` index (``PyStemmer`` stemming) over a JSONL corpus of
  ``{"id", "title", "text"}`` passages, built once by :func:`build_bm25_index`; the index records the
  corpus's SHA-256, so an index built for another corpus is refused;
- ``retriever``: a server speaking Search-R1's retrieval API (``POST /retrieve`` with ``queries``, ``topk``,
  ``return_scores``; the server verl's search examples run), e.g. a dense Wikipedia index.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import ToolCall
from verl_toolrl.tasks.episode import Execution, python_call

SEARCH_ENGINES: tuple[str, ...] = ("serper", "bm25", "retriever")
SERPER_URL = "https://google.serper.dev/search"
SERPER_KEY_VARIABLE = "SERPER_API_KEY"
INDEX_MANIFEST = "toolrl_corpus.json"
_HTTP_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, OSError)


@dataclass(frozen=True)
class SearchSettings:
    """Which engine and how: what a run records in ``run.json`` (never a key)."""

    engine: str
    url: str | None = None
    index: str | None = None
    corpus: str | None = None
    topk: int = 5
    timeout: float = 30.0
    retries: int = 2

    def describe(self) -> str:
        """The engine as a report names it.

        >>> SearchSettings("serper").describe()
        'serper (https://google.serper.dev/search, top 5)'
        """
        where = {"serper": self.url or SERPER_URL, "retriever": self.url, "bm25": self.corpus}[self.engine]
        return f"{self.engine} ({where}, top {self.topk})"


def snippet_list(results: Sequence[tuple[str, str]], label: str = "Snippet") -> str:
    """Results as numbered ``"{i}. {title}\\n- {label}: {text}"`` entries, one per line pair.

    >>> print(snippet_list([("Ada", "Ada Lovelace was a mathematician.")]))
    1. Ada
    - Snippet: Ada Lovelace was a mathematician.
    """
    return "\n".join(f"{i}. {title}\n- {label}: {text}" for i, (title, text) in enumerate(results, start=1))


def format_serper(data: Mapping[str, Any], num: int = 5) -> str:
    """A Serper reply as ``search_serper`` renders it: the answer box (its answer, else its snippet) then the
    organic results with a title and a snippet, ``num`` entries at most.

    >>> reply = {"answerBox": {"title": "Citibank", "answer": "1812"},
    ...          "organic": [{"title": "History", "snippet": "Founded in 1812."}, {"title": "No snippet"}]}
    >>> print(format_serper(reply))
    1. Citibank
    - Answer: 1812
    2. History
    - Snippet: Founded in 1812.
    """
    output, index = "", 1
    box = data.get("answerBox", "")
    if box and isinstance(box, Mapping) and "title" in box:
        if "answer" in box:
            output += f"{index}. {box['title']}\n- Answer: {box['answer']}\n"
            index += 1
        elif "snippet" in box:
            output += f"{index}. {box['title']}\n- Snippet: {box['snippet']}\n"
            index += 1
    for item in data.get("organic") or []:
        if index > num:
            break
        if isinstance(item, Mapping) and "title" in item and "snippet" in item:
            output += f"{index}. {item['title']}\n- Snippet: {item['snippet']}\n"
            index += 1
    return output.strip()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@dataclass
class SearchEngine:
    """The common part: ``query`` -> observation text, with bounded retries on transport errors."""

    settings: SearchSettings
    sleep: float = 1.0

    def fetch(self, query: str) -> str:
        """One attempt; raises on a transport or reply error (subclasses)."""
        raise NotImplementedError

    def search(self, query: str) -> str:
        """The results of ``query``, or ``"Search Error: …"``; never raises."""
        last = "no attempt"
        for attempt in range(1 + max(0, self.settings.retries)):
            try:
                return self.fetch(query)
            except _HTTP_ERRORS as error:
                last = _first_line(error)
            except (
                ValueError,
                KeyError,
                TypeError,
            ) as error:  # a reply of the wrong shape: not worth a retry
                return f"Search Error: {_first_line(error)}"
            if attempt < self.settings.retries:
                time.sleep(self.sleep * (attempt + 1))
        return f"Search Error: {last}"

    def probe(self) -> None:
        """One search that must succeed; ``ValueError`` naming the engine otherwise."""
        try:
            self.fetch("Bamboogle")
        except (*_HTTP_ERRORS, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"--search {self.settings.describe()}: {_first_line(error)}") from None


def _post_json(url: str, body: Any, headers: Mapping[str, str], timeout: float) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode("utf-8"), {"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read()[:200].decode("utf-8", "replace")
        raise ValueError(f"HTTP {error.code} from {url}: {detail}") from None
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        raise ValueError(f"{url} did not answer JSON: {payload[:120]!r}") from None


@dataclass
class SerperEngine(SearchEngine):
    """Serper's Google search (``X-API-KEY``); ``empty_retries`` more requests while the organic results are
    empty (the script: up to 7 requests, 5 s apart), then ``"Search Error: Timeout"``."""

    api_key: str = ""
    empty_retries: int = 6
    empty_sleep: float = 5.0

    def reply(self, query: str) -> Mapping[str, Any]:
        data = _post_json(
            self.settings.url or SERPER_URL,
            {"q": query, "num": 15},
            {"X-API-KEY": self.api_key},
            self.settings.timeout,
        )
        if not isinstance(data, Mapping):
            raise ValueError(f"Serper answered {type(data).__name__}, not an object")
        return data

    def fetch(self, query: str) -> str:
        for attempt in range(1 + self.empty_retries):
            data = self.reply(query)
            if data.get("organic"):
                return format_serper(data, self.settings.topk)
            if attempt < self.empty_retries:
                time.sleep(self.empty_sleep)
        return "Search Error: Timeout"

    def probe(self) -> None:
        try:
            self.reply("Bamboogle")
        except (*_HTTP_ERRORS, ValueError) as error:
            raise ValueError(f"--search {self.settings.describe()}: {_first_line(error)}") from None


def passage_title_text(document: Mapping[str, Any]) -> tuple[str, str]:
    """A retrieved passage's title and text: ``title``/``text`` fields, else Search-R1's ``contents``
    (the title, quoted, on its first line).

    >>> passage_title_text({"contents": '"Citibank"\\nCitibank was founded in 1812.'})
    ('Citibank', 'Citibank was founded in 1812.')
    """
    if "contents" in document and "text" not in document:
        title, _, text = str(document["contents"]).partition("\n")
        return title.strip().strip('"'), text.strip()
    return str(document.get("title", "")), str(document.get("text", ""))


@dataclass
class RetrieverEngine(SearchEngine):
    """A Search-R1 retrieval server: ``POST {url}`` with
    ``{"queries": [q], "topk": k, "return_scores": true}``, reply
    ``{"result": [[{"document": {...}, "score": s}, ...]]}`` (or the documents without scores)."""

    def fetch(self, query: str) -> str:
        url = self.settings.url or ""
        data = _post_json(
            url,
            {"queries": [query], "topk": self.settings.topk, "return_scores": True},
            {},
            self.settings.timeout,
        )
        hits = data["result"][0]
        documents = [hit["document"] if isinstance(hit, Mapping) and "document" in hit else hit for hit in hits]
        return snippet_list([passage_title_text(d) for d in documents[: self.settings.topk]])


def read_corpus(path: str | Path) -> tuple[list[tuple[str, str]], str]:
    """The passages (title, text) of a JSONL corpus and the file's SHA-256; ``ValueError`` naming the line
    that is not a ``{"id", "title", "text"}`` object."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--corpus {path}: no such file (a JSONL of id, title, text passages)")
    digest, passages = hashlib.sha256(), []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            digest.update(raw)
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ValueError(f"--corpus {path}:{number}: not JSON ({error})") from None
            if (
                not isinstance(record, dict)
                or not all(isinstance(record.get(k), str) for k in ("title", "text"))
                or "id" not in record
            ):
                raise ValueError(
                    f"--corpus {path}:{number}: expected an object with 'id', and 'title' and 'text' strings"
                )
            passages.append((record["title"], record["text"]))
    if not passages:
        raise ValueError(f"--corpus {path}: no passages")
    return passages, digest.hexdigest()


def _bm25s() -> tuple[Any, Any]:
    """``bm25s`` and ``Stemmer``: optional (the ``eval`` extra), imported when a BM25 index is used so that
    the other engines run without them."""
    try:
        import bm25s
        import Stemmer
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"--search bm25 needs {error.name}: pip install bm25s PyStemmer (or 'verl-toolrl[eval]')"
        ) from None
    return bm25s, Stemmer


def _tokenize(texts: Sequence[str]) -> Any:
    bm25s, stemmer = _bm25s()
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer.Stemmer("english"), show_progress=False)


def build_bm25_index(corpus: str | Path, index: str | Path) -> int:
    """Index a JSONL corpus with BM25 into the folder ``index`` (with a manifest naming the corpus and its
    SHA-256); returns the number of passages."""
    bm25s, _ = _bm25s()
    passages, sha256 = read_corpus(corpus)
    retriever = bm25s.BM25()
    retriever.index(_tokenize([f"{title} {text}" for title, text in passages]), show_progress=False)
    folder = Path(index)
    retriever.save(str(folder))
    manifest = {"corpus": str(Path(corpus).resolve()), "sha256": sha256, "passages": len(passages)}
    (folder / INDEX_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return len(passages)


@dataclass
class Bm25Engine(SearchEngine):
    """A local BM25 index over the corpus it was built from (checked by SHA-256 when loaded)."""

    passages: list[tuple[str, str]] = field(default_factory=list)
    retriever: Any = None

    def load(self) -> Bm25Engine:
        bm25s, _ = _bm25s()
        folder, corpus = Path(self.settings.index or ""), Path(self.settings.corpus or "")
        manifest_path = folder / INDEX_MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(
                f"--index {folder}: not a BM25 index (no {INDEX_MANIFEST}); build it with `bamboogle index`"
            )
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        self.passages, sha256 = read_corpus(corpus)
        if manifest.get("sha256") != sha256:
            raise ValueError(
                f"--index {folder} was built for another corpus ({manifest.get('corpus')}), "
                f"not --corpus {corpus}; "
                "rebuild it with `bamboogle index`"
            )
        self.retriever = bm25s.BM25.load(str(folder))
        return self

    def fetch(self, query: str) -> str:
        if self.retriever is None:
            self.load()
        k = min(self.settings.topk, len(self.passages))
        documents, _ = self.retriever.retrieve(_tokenize([query]), k=k, show_progress=False)
        return snippet_list([self.passages[int(i)] for i in documents[0]])

    def probe(self) -> None:
        if self.retriever is None:
            self.load()


def make_engine(settings: SearchSettings, environ: Mapping[str, str] | None = None) -> SearchEngine:
    """The engine ``settings`` names; ``environ`` supplies Serper's key (``SERPER_API_KEY``). A setting that
    is missing is a one-line ``ValueError``.

    >>> make_engine(SearchSettings("serper"), {})
    Traceback (most recent call last):
    ...
    ValueError: --search serper needs a Serper API key in the SERPER_API_KEY environment variable
    """
    if settings.engine == "serper":
        key = (environ or {}).get(SERPER_KEY_VARIABLE, "")
        if not key:
            raise ValueError(
                f"--search serper needs a Serper API key in the {SERPER_KEY_VARIABLE} environment variable"
            )
        return SerperEngine(settings, api_key=key)
    if settings.engine == "retriever":
        if not settings.url:
            raise ValueError("--search retriever needs --search-url (e.g. http://127.0.0.1:8000/retrieve)")
        return RetrieverEngine(settings)
    if settings.engine == "bm25":
        if not settings.index or not settings.corpus:
            raise ValueError(
                "--search bm25 needs --index (built by `bamboogle index`) and the --corpus it was built from"
            )
        if not (Path(settings.index) / INDEX_MANIFEST).is_file():
            raise FileNotFoundError(
                f"--index {settings.index}: not a BM25 index (no {INDEX_MANIFEST}); build it with `bamboogle index`"
            )
        if not Path(settings.corpus).is_file():
            raise FileNotFoundError(f"--corpus {settings.corpus}: no such file")
        return Bm25Engine(settings)
    raise ValueError(f"unknown search engine {settings.engine!r}; valid: {', '.join(SEARCH_ENGINES)}")


def settings_from_dict(data: Mapping[str, Any]) -> SearchSettings:
    """Settings read back from ``run.json``.

    >>> settings_from_dict({"engine": "bm25", "index": "i", "corpus": "c", "topk": 5}).describe()
    'bm25 (c, top 5)'
    """
    return SearchSettings(**data)


#: The call an output whose tool call does not read stands for: nothing runs, the round is spent.
UNREAD = "<unread tool call>"
#: The result of a call that is not a ``Search`` with a string ``query`` (strict protocol).
BAD_CALL = 'Error: the only tool is Search, called with a string "query".'


def search_query(call: ToolCall) -> str | None:
    """The query a call searches, or None when it is not a ``Search`` with a string ``query``.

    >>> search_query(ToolCall("Search", {"query": "q"})), search_query(ToolCall("Lookup", {"query": "q"}))
    ('q', None)
    """
    query = call.arguments.get("query")
    return query if call.name == "Search" and isinstance(query, str) else None


def execution(call: ToolCall, search: Callable[[str], str]) -> Execution:
    """What comes of one call: a search's result (``rendered``: the call, it ran), nothing for
    :data:`UNREAD`, :data:`BAD_CALL` for any other call (refused: ``rendered`` None)."""
    if call.name == UNREAD:
        return Execution(call, None, "", True)
    query = search_query(call)
    if query is None:
        return Execution(call, None, BAD_CALL, True)
    result = search(query).strip()
    return Execution(call, python_call(call), result, result.startswith("Search Error"))


class SearchEnvironment:
    """The environment of one trajectory (:class:`~verl_toolrl.tasks.episode.ToolEnvironment`): runs its
    searches on an engine; :attr:`log` keeps each query and result."""

    def __init__(self, engine: SearchEngine) -> None:
        self.engine = engine
        self.log: list[tuple[str, str]] = []

    def reset(self) -> None:
        self.log = []

    def _search(self, query: str) -> str:
        result = self.engine.search(query)
        self.log.append((query, result))
        return result

    def execute(self, calls: Sequence[ToolCall]) -> list[Execution]:
        return [execution(call, self._search) for call in calls]


class ReplayEnvironment:
    """Gives back saved observations in order, one per call (a transcript read back for scoring)."""

    def __init__(self, observations: Sequence[str]) -> None:
        self.observations = list(observations)

    def reset(self) -> None:
        pass

    def execute(self, calls: Sequence[ToolCall]) -> list[Execution]:
        if len(self.observations) < len(calls):
            raise ValueError("the transcript has fewer saved observations than its outputs make calls")
        saved, self.observations = self.observations[: len(calls)], self.observations[len(calls) :]
        return [execution(call, lambda _, text=text: text) for call, text in zip(calls, saved, strict=True)]
