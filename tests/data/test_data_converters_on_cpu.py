"""The per-source converters on real records and on the malformed inputs they must refuse."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from verl_toolrl.core.calls import ToolCall, parse_response
from verl_toolrl.core.errors import (
    BAD_GROUND_TRUTH,
    BAD_JSON_FIELD,
    MISSING_FIELD,
    UNKNOWN_PARAMETER,
    UNKNOWN_TOOL,
    UNPARSEABLE_CALL,
    WRONG_TYPE,
    RecordError,
)
from verl_toolrl.data.hammer import (
    FUNCTION_NAME_LENGTH,
    MASKINGS,
    NAME_ALPHABET,
    PARAMETER_NAME_LENGTH,
    hammer_converter,
    mask_sample,
)
from verl_toolrl.data.pipeline import convert_records
from verl_toolrl.data.schema import Sample, build_row
from verl_toolrl.data.toolace import parse_toolace_calls, toolace_record_to_samples
from verl_toolrl.data.xlam import NO_TOOL_RESPONSE, xlam_record_to_samples
from verl_toolrl.reward import compute_score, score_range


@pytest.fixture(scope="module")
def raw(shared_dir):
    folder = shared_dir / "data/raw_samples"
    return {name: json.loads((folder / f"{name}.json").read_text()) for name in ("toolace", "xlam")} | {
        "hammer": json.loads((folder / "hammer_masked_sft_examples.json").read_text())
    }


def test_every_row_of_every_source_parses_and_scores_the_maximum_against_itself(raw):
    for name, converter in (
        ("toolace", toolace_record_to_samples),
        ("xlam", xlam_record_to_samples),
        ("hammer", hammer_converter(0)),
    ):
        for format in ("toolrl", "hermes"):
            rows, summary = convert_records(raw[name], converter, file=name, format=format)
            assert rows and not summary.skipped
            for row in rows:
                truth = row["reward_model"]["ground_truth"]
                assert parse_response(truth, format).ok
                best = score_range(truth, format=format)[1]
                assert compute_score(row["data_source"], truth, truth, format=format)["score"] == best
                assert best == (4.0 if json.loads(row["extra_info"]["gold_calls"]) else 1.0)


# --- ToolACE ---------------------------------------------------------------------------------------


def test_toolace_gives_one_sample_per_assistant_turn_with_the_history_before_it(raw):
    record = raw["toolace"][0]
    samples = toolace_record_to_samples(record, 0)
    assistant_turns = [n for n, m in enumerate(record["conversations"]) if m["from"] == "assistant"]
    assert [s.source_id for s in samples] == [f"0/turn-{n}" for n in assistant_turns]
    for sample, turn in zip(samples, assistant_turns, strict=True):
        assert len(sample.turns) == turn
    last = samples[-1]  # ends with a parallel call that has no tool result
    assert [call.name for call in last.calls] == ["SEC Filings", "United States Away from Home Mobility API"]
    assert [t["role"] for t in last.turns[:3]] == ["user", "assistant", "tool"]
    assert last.turns[2]["content"] == record["conversations"][2]["value"]  # tool results verbatim
    plain = samples[1]
    assert plain.calls == () and plain.response.startswith("Here are the top Market Trends")
    assert "\n\n" not in plain.response


def test_toolace_calls_keep_python_literal_types():
    calls = parse_toolace_calls(
        '[Get Zip Code Information(country="us", postal_code="10001"), GetCompetitions(), '
        "Stats (v2), beta(n=-3, ok=True, ratio=0.5, tags=['a', \"b, c)\"], opts={'k': None}, pair=(1, 2))]",
        ["Get Zip Code Information", "GetCompetitions", "Stats (v2), beta", "Stats"],
    )
    assert calls == (
        ToolCall("Get Zip Code Information", {"country": "us", "postal_code": "10001"}),
        ToolCall("GetCompetitions", {}),
        ToolCall(
            "Stats (v2), beta",
            {"n": -3, "ok": True, "ratio": 0.5, "tags": ["a", "b, c)"], "opts": {"k": None}, "pair": [1, 2]},
        ),
    )


@pytest.mark.parametrize(
    "text",
    [
        '[f(x=__import__("os").system("echo hacked"))]',  # not a literal: never evaluated
        "[f(1, 2)]",  # positional arguments
        "[f(x=1, x=2)]",  # repeated keyword
        "[f(x=)]",  # broken syntax
        "[f(x={1, 2})]",  # a set has no JSON form
    ],
)
def test_toolace_refuses_calls_that_are_not_keyword_literals(text):
    with pytest.raises(ValueError):
        parse_toolace_calls(text, ["f"])


def _toolace_record(call: str) -> dict:
    tools = [
        {
            "name": "f",
            "description": "d",
            "parameters": {"type": "dict", "properties": {"x": {"type": "int"}}},
        }
    ]
    system = (
        f"in JSON format that you can invoke:\n{json.dumps(tools)}. \n"
        "Should you decide to return the function call(s). \n"
    )
    return {
        "system": system,
        "conversations": [{"from": "user", "value": "Go"}, {"from": "assistant", "value": call}],
    }


@pytest.mark.parametrize(
    "record, field, reason",
    [
        (_toolace_record("[g(x=1)]"), "conversations[1].value", UNKNOWN_TOOL),
        (_toolace_record("[f(x=os.getcwd())]"), "conversations[1].value", UNPARSEABLE_CALL),
        ({"system": "no tools here", "conversations": []}, "system", "bad_layout"),
        ({"conversations": []}, "system", MISSING_FIELD),
        (
            {"system": _toolace_record("")["system"], "conversations": [{"from": "user"}]},
            "conversations[0].value",
            MISSING_FIELD,
        ),
        (
            {"system": _toolace_record("")["system"], "conversations": [{"from": "bot", "value": "x"}]},
            "conversations[0].from",
            WRONG_TYPE,
        ),
    ],
)
def test_toolace_bad_records_name_the_field_and_reason(record, field, reason):
    with pytest.raises(RecordError) as caught:
        toolace_record_to_samples(record, 0)
    assert (caught.value.field, caught.value.reason) == (field, reason)


# --- xLAM ------------------------------------------------------------------------------------------


def test_xlam_decodes_json_string_fields_and_keeps_parallel_calls_in_order(raw):
    by_id = {record["id"]: record for record in raw["xlam"]}
    (sample,) = xlam_record_to_samples(by_id[6], 3)
    assert sample.source_id == "6" and sample.query == by_id[6]["query"]
    assert [call.name for call in sample.calls] == ["get_id", "search_torrents"]
    assert sample.calls[1].arguments == {"keywords": "Pulp Fiction", "quantity": 10}
    tool = next(t for t in sample.tools if t["name"] == "search_torrents")
    assert tool["parameters"]["page"] == {
        "description": "Page number for paginated results. Defaults to 1.",
        "type": "int, optional",
        "default": "1",
    }
    assert tool["required"] == ["keywords", "quantity"]
    (same_tool_twice,) = xlam_record_to_samples(by_id[0], 0)
    assert [c.arguments["type"] for c in same_tool_twice.calls] == ["beta", "game"]
    (no_default,) = xlam_record_to_samples(by_id[8], 0)
    assert any(spec["default"] == "" for t in no_default.tools for spec in t["parameters"].values())


def test_xlam_irrelevance_rows_become_response_targets():
    record = {"id": 1, "query": "Hi", "answers": "[]", "tools": "[]"}
    (sample,) = xlam_record_to_samples(record, 0)
    row = build_row(sample)
    assert sample.response == NO_TOOL_RESPONSE
    assert row["reward_model"]["ground_truth"].endswith(f"<response> {NO_TOOL_RESPONSE} </response>")


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"answers": "[{"}, "answers", BAD_JSON_FIELD),
        ({"answers": '{"name": "f"}'}, "answers", WRONG_TYPE),
        ({"answers": '[{"name": "f"}]'}, "answers[0].arguments", MISSING_FIELD),
        ({"answers": '[{"name": 3, "arguments": {}}]'}, "answers[0].name", WRONG_TYPE),
        ({"query": None}, "query", MISSING_FIELD),
        ({"tools": '[{"description": "no name"}]'}, "tools[0].name", MISSING_FIELD),
        ({"answers": '[{"name": "g", "arguments": {}}]'}, "target.calls[0].name", UNKNOWN_TOOL),
    ],
)
def test_xlam_bad_records_name_the_field_and_reason(change, field, reason):
    record = {"id": 0, "query": "Q", "answers": '[{"name": "f", "arguments": {}}]'}
    record["tools"] = '[{"name": "f", "description": "d", "parameters": {}}]'
    record.update(change)
    with pytest.raises(RecordError) as caught:
        convert_records([record], xlam_record_to_samples, file="x.json")
    assert (caught.value.file, caught.value.row, caught.value.field, caught.value.reason) == (
        "x.json",
        0,
        field,
        reason,
    )


def test_a_ground_truth_the_parser_reads_differently_is_refused():
    tools = ({"name": "f", "description": "", "parameters": {}},)
    sample = Sample("xlam", "0", tools, ({"role": "user", "content": "Q"},), response="Use </response> here")
    with pytest.raises(RecordError) as caught:
        build_row(sample)
    assert caught.value.reason == BAD_GROUND_TRUTH


# --- Hammer ----------------------------------------------------------------------------------------


def _names_ok(name: str, lengths: tuple[int, int]) -> bool:
    return lengths[0] <= len(name) <= lengths[1] and set(name) <= set(NAME_ALPHABET)


def test_hammer_masks_every_name_consistently_and_keeps_descriptions(raw):
    convert = hammer_converter(7, "full")  # every sample masked, defaults kept
    for number, record in enumerate(raw["xlam"]):
        (original,) = xlam_record_to_samples(record, number)
        (masked,) = convert(record, number)
        assert masked.source == "hammer" and masked.query == original.query
        originals = {tool["name"]: tool for tool in original.tools}
        by_description = {tool["description"]: tool for tool in masked.tools}
        assert len(masked.tools) == len(originals)  # deduplicated by name
        assert not set(by_description_names := [t["name"] for t in masked.tools]) & set(originals)
        assert all(_names_ok(name, FUNCTION_NAME_LENGTH) for name in by_description_names)
        for tool in masked.tools:
            assert all(_names_ok(key, PARAMETER_NAME_LENGTH) for key in tool["parameters"])
        for real, fake in zip(original.calls, masked.calls, strict=True):
            masked_tool = next(t for t in masked.tools if t["name"] == fake.name)
            real_tool = originals[real.name]
            assert masked_tool["description"] == real_tool["description"]
            keys = dict(zip(real_tool["parameters"], masked_tool["parameters"], strict=True))
            assert fake.arguments == {keys[key]: value for key, value in real.arguments.items()}
        # every description survives, on the tool that replaced the original of the same description
        assert sorted(by_description) == sorted(tool["description"] for tool in originals.values())
        build_row(masked, "toolrl")  # the masked target passes the checks


def test_hammer_masking_is_seeded_per_record(raw):
    record = raw["xlam"][2]
    for masking in MASKINGS:
        first, again, other = (hammer_converter(seed, masking)(record, 2)[0] for seed in (1, 1, 3))
        assert first == again
        assert first.tools != other.tools
        # A record is masked the same way whatever its row or its neighbours.
        assert hammer_converter(1, masking)(record, 40)[0].tools == first.tools


def test_hammer_masks_two_thirds_of_the_samples_as_published(raw):
    """Hammer's data_processing.py:283 masks a sample when random() > 1/3 and keeps the rest as they are."""
    masked = kept = 0
    for seed in range(30):
        convert = hammer_converter(seed)
        for number, record in enumerate(raw["xlam"]):
            (original,) = xlam_record_to_samples(record, number)
            (sample,) = convert(record, number)
            assert sample.source == "hammer"
            if replace(sample, source=original.source) == original:
                kept += 1
            else:
                masked += 1
                assert not {tool["name"] for tool in sample.tools} & {tool["name"] for tool in original.tools}
                build_row(sample, "toolrl")
    assert masked + kept == 330 and 0.60 < masked / 330 < 0.73


