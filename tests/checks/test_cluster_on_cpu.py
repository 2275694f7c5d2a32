"""``python -m verl_toolrl cluster`` on a real two-node Ray cluster started on this machine
(``ray.cluster_utils.Cluster``, one logical GPU per node): a ready cluster passes, and each way a
multi-node run goes wrong before it starts (no cluster at the address, fewer nodes than ``trainer.nnodes``,
a node without the reward manager) is one line naming it, exit 2, within a bounded wait."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RAY_SYSTEM_CONFIG  # tests/conftest.py: Ray settings for a loaded 2-core machine

from verl_toolrl.checks.cluster import cluster_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a worker node, each with one CPU and one logical GPU; yields the head's address."""
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    node = {"num_cpus": 1, "num_gpus": 1, "object_store_memory": 128 * 1024 * 1024}
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={**node, "include_dashboard": False, "_system_config": RAY_SYSTEM_CONFIG},
    )
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    yield cluster.address
    cluster.shutdown()


def command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verl_toolrl", "cluster", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_address_nobody_answers_is_one_line_at_once():
    start = time.monotonic()
    result = command("--address", f"127.0.0.1:{free_port()}", "--nnodes", "2", "--timeout", "5")
    assert time.monotonic() - start < 60
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("cluster: error: RAY_ADDRESS=127.0.0.1:") and "no Ray cluster answers" in line


def test_a_ready_cluster_passes_with_the_plugin_on_both_nodes(two_nodes):
    result = command("--address", two_nodes, "--nnodes", "2", "--gpus-per-node", "1", "--timeout", "30")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"cluster: {two_nodes} has 2 node(s) with 1 GPU(s) and the plugin on each" in result.stdout


def test_more_nodes_than_the_cluster_has_is_one_line_after_a_bounded_wait(two_nodes):
    start = time.monotonic()
    result = command("--address", two_nodes, "--nnodes", "3", "--gpus-per-node", "1", "--timeout", "5")
    assert time.monotonic() - start < 120
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    expected = f"trainer.nnodes=3: the Ray cluster at {two_nodes} has 2 node(s) with 1 GPU(s) after 5s"
    assert line.startswith(f"cluster: error: {expected}")


def test_a_node_without_the_reward_manager_is_named(two_nodes):
    # A manager no node has stands in for a node without the plugin: the same lookup fails there.
    problem = cluster_problem(two_nodes, nnodes=2, gpus_per_node=1, timeout_s=30, manager="toolrl_absent")
    assert problem is not None and re.match(r"node [\d.]+ \(node [0-9a-f]{8}\): ", problem)
    assert "verl has no reward manager 'toolrl_absent' there" in problem and "install the plugin" in problem
