"""Every benchmark states its targets the same way: target, measured figure, MET or MISSED, and exits 1
when one is missed (``benchmarks/verdict.py``). The benchmarks themselves are run by hand, not here."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from verdict import Verdicts  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def test_a_missed_target_says_missed_and_exits_1(capsys):
    check = Verdicts()
    assert check.target("speed", "3.0x", ">= 2x", True)
    assert not check.target("share of a step", "2.37 %", "< 1 %", False)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "target speed: >= 2x, measured 3.0x: MET",
        "target share of a step: < 1 %, measured 2.37 %: MISSED",
    ]
    with pytest.raises(SystemExit) as exit_:
        check.finish()
    assert exit_.value.code == 1
    assert "MISSED: share of a step" in capsys.readouterr().err


def test_all_targets_met_exit_0():
    check = Verdicts()
    check.target("speed", "3.0x", ">= 2x", True)
    with pytest.raises(SystemExit) as exit_:
        check.finish()
    assert exit_.value.code == 0


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda path: path.name)
def test_every_benchmark_reports_its_targets_through_verdicts(script):
    source = script.read_text(encoding="utf-8")
    assert "Verdicts()" in source and ".finish()" in source
    assert re.search(r"\.target\(", source)
    assert not re.search(r"\b(meets|MISSES|met)\b\"", source)  # no home-made verdict words left
