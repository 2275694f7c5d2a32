"""BFCL's multi-turn environment against BFCL's real simulators and its official multi_turn_checker.

The ground truth replayed as model output stands in for a model (a scripted policy): every one of the
800 entries is valid; a changed argument fails its entry; hostile calls run nothing; trajectories never
share state; bad calls become error observations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verl_toolrl.core.calls import ToolCall, parse_response, render_output
from verl_toolrl.tasks.bfcl.environment import (
    ERROR_PREFIX,
    Environment,
    ground_truth_calls,
    official_verdict,
    render_call,
)
from verl_toolrl.tasks.bfcl.multi_turn import MultiTurnEntry, load_entries
from verl_toolrl.tasks.bfcl.single_turn import MULTI_TURN_CATEGORIES

pytest.importorskip("bfcl_eval", reason="needs bfcl-eval: pip install --no-deps bfcl-eval==2026.3.23")


pytestmark = pytest.mark.usefixtures("bfcl_scratch")


@pytest.fixture(scope="module")
def entries() -> list[MultiTurnEntry]:
    return [entry for category in MULTI_TURN_CATEGORIES for entry in load_entries(category)]


def replay(
    entry: MultiTurnEntry, turns: list[list[ToolCall]]
) -> tuple[Environment, list[list[list[str]]], list[list[str]]]:
    """Run each turn's calls as one step; returns the environment, the call strings that ran, the observations."""
    env = Environment(entry)
    executed, observations = [], []
    for calls in turns:
        results = env.execute(calls)
        executed.append([[r.rendered for r in results if r.rendered]])
        observations.append([r.observation for r in results])
    return env, executed, observations


def test_four_categories_of_200_entries(entries: list[MultiTurnEntry]) -> None:
    counts = {category: sum(e.category == category for e in entries) for category in MULTI_TURN_CATEGORIES}
    assert counts == dict.fromkeys(MULTI_TURN_CATEGORIES, 200)
    miss_func = [e for e in entries if e.category == "multi_turn_miss_func"]
    assert all(e.held_out for e in miss_func) and not any(e.held_out for e in entries if e not in miss_func)
    for entry in miss_func:
        for turn, docs in entry.held_out.items():
            assert entry.questions[turn] == []  # BFCL adds the functions at a turn without a user message
            names = {doc["name"] for doc in docs}
            assert not names & {doc["name"] for doc in entry.functions_at(turn - 1)}
            assert names <= {doc["name"] for doc in entry.functions_at(turn)}


def test_ground_truth_replayed_is_valid_on_every_entry(entries: list[MultiTurnEntry]) -> None:
    sample = entries[::10]
    fresh = [Environment(entry).state() for entry in sample]
    failed = {}
    for entry in entries:
        env, executed, observations = replay(entry, ground_truth_calls(entry))
        verdict = official_verdict(entry, executed)
        if not verdict["valid"]:
            failed[entry.id] = verdict
        assert [len(steps[0]) for steps in executed] == list(map(len, entry.ground_truth)), entry.id  # every call ran
    assert failed == {}
    # Nothing of those 800 trajectories leaked into module-level state that a new environment reads.
    assert [Environment(entry).state() for entry in sample] == fresh


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    return value + "_changed"


def test_one_changed_argument_in_one_turn_fails_the_entry(entries: list[MultiTurnEntry]) -> None:
    """For each entry, the first argument whose change alters a state or that call's result (as the
    environment shows it) is changed in its one turn: BFCL's checker must fail the entry."""
    unchanged = []
    for entry in entries:
        truth = ground_truth_calls(entry)
        reference_env, _, reference_observations = replay(entry, truth)
        reference_state = reference_env.state()
        for turn, j, key in (
            (t, j, key)
            for kinds in ((str,), (int, float))
            for t, calls in enumerate(truth)
            for j, call in enumerate(calls)
            for key, value in call.arguments.items()
            if isinstance(value, kinds)
        ):
            call = truth[turn][j]
            turns = [list(calls) for calls in truth]
            turns[turn][j] = ToolCall(call.name, {**call.arguments, key: _changed(call.arguments[key])})
            env, executed, observations = replay(entry, turns)
            if env.state() != reference_state or observations[turn][j] != reference_observations[turn][j]:
                assert not official_verdict(entry, executed)["valid"], (entry.id, turns[turn][j])
                break
        else:
            unchanged.append(entry.id)
    # Entry 139 of three categories: its one argument-taking call, add_to_watchlist(stock='ZETA'), finds
    # ZETA already on the watchlist; any other stock is ignored, so no change of it alters anything.
    assert unchanged == ["multi_turn_base_139", "multi_turn_miss_param_139", "multi_turn_long_context_139"]


