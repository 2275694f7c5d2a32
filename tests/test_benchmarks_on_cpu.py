"""Every benchmark states its targets the same way: target, measured figure, MET or MISSED, and exits 1
when one is missed (``benchmarks/verdict.py``); and every benchmark runs here at its smoke size
(``--smoke``: the same verdicts on tiny work, timings printed but not judged), so one that no longer
reaches its verdict fails the build;
the learning benchmark alone has none (``NOT_SMOKED`` says why).
The two that need a trained CPU run read the run the e2e tests already train
(``tests/e2e/test_cpu_training_on_cpu.py``, ``tests/e2e/test_multi_turn_training_on_cpu.py``)."""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
#: The benchmarks the e2e tests run at smoke size on the runs they train, and the test that does.
SMOKED_IN_E2E = {
    "bench_cpu_training.py": "tests/e2e/test_cpu_training_on_cpu.py",
    "bench_multi_turn_env.py": "tests/e2e/test_multi_turn_training_on_cpu.py",
}
#: Benchmarks with no smoke size, and why: each names what it would take and where its figures live.
NOT_SMOKED = {
    # Its verdict compares whole trained runs (a learning run and an lr = 0 control, ~6 min each on two
    # cores); at smoke size it would judge noise. Its figures: docs/learning.md; its reading and verdict are
    # tested below on validation dumps written here.
    "bench_cpu_learning.py": "docs/learning.md",
}
#: Benchmarks that read the shared material and take its folder.
TAKE_SHARED = {"bench_preprocess.py", "bench_reward.py", "bench_reward_manager.py"}

import bench_cpu_learning as bench  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import verdict  # noqa: E402
from verdict import NOT_JUDGED, Verdicts  # noqa: E402

from verl_toolrl.cpu.tiny_policy import distractor  # noqa: E402
from verl_toolrl.reward.score import compute_score  # noqa: E402


def test_the_verdict_modules_examples_hold():
    # benchmarks/ is not among pytest's doctest paths (its scripts are not a package)
    assert doctest.testmod(verdict).failed == 0


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


def test_at_smoke_size_a_missed_timing_is_printed_but_not_judged(capsys):
    check = Verdicts(smoke=True)
    assert not check.timing("60k rows written", "30.7 s", "< 30 s", False)
    assert check.target("ground truth valid", "10/10", "10/10", True)
    assert capsys.readouterr().out.splitlines() == [
        f"target 60k rows written: < 30 s, measured 30.7 s: MISSED{NOT_JUDGED}",
        "target ground truth valid: 10/10, measured 10/10: MET",
    ]
    assert check.exit_status() == 0
    check.target("ground truth valid", "9/10", "10/10", False)
    assert check.exit_status() == 1


def test_all_targets_met_exit_0():
    check = Verdicts()
    check.target("speed", "3.0x", ">= 2x", True)
    with pytest.raises(SystemExit) as exit_:
        check.finish()
    assert exit_.value.code == 0


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda path: path.name)
def test_every_benchmark_reports_its_targets_through_verdicts(script):
    source = script.read_text(encoding="utf-8")
    assert re.search(r"Verdicts\((smoke=args\.smoke)?\)", source) and ".finish()" in source
    # a benchmark with a smoke size tells its verdicts so, which leaves its timings unjudged there
    assert ('"--smoke"' in source) == ("Verdicts(smoke=args.smoke)" in source)
    assert re.search(r"\.(target|timing)\(", source)
    assert not re.search(r"\b(meets|MISSES|met)\b\"", source)  # no home-made verdict words left


