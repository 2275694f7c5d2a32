"""BFCL multi-turn scoring time: all 800 entries of the four multi-turn categories, scored from saved
transcripts exactly as the evaluation scores them (read and check every line, rebuild every prompt and
check its hash, decode every output again, then BFCL's ``multi_turn_checker`` with fresh simulators).

The transcripts are BFCL's ground truth played through the real loop by a scripted policy (each turn's
calls in one step, then an answer), so every entry must score valid. Target: the 800 in under 30 s on this
2-core machine, judged on CPU time so that other jobs on the machine do not count (``benchmarks/timing.py``:
the main process's CPU seconds plus the workers' divided by their number; the wall time is printed beside
it). Baseline, measured in the same run on the same file: the same scoring on one process.
Also printed: BFCL's checker alone on the call strings, in memory, to show where the time goes. Run from
the repository root (needs ``pip install --no-deps bfcl-eval==2026.3.23``):

    python benchmarks/bench_bfcl_multi_turn_scoring.py [--workers 2] [--protocol toolrl] [--format toolrl]

``--smoke`` (CI): the first 10 entries of each category; the figure is scaled to the 800.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from timing import timed as cpu_timed  # benchmarks/timing.py: wall and CPU-based seconds
from verdict import Verdicts

from verl_toolrl.eval import bfcl_multi_turn as mt
from verl_toolrl.tasks.bfcl.environment import official_verdict
from verl_toolrl.tasks.bfcl.episode import gold_outputs
from verl_toolrl.tasks.bfcl.single_turn import MULTI_TURN_CATEGORIES
from verl_toolrl.tasks.protocols import PROTOCOLS

TARGET_SECONDS = 30.0


def timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--protocol", default="toolrl", choices=PROTOCOLS)
    parser.add_argument("--format", default="toolrl")
    parser.add_argument("--smoke", action="store_true", help="CI size: 10 entries a category, the figure scaled")
    args = parser.parse_args()
    os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp(prefix="bfcl_project_root_"))
    entries = mt.load_multi_turn_entries(MULTI_TURN_CATEGORIES, 10 if args.smoke else None)
    total = len(mt.load_multi_turn_entries(MULTI_TURN_CATEGORIES)) if args.smoke else len(entries)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / mt.TRANSCRIPTS_FILE
        seconds, trajectories = timed(
            lambda: [
                mt.run_scripted(e, gold_outputs(e, args.format), args.protocol, args.format) for e in entries.values()
            ]
        )
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(t.record(), ensure_ascii=False) + "\n" for t in trajectories)
        steps = sum(len(steps) for t in trajectories for steps in t.turns)
        print(
            f"played {len(trajectories)} entries ({steps} steps) through the loop in {seconds:.2f} s; "
            f"transcripts {path.stat().st_size / 1e6:.1f} MB"
        )

        serial, _ = timed(lambda: mt.score_transcripts(path, entries, args.protocol, args.format, workers=1))
        parallel, parallel_cpu, scores = cpu_timed(
            lambda: mt.score_transcripts(path, entries, args.protocol, args.format, workers=args.workers), args.workers
        )
        executed = [[[[r for r in step.executed if r] for step in steps] for steps in t.turns] for t in trajectories]
        checker, _ = timed(
            lambda: [official_verdict(t.entry, calls) for t, calls in zip(trajectories, executed, strict=True)]
        )
        valid = sum(score.valid for score in scores)
        print(f"baseline, 1 process:  {serial:6.2f} s  {len(scores) / serial:6.0f} entries/s")
        print(
            f"figure, {args.workers} processes:  {parallel:6.2f} s  {len(scores) / parallel:6.0f} entries/s  "
            f"({serial / parallel:.2f}x)"
        )
        print(
            f"BFCL's checker alone, 1 process, in memory: {checker:.2f} s "
            f"({1000 * checker / len(scores):.1f} ms per entry)"
        )
        print(f"ground truth valid: {valid}/{len(scores)}")
        figure, wall = parallel_cpu * total / len(scores), parallel * total / len(scores)
        scaled = "" if total == len(scores) else f", scaled from {len(scores)} entries"
        check = Verdicts(smoke=args.smoke)
        check.timing(
            f"{total} entries scored on {args.workers} processes",
            f"{figure:.2f} s of CPU (wall clock {wall:.2f} s{scaled})",
            f"< {TARGET_SECONDS:.0f} s",
            figure < TARGET_SECONDS,
        )
        check.target(
            "ground truth valid", f"{valid}/{len(scores)}", f"{len(scores)}/{len(scores)}", valid == len(scores)
        )
        check.finish()


if __name__ == "__main__":
    main()
