"""The prompt format against ToolRL's release: byte-exact system prompts, histories and targets."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from verl_toolrl.core.calls import parse_response, render_output
from verl_toolrl.core.errors import UNKNOWN_TOOL, RecordError
from verl_toolrl.core.prompts import parse_history, parse_toolrl_tools, system_prompt, user_prompt
from verl_toolrl.core.tools import prompt_tools
from verl_toolrl.data.rlla import rlla_record_to_samples
from verl_toolrl.data.schema import build_row, render_ground_truth
from verl_toolrl.data.toolace import toolace_record_to_samples

# Row 9 of rlla_4k_test.parquet calls "DAX Point Changes for Each Month " while its tool list has
# "DAX Point Changes for Each Month (January-August, 2022)": ToolRL's own parse of a ToolACE name with
# parentheses went wrong. The converter must refuse it (unknown tool), not pass it on.
RELEASED_DEFECT_ROW = 9


@pytest.fixture(scope="module")
def released_rows(shared_dir):
    return pq.read_table(shared_dir / "data/toolrl/rlla_4k_test.parquet").to_pylist()


@pytest.fixture(scope="module")
def sft_records(shared_dir):
    return json.loads((shared_dir / "data/toolrl/rlla_sft.json").read_text())


def test_system_prompt_rebuilt_from_parsed_tools_is_byte_exact_on_all_80_rows(released_rows):
    assert len(released_rows) == 80
    for row in released_rows:
        system = row["prompt"][0]["content"]
        tools = parse_toolrl_tools(system)
        assert tools, "every released row lists tools"
        assert system_prompt(tools, "toolrl") == system
        assert system_prompt(prompt_tools(tools, "toolrl"), "toolrl") == system


def test_histories_and_tool_lists_of_the_sft_release_round_trip(sft_records):
    multi_turn = 0
    for record in sft_records:
        assert system_prompt(parse_toolrl_tools(record["instruction"])) == record["instruction"]
        turns = parse_history(record["input"])
        assert user_prompt(turns) == record["input"]
        multi_turn += any(turn["role"] == "tool" for turn in turns)
    assert multi_turn > 10, "the release has multi-turn histories with tool results"


def test_a_tampered_system_prompt_is_refused():
    system = system_prompt([{"name": "f", "description": "d", "parameters": {"a": {"type": "int"}}}])
    with pytest.raises(ValueError, match="Parameters"):
        parse_toolrl_tools(system.replace('{"a"', '{a"'))
    with pytest.raises(ValueError, match="not a ToolRL system prompt"):
        parse_toolrl_tools(system.replace("**Steps for Each Turn**", "**Steps**"))


def test_rlla_converter_rebuilds_every_released_row_byte_for_byte(released_rows):
    rebuilt = 0
    for number, record in enumerate(released_rows):
        if number == RELEASED_DEFECT_ROW:
            (sample,) = rlla_record_to_samples(record, number)
            with pytest.raises(RecordError) as caught:
                build_row(sample, "toolrl")
            assert caught.value.reason == UNKNOWN_TOOL
            continue
        (sample,) = rlla_record_to_samples(record, number)
        row = build_row(sample, "toolrl")
        assert row["prompt"] == [{"role": m["role"], "content": m["content"]} for m in record["prompt"]]
        assert row["reward_model"]["ground_truth"] == record["reward_model"]["ground_truth"]
        assert row["extra_info"]["split"] == "test"
        rebuilt += 1
    assert rebuilt == 79


def test_rlla_sft_targets_keep_everything_after_the_thought_verbatim(sft_records):
    """The SFT outputs' long reasoning gives way to the default thought; the calls and response after
    ``</think>`` stay byte for byte (one record writes non-ASCII as \\u escapes, which JSON reads the same)."""
    differ = []
    for number, record in enumerate(sft_records):
        (sample,) = rlla_record_to_samples(record, number)
        target = render_ground_truth(sample)
        assert target.startswith("<think> I should ")
        if target.split("</think>", 1)[1] != record["output"].split("</think>", 1)[1]:
            differ.append(number)
            released = parse_response("<think> t " + record["output"][record["output"].index("</think>") :])
            assert parse_response(target).calls == released.calls
    assert differ == [331]


def test_toolace_conversation_reproduces_toolrls_released_prompt(shared_dir, sft_records):
    """rlla_sft.json record 192 is the last turn of raw ToolACE record 1 (toolace.json index 1)."""
    raw = json.loads((shared_dir / "data/raw_samples/toolace.json").read_text())
    samples = {s.source_id: s for s in toolace_record_to_samples(raw[1], 1)}
    row = build_row(samples["1/turn-9"], "toolrl")
    released = sft_records[192]
    assert row["prompt"][0]["content"] == released["instruction"]
    assert row["prompt"][1]["content"] == released["input"]
    released_response = released["output"].split("<response>", 1)[1]
    assert row["reward_model"]["ground_truth"].endswith("<response>" + released_response)


def test_hermes_rows_use_the_hermes_prompt_and_targets(released_rows):
    (sample,) = rlla_record_to_samples(released_rows[7], 7)
    row = build_row(sample, "hermes")
    system, user = (m["content"] for m in row["prompt"])
    assert "<tools>" in system and "Name:" not in system
    assert json.loads(system.split("<tools>\n", 1)[1].split("\n", 1)[0])["type"] == "function"
    target = row["reward_model"]["ground_truth"]
    assert target == render_output(
        "I should use the appropriate tool with proper parameters to respond to the user's need.",
        sample.calls,
        format="hermes",
    )
    assert parse_response(target, "hermes").calls == sample.calls
    assert user.startswith("**Dialogue Records History**\n<user> ")


def test_the_lenient_readers_agree_with_the_exact_grammar():
    """history_blocks and tool_listing_entries (used on released API-Bank prompts and by the mix's
    decontamination) read what prompts renders, as parse_history and parse_toolrl_tools do."""
    import json

    from verl_toolrl.core.calls import ToolCall
    from verl_toolrl.core.prompts import (
        TOOLRL_RULES,
        TOOLRL_TOOLS_HEADER,
        history_blocks,
        parse_history,
        parse_toolrl_tools,
        system_prompt,
        tool_listing_entries,
        user_prompt,
    )

    turns = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "think": "t", "calls": [ToolCall("get weather", {"city": "Paris"})], "response": None},
        {"role": "tool", "content": '[{"name": "get weather", "results": "sunny"}]'},
        {"role": "user", "content": "And Rome?"},
    ]
    text = user_prompt(turns)
    exact = [(t["role"], t["content"]) for t in parse_history(text) if t["role"] != "assistant"]
    lenient = [("tool" if tag == "obs" else tag, body) for tag, body in history_blocks(text) if tag in ("user", "obs")]
    assert lenient == exact
    assert [tag for tag, _ in history_blocks(text)] == ["user", "tool_call", "obs", "user"]

    tools = [
        {"name": "Get Weather", "description": "Now.\nTwo lines.", "parameters": {"city": {"type": "str"}}},
        {"name": "a, b (c)", "description": "", "parameters": {}},
    ]
    system = system_prompt(tools)
    listing = system.split(TOOLRL_TOOLS_HEADER, 1)[1].rsplit("\n\n" + TOOLRL_RULES, 1)[0]
    entries = [
        (name, description, json.loads(parameters)) for name, description, parameters in tool_listing_entries(listing)
    ]
    assert entries == [(t["name"], t["description"], t["parameters"]) for t in parse_toolrl_tools(system)]
