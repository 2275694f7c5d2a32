"""Shared fixtures: the read-only project material in ../shared (skipped with a reason when absent), a
scratch BFCL_PROJECT_ROOT, a local OpenAI-compatible chat server standing in for a served model, and one Ray
cluster per test module, set up to survive a loaded 2-core machine (``ray_cluster``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED} (it sits beside the repository in CI)")
    return SHARED


@pytest.fixture(scope="module")
def bfcl_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A scratch ``BFCL_PROJECT_ROOT`` for one test module (importing ``bfcl_eval`` writes folders there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BFCL_PROJECT_ROOT", str(tmp_path_factory.mktemp("bfcl_project_root")))
        yield


@contextmanager
def _chat_completions_server(answer: Callable[[list[dict]], str]) -> Iterator[tuple[str, list[dict]]]:
    """A chat-completions endpoint on localhost answering each request with ``answer(messages)``; yields
    its base URL and the request bodies it received."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append(body)
            reply = json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": answer(body["messages"])},
                        }
                    ],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def chat_server() -> Callable[[Callable[[list[dict]], str]], Any]:
    """``with chat_server(answer) as (url, requests):`` a local OpenAI-compatible endpoint (a stand-in for a
    served model: it answers from the test's table, everything else in the OpenAI client path is real)."""
    return _chat_completions_server


@contextmanager
def _json_server(answer: Callable[[str, dict], tuple[int, Any]]) -> Iterator[tuple[str, list[dict]]]:
    """A JSON-over-POST endpoint on 127.0.0.1 answering ``answer(path, body) -> (status, reply)``; yields its
    base URL and what it received (``path``, the ``X-API-KEY`` header as ``key``, ``body``)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "key": self.headers.get("X-API-KEY"), "body": body})
            status, reply = answer(self.path, body)
            payload = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def json_server() -> Callable[[Callable[[str, dict], tuple[int, Any]]], Any]:
    """``with json_server(answer) as (url, received):`` a local JSON API (a stand-in for Serper or a Search-R1
    retrieval server: it answers from the test's table, everything else in the client path is real)."""
    return _json_server


#: Ray settings for a loaded 2-core machine: a raylet starved of CPU for a while must not be declared
#: dead (Ray's defaults give up after about 5 missed 3 s health checks), and the object store stays small.
RAY_SYSTEM_CONFIG = {
    "health_check_initial_delay_ms": 10_000,
    "health_check_period_ms": 10_000,
    "health_check_timeout_ms": 60_000,
    "health_check_failure_threshold": 20,
}
RAY_TIMEOUT_S = 600  # for ray.get in tests: generous, a busy machine is slow, never wrong


def start_ray(num_cpus: int = 2):
    """A local Ray cluster sized for tests (``num_cpus`` logical CPUs, no dashboard, 256 MB object store,
    forgiving health checks); call ``ray.shutdown()`` when done. Skips the test without Ray."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=num_cpus,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=False,
        namespace="toolrl-test",
        object_store_memory=256 * 1024 * 1024,
        _system_config=RAY_SYSTEM_CONFIG,
    )
    return ray


@pytest.fixture(scope="module")
def ray_cluster():
    """One Ray cluster per test module (started on first use, shut down after the module's last test)."""
    ray = start_ray()
    yield ray
    ray.shutdown()
