"""Throughput of the xLAM conversion: 60,000 xLAM-layout rows (replicated from the real samples in
``../shared/data/raw_samples/xlam.json``) converted, checked and written to parquet on one core.

Target: the whole 60k in under 30 s. The baseline, measured in the same run over the same rows, is a
plain ``json.loads`` of both JSON-string fields plus a ``json.dumps`` of the record: the least any
converter of this layout must do. Times are CPU seconds of this process (``time.process_time``, pinned to
one core), so other jobs on the machine do not count. Run from the repository root:

    python benchmarks/bench_preprocess.py [--shared ../shared] [--rows 60000] [--format toolrl] [--smoke]

``--smoke`` (CI): 3,000 rows; the figure is scaled to 60k.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.data.pipeline import convert_records
from verl_toolrl.data.schema import write_parquet
from verl_toolrl.data.xlam import xlam_record_to_samples

SAMPLES = "data/raw_samples/xlam.json"  # in the shared material
TARGET_SECONDS = 30.0


def replicated_rows(shared: Path, count: int) -> list[dict]:
    """``count`` xLAM records cycling over the real samples, each with its own id and query."""
    base = json.loads((shared / SAMPLES).read_text())
    return [{**base[i % len(base)], "id": i, "query": f"{base[i % len(base)]['query']} (#{i})"} for i in range(count)]


def baseline(records: list[dict]) -> float:
    start = time.process_time()
    for record in records:
        json.loads(record["tools"])
        json.loads(record["answers"])
        json.dumps(record)
    return time.process_time() - start


def convert_and_write(records: list[dict], format: str, folder: str) -> tuple[float, float, int]:
    start = time.process_time()
    rows, summary = convert_records(records, xlam_record_to_samples, file="bench", format=format)
    converted = time.process_time() - start
    written = write_parquet(rows, os.path.join(folder, "train.parquet"))
    assert not summary.skipped and written == len(records)
    return converted, time.process_time() - start, os.path.getsize(os.path.join(folder, "train.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--rows", type=int, default=None, help="rows to convert [60000; --smoke: 3000]")
    parser.add_argument("--format", choices=("toolrl", "hermes"), default="toolrl")
    parser.add_argument("--smoke", action="store_true", help="CI size: 3,000 rows, the figure scaled to 60k")
    args = parser.parse_args()
    args.rows = args.rows or (3_000 if args.smoke else 60_000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    records = replicated_rows(args.shared, args.rows)
    base = baseline(records)
    with tempfile.TemporaryDirectory() as folder:
        converted, total, size = convert_and_write(records, args.format, folder)
    print(f"rows: {args.rows} ({args.format} format, one core)")
    print(f"baseline json.loads+json.dumps: {base:.2f} s ({args.rows / base:,.0f} rows/s)")
    print(f"convert + check (parse, self-score): {converted:.2f} s ({args.rows / converted:,.0f} rows/s)")
    print(f"convert + check + write parquet: {total:.2f} s ({args.rows / total:,.0f} rows/s), {size / 1e6:.1f} MB")
    print(f"ratio to baseline: {total / base:.1f}x")
    scaled = total * 60_000 / args.rows
    check = Verdicts(smoke=args.smoke)
    measured = f"{scaled:.1f} s" + ("" if args.rows == 60_000 else f" (scaled from {args.rows:,} rows)")
    check.timing(
        "60k rows converted, checked and written", measured, f"< {TARGET_SECONDS:.0f} s", scaled < TARGET_SECONDS
    )
    check.finish()


if __name__ == "__main__":
    main()
