"""Command line of the plugin: ``python -m verl_toolrl {check,preflight}``.

- ``check``: import verl as every trainer process does and say whether the ``toolrl`` reward manager is
  registered; if it is not, print the real import error (verl itself logs it only at DEBUG level).
- ``preflight``: every CPU-side check of a training run (recipe composition and verl's validation, the
  reward manager built from it, the data's ground truths scored through it); see
  :mod:`verl_toolrl.preflight`. Takes the same ``--config-name`` and Hydra overrides as ``main_ppo``.

Exit status 0 when everything checked passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_toolrl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="show whether verl finds the toolrl reward manager, and why not")
    preflight_parser = commands.add_parser("preflight", help="check a training recipe and its data on CPU")
    preflight_parser.add_argument("--config-name", default="toolrl_grpo")
    preflight_parser.add_argument(
        "--config-path", type=Path, default=None, help="recipe folder (default: recipes/)"
    )
    preflight_parser.add_argument(
        "--tokenizer", default=None, help="tokenizer path (default: the config's model)"
    )
    preflight_parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides, as for verl.trainer.main_ppo"
    )
    args = parser.parse_args(argv)

    if args.command == "check":
        from verl_toolrl.plugin_check import plugin_status

        status = plugin_status()
        print(status.report())
        return 0 if status.ok else 1

    from verl_toolrl.preflight import RECIPES_DIR, preflight

    tokenizer = None
    if args.tokenizer:
        from verl.utils import hf_tokenizer

        tokenizer = hf_tokenizer(args.tokenizer)
    ok = preflight(
        args.config_name, args.overrides, config_dir=args.config_path or RECIPES_DIR, tokenizer=tokenizer
    )
    print("preflight: " + ("all checks passed" if ok else "FAILED (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
