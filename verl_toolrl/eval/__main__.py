"""Command line: ``python -m verl_toolrl.eval {bfcl,apibank,bamboogle} {generate,score,run,report} …``.

- ``generate``: write every raw generation of the chosen items to ``OUTPUT/generations.jsonl``
  (multi-step benchmarks: ``transcripts.jsonl``);
- ``score``: score them (never regenerates) and write ``scores.json``, ``report.md`` and ``chart.png``;
  Bamboogle with ``--judge-base-url``: its judge first answers every item not yet judged;
- ``run``: both; ``report``: one table and one chart comparing several scored runs;
- ``bamboogle index``: build the BM25 index of a JSONL corpus for ``--search bm25``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from verl_toolrl.core.calls import FORMATS
from verl_toolrl.core.chat_template import THINK_PREFILL_MODES
from verl_toolrl.core.prompts import TOOL_PROMPTS
from verl_toolrl.eval.backends import BACKENDS, DEFAULT_BATCH_SIZE, Sampling, make_backend
from verl_toolrl.eval.bamboogle import TRANSCRIPTS_FILE, Judge, JudgeSettings, judge_run, search_engine
from verl_toolrl.eval.generations import RunInfo, read_run_info
from verl_toolrl.eval.pipeline import generate, run_items, score
from verl_toolrl.eval.registry import get_benchmark
from verl_toolrl.eval.report import write_report
from verl_toolrl.tasks.bamboogle.search import (
    SEARCH_ENGINES,
    SERPER_KEY_VARIABLE,
    SearchSettings,
    build_bm25_index,
)
from verl_toolrl.tasks.bfcl.multi_turn import HELDOUT_FILE, read_heldout_ids
from verl_toolrl.tasks.bfcl.single_turn import CATEGORY_GROUPS
from verl_toolrl.tasks.episode import exec_with_pinned_hash_seed
from verl_toolrl.tasks.protocols import MAX_NEW_TOKENS, PROTOCOLS, default_protocol

#: ToolRL's processed API-Bank levels in the shared material beside the checkout, wherever the command runs.
DEFAULT_APIBANK_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "toolrl" / "api_bank"
#: ToolRL's Bamboogle release (data.json) in the same shared material.
DEFAULT_BAMBOOGLE_DIR = DEFAULT_APIBANK_DIR.parent / "bamboogle"


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_generate_options(parser: argparse.ArgumentParser, benchmark: str) -> None:
    parser.add_argument("--model", required=True, help="model path or hub id (served model name for --backend openai)")
    parser.add_argument("--backend", choices=BACKENDS, default="transformers")
    parser.add_argument("--format", choices=FORMATS, default="toolrl", help="output format the model was trained on")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=None,
        help="toolrl (default for --format toolrl): prompts, decoding and scoring as ToolRL's own evaluation "
        "code, the paper's numbers; strict (default for --format hermes): the package's prompts and parser",
    )
    parser.add_argument(
        "--tool-prompt",
        choices=TOOL_PROMPTS,
        default="system",
        help="system: the system prompt lists the tools; template (--format hermes, single-turn): the model's "
        "own chat template lists them (tools=), as the toolrl_tool_template agent loop trained it",
    )
    if benchmark == "bfcl":
        parser.add_argument(
            "--categories",
            nargs="+",
            default=["all"],
            metavar="NAME",
            help=f"categories or groups ({', '.join(CATEGORY_GROUPS)}); choices: "
            f"{', '.join(get_benchmark('bfcl').categories)}",
        )
        parser.add_argument(
            "--ids",
            type=Path,
            default=None,
            metavar="FILE",
            help=f"run exactly the entries of FILE, the {HELDOUT_FILE} that python -m data_preprocess.bfcl_multi_turn "
            "writes beside its parquet (replaces --categories), so nothing trained on is evaluated",
        )
    elif benchmark == "bamboogle":
        _add_search_options(parser)
    else:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=DEFAULT_APIBANK_DIR,
            help=f"folder of level-N-api_processed.json (default: {DEFAULT_APIBANK_DIR})",
        )
        parser.add_argument(
            "--levels", nargs="+", type=int, default=None, help="levels to run (default: every file found)"
        )
    parser.add_argument("--limit", type=positive_int, default=None, help="first N items of each category/level")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help=(
            f"default per protocol: {', '.join(f'{p} {n}' for p, n in MAX_NEW_TOKENS.items())} (ToolRL's scripts: 4096)"
        ),
    )
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=None, help="prompts per backend call (default per backend)")
    parser.add_argument("--device", default=None, help="transformers: torch device (default cuda if available)")
    parser.add_argument("--dtype", default="auto", help="transformers: torch dtype")
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm")
    parser.add_argument("--max-model-len", type=int, default=None, help="vllm")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai: server URL")
    parser.add_argument("--api-key", default="EMPTY", help="openai: API key")
    parser.add_argument("--concurrency", type=int, default=16, help="openai: requests in flight")
    parser.add_argument(
        "--think-prefill",
        choices=THINK_PREFILL_MODES,
        default="auto",
        help="what the chat template prefills of the response: auto (read it from the template; openai: "
        "none), none, open (it opens a think block, e.g. a served Qwen3 thinking model)",
    )


def _add_search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_BAMBOOGLE_DIR,
        help=f"folder of ToolRL's data.json (default: {DEFAULT_BAMBOOGLE_DIR})",
    )
    parser.add_argument(
        "--search",
        choices=SEARCH_ENGINES,
        default="serper",
        help=f"serper: Google through Serper (key in ${SERPER_KEY_VARIABLE}); "
        "bm25: a local index (--index, --corpus); "
        "retriever: a Search-R1 retrieval server (--search-url .../retrieve)",
    )
    parser.add_argument(
        "--search-url", default=None, help="serper: endpoint override; retriever: the server's /retrieve URL"
    )
    parser.add_argument("--index", default=None, help="bm25: the folder `bamboogle index` wrote")
    parser.add_argument("--corpus", default=None, help="bm25: the JSONL corpus the index was built from")
    parser.add_argument("--search-timeout", type=float, default=30.0, help="seconds per search request")
    parser.add_argument("--search-retries", type=int, default=2, help="retries of a failed search request")


def _add_judge_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--judge-base-url",
        default=None,
        help="an OpenAI-compatible server judging the answers (none: EM/SubEM/F1 only, the report says 'no judge')",
    )
    parser.add_argument("--judge-model", default="gpt-4o", help="the judge's model (ToolRL's script: gpt-4o)")
    parser.add_argument("--judge-api-key", default="EMPTY", help="the judge server's API key")


def _add_score_options(parser: argparse.ArgumentParser, benchmark: str = "") -> None:
    if benchmark == "bamboogle":
        _add_judge_options(parser)
    parser.add_argument("--workers", type=int, default=2, help="scoring processes")
    parser.add_argument("--allow-missing", action="store_true", help="score a run whose generation is unfinished")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verl_toolrl.eval",
        description="Evaluate a checkpoint on BFCL, API-Bank or Bamboogle: generate, score, run, report.",
    )
    benchmarks = parser.add_subparsers(dest="benchmark", required=True)
    for benchmark in ("bfcl", "apibank", "bamboogle"):
        steps = benchmarks.add_parser(benchmark, help=f"{benchmark} evaluation").add_subparsers(
            dest="step", required=True
        )
        for step in ("generate", "run"):
            sub = steps.add_parser(step, help="generate" if step == "generate" else "generate, score and report")
            _add_generate_options(sub, benchmark)
            sub.add_argument("--output", required=True, type=Path, help="run directory")
            if step == "run":
                _add_score_options(sub, benchmark)
            else:
                sub.add_argument("--quiet", action="store_true", help="no progress bars")
            sub.set_defaults(step_parser=sub)
        sub = steps.add_parser("score", help="score saved generations (never regenerates)")
        sub.add_argument("--output", required=True, type=Path, help="run directory written by generate")
        _add_score_options(sub, benchmark)
        sub.set_defaults(step_parser=sub)
        if benchmark == "bamboogle":
            sub = steps.add_parser(
                "index", help="build the BM25 index of a JSONL corpus (id, title, text) for --search bm25"
            )
            sub.add_argument("--corpus", required=True, type=Path, help="JSONL passages: id, title, text")
            sub.add_argument("--index", required=True, type=Path, help="folder to write the index into")
            sub.set_defaults(step_parser=sub)
        report = steps.add_parser("report", help="compare scored runs: one table, one chart")
        report.add_argument("runs", nargs="+", type=Path, help="scored run directories")
        report.add_argument("--labels", nargs="+", default=None, help="one name per run (default: directory names)")
        report.add_argument("--output", required=True, type=Path, help="where report.md and chart.png go")
        report.add_argument(
            "--allow-mixed-protocols", action="store_true", help="compare runs scored under different protocols"
        )
        report.set_defaults(step_parser=report)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments; an unknown one is reported with the usage of the step it was given to."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.step_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def run_info(args: argparse.Namespace) -> RunInfo:
    protocol = args.protocol or default_protocol(args.format)
    max_new_tokens = args.max_new_tokens if args.max_new_tokens is not None else MAX_NEW_TOKENS[protocol]
    sampling = Sampling(max_new_tokens, args.temperature, args.top_p, args.seed)
    benchmark = get_benchmark(args.benchmark)
    ids = None
    if args.benchmark == "bfcl" and args.ids is not None:
        if args.limit is not None:
            raise ValueError("--ids and --limit: give one (--ids names exactly the entries to run)")
        held_out = read_heldout_ids(args.ids)
        categories, data_dir = [c for c in benchmark.expand(["all"]) if c in held_out], None
        ids = [entry_id for category in categories for entry_id in held_out[category]]
    elif args.benchmark == "bfcl":
        categories, data_dir = benchmark.expand(args.categories), None
    elif args.benchmark == "bamboogle":
        categories = benchmark.expand(["all"])
        if not (args.data_dir / "data.json").is_file():
            raise FileNotFoundError(
                f"--data-dir {args.data_dir}: no data.json (ToolRL's benchmarks/Bamboogle/data.json)"
            )
        data_dir = str(args.data_dir.resolve())
        search = SearchSettings(
            args.search,
            args.search_url,
            _resolved(args.index),
            _resolved(args.corpus),
            timeout=args.search_timeout,
            retries=args.search_retries,
        )
        options = {"search": vars(search)}
    else:
        categories = benchmark.expand([str(level) for level in args.levels]) if args.levels else []
        if not args.data_dir.is_dir():
            raise FileNotFoundError(
                f"--data-dir {args.data_dir}: no such folder (it holds ToolRL's level-N-api_processed.json files)"
            )
        data_dir = str(args.data_dir.resolve())
    return RunInfo(
        args.benchmark,
        args.model,
        args.backend,
        args.format,
        categories,
        args.limit,
        sampling.__dict__,
        data_dir,
        protocol,
        args.tool_prompt,
        ids,
        options if args.benchmark == "bamboogle" else None,
    )


def _resolved(path: str | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


def _backend_factory(args: argparse.Namespace, info: RunInfo):
    options = {
        "transformers": {"device": args.device, "dtype": args.dtype},
        "vllm": {"tensor_parallel_size": args.tensor_parallel_size, "max_model_len": args.max_model_len},
        "openai": {"base_url": args.base_url, "api_key": args.api_key, "concurrency": args.concurrency},
    }[args.backend]
    options["think_prefill"] = args.think_prefill
    return lambda: make_backend(args.backend, args.model, Sampling(**info.sampling), **options)


def _judge(args: argparse.Namespace) -> Judge:
    return Judge(JudgeSettings(args.judge_base_url, args.judge_model, args.judge_api_key))


def _score_and_report(output: Path, args: argparse.Namespace) -> None:
    if args.benchmark == "bamboogle" and args.judge_base_url:
        info = read_run_info(output)
        judge_run(output, info, run_items(info), _judge(args), progress=not args.quiet)
    score(output, workers=args.workers, progress=not args.quiet, allow_missing=args.allow_missing)
    report, chart = write_report([output], output)
    print(report.read_text(encoding="utf-8"))
    print(f"wrote {output / 'scores.json'}, {report} and {chart}")


def check_benchmark(output: Path, benchmark: str) -> None:
    """A run directory given to ``BENCHMARK score`` must hold a run of that benchmark."""
    found = read_run_info(output).benchmark
    if found != benchmark:
        raise ValueError(
            f"--output {output} holds a {found} run, not {benchmark}; "
            f"score it with python -m verl_toolrl.eval {found} score --output {output}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.step == "report":
            report, chart = write_report(
                args.runs,
                args.output,
                args.labels,
                benchmark=args.benchmark,
                allow_mixed_protocols=args.allow_mixed_protocols,
            )
            print(report.read_text(encoding="utf-8"))
            print(f"wrote {report} and {chart}")
            return 0
        if args.step == "index":
            passages = build_bm25_index(args.corpus, args.index)
            print(f"indexed {passages} passages of {args.corpus} into {args.index}")
            return 0
        if args.step in ("generate", "run"):
            info = run_info(args)
            if args.benchmark == "bamboogle":
                # a missing key or setting stops here, before run.json is written
                search_engine(info, os.environ)
                if args.step == "run" and args.judge_base_url:
                    _judge(args).probe()  # and so does a judge that cannot be reached
            batch_size = args.batch_size or DEFAULT_BATCH_SIZE[args.backend]
            path = generate(args.output, info, _backend_factory(args, info), batch_size, progress=not args.quiet)
            if args.benchmark == "bamboogle":
                path = args.output / TRANSCRIPTS_FILE
            print(f"wrote {path}" if path.is_file() else f"no items selected: {path} not written")
        if args.step == "score":
            check_benchmark(args.output, args.benchmark)
        if args.step in ("score", "run"):
            _score_and_report(args.output, args)
    except (ValueError, FileNotFoundError, ModuleNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exec_with_pinned_hash_seed()  # transcripts must not follow the hash seed (verl_toolrl.tasks.episode)
    raise SystemExit(main())
