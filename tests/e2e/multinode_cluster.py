"""A two-node Ray cluster on this machine for tests/e2e/test_multinode_on_cpu.py, run with the CPU training
environment's Python (it must be the trainer's Ray): ``ray.cluster_utils.Cluster`` with a head and one more
node, each with its own CPUs and one logical GPU for verl's placement. It prints the head's address as one
JSON line, then answers each ``report`` line on stdin with the cluster's nodes and every actor it ran (class
and node, from Ray's own GCS tables), and shuts the cluster down at end of input.
"""

from __future__ import annotations

import json
import sys

import ray
from ray._private import state
from ray.cluster_utils import Cluster

#: Each node's logical CPUs: verl's actors each ask for one (the workers, the rollout server, the agent-loop
#: and #: reward workers, TransferQueue's), more than the machine's cores.
NODE_CPUS = 12
SYSTEM_CONFIG = {  # tests/conftest.py's RAY_SYSTEM_CONFIG: a raylet starved of CPU is not declared dead
    "health_check_initial_delay_ms": 10_000,
    "health_check_period_ms": 10_000,
    "health_check_timeout_ms": 60_000,
    "health_check_failure_threshold": 20,
}


def report() -> dict:
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:
        nodes = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        actors = [
            {"class": actor["ActorClassName"], "node": actor["Address"]["NodeID"], "state": actor["State"]}
            for actor in state.actors().values()
        ]
        return {"nodes": nodes, "actors": actors}
    finally:
        ray.shutdown()


if __name__ == "__main__":
    node = {"num_cpus": NODE_CPUS, "num_gpus": 1, "object_store_memory": 256 * 1024 * 1024}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={**node, "include_dashboard": False, "_system_config": SYSTEM_CONFIG},
    )
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    print(json.dumps({"address": cluster.address}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "report":
                print(json.dumps(report()), flush=True)
    finally:
        cluster.shutdown()
