"""The benchmarks the evaluation runs, by name: the one place that lists the implementations.

``bfcl`` is made of parts (:class:`~verl_toolrl.eval.bfcl.Bfcl`): the single-turn categories and the
multi-turn ones (:class:`~verl_toolrl.eval.bfcl_multi_turn.BfclMultiTurn`).
"""

from __future__ import annotations

from verl_toolrl.eval.apibank import ApiBank
from verl_toolrl.eval.bamboogle import Bamboogle
from verl_toolrl.eval.benchmark import Benchmark
from verl_toolrl.eval.bfcl import Bfcl, BfclSingleTurn
from verl_toolrl.eval.bfcl_multi_turn import BfclMultiTurn

BENCHMARKS: dict[str, Benchmark] = {
    "bfcl": Bfcl((BfclSingleTurn(), BfclMultiTurn())),
    "apibank": ApiBank(),
    "bamboogle": Bamboogle(),
}


def get_benchmark(name: str) -> Benchmark:
    """The implementation of one benchmark; ``ValueError`` naming the valid ones.

    >>> get_benchmark("bfcl").name, get_benchmark("apibank").name, get_benchmark("bamboogle").name
    ('bfcl', 'apibank', 'bamboogle')
    """
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]
