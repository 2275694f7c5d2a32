"""BFCL scoring throughput: every single-turn item (3,641 in bfcl-eval 2026.3.23), scored from saved gold
generations exactly as ``python -m verl_toolrl.eval bfcl score`` does it (read + validate the generation
file, decode, BFCL's ast_checker, summary files).

Target: the whole set in under 30 s on a 2-core machine, judged on CPU time so that other jobs on the machine
do not count: the main process's CPU seconds plus the workers' divided by their number (the wall time on an
idle machine with perfect balance; the wall time is printed beside it). Baseline, measured in the same run on
the same file: the same ``score`` on one process; the ratio is parallel over serial items/s. Also prints the pure
checking rate (``bfcl.score_items`` on in-memory pairs), to show where the time goes. Run from the
repository root (needs ``pip install --no-deps bfcl-eval==2026.3.23``):

    python benchmarks/bench_bfcl_scoring.py [--workers 2] [--format toolrl] [--protocol toolrl] [--repeat 3]

``--smoke`` (CI): the first 20 items of each category, once; the figure is scaled to the whole set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from timing import timed  # benchmarks/timing.py: wall and CPU-based seconds
from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.eval import bfcl
from verl_toolrl.eval.generations import Generation, RunInfo, append_generations, write_run_info
from verl_toolrl.eval.pipeline import run_items, run_prompts, score
from verl_toolrl.tasks.bfcl import single_turn as bfcl_data

TARGET_SECONDS = 30.0


def gold_info(format: str, protocol: str, limit: int | None = None) -> RunInfo:
    return RunInfo("bfcl", "gold", "none", format, list(bfcl_data.SINGLE_TURN_CATEGORIES), limit, {}, None, protocol)


def write_gold_run(directory: Path, format: str, protocol: str = "toolrl", limit: int | None = None) -> int:
    info = gold_info(format, protocol, limit)
    write_run_info(directory, info)
    items = run_items(info)
    return append_generations(
        directory / "generations.jsonl",
        (Generation(i, c, m, bfcl_data.gold_output(items[i], format)) for i, (c, m) in run_prompts(info).items()),
    )


def best_of(repeat: int, action, workers: int = 1) -> tuple[float, object, float]:
    """The best wall time of ``action`` over ``repeat`` runs, its result, and the best CPU-based time
    (``benchmarks/timing.py``)."""
    runs = [timed(action, workers) for _ in range(repeat)]
    return min(wall for wall, _, _ in runs), runs[-1][2], min(cpu for _, cpu, _ in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="toolrl")
    parser.add_argument("--protocol", default="toolrl", help="toolrl (ToolRL's decoder) or strict (the package's)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each measurement; the best is shown [3]")
    parser.add_argument("--smoke", action="store_true", help="CI size: 20 items a category, one run, scaled")
    args = parser.parse_args()
    args.repeat = args.repeat or (1 if args.smoke else 3)
    limit = 20 if args.smoke else None
    os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp(prefix="bfcl_project_root_"))
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch)
        start = time.perf_counter()
        count = write_gold_run(run, args.format, args.protocol, limit)
        print(
            f"wrote {count} gold generations in {time.perf_counter() - start:.2f} s "
            f"({(run / 'generations.jsonl').stat().st_size / 1e6:.1f} MB)"
        )

        serial, summary, _ = best_of(args.repeat, lambda: score(run, workers=1, progress=False))
        parallel, _, parallel_cpu = best_of(
            args.repeat, lambda: score(run, workers=args.workers, progress=False), args.workers
        )
        print(f"score, 1 process (baseline): {serial:6.2f} s  {count / serial:8.0f} items/s")
        print(
            f"score, {args.workers} processes:         {parallel:6.2f} s  {count / parallel:8.0f} items/s  "
            f"ratio {serial / parallel:.2f}x"
        )
        correct = summary["correct"]  # type: ignore[index]
        print(f"gold accuracy: {correct}/{count} (wrong: the {len(bfcl_data.KNOWN_DEFECTS)} known defects)")

        items = run_items(RunInfo("bfcl", "gold", "none", args.format, list(bfcl_data.SINGLE_TURN_CATEGORIES), limit))
        pairs = [(item, bfcl_data.gold_output(item, args.format)) for item in items.values()]
        check_1, _, _ = best_of(
            args.repeat, lambda: bfcl.score_items(pairs, args.format, workers=1, protocol=args.protocol)
        )
        check_n, _, _ = best_of(
            args.repeat, lambda: bfcl.score_items(pairs, args.format, workers=args.workers, protocol=args.protocol)
        )
        print(
            f"checking only (in memory): 1 process {len(pairs) / check_1:8.0f} items/s, "
            f"{args.workers} processes {len(pairs) / check_n:8.0f} items/s"
        )
        total = count if limit is None else len(run_items(gold_info(args.format, args.protocol)))
        figure, wall = parallel_cpu * total / count, parallel * total / count
        scaled = "" if total == count else f", scaled from {count} items"
        check = Verdicts(smoke=args.smoke)
        check.timing(
            f"scoring all {total} items on {args.workers} processes",
            f"{figure:.2f} s of CPU (wall clock {wall:.2f} s{scaled})",
            f"< {TARGET_SECONDS:.0f} s",
            figure < TARGET_SECONDS,
        )
    check.finish()


if __name__ == "__main__":
    main()