def test_hammer_rewrites_the_defaults_a_call_passes_in_tool_call_and_query(raw):
    """data_processing.py:160-218 on a real xLAM record: tool 'live_giveaways_by_type' defaults 'type' to
    'game', and the target passes type='game'."""
    record = raw["xlam"][0]
    (original,) = xlam_record_to_samples(record, 0)
    assert "game" in original.query
    rewritten = 0
    for seed in range(12):
        (sample,) = hammer_converter(seed)(record, 0)
        if sample.tools == original.tools:
            continue  # one of the third Hammer leaves unmasked
        tool = next(t for t in sample.tools if t["description"] == original.tools[0]["description"])
        ((key, spec),) = tool["parameters"].items()
        new = spec["default"]
        assert new != "game" and len(new) == 5
        values = [call.arguments[key] for call in sample.calls if call.name == tool["name"]]
        assert sorted(values) == sorted(["beta", new])  # 'beta' is no default: kept
        assert new in sample.query and "beta" in sample.query
        assert original.tools[0]["parameters"]["type"]["description"].replace("game", new) == spec["description"]
        build_row(sample, "hermes")
        rewritten += 1
    assert rewritten >= 5


def test_hammer_leaves_defaults_alone_under_full_masking(raw):
    record = raw["xlam"][0]
    (sample,) = hammer_converter(0, "full")(record, 0)
    (original,) = xlam_record_to_samples(record, 0)
    assert sample.query == original.query
    assert sorted(value for call in sample.calls for value in call.arguments.values()) == ["beta", "game"]