def run_smoke(script: Path, *args: str) -> str:
    """Run a benchmark with ``--smoke``; its output, after checking it exited 0 and printed a verdict for
    every target (``benchmarks/verdict.py``) with no result missed. Its timings are printed, not judged: a
    smoke run on a shared machine tests that the benchmark reaches its figures, not the machine's load."""
    result = subprocess.run(
        [sys.executable, str(script), "--smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    output = result.stdout + result.stderr
    verdicts = re.findall(rf"^target .*: (MET|MISSED)({re.escape(NOT_JUDGED)})?$", result.stdout, flags=re.MULTILINE)
    results = {outcome for outcome, not_judged in verdicts if not not_judged}
    assert result.returncode == 0 and verdicts and results <= {"MET"}, output[-4000:]
    return output


def test_every_benchmark_has_a_smoke_size_that_a_test_runs():
    here = Path(__file__).read_text(encoding="utf-8")
    for script in sorted(BENCHMARKS.glob("bench_*.py")):
        if script.name in NOT_SMOKED:
            assert (ROOT / NOT_SMOKED[script.name]).is_file() and script.name in (
                ROOT / NOT_SMOKED[script.name]
            ).read_text()
            continue
        assert '"--smoke"' in script.read_text(encoding="utf-8"), script.name
        if script.name in SMOKED_IN_E2E:
            runner = (ROOT / SMOKED_IN_E2E[script.name]).read_text(encoding="utf-8")
            assert script.name in runner and "run_smoke(" in runner, (script.name, SMOKED_IN_E2E[script.name])
    assert set(SMOKED_IN_E2E) <= {script.name for script in BENCHMARKS.glob("bench_*.py")}
    assert "run_smoke(" in here


@pytest.mark.parametrize(
    "script",
    sorted(path for path in BENCHMARKS.glob("bench_*.py") if path.name not in {*SMOKED_IN_E2E, *NOT_SMOKED}),
    ids=lambda path: path.name,
)
def test_the_benchmark_reaches_its_verdict_at_smoke_size(script: Path, shared_dir: Path) -> None:
    run_smoke(script, *(["--shared", str(shared_dir)] if script.name in TAKE_SHARED else []))


def test_the_learning_benchmark_reads_verls_validation_dumps_per_split_and_judges_against_the_control(
    tmp_path: Path, capsys
) -> None:
    """The learning benchmark's reading and verdict, on validation dumps written here in verl's layout
    (``trainer.validation_data_dir``: one ``{step}.jsonl`` a validation, ``input/output/gts/score``): a
    training prompt the policy starts undecided on, one it has settled, and a held-out one."""
    train = '<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {"a": 1}}\n</tool_call>'
    settled = '<think> t </think>\n<tool_call>\n{"name": "h", "parameters": {"c": 3}}\n</tool_call>'
    heldout = '<think> t </think>\n<tool_call>\n{"name": "g", "parameters": {"b": 2}}\n</tool_call>'

    def dump(run: str, step: int, exact_train: int, exact_heldout: int) -> None:
        folder = tmp_path / run / "validation"
        folder.mkdir(parents=True, exist_ok=True)
        samples = [(train, n < exact_train) for n in range(4)] + [(settled, True)] * 4
        samples += [(heldout, n < exact_heldout) for n in range(4)]
        lines = [{"input": "", "output": gts if exact else distractor(gts), "gts": gts, "score": 0.0, "step": step}
                 for gts, exact in samples]  # fmt: skip
        (folder / f"{step}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    def log(run: str, steps: int, evicted: int = 0, skipped: int = 0) -> None:
        """verl's file-logger lines of ``steps`` training steps, and the prompt filter's lines."""
        folder = tmp_path / run
        data = {"timing_s/step": 10.0, "training/filter_groups/evicted_samples": evicted}
        lines = [json.dumps({"step": step, "data": data}) for step in range(1, steps + 1)]
        (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        filtered = [
            f"(TaskRunner) prompt filter: batch {n}: 4 prompts served, {skipped} settled skipped"
            for n in range(1, steps + 1)
        ]
        (folder / "train.log").write_text("\n".join(filtered) + "\n")

    curves = {  # exact answers of 4 on the undecided training prompt at steps 0, 2, 4, 6
        "learning-lr0.0001": [2, 3, 4, 4],
        "control-lr0": [2, 3, 2, 2],  # the noise floor
        "prompt-filter-lr0.0001": [2, 4, 4, 4],  # two validations in a row at the plain run's final by step 4
        "dapo-lr0.0001": [2, 4, 4, 4],
    }
    for run, curve in curves.items():
        for step, exact in enumerate(curve):
            dump(run, 2 * step, exact, 1 if run != "control-lr0" else 2)
        log(run, 6, evicted=3 if run.startswith("dapo") else 0, skipped=1 if run.startswith("prompt") else 0)
    rows = []
    for run in curves:
        assert sorted(bench.validations(tmp_path / run, {heldout})) == [0, 2, 4, 6]
        rows += bench.rows_of(run, tmp_path / run, {heldout}, prompts=4, undecided={train})
    learning = [row for row in rows if row["run"] == "learning-lr0.0001" and row["train_reward"] != ""]
    assert [row["undecided_exact"] for row in learning] == [0.5, 0.75, 1.0, 1.0]
    assert [row["train_exact"] for row in learning] == [0.75, 0.875, 1.0, 1.0]  # the settled prompt too
    assert {row["heldout_exact"] for row in learning} == {0.25}
    exact, wrong = compute_score(None, train, train)["score"], compute_score(None, distractor(train), train)["score"]
    assert learning[-1]["undecided_reward"] == exact and learning[0]["undecided_reward"] == (exact + wrong) / 2
    assert learning[0]["train_reward"] == (exact + wrong) / 4 + exact / 2
    assert [r["groups"] for r in rows if r["run"] == "dapo-lr0.0001" and r["step"] > 0] == [7] * 6
    assert bench.to_reach(rows, "learning-lr0.0001", exact, "undecided") == (6, 24, 60.0)
    assert bench.to_reach(rows, "prompt-filter-lr0.0001", exact, "undecided") == (4, 16, 40.0)
    assert bench.to_reach(rows, "dapo-lr0.0001", exact, "undecided") == (4, 28, 40.0)
    assert bench.to_reach(rows, "control-lr0", exact, "undecided") is None
    with pytest.raises(SystemExit) as exit_:
        bench.report(rows, group=8, prompts=4, split="undecided")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "| prompt-filter-lr0.0001 | 4 | 128 | 40 | 0 of 24 | 6 |" in out
    assert re.search(
        r"target the prompt filter saves rollouts: >= 1.5x .*, "
        r"measured plain GRPO 192 / prompt filter 128 rollouts = 1.50x: MET",
        out,
    )
    assert re.search(r"target learning-lr0.0001 learns: > control \+ 3 x [\d.]+, .*: MET", out)
    assert "learning-lr0.0001 learns: > control + 3 x" in out and "on the training prompts the policy starts" in out
    # a plain run that did not learn makes the rollouts to its final reward noise: the target is not measured
    bench.report_filters(rows, "control-lr0", exact, 8, 4, bench.Verdicts(), measurable=False, split="undecided")
    assert "measured nothing, control-lr0 did not learn: MISSED" in capsys.readouterr().out