def test_two_trajectories_of_one_entry_never_share_state(entries: list[MultiTurnEntry]) -> None:
    entry = next(e for e in entries if e.id == "multi_turn_base_0")
    first, second = Environment(entry), Environment(entry)
    first.execute([ToolCall("cd", {"folder": "document"}), ToolCall("mkdir", {"dir_name": "only_in_first"})])
    assert "only_in_first" in first.execute([ToolCall("ls", {})])[0].observation
    assert (
        "only_in_first"
        not in second.execute([ToolCall("cd", {"folder": "document"}), ToolCall("ls", {})])[1].observation
    )
    assert Environment(entry).state() == Environment(entry).state() != first.state()
    # BFCL's checker keeps instances per name and entry: a wrong trajectory scored first must not leak
    # into the next verdict of the same entry (with one reused name, 90 of 200 replays were valid).
    _, wrong, _ = replay(entry, [[ToolCall("mkdir", {"dir_name": "junk"})]] + ground_truth_calls(entry)[1:])
    _, right, _ = replay(entry, ground_truth_calls(entry))
    assert [official_verdict(entry, t)["valid"] for t in (wrong, right, wrong, right)] == [False, True, False, True]


def test_bad_calls_become_error_observations(entries: list[MultiTurnEntry]) -> None:
    entry = next(e for e in entries if {"MathAPI", "GorillaFileSystem"} <= set(e.involved_classes))
    env = Environment(entry)
    results = env.execute(
        [
            ToolCall("no_such_tool", {}),
            ToolCall("mean", {"values": [1, 2]}),  # wrong parameter name
            ToolCall("mean", {}),  # missing argument
            ToolCall("mean", {"numbers": [1, float("nan")]}),
            ToolCall("power", {"base": 10, "exponent": 10**9}),  # would compute for hours, in BFCL too
            ToolCall("square_root", {"number": 2, "precision": 10**8}),
            ToolCall("cd", {"folder": 123}),  # raises inside the simulator
            ToolCall("power", {"base": 10, "exponent": 5000}),  # a result too long to print
            ToolCall("mean", {"numbers": [2, 4]}),
        ]
    )
    assert [r.error for r in results] == [True] * 8 + [False]
    assert all(r.observation.startswith(ERROR_PREFIX) for r in results[:8])
    assert [r.rendered for r in results[:6]] == [None] * 6  # refused: never run, never given to the checker
    assert results[6].rendered == "cd(folder=123)"  # it ran (and failed inside BFCL's code)
    assert "limit" in results[7].observation  # Python's limit on printing 5,001-digit integers
    assert json.loads(results[8].observation) == {"result": 3.0}


def test_state_matches_compares_with_bfcls_state_checker(entries: list[MultiTurnEntry]) -> None:
    entry = next(e for e in entries if e.id == "multi_turn_base_0")
    truth = ground_truth_calls(entry)
    model, reference = Environment(entry), Environment(entry)
    model.execute(truth[0])
    reference.execute(truth[0])
    assert model.state_matches(reference) == (True, {})
    model.execute([ToolCall("mkdir", {"dir_name": "extra"})])
    equal, differences = model.state_matches(reference)
    assert not equal and set(differences) == {"root"}


def test_hostile_outputs_run_nothing(entries: list[MultiTurnEntry], tmp_path: Path) -> None:
    """Names, keys and values built to escape into Python: no sentinel file appears, neither while the
    environment executes them nor when BFCL's checker (which evaluates call strings) replays them."""
    sentinel = tmp_path / "sentinel"
    payload = f"__import__('os').system('touch {sentinel}')"
    opener = f"open('{sentinel}', 'w')"
    entry = next(e for e in entries if e.id == "multi_turn_base_0")
    hostile = [
        ToolCall(payload, {}),
        ToolCall("__import__('os').system", {"command": f"touch {sentinel}"}),
        ToolCall("os.system", {"command": f"touch {sentinel}"}),
        ToolCall("GorillaFileSystem.__init__", {}),
        ToolCall("_load_scenario", {"scenario": {}}),
        ToolCall("__class__", {}),
        ToolCall("eval", {"source": payload}),
        ToolCall("exec", {"source": payload}),
        ToolCall("cd", {f"folder={payload}, x": "document"}),  # injection through a key
        ToolCall("cd", {"folder": f"'); {payload} #"}),  # quotes inside a value
        ToolCall("cd", {"folder": f"{payload}"}),
        ToolCall("echo", {"content": f"ls(a={opener})", "file_name": "a.txt"}),  # nested calls in a string
        ToolCall("mkdir", {"dir_name": {"__class__": payload}}),
    ]
    env = Environment(entry)
    results = env.execute(hostile)
    assert not sentinel.exists()
    assert all(r.rendered is None for r in results[:9])
    assert all(r.observation.startswith(ERROR_PREFIX + "unknown function") for r in results[:8])
    # The same calls as model output, through the package's parser, then the checker's eval.
    text = render_output("try everything", hostile)
    parsed = parse_response(text)
    assert [c.name for c in parsed.calls] == [c.name for c in hostile]
    executed = [[[r.rendered for r in Environment(entry).execute(parsed.calls) if r.rendered]]] + [[]] * (
        entry.num_turns - 1
    )
    official_verdict(entry, executed)
    assert not sentinel.exists()
    with pytest.raises(ValueError):
        render_call("cd", {"folder)\nimport os\n(": 1})