def test_hammer_renames_history_calls_and_observations_too():
    tools = ({"name": "lookup", "description": "Finds.", "parameters": {"q": {"type": "str"}}, "required": ["q"]},)
    turns = (
        {"role": "user", "content": "Find cats"},
        {"role": "assistant", "think": "t", "calls": [ToolCall("lookup", {"q": "cats"})], "response": None},
        {"role": "tool", "content": '[{"name": "lookup", "results": {"n": 3}}]'},
        {"role": "user", "content": "And dogs"},
    )
    sample = Sample("xlam", "0", tools, turns, calls=(ToolCall("lookup", {"q": "dogs"}),))
    masked = mask_sample(sample, random.Random(3))
    name, key = masked.tools[0]["name"], next(iter(masked.tools[0]["parameters"]))
    assert masked.turns[1]["calls"] == [ToolCall(name, {key: "cats"})]
    assert json.loads(masked.turns[2]["content"]) == [{"name": name, "results": {"n": 3}}]
    assert masked.calls == (ToolCall(name, {key: "dogs"}),)
    row = build_row(masked)
    assert "lookup" not in row["prompt"][0]["content"] + row["prompt"][1]["content"]


def test_hammer_refuses_an_argument_its_tool_does_not_declare():
    tools = ({"name": "f", "description": "", "parameters": {"a": {"type": "int"}}},)
    sample = Sample("xlam", "0", tools, (), calls=(ToolCall("f", {"b": 1}),))
    with pytest.raises(RecordError) as caught:
        mask_sample(sample, random.Random(0))
    assert (caught.value.field, caught.value.reason) == ("target.calls[0].arguments.b", UNKNOWN_PARAMETER)


