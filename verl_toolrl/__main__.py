"""Command line of the plugin: ``python -m verl_toolrl {check,preflight,hub,cluster}``.

- ``check``: import verl as every trainer process does and say whether the ``toolrl`` reward manager is
  registered; if it is not, print the real import error (verl itself logs it only at DEBUG level). Then
  check the recipe's reward settings with the given ``--config-name`` and Hydra overrides.
- ``preflight``: every CPU-side check of a training run (recipe composition and verl's validation, the
  reward manager built from it, the data's ground truths scored through it); see
  :mod:`verl_toolrl.checks.preflight`. Takes the same ``--config-name`` and Hydra overrides as ``main_ppo``.
- ``hub``: whether the Hugging Face hub answers (:mod:`verl_toolrl.checks.hub`).
- ``cluster``: whether a Ray cluster answers at ``--address``, has ``--nnodes`` nodes with ``--gpus-per-node``
  GPUs, and finds the plugin on every node, each within a bounded wait (:mod:`verl_toolrl.checks.cluster`).

Exit status 0 when everything checked passes, 1 when a check fails (or the hub does not answer), 2 for a
bad setting, file or option, which is one line naming it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from verl_toolrl.checks.hub import OFFLINE_VALUES, hub_endpoint, offline_notice

# Each command imports its own module when it runs: `hub` needs neither verl nor transformers, and the
# preflight must set HF_HUB_OFFLINE before transformers (which reads it once, at import) is loaded.

BAD_SETTING = 2


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-name", default="toolrl_grpo")
    parser.add_argument("--config-path", type=Path, default=None, help="recipe folder (default: recipes/)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for verl.trainer.main_ppo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_toolrl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser(
        "check", help="show whether verl finds the toolrl reward manager, and check the reward settings"
    )
    _add_recipe_options(check_parser)
    preflight_parser = commands.add_parser("preflight", help="check a training recipe and its data on CPU")
    preflight_parser.add_argument("--tokenizer", default=None, help="tokenizer path (default: the config's model)")
    _add_recipe_options(preflight_parser)
    commands.add_parser("hub", help="say whether the Hugging Face hub answers (exit 1 when it does not)")
    cluster_parser = commands.add_parser(
        "cluster", help="check that a Ray cluster answers with the nodes, GPUs and plugin a run needs"
    )
    cluster_parser.add_argument("--address", required=True, help="the cluster's head, HOST:PORT")
    cluster_parser.add_argument("--nnodes", type=int, default=1, help="trainer.nnodes")
    cluster_parser.add_argument("--gpus-per-node", type=int, default=1, help="trainer.n_gpus_per_node")
    cluster_parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each check")
    return parser


def check(args: argparse.Namespace) -> int:
    from verl_toolrl.checks.plugin import platform_problem, plugin_status

    status = plugin_status()
    print(status.report())
    if not status.ok:
        return 1
    problem = platform_problem()
    if problem:
        print(f"check: error: {problem}", file=sys.stderr)
        return 2
    from verl_toolrl.checks.config import RECIPES_DIR, load_recipe
    from verl_toolrl.reward.config import reward_config

    config = load_recipe(args.config_name, args.overrides, args.config_path or RECIPES_DIR, require_data=False)
    print(f"recipe {args.config_name}: reward settings valid ({reward_config(config)})")
    return 0


def preflight(args: argparse.Namespace) -> int:
    notice = offline_notice(os.environ)
    if notice:  # before transformers is imported: it reads HF_HUB_OFFLINE once, at import
        os.environ["HF_HUB_OFFLINE"] = "1"
        print(f"hub: {notice}")
    from verl_toolrl.checks.config import RECIPES_DIR, ConfigError
    from verl_toolrl.checks.preflight import preflight as run_preflight

    tokenizer = None
    if args.tokenizer:
        from verl.utils import hf_tokenizer

        try:
            tokenizer = hf_tokenizer(args.tokenizer)
        except Exception as error:  # any file or hub error, in one line
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ConfigError(f"--tokenizer {args.tokenizer}: cannot be loaded ({first})") from None
    ok = run_preflight(
        args.config_name, args.overrides, config_dir=args.config_path or RECIPES_DIR, tokenizer=tokenizer
    )
    print("preflight: " + ("all checks passed" if ok else "FAILED (see above)"))
    return 0 if ok else 1


def hub() -> int:
    notice = offline_notice(os.environ)
    if notice:
        print(f"hub: {notice}")
        return 1
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in OFFLINE_VALUES:
        print("hub: HF_HUB_OFFLINE is set; working offline")
    else:
        print(f"hub: {hub_endpoint(os.environ)} answers")
    return 0


def cluster(args: argparse.Namespace) -> int:
    from verl_toolrl.checks.cluster import cluster_problem

    problem = cluster_problem(args.address, args.nnodes, args.gpus_per_node, args.timeout)
    if problem:
        print(f"cluster: error: {problem}", file=sys.stderr)
        return BAD_SETTING
    nodes = f"{args.nnodes} node(s) with {args.gpus_per_node} GPU(s)"
    print(f"cluster: {args.address} has {nodes} and the plugin on each")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "hub":
        return hub()
    if args.command == "cluster":
        try:
            return cluster(args)
        except ValueError as error:  # a malformed address
            print(f"cluster: error: {error}", file=sys.stderr)
            return BAD_SETTING
    try:
        return check(args) if args.command == "check" else preflight(args)
    except ValueError as error:  # ConfigError and the other one-line setting errors
        print(f"{args.command}: error: {error}", file=sys.stderr)
        return BAD_SETTING


if __name__ == "__main__":
    sys.exit(main())
