"""How every benchmark reports a target: one line with the target, the measured figure and MET or
MISSED, and an exit status of 1 when any target is missed.

>>> check = Verdicts()
>>> check.target("speed-up", "2.31x", ">= 2x", 2.31 >= 2)
target speed-up: >= 2x, measured 2.31x: MET
>>> check.target("worst case", "25.0 ms", "< 20 ms", 25.0 < 20)
target worst case: < 20 ms, measured 25.0 ms: MISSED
>>> check.exit_status()
1
"""

from __future__ import annotations

import sys


class Verdicts:
    """Collects the benchmark's targets as it prints them."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def target(self, name: str, measured: str, target: str, met: bool) -> bool:
        print(f"target {name}: {target}, measured {measured}: {'MET' if met else 'MISSED'}")
        if not met:
            self.missed.append(name)
        return met

    def exit_status(self) -> int:
        return 1 if self.missed else 0

    def finish(self) -> None:
        """Exit 1 (saying which) when a target was missed."""
        if self.missed:
            print(f"MISSED: {', '.join(self.missed)}", file=sys.stderr)
        raise SystemExit(self.exit_status())
