"""The one multi-turn episode (``tasks/episode.py``, ``tasks/bfcl/episode.py``) against BFCL's own loop,
across hash seeds, and as training and evaluation drive it.

A scripted policy stands in for the model (outputs chosen by turn and step); everything else is real: BFCL's
simulators, executor and step limit from the ``bfcl-eval`` wheel, the evaluation's trajectory, the agent
loop's episode.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.eval import bfcl_multi_turn as mt
from verl_toolrl.eval.toolrl_scripts import decode_execute
from verl_toolrl.tasks.bfcl.environment import bfcl_module
from verl_toolrl.tasks.bfcl.episode import BfclEpisode, gold_outputs
from verl_toolrl.tasks.bfcl.multi_turn import MultiTurnEntry, load_entries
from verl_toolrl.tasks.episode import MAX_STEPS_PER_TURN, Episode

pytest.importorskip("bfcl_eval", reason="needs bfcl-eval: pip install --no-deps bfcl-eval==2026.3.23")
pytestmark = pytest.mark.usefixtures("bfcl_scratch")

ROOT = Path(__file__).resolve().parents[2]
BASE_HANDLER = (
    Path(importlib.util.find_spec("bfcl_eval").submodule_search_locations[0]) / "model_handler" / "base_handler.py"
)
Policy = Callable[[int, int], str]  # (turn, step) -> output


@pytest.fixture(scope="module")
def entry(bfcl_scratch: None) -> MultiTurnEntry:
    return load_entries("multi_turn_base", limit=1)[0]  # 4 turns, GorillaFileSystem and TwitterAPI


def bfcl_handler_loop(entry: MultiTurnEntry, policy: Policy) -> tuple[list[list[str]], list[list[list[str]]], bool]:
    """BFCL's own loop: ``BaseHandler.inference_multi_turn_prompting`` in
    ``bfcl_eval/model_handler/base_handler.py`` (the model's responses per turn, the execution results per
    step, ``force_quit``), with its control flow kept line for line and the model replaced by ``policy``.
    The handler itself cannot be imported here (its module needs the ``overrides`` package, which the
    wheel's ``--no-deps`` install leaves out); :func:`test_the_oracle_is_bfcls_loop` checks these lines in
    the installed source. Decoding is ToolRL's handler's ``decode_execute``; execution is BFCL's
    ``execute_multi_turn_func_call``."""
    utils = bfcl_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils")
    limit = bfcl_module("bfcl_eval.constants.default_prompts").MAXIMUM_STEP_LIMIT
    model_name = f"oracle_{uuid.uuid4().hex}"
    all_model_response, all_results, force_quit = [], [], False
    try:
        for turn_idx in range(entry.num_turns):
            current_turn_response, current_turn_results = [], []
            count = 0
            while True:
                model_responses = policy(turn_idx, len(current_turn_response))
                current_turn_response.append(model_responses)
                try:
                    decoded_model_responses = decode_execute(model_responses)
                    if utils.is_empty_execute_response(decoded_model_responses):
                        break
                except Exception:
                    break
                execution_results, _ = utils.execute_multi_turn_func_call(
                    decoded_model_responses,
                    entry.initial_config,
                    entry.involved_classes,
                    model_name,
                    entry.id,
                    long_context=entry.long_context,
                    is_evaL_run=False,
                )
                current_turn_results.append(execution_results)
                count += 1
                if count > limit:
                    force_quit = True
                    break
            all_model_response.append(current_turn_response)
            all_results.append(current_turn_results)
            if force_quit:
                break
    finally:
        for key in [key for key in vars(utils) if key.startswith(model_name)]:
            del vars(utils)[key]
    return all_model_response, all_results, force_quit


def play(episode: Episode, policy: Policy) -> Episode:
    while not episode.done:
        episode.advance(policy(episode.turn, len(episode.turns[-1])))
    return episode


def calls(*names: str) -> str:
    return render_output(
        "again",
        [ToolCall(name, {}) if name != "mkdir" else ToolCall("mkdir", {"dir_name": "d"}) for name in names],
    )


ANSWER = render_output("done", response="Done.")
UNDECODABLE = '<think> x </think>\n<tool_call>\n{"name": 5, "parameters": {}}\n</tool_call>'  # ToolRL's handler raises
POLICIES: dict[str, Policy] = {
    "never_stops": lambda turn, step: calls("ls"),
    # turn 0: exactly BFCL's 20 steps with calls, then an answer; turn 1: an answer at once; turn 2: an output
    # that cannot be decoded, then (never reached) calls; turn 3: calls until the limit ends the entry
    "mixed": lambda turn, step: (
        (calls("ls", "mkdir", "pwd") if step < MAX_STEPS_PER_TURN else ANSWER)
        if turn == 0
        else ANSWER
        if turn == 1
        else UNDECODABLE
        if turn == 2
        else calls("pwd")
    ),
    "one_step_short": lambda turn, step: calls("ls") if step < MAX_STEPS_PER_TURN else ANSWER,
}


def test_the_oracle_is_bfcls_loop() -> None:
    """The lines :func:`bfcl_handler_loop` reproduces, in the installed ``base_handler.py`` (prompting)."""
    source = BASE_HANDLER.read_text(encoding="utf-8")
    body = source[source.index("def inference_multi_turn_prompting") : source.index("def inference_single_turn_FC")]
    for pattern in (
        r"count = 0\s+while True:",
        r"if is_empty_execute_response\(decoded_model_responses\):.*?break",
        r"except Exception as e:.*?break",
        r"count \+= 1\s+# Force quit after too many steps\s+"
        r"if count > MAXIMUM_STEP_LIMIT:\s+force_quit = True",
        r"if force_quit:\s+break",
    ):
        assert re.search(pattern, body, re.DOTALL), pattern
    assert bfcl_module("bfcl_eval.constants.default_prompts").MAXIMUM_STEP_LIMIT == MAX_STEPS_PER_TURN


@pytest.mark.parametrize("name", list(POLICIES))
def test_the_step_rule_is_bfcls(entry: MultiTurnEntry, name: str) -> None:
    """Evaluation's trajectory (both protocols) and training's episode take the steps BFCL's handler takes,
    see the results its executor returns, and end the entry where it does."""
    from verl_toolrl.plugin.multi_turn_agent_loop import training_episode

    policy = POLICIES[name]
    responses, results, force_quit = bfcl_handler_loop(entry, policy)
    episodes = {
        "eval toolrl": mt.Trajectory(entry, "toolrl", "toolrl"),
        "eval strict": mt.Trajectory(entry, "strict", "toolrl"),
        "training": training_episode(entry, "toolrl"),
    }
    for label, episode in episodes.items():
        play(episode, policy)
        assert [[step.output for step in steps] for steps in episode.turns] == responses, label
        assert [[step.observations for step in steps if step.calls] for steps in episode.turns] == results, label
        assert episode.force_quit == force_quit, label
    expected = {
        "never_stops": ([MAX_STEPS_PER_TURN + 1], True),
        "mixed": ([21, 1, 1, 21], True),
        "one_step_short": ([21] * 4, False),
    }
    assert ([len(turn) for turn in responses], force_quit) == expected[name]


def test_a_force_quit_entry_fails_as_bfcl_fails_it(entry: MultiTurnEntry) -> None:
    episode = play(BfclEpisode(entry, "strict", "toolrl"), POLICIES["never_stops"])
    verdict = episode.verdict()
    assert (verdict["valid"], verdict["error_type"]) == (False, "multi_turn:force_terminated")
    record = mt.score_record(
        entry, json.loads(json.dumps(mt.run_scripted(entry, [calls("ls")] * 30, "toolrl", "toolrl").record()))
    )
    assert (record.valid, record.error_type) == (False, "multi_turn:force_terminated")


def test_tool_messages_are_rendered_alike_in_training_and_evaluation(entry: MultiTurnEntry) -> None:
    """One rule for a tool message (role, the call as the handler writes it, the observation): the training
    episode's dialogue and prompts are the evaluation's, step for step, refused and failing calls included."""
    from verl_toolrl.plugin.multi_turn_agent_loop import training_episode

    bad = [ToolCall("cd", {"folder": "document"}), ToolCall("rm_all", {}), ToolCall("cd", {"folder": 3})]
    outputs = [
        render_output("go", bad),
        ANSWER,
        *gold_outputs(entry)[2:],
    ]  # turn 0 with a refused and a failing call
    training, strict, toolrl = (
        training_episode(entry, "toolrl"),
        mt.Trajectory(entry, "strict", "toolrl"),
        mt.Trajectory(entry, "toolrl", "toolrl"),
    )
    for output in outputs:
        assert training.prompt() == strict.prompt()  # an entry without held-out docs: the stream is the per-turn prompt
        for episode in (training, strict, toolrl):
            episode.advance(output)
    assert training.done and strict.done and toolrl.done
    tool_messages = [[m for m in e.conversation if m["role"] == "tool"] for e in (training, strict, toolrl)]
    assert tool_messages[0] == tool_messages[1] == tool_messages[2]
    assert tool_messages[0][:3] == [
        {
            "role": "tool",
            "name": "cd(folder='document')",
            "content": '{"current_working_directory": "document"}',
        },
        {"role": "tool", "name": "rm_all()", "content": 'Error during execution: unknown function "rm_all"'},
        {"role": "tool", "name": "cd(folder=3)", "content": tool_messages[0][2]["content"]},
    ]
    assert tool_messages[0][2]["content"].startswith("Error during execution: ")
    assert training.conversation == strict.conversation
    # the toolrl prompt shows each call by its name, as ToolRL's handler does
    assert (
        "<obs> You have made the tool call rm_all(). Execution returns: Error during execution"
        in toolrl.renderer.prompt(0, toolrl.conversation[:6])[1]["content"]
    )


# --- the hash seed ---------------------------------------------------------------------------------------

SET_ENTRY = "multi_turn_base_152"  # TicketAPI and TravelAPI
SET_CALLS = [  # each renders a Python set of strings into its observation
    ToolCall(
        "book_flight",
        {
            "access_token": "secureAccessToken12345",
            "card_id": "144756014165",
            "travel_date": "2026-11-15",
            "travel_from": "SFO",
            "travel_to": "ORD",
            "travel_class": "premium",
        },
    ),
    ToolCall("ticket_login", {"username": "a", "password": "b"}),
    ToolCall("create_ticket", {"title": "t"}),
    ToolCall("edit_ticket", {"ticket_id": 1, "updates": {"seat": "1A", "gate": "B", "meal": "veg"}}),
]
TRANSCRIBE = """
import json, sys
from verl_toolrl.tasks.episode import exec_with_pinned_hash_seed, hash_seed_pinned
if sys.argv[1] == "pinned":
    exec_with_pinned_hash_seed()
from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.eval.bfcl_multi_turn import run_scripted
from verl_toolrl.tasks.bfcl.multi_turn import load_entries
entry = next(e for e in load_entries("multi_turn_base") if e.id == sys.argv[2])
calls = [ToolCall(**call) for call in json.loads(sys.argv[3])]
outputs = [render_output("go", calls), render_output("done", response="Done.")] * entry.num_turns
records = [run_scripted(entry, outputs, protocol, "toolrl").record() for protocol in ("toolrl", "strict")]
print(json.dumps({"pinned": hash_seed_pinned(), "records": records}))
"""


def transcribe(seed: str, mode: str, tmp_path: Path) -> str:
    """The transcripts of the set-rendering calls, from a new interpreter started with PYTHONHASHSEED=seed."""
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "BFCL_PROJECT_ROOT": str(tmp_path)}
    arguments = json.dumps([{"name": c.name, "arguments": c.arguments} for c in SET_CALLS])
    result = subprocess.run(
        [sys.executable, "-c", TRANSCRIBE, mode, SET_ENTRY, arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def set_orders_differ() -> tuple[str, str]:
    """Two hash seeds under which ``str`` of the travel simulator's set differs."""
    orders: dict[str, str] = {}
    for seed in map(str, range(1, 40)):
        code = "print({'economy', 'business', 'first'}, ', '.join({'seat', 'gate', 'meal'}))"
        text = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        first = next((s for s, t in orders.items() if t.split("}")[0] != text.split("}")[0]), None)
        if first is not None:
            return first, seed
        orders[seed] = text
    raise AssertionError("no two hash seeds of 1..39 order the set differently")


def test_transcripts_do_not_follow_the_hash_seed(tmp_path: Path) -> None:
    """Two processes with different hash seeds run the same outputs: unpinned, the travel simulator's error
    message (a set) differs between them; with the seed pinned as the evaluation command pins it, the
    transcripts are byte-identical."""
    first, second = set_orders_differ()
    unpinned = [json.loads(transcribe(seed, "unpinned", tmp_path)) for seed in (first, second)]
    assert not unpinned[0]["pinned"] and unpinned[0]["records"] != unpinned[1]["records"]  # the test can fail
    pinned = [transcribe(seed, "pinned", tmp_path) for seed in (first, second)]
    assert pinned[0] == pinned[1] and json.loads(pinned[0])["pinned"]
    observations = json.loads(pinned[0])["records"][0]["turns"][0][0]["observations"]
    assert (
        "Invalid travel class. Must be one of {" in observations[0] and "Invalid fields for update: " in observations[3]
    )