def test_hammer_reads_its_processed_layout_as_already_masked(raw):
    samples = [hammer_converter(0)(record, n)[0] for n, record in enumerate(raw["hammer"])]
    irrelevant = [s for s in samples if not s.calls]
    assert len(irrelevant) == 2 and all(s.response == NO_TOOL_RESPONSE for s in irrelevant)
    assert samples[0].tools[0]["name"] == "hWY9epd1OAn8XVN"  # names kept as Hammer masked them
    assert samples[4].calls[0].arguments["JQsHdN0KHB"] == 1.9235063827453325


# --- BFCL and API-Bank ------------------------------------------------------------------------------


def test_apibank_rows_keep_the_released_prompt_and_refuse_gold_calls_to_unlisted_tools(shared_dir):
    from verl_toolrl.data.apibank import apibank_sample
    from verl_toolrl.tasks.apibank import load_level

    items = load_level(shared_dir / "data/toolrl/api_bank", 2)
    rows, refused = [], []
    for row, item in enumerate(items):
        try:
            rows.append(build_row(apibank_sample(item, "toolrl", row)))
        except RecordError as error:
            refused.append(error.reason)
    assert refused and set(refused) == {UNKNOWN_TOOL}
    assert len(rows) + len(refused) == len(items)
    assert rows[0]["prompt"] == items[0].messages
    hermes = build_row(apibank_sample(items[0], "hermes"), "hermes")
    assert "<tools>" in hermes["prompt"][0]["content"]
    assert hermes["prompt"][1]["content"].endswith(
        "<user> Based on our conversation above, please only make one tool call to solve my need. </user>"
    )


def test_bfcl_rows_use_the_evaluation_prompt_and_gold_calls():
    pytest.importorskip("bfcl_eval", reason="the bfcl command needs the bfcl-eval wheel")
    from verl_toolrl.data.bfcl import bfcl_items, bfcl_sample
    from verl_toolrl.tasks.bfcl.single_turn import gold_calls, item_messages

    for item in bfcl_items(["simple_python", "parallel_multiple", "simple_java", "irrelevance"], limit=3):
        for format in ("toolrl", "hermes"):
            row = build_row(bfcl_sample(item, format), format)
            assert row["prompt"] == item_messages(item, format)
            assert row["extra_info"]["category"] == item.category
            assert parse_response(row["reward_model"]["ground_truth"], format).calls == tuple(gold_calls(item))
