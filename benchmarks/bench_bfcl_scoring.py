"""BFCL scoring throughput: every single-turn item (3,641 in bfcl-eval 2026.3.23), scored from saved gold
generations exactly as ``python -m verl_toolrl.eval bfcl score`` does it (read + validate the generation
file, decode, BFCL's ast_checker, summary files).

Target: the whole set in under 30 s on a 2-core machine. Baseline, measured in the same run on the same
file: the same ``score`` on one process; the ratio is parallel over serial items/s. Also prints the pure
checking rate (``bfcl.score_items`` on in-memory pairs), to show where the time goes. Run from the
repository root (needs ``pip install --no-deps bfcl-eval==2026.3.23``):

    python benchmarks/bench_bfcl_scoring.py [--workers 2] [--format toolrl] [--protocol toolrl] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.tasks.bfcl import single_turn as bfcl_data
from verl_toolrl.eval import bfcl
from verl_toolrl.eval.generations import Generation, RunInfo, append_generations, write_run_info
from verl_toolrl.eval.pipeline import run_items, run_prompts, score

TARGET_SECONDS = 30.0

def gold_info(format: str, protocol: str) -> RunInfo:
    return RunInfo("bfcl", "gold", "none", format, list(bfcl_data.SINGLE_TURN_CATEGORIES), None, {}, None, protocol)


def write_gold_run(directory: Path, format: str, protocol: str = "toolrl") -> int:
    info = gold_info(format, protocol)
    write_run_info(directory, info)
    items = run_items(info)
    return append_generations(
        directory / "generations.jsonl",
        (Generation(i, c, m, bfcl_data.gold_output(items[i], format)) for i, (c, m) in run_prompts(info).items()),
    )


def best_of(repeat: int, action) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="toolrl")
    parser.add_argument("--protocol", default="toolrl", help="toolrl (ToolRL's decoder) or strict (the package's)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is shown")
    args = parser.parse_args()
    os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp(prefix="bfcl_project_root_"))
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch)
        start = time.perf_counter()
        count = write_gold_run(run, args.format, args.protocol)
        print(f"wrote {count} gold generations in {time.perf_counter() - start:.2f} s "
              f"({(run / 'generations.jsonl').stat().st_size / 1e6:.1f} MB)")

        serial, summary = best_of(args.repeat, lambda: score(run, workers=1, progress=False))
        parallel, _ = best_of(args.repeat, lambda: score(run, workers=args.workers, progress=False))
        print(f"score, 1 process (baseline): {serial:6.2f} s  {count / serial:8.0f} items/s")
        print(f"score, {args.workers} processes:         {parallel:6.2f} s  {count / parallel:8.0f} items/s  "
              f"ratio {serial / parallel:.2f}x")
        correct = summary["correct"]  # type: ignore[index]
        print(f"gold accuracy: {correct}/{count} (wrong: the {len(bfcl_data.KNOWN_DEFECTS)} known defects)")

        items = run_items(RunInfo("bfcl", "gold", "none", args.format, list(bfcl_data.SINGLE_TURN_CATEGORIES)))
        pairs = [(item, bfcl_data.gold_output(item, args.format)) for item in items.values()]
        check_1, _ = best_of(args.repeat, lambda: bfcl.score_items(pairs, args.format, workers=1, protocol=args.protocol))
        check_n, _ = best_of(args.repeat, lambda: bfcl.score_items(pairs, args.format, workers=args.workers, protocol=args.protocol))
        print(f"checking only (in memory): 1 process {len(pairs) / check_1:8.0f} items/s, "
              f"{args.workers} processes {len(pairs) / check_n:8.0f} items/s")
        check = Verdicts()
        check.target(f"scoring all {count} items", f"{parallel:.2f} s", f"< {TARGET_SECONDS:.0f} s", parallel < TARGET_SECONDS)
    check.finish()


if __name__ == "__main__":
    main()
