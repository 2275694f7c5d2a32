"""BFCL multi-turn entries -> verl parquet for multi-turn RL, with a seeded split by entry id.

Each row is one entry for the ``toolrl_bfcl_multi_turn`` agent loop (:mod:`verl_toolrl.plugin.multi_turn_agent_loop`):

- ``agent_name``: the loop's registered name (verl picks the loop per row from this column);
- ``prompt``: the messages of the entry's first step (``render_prompt``, ``strict`` protocol, the row's
  format), for verl's length filter and for readers; the loop renders every step itself;
- ``extra_info.bfcl_entry``: the entry's environment spec as JSON
  (:func:`~verl_toolrl.tasks.bfcl.multi_turn.entry_spec`: user turns, the
  docs shown and held out, the simulators' classes and initial configuration, BFCL's call strings), so
  the loop builds fresh simulators from the row alone;
- ``reward_model.ground_truth``: JSON list, the ground truth of every turn as a gold output in the row's
  format (:func:`turn_ground_truths`: the turn's calls in one step, or an answer where there are none).

:func:`split_ids` puts a seeded fraction of each category's ids in the held-out set; the held-out ids go
to ``heldout_ids.json`` beside the parquet, which the evaluation can score so nothing trained on is
evaluated.

    python -m data_preprocess.bfcl_multi_turn --output-dir DATA --format toolrl --heldout-fraction 0.2 --seed 0

With ``--mix-with MIX`` (a folder of ``python -m data_preprocess.mix``), ``train.parquet`` holds the
multi-turn train rows and ``MIX/train.parquet``'s single-turn rows shuffled together (:func:`mixed_rows`);
``heldout.parquet`` stays multi-turn. The reward manager gives both kinds of rows the same
``reward_extra_info`` keys, so one batch may hold both.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from verl_toolrl.core.calls import FORMATS, Format
from verl_toolrl.tasks.bfcl.episode import BfclRenderer, gold_turns
from verl_toolrl.tasks.bfcl.multi_turn import (
    HELDOUT_FILE,
    MULTI_TURN_AGENT,
    PROTOCOL,
    MultiTurnEntry,
    entry_spec,
    load_entries,
)
from verl_toolrl.tasks.bfcl.single_turn import MULTI_TURN_CATEGORIES

DATA_SOURCE = "bfcl_multi_turn"
#: Agent loops a single-turn row of a mix may name (verl's, and the package's chat-template one).
SINGLE_TURN_AGENTS: tuple[str, ...] = ("single_turn_agent", "toolrl_tool_template")


def turn_ground_truths(entry: MultiTurnEntry, format: Format) -> list[str]:
    """Each turn's ground truth as one gold output in ``format`` (the reward's ground-truth text): the first
    output of the turn's gold outputs (:func:`~verl_toolrl.tasks.bfcl.episode.gold_turns`).

    >>> gts = turn_ground_truths(load_entries("multi_turn_base", limit=1)[0], "toolrl")
    >>> len(gts), gts[0].splitlines()[2]
    (4, '{"name": "cd", "parameters": {"folder": "document"}}')
    """
    return [outputs[0] for outputs in gold_turns(entry, format)]


def first_prompt(entry: MultiTurnEntry, format: Format) -> list[dict[str, str]]:
    """The messages of the entry's first step, as the agent loop renders them."""
    return BfclRenderer(entry, PROTOCOL, format, stream=True).first_prompt()


def entry_row(entry: MultiTurnEntry, format: Format, split: str) -> dict[str, Any]:
    """One verl parquet row for ``entry``."""
    return {
        "data_source": DATA_SOURCE,
        "agent_name": MULTI_TURN_AGENT,
        "prompt": first_prompt(entry, format),
        "ability": "multi_turn_tool_use",
        "reward_model": {
            "style": "rule",
            "ground_truth": json.dumps(turn_ground_truths(entry, format), ensure_ascii=False),
        },
        "extra_info": {"split": split, "index": entry.id, "format": format, "bfcl_entry": entry_spec(entry)},
    }


def split_ids(ids_by_category: Mapping[str, Sequence[str]], heldout_fraction: float, seed: int) -> dict[str, list[str]]:
    """Held-out ids per category: a seeded sample of ``round(fraction * n)`` ids of each (sorted).

    >>> ids = {"c": [f"c_{i}" for i in range(10)]}
    >>> split_ids(ids, 0.2, 0) == split_ids(ids, 0.2, 0)
    True
    >>> len(split_ids({"c": [f"c_{i}" for i in range(10)]}, 0.2, 0)["c"])
    2
    """
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(f"--heldout-fraction must be in [0, 1), got {heldout_fraction}")
    heldout = {}
    for category, ids in ids_by_category.items():
        chosen = random.Random(f"{seed}:{category}").sample(sorted(ids), round(heldout_fraction * len(ids)))
        heldout[category] = sorted(chosen)
    return heldout


