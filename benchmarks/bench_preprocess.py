"""Throughput of the xLAM conversion: 60,000 xLAM-layout rows (replicated from the real samples in
``../shared/data/raw_samples/xlam.json``) converted, checked and written to parquet on one core.

Target: the whole 60k in under 30 s. The baseline, measured in the same run over the same rows, is a
plain ``json.loads`` of both JSON-string fields plus a ``json.dumps`` of the record: the least any
converter of this layout must do. Run from the repository root:

    python benchmarks/bench_preprocess.py [--rows 60000] [--format toolrl]
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

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/data/raw_samples/xlam.json"
TARGET_SECONDS = 30.0


def replicated_rows(count: int) -> list[dict]:
    """``count`` xLAM records cycling over the real samples, each with its own id and query."""
    base = json.loads(SAMPLES.read_text())
    return [
        {**base[i % len(base)], "id": i, "query": f"{base[i % len(base)]['query']} (#{i})"}
        for i in range(count)
    ]


def baseline(records: list[dict]) -> float:
    start = time.perf_counter()
    for record in records:
        json.loads(record["tools"])
        json.loads(record["answers"])
        json.dumps(record)
    return time.perf_counter() - start


def convert_and_write(records: list[dict], format: str, folder: str) -> tuple[float, float, int]:
    start = time.perf_counter()
    rows, summary = convert_records(records, xlam_record_to_samples, file="bench", format=format)
    converted = time.perf_counter() - start
    written = write_parquet(rows, os.path.join(folder, "train.parquet"))
    assert not summary.skipped and written == len(records)
    return converted, time.perf_counter() - start, os.path.getsize(os.path.join(folder, "train.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--format", choices=("toolrl", "hermes"), default="toolrl")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    records = replicated_rows(args.rows)
    base = baseline(records)
    with tempfile.TemporaryDirectory() as folder:
        converted, total, size = convert_and_write(records, args.format, folder)
    print(f"rows: {args.rows} ({args.format} format, one core)")
    print(f"baseline json.loads+json.dumps: {base:.2f} s ({args.rows / base:,.0f} rows/s)")
    print(f"convert + check (parse, self-score): {converted:.2f} s ({args.rows / converted:,.0f} rows/s)")
    print(
        f"convert + check + write parquet: {total:.2f} s ({args.rows / total:,.0f} rows/s), {size / 1e6:.1f} MB"
    )
    print(f"ratio to baseline: {total / base:.1f}x")
    scaled = total * 60_000 / args.rows
    check = Verdicts()
    check.target("60k rows converted, checked and written", f"{scaled:.1f} s", f"< {TARGET_SECONDS:.0f} s", scaled < TARGET_SECONDS)
    check.finish()


if __name__ == "__main__":
    main()
