"""Command line of the plugin: ``python -m verl_toolrl check``.

``check`` imports verl as every trainer process does and says whether the ``toolrl`` reward manager is
registered; if it is not, it prints the real import error (verl itself logs it only at DEBUG level).
Exit status 0 when registered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from verl_toolrl.plugin_check import plugin_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_toolrl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="show whether verl can find the toolrl reward manager, and why not")
    parser.parse_args(argv)
    status = plugin_status()
    print(status.report())
    return 0 if status.ok else 1


if __name__ == "__main__":
    sys.exit(main())
