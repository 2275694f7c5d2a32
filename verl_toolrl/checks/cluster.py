"""Is the Ray cluster a multi-node run will use ready for it? ``python -m verl_toolrl cluster``.

verl connects to an existing cluster when ``RAY_ADDRESS`` is set, and then waits for its placement groups
without a limit: an address nobody answers, fewer nodes than ``trainer.nnodes`` or fewer GPUs than
``trainer.n_gpus_per_node`` on them, or a node where the plugin is not installed (verl then says only
"Unknown reward manager" inside a remote actor) make the run hang or fail late. :func:`cluster_problem`
checks each of these within a bounded wait and says what is wrong in one line, naming the node.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from verl_toolrl import REWARD_MANAGER_NAME

#: How long one node may take to import verl and the plugin (a cold node imports torch first).
IMPORT_TIMEOUT_S = 300.0


def host_port(address: str) -> tuple[str, int]:
    """The host and port a Ray address names (``host:port`` or ``ray://host:port``).

    >>> host_port("ray://10.0.0.1:10001")
    ('10.0.0.1', 10001)
    >>> host_port("head-node:6379")
    ('head-node', 6379)
    """
    bare = address.split("://", 1)[-1].rstrip("/")
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"RAY_ADDRESS={address}: not a Ray address; give HOST:PORT (the head's ray start --port)")
    return host, int(port)


def unreachable(address: str, timeout_s: float) -> str | None:
    """One line when nothing accepts a connection at ``address`` within ``timeout_s``, else ``None``.

    >>> unreachable("127.0.0.1:1", 1.0)  # doctest: +ELLIPSIS
    'RAY_ADDRESS=127.0.0.1:1: no Ray cluster answers (...); start one with ray start --head on the head ...'
    """
    host, port = host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return (
            f"RAY_ADDRESS={address}: no Ray cluster answers ({error.strerror or type(error).__name__}); "
            "start one with ray start --head on the head node, or unset RAY_ADDRESS to train on this machine"
        )


def _plugin_on_node(name: str) -> str | None:
    """On one node: ``None`` when verl finds the reward manager ``name``, else why not."""
    import verl  # noqa: F401  (loads the verl.plugins entry points, as every verl worker does)
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    try:
        get_reward_manager_cls(name)
        return None
    except Exception as error:  # any lookup failure, reported with the node
        try:
            import verl_toolrl  # noqa: F401  (the likely cause: the package is not installed there)
        except ImportError as import_error:
            return f"{type(import_error).__name__}: {import_error}"
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def gpu_nodes(ray: Any, gpus_per_node: int) -> list[dict]:
    """The alive nodes with at least ``gpus_per_node`` GPUs (Ray's resource ``GPU``)."""
    return [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU", 0) >= gpus_per_node]


def cluster_problem(
    address: str, nnodes: int, gpus_per_node: int, timeout_s: float = 60.0, manager: str = REWARD_MANAGER_NAME
) -> str | None:
    """One line saying what keeps the Ray cluster at ``address`` from running ``trainer.nnodes=nnodes
    trainer.n_gpus_per_node=gpus_per_node`` with the reward manager ``manager`` (each wait bounded by
    ``timeout_s``), or ``None`` when it is ready.

    >>> cluster_problem("127.0.0.1:1", nnodes=2, gpus_per_node=8, timeout_s=1.0)  # doctest: +ELLIPSIS
    'RAY_ADDRESS=127.0.0.1:1: no Ray cluster answers (...'
    """
    problem = unreachable(address, timeout_s)
    if problem:
        return problem
    import ray  # here, not at the top: the command's other paths stay light

    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        deadline = time.monotonic() + timeout_s
        while len(nodes := gpu_nodes(ray, gpus_per_node)) < nnodes and time.monotonic() < deadline:
            time.sleep(1.0)
        if len(nodes) < nnodes:
            return (
                f"trainer.nnodes={nnodes}: the Ray cluster at {address} has {len(nodes)} node(s) with "
                f"{gpus_per_node} GPU(s) after {timeout_s:.0f}s; run ray start --address {address} on the "
                "other nodes (--num-gpus if Ray does not see them), or lower NNODES / N_GPUS"
            )
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # Ray once a cluster answers

        check = ray.remote(num_cpus=0)(_plugin_on_node)
        pending = {
            node["NodeManagerAddress"] + f" (node {node['NodeID'][:8]})": check.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote(manager)
            for node in nodes
        }
        for where, ref in pending.items():
            try:
                error = ray.get(ref, timeout=max(timeout_s, IMPORT_TIMEOUT_S))
            except Exception as failure:  # the node could not even run Python with verl
                error = f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"
            if error:
                return (
                    f"node {where}: verl has no reward manager '{manager}' there ({error}); install the "
                    "plugin on every node (pip install the repository there, or submit with "
                    "recipes/cluster/ray_job_submit.sh, whose runtime_env installs it)"
                )
        return None
    finally:
        ray.shutdown()
