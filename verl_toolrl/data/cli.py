"""The ``python -m data_preprocess.<name>`` commands: shared options, the run, the summary.

Every command takes ``--output DIR`` and writes ``DIR/train.parquet`` and/or ``DIR/test.parquet`` (the
splits its input has), plus ``--seed N``, ``--format toolrl|hermes`` and ``--skip-invalid``. A bad record
stops the run with one line naming the file, row, field and reason (exit status 2); with
``--skip-invalid`` it is counted instead. The summary (records read, rows written per split, rows
skipped per reason) is always printed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verl_toolrl.core.calls import FORMATS
from verl_toolrl.core.errors import RecordError, SourceError, UsageError
from verl_toolrl.core.prompts import TOOL_PROMPTS
from verl_toolrl.data import apibank, bfcl, hammer, mix, rlla, toolace, xlam
from verl_toolrl.data.io import read_records
from verl_toolrl.data.pipeline import Converter, Summary, convert_records, rows_of, samples_of
from verl_toolrl.data.schema import splits_of, with_template_tools, write_parquet
from verl_toolrl.tasks.apibank import available_levels, level_file, load_level


def parser_for(
    name: str,
    description: str,
    hub_name: str | None = None,
    takes_input: bool = True,
    input_help: str | None = None,
) -> argparse.ArgumentParser:
    """The options every command shares; ``--input`` is required when there is no hub default."""
    parser = argparse.ArgumentParser(prog=f"python -m data_preprocess.{name}", description=description)
    if takes_input:
        default = f" (default: the hub dataset {hub_name})" if hub_name else ""
        parser.add_argument(
            "--input",
            required=hub_name is None,
            help=input_help or f"local JSON, JSONL or parquet file in the source's own layout{default}",
        )
    parser.add_argument("--output", required=True, help="folder to write train.parquet / test.parquet into")
    parser.add_argument("--seed", type=int, default=0, help="random seed (masking, sampling); default 0")
    parser.add_argument("--format", choices=FORMATS, default="toolrl", help="prompt and target format")
    parser.add_argument(
        "--tool-prompt",
        choices=TOOL_PROMPTS,
        default="system",
        help="system: tools listed in the system prompt (default); template (with --format hermes): tools "
        "left to the model's own chat template, rendered by the toolrl_tool_template agent loop",
    )
    parser.add_argument(
        "--masking",
        choices=hammer.MASKINGS,
        default="hammer",
        help="hammer and mix: Hammer's masking as published (2/3 of the samples, names and defaults; "
        "default) or full (every sample, names only)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip malformed records (counted per reason) instead of stopping",
    )
    return parser


def write_splits(rows: Sequence[dict[str, Any]], output: str, summary: Summary, default_split: str) -> list[str]:
    """Write each split of ``rows`` to ``output/<split>.parquet``; returns the paths written."""
    groups = splits_of(rows) or {default_split: []}
    paths = []
    for split, split_rows in groups.items():
        path = os.path.join(output, f"{split}.parquet")
        summary.written[split] = write_parquet(split_rows, path)
        paths.append(path)
    return paths


def _finish(rows: Sequence[dict[str, Any]], summary: Summary, args: argparse.Namespace, default_split: str) -> int:
    if args.tool_prompt == "template":
        if args.format != "hermes":
            raise UsageError("--tool-prompt template needs --format hermes")
        try:
            rows = [with_template_tools(row) for row in rows]
        except ValueError as error:
            raise UsageError(str(error)) from None
    paths = write_splits(rows, args.output, summary, default_split)
    print(summary.report())
    print("wrote " + ", ".join(paths))
    return 0


@dataclass(frozen=True)
class RecordCommand:
    """A command converting one input file of records with one converter."""

    name: str
    description: str
    hub_name: str | None
    converter: Callable[[argparse.Namespace], Converter]
    default_split: str = "train"

    def run(self, argv: Sequence[str] | None = None) -> int:
        args = parser_for(self.name, self.description, self.hub_name).parse_args(argv)
        file, records = read_records(args.input, self.hub_name)
        rows, summary = convert_records(
            records,
            self.converter(args),
            file=file,
            format=args.format,
            default_split=self.default_split,
            skip_invalid=args.skip_invalid,
            progress=True,
        )
        return _finish(rows, summary, args, self.default_split)


def _bfcl(argv: Sequence[str] | None) -> int:
    parser = parser_for("bfcl", "BFCL v4 single-turn items (bfcl-eval wheel) -> validation parquet", takes_input=False)
    parser.add_argument(
        "--categories",
        nargs="+",
        default=list(bfcl.DEFAULT_CATEGORIES),
        help="categories or groups (ast, live, …)",
    )
    parser.add_argument("--limit", type=int, default=None, help="at most this many items per category")
    args = parser.parse_args(argv)
    try:
        categories = bfcl.bfcl_categories(args.categories)
    except ValueError as error:
        parser.error(str(error))
    summary = Summary()
    samples = []
    for item in bfcl.bfcl_items(categories, args.limit):
        summary.read += 1
        defect = bfcl.known_defect(item)
        if defect:
            summary.skip(RecordError("possible_answer", bfcl.KNOWN_DEFECT, f"{item.id}: {defect}", "bfcl-eval"))
            continue
        samples.append(bfcl.bfcl_sample(item, args.format, row=summary.read - 1))
    rows = rows_of(
        samples,
        format=args.format,
        default_split="test",
        file="bfcl-eval",
        summary=summary,
        skip_invalid=args.skip_invalid,
        progress=True,
    )
    return _finish(rows, summary, args, "test")


def _apibank(argv: Sequence[str] | None) -> int:
    parser = parser_for(
        "apibank",
        "ToolRL's processed API-Bank levels -> validation parquet",
        input_help="folder holding level-N-api_processed.json files, or one such file",
    )
    parser.add_argument("--levels", type=int, nargs="+", default=None, help="levels to convert (default: all found)")
    args = parser.parse_args(argv)
    folder = Path(args.input)
    if folder.is_file():
        match = re.fullmatch(r"level-(\d+)-api_processed\.json", folder.name)
        if not match:
            raise SourceError(f"{folder}: not an API-Bank level file (level-N-api_processed.json)")
        folder, levels = folder.parent, args.levels or [int(match.group(1))]
    elif folder.is_dir():
        levels = args.levels or available_levels(folder)
    else:
        raise SourceError(f"{args.input}: no such folder or file")
    if not levels:
        raise SourceError(f"{folder}: no API-Bank level files (level-N-api_processed.json)")
    summary = Summary()
    rows = []
    for level in levels:
        path = level_file(folder, level)
        if not path.is_file():
            raise SourceError(f"API-Bank level {level}: no file {path}")
        try:
            items = load_level(folder, level)
        except ValueError as error:
            raise SourceError(str(error)) from None

        def one(item: Any, row: int) -> list:
            return [apibank.apibank_sample(item, args.format, row)]

        samples = samples_of(items, one, file=str(path), summary=summary, skip_invalid=args.skip_invalid)
        rows += rows_of(
            samples,
            format=args.format,
            default_split="test",
            file=str(path),
            summary=summary,
            skip_invalid=args.skip_invalid,
        )
    return _finish(rows, summary, args, "test")


def _mix(argv: Sequence[str] | None) -> int:
    parser = parser_for("mix", "The paper's 4k training mix (ToolACE + Hammer + xLAM)", takes_input=False)
    parser.add_argument("--toolace", default=None, help=f"ToolACE file (default: the hub dataset {toolace.HUB_NAME})")
    parser.add_argument("--xlam", default=None, help=f"xLAM file (default: the hub dataset {xlam.HUB_NAME})")
    parser.add_argument("--irrelevance", default=None, help="optional xLAM-layout irrelevance rows for the Hammer part")
    for source, count in mix.PAPER_COUNTS.items():
        parser.add_argument(f"--{source}-count", type=int, default=count, help=f"{source} samples (default {count})")
    parser.add_argument("--test-fraction", type=float, default=mix.PAPER_TEST_FRACTION, help="share of rows in test")
    parser.add_argument(
        "--demo",
        metavar="SAMPLES_DIR",
        default=None,
        help="the demo mix: toolace.json and xlam.json of SAMPLES_DIR (e.g. shared/data/raw_samples), "
        f"counts {mix.DEMO_COUNTS}, test fraction {mix.DEMO_TEST_FRACTION}",
    )
    parser.add_argument(
        "--decontaminate",
        nargs="*",
        choices=("bfcl", "apibank"),
        default=[],
        help="remove samples whose user query is also a query of these evaluation sets",
    )
    parser.add_argument(
        "--apibank-dir", default=None, help="folder of API-Bank level files (for --decontaminate apibank)"
    )
    args = parser.parse_args(argv)
    if args.demo:
        if args.toolace or args.xlam:
            parser.error("--demo takes its files from SAMPLES_DIR; drop --toolace and --xlam")
        sizes = ["test_fraction", *(f"{source}_count" for source in mix.PAPER_COUNTS)]
        if any(getattr(args, size) != parser.get_default(size) for size in sizes):
            parser.error("--demo sets the counts and the test fraction; drop the --*-count and --test-fraction options")
        args.toolace, args.xlam = str(Path(args.demo) / "toolace.json"), str(Path(args.demo) / "xlam.json")
        args.test_fraction = mix.DEMO_TEST_FRACTION
        for source, count in mix.DEMO_COUNTS.items():
            setattr(args, f"{source}_count", count)
    summary = Summary()
    options = {"summary": summary, "skip_invalid": args.skip_invalid, "progress": True}
    toolace_file, toolace_records = read_records(args.toolace, toolace.HUB_NAME)
    xlam_file, xlam_records = read_records(args.xlam, xlam.HUB_NAME)
    toolace_samples = samples_of(toolace_records, toolace.toolace_record_to_samples, file=toolace_file, **options)
    xlam_samples = samples_of(xlam_records, xlam.xlam_record_to_samples, file=xlam_file, **options)
    irrelevance_samples, irrelevance_file = [], "irrelevance"
    if args.irrelevance:
        irrelevance_file, records = read_records(args.irrelevance, None)
        irrelevance_samples = samples_of(records, xlam.xlam_record_to_samples, file=irrelevance_file, **options)
    rows, mixed = mix.build_mix(
        toolace_samples,
        xlam_samples,
        irrelevance_samples,
        counts={source: getattr(args, f"{source}_count") for source in mix.PAPER_COUNTS},
        test_fraction=args.test_fraction,
        seed=args.seed,
        format=args.format,
        blocked_queries=mix.evaluation_queries(args.decontaminate, args.apibank_dir),
        skip_invalid=args.skip_invalid,
        files={"toolace": toolace_file, "xlam": xlam_file, "irrelevance": irrelevance_file},
        masking=args.masking,
    )
    mixed.read = summary.read
    for reason, count in summary.skipped.items():
        mixed.skipped[reason] += count
        mixed.examples.setdefault(reason, summary.examples[reason])
    return _finish(rows, mixed, args, "train")


def _record_commands() -> dict[str, RecordCommand]:
    return {
        "toolace": RecordCommand(
            "toolace",
            "ToolACE -> one sample per assistant turn",
            toolace.HUB_NAME,
            lambda args: toolace.toolace_record_to_samples,
        ),
        "xlam": RecordCommand(
            "xlam",
            "xLAM function-calling 60k -> one sample per record",
            xlam.HUB_NAME,
            lambda args: xlam.xlam_record_to_samples,
        ),
        "hammer": RecordCommand(
            "hammer",
            "xLAM with Hammer's function masking (seeded)",
            hammer.HUB_NAME,
            lambda args: hammer.hammer_converter(args.seed, args.masking),
        ),
        "rlla": RecordCommand(
            "rlla",
            "ToolRL's released rlla data (SFT JSON or verl parquet) -> this schema",
            None,
            lambda args: rlla.rlla_record_to_samples,
        ),
    }


COMMANDS: tuple[str, ...] = ("toolace", "xlam", "hammer", "rlla", "bfcl", "apibank", "mix")


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """Run command ``name`` (one of ``COMMANDS``) on ``argv`` (default ``sys.argv[1:]``); returns the exit
    status. Data errors print one line to stderr and return 2."""
    try:
        if name == "bfcl":
            return _bfcl(argv)
        if name == "apibank":
            return _apibank(argv)
        if name == "mix":
            return _mix(argv)
        return _record_commands()[name].run(argv)
    except (RecordError, SourceError, UsageError, ModuleNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
