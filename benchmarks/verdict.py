"""How every benchmark reports a target: one line with the target, the measured figure and MET or
MISSED, and an exit status of 1 when any target is missed.

A result target (a score, a count, a reward that rises) is judged at every size. A timing target is judged
at full size only: at smoke size (``--smoke``, tiny work on a shared CI machine) its line still carries the
figure and the verdict it would get, marked not judged, so a smoke run tests that the benchmark reaches its
figures, not how busy the machine was.

>>> check = Verdicts()
>>> met = check.timing("speed-up", "2.31x", ">= 2x", 2.31 >= 2)
target speed-up: >= 2x, measured 2.31x: MET
>>> met = check.timing("worst case", "25.0 ms", "< 20 ms", 25.0 < 20)
target worst case: < 20 ms, measured 25.0 ms: MISSED
>>> check.exit_status()
1
>>> smoke = Verdicts(smoke=True)
>>> met = smoke.timing("worst case", "25.0 ms", "< 20 ms", 25.0 < 20)
target worst case: < 20 ms, measured 25.0 ms: MISSED (smoke size: timing not judged)
>>> smoke.exit_status()
0
>>> met = smoke.target("ground truth valid", "9/10", "10/10", 9 == 10)
target ground truth valid: 10/10, measured 9/10: MISSED
>>> smoke.exit_status()
1
"""

from __future__ import annotations

import sys

#: What a timing target's line ends with at smoke size.
NOT_JUDGED = " (smoke size: timing not judged)"


class Verdicts:
    """Collects the benchmark's targets as it prints them; ``smoke`` leaves timing targets unjudged."""

    def __init__(self, smoke: bool = False) -> None:
        self.smoke = smoke
        self.missed: list[str] = []

    def target(self, name: str, measured: str, target: str, met: bool) -> bool:
        """A result target, judged at every size."""
        print(f"target {name}: {target}, measured {measured}: {'MET' if met else 'MISSED'}")
        if not met:
            self.missed.append(name)
        return met

    def timing(self, name: str, measured: str, target: str, met: bool) -> bool:
        """A timing target: judged like a result at full size, printed but not judged at smoke size."""
        if not self.smoke:
            return self.target(name, measured, target, met)
        print(f"target {name}: {target}, measured {measured}: {'MET' if met else 'MISSED'}{NOT_JUDGED}")
        return met

    def exit_status(self) -> int:
        return 1 if self.missed else 0

    def finish(self) -> None:
        """Exit 1 (saying which) when a target was missed."""
        if self.missed:
            print(f"MISSED: {', '.join(self.missed)}", file=sys.stderr)
        raise SystemExit(self.exit_status())