def mixed_rows(
    multi_turn: Sequence[Mapping[str, Any]],
    single_turn: Sequence[Mapping[str, Any]],
    seed: int,
    single_turn_agent: str = SINGLE_TURN_AGENTS[0],
) -> list[dict[str, Any]]:
    """Multi-turn and single-turn rows shuffled together (``random.Random(seed)``) into one verl parquet's rows.

    Every row gets an ``agent_name`` (a single-turn row without one: ``single_turn_agent``, since a
    multi-turn recipe's default loop is the multi-turn one), and ``extra_info.index`` becomes text (the
    multi-turn rows' are entry ids, the single-turn rows' numbers; a parquet column has one type).

    >>> rows = mixed_rows([{"agent_name": MULTI_TURN_AGENT, "extra_info": {"index": "multi_turn_base_0"}}],
    ...                   [{"extra_info": {"index": 3}}], seed=0)
    >>> sorted((row["agent_name"], row["extra_info"]["index"]) for row in rows)
    [('single_turn_agent', '3'), ('toolrl_bfcl_multi_turn', 'multi_turn_base_0')]
    """
    if single_turn_agent not in SINGLE_TURN_AGENTS:
        raise ValueError(
            f"--mix-agent: unknown agent loop {single_turn_agent!r}; valid choices: {', '.join(SINGLE_TURN_AGENTS)}"
        )
    rows = []
    for row in [*multi_turn, *single_turn]:
        extra_info = dict(row.get("extra_info") or {})
        extra_info["index"] = str(extra_info.get("index", ""))
        rows.append({**row, "agent_name": row.get("agent_name") or single_turn_agent, "extra_info": extra_info})
    random.Random(seed).shuffle(rows)
    return rows


def read_mix(mix_dir: str | Path) -> list[dict[str, Any]]:
    """The single-turn training rows of a ``data_preprocess.mix`` folder (``MIX/train.parquet``); a
    ``ValueError`` naming the file when it is missing or holds multi-turn rows."""
    path = Path(mix_dir) / "train.parquet"
    if not path.is_file():
        raise ValueError(
            f"--mix-with {mix_dir}: {path} not found (make it with python -m data_preprocess.mix --output {mix_dir})"
        )
    frame = pd.read_parquet(path)
    if "agent_name" in frame and (frame["agent_name"] == MULTI_TURN_AGENT).any():
        raise ValueError(f"--mix-with {mix_dir}: {path} already holds multi-turn rows (agent_name={MULTI_TURN_AGENT})")
    return frame.to_dict("records")


def write(
    output_dir: str | Path,
    categories: Iterable[str] = MULTI_TURN_CATEGORIES,
    format: Format = "toolrl",
    heldout_fraction: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    mix_with: str | Path | None = None,
    mix_agent: str = SINGLE_TURN_AGENTS[0],
) -> dict[str, int]:
    """Write ``train.parquet``, ``heldout.parquet`` and ``heldout_ids.json`` to ``output_dir``; returns row
    counts (``mixed``: the single-turn rows of ``mix_with`` added to ``train.parquet``)."""
    entries = {category: load_entries(category, limit) for category in categories}
    heldout = split_ids({c: [e.id for e in es] for c, es in entries.items()}, heldout_fraction, seed)
    held = {entry_id for ids in heldout.values() for entry_id in ids}
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "heldout": []}
    for category_entries in entries.values():
        for entry in category_entries:
            split = "heldout" if entry.id in held else "train"
            rows[split].append(entry_row(entry, format, split))
    counts = {split: len(split_rows) for split, split_rows in rows.items()}
    if mix_with is not None:
        single_turn = read_mix(mix_with)
        rows["train"] = mixed_rows(rows["train"], single_turn, seed, mix_agent)
        counts["mixed"] = len(single_turn)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    for split, split_rows in rows.items():
        pd.DataFrame(split_rows).to_parquet(output / f"{split}.parquet", index=False)
    (output / HELDOUT_FILE).write_text(
        json.dumps({"seed": seed, "fraction": heldout_fraction, "ids": heldout}, indent=1) + "\n"
    )
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_preprocess.bfcl_multi_turn", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--output-dir", required=True, help="folder for train.parquet, heldout.parquet, heldout_ids.json"
    )
    parser.add_argument(
        "--categories", nargs="+", default=list(MULTI_TURN_CATEGORIES), help="BFCL multi-turn categories"
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="toolrl", help="output format the model is trained to write"
    )
    parser.add_argument("--heldout-fraction", type=float, default=0.2, help="share of each category's ids held out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    parser.add_argument("--limit", type=int, default=None, help="first N entries per category (for trials)")
    parser.add_argument(
        "--mix-with",
        default=None,
        metavar="MIX",
        help="a data_preprocess.mix folder: its train.parquet's single-turn rows join train.parquet",
    )
    parser.add_argument(
        "--mix-agent",
        choices=SINGLE_TURN_AGENTS,
        default=SINGLE_TURN_AGENTS[0],
        help="agent loop of the mixed single-turn rows that name none",
    )
    args = parser.parse_args(argv)
    try:
        counts = write(
            args.output_dir,
            args.categories,
            args.format,
            args.heldout_fraction,
            args.seed,
            args.limit,
            args.mix_with,
            args.mix_agent,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    mixed = f" (+{counts['mixed']} single-turn rows of {args.mix_with}/train.parquet)" if "mixed" in counts else ""
    print(
        f"wrote {counts['train']} train{mixed} and {counts['heldout']} held-out rows to {args.output_dir} "
        f"({HELDOUT_FILE} beside them)"
    )
    return 0
