"""The tool-call grammar: reason codes, both formats, round trips, and totality on any string."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verl_toolrl.core import calls
from verl_toolrl.core.calls import ToolCall, parse_response, render_calls, render_output

THINK = "<think> reasoning </think>"
F = '{"name": "f", "parameters": {"x": 1}}'


def toolrl(*lines: str, response: str | None = None) -> str:
    text = THINK + "\n<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"
    return text + (f"\n<response> {response} </response>" if response is not None else "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (toolrl(F), None),
        (toolrl(F, response="done"), None),
        (THINK + "\n<response> hi </response>", None),
        ("<tool_call>\n" + F + "\n</tool_call>", "missing_think"),
        ("<think> never closed", "unclosed_think"),
        (THINK + "\n<tool_call>\n" + F, "unclosed_tool_call"),
        (toolrl(F, "{not json"), "bad_json@2"),
        (toolrl(F, "", F), "bad_json@2"),
        (toolrl("[1, 2]"), "call_not_object@1"),
        (toolrl('{"parameters": {}}'), "call_without_name@1"),
        (toolrl('{"name": 3, "parameters": {}}'), "call_without_name@1"),
        (toolrl('{"name": "f"}'), "arguments_not_object@1"),
        (toolrl('{"name": "f", "parameters": [1]}'), "arguments_not_object@1"),
        (THINK + "\n<response> never closed", "unclosed_response"),
        (toolrl(F) + "\n<tool_call>\n" + F + "\n</tool_call>", "duplicate_tag"),
        (THINK + "\nchatter\n" + toolrl(F)[len(THINK) + 1 :], "stray_text"),
        (THINK + "\n<response> r </response>\n<tool_call>\n" + F + "\n</tool_call>", "stray_text"),
    ],
)
def test_toolrl_reasons(text, reason):
    assert parse_response(text).located_reason == reason


@pytest.mark.parametrize(
    ("text", "fmt", "calls_ok", "reason"),
    [
        ("<tool_call>\n" + F + "\n</tool_call>", "toolrl", True, "missing_think"),
        ("<tool_call>\n{bad\n</tool_call>", "toolrl", False, "bad_json@1"),
        ("<think> open\n<tool_call>\n" + F + "\n</tool_call>", "toolrl", True, "unclosed_think"),
        ('<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>', "hermes", True, "missing_think"),
        ('<tool_call>\n{"name": "f", "arguments": {"x": 1}}', "hermes", False, "unclosed_tool_call"),
        (THINK + "\nchatter\n" + toolrl(F)[len(THINK) + 1 :], "toolrl", True, "stray_text"),
    ],
)
def test_call_problems_come_first_and_decide_calls_ok(text, fmt, calls_ok, reason):
    parsed = parse_response(text, fmt)
    assert (parsed.calls_ok, parsed.located_reason) == (calls_ok, reason)
    assert bool(parsed.calls) == calls_ok


def test_toolrl_fields():
    parsed = parse_response(toolrl(F, '{"name": "g", "parameters": {}}', response="Here you go."))
    assert parsed.think == "reasoning"
    assert parsed.calls == (ToolCall("f", {"x": 1}), ToolCall("g", {}))
    assert parsed.response == "Here you go."
    assert parsed.raw_calls == ({"name": "f", "parameters": {"x": 1}}, {"name": "g", "parameters": {}})


def test_raw_calls_follow_the_released_block_rule():
    # the released reward reads the first <tool_call> up to the next </tool_call>, keeping bad calls
    parsed = parse_response(toolrl('{"name": "f"}', "[1]"))
    assert parsed.raw_calls == ({"name": "f"}, [1]) and parsed.calls == ()
    assert parse_response(toolrl("{oops")).raw_calls is None
    assert parse_response(THINK + "\n<response> x </response>").raw_calls is None


@pytest.mark.parametrize(
    ("text", "reason", "n_calls", "response"),
    [
        ('<think>\nt\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>', None, 1, None),
        (
            '<think>t</think>\nLet me check.\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>\n'
            '<tool_call>\n{"name": "g", "arguments": {"y": "z"}}\n</tool_call>',
            None,
            2,
            "Let me check.",
        ),
        ("<think>t</think>\n\nNo tool fits.", None, 0, "No tool fits."),
        ('<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>', "missing_think", 1, None),
        ('<think>t</think>\n<tool_call>\n{"name": "f", "arguments": {}}', "unclosed_tool_call", 0, None),
        (
            '<think>t</think>\n<tool_call>\n{"name": "f", "parameters": {}}\n</tool_call>',
            "arguments_not_object@1",
            0,
            None,
        ),
        ("<think>t</think>\n<tool_call>\n{bad}\n</tool_call>", "bad_json@1", 0, None),
    ],
)
def test_hermes(text, reason, n_calls, response):
    parsed = parse_response(text, "hermes")
    assert (parsed.located_reason, len(parsed.calls), parsed.response) == (reason, n_calls, response)


@pytest.mark.parametrize("fmt", calls.FORMATS)
@pytest.mark.parametrize(
    ("call_list", "response"),
    [
        ([ToolCall("f", {"a": 1, "b": [1, {"c": None}]})], None),
        ([ToolCall("Market Trends API", {"q": "naïve “quotes”"}), ToolCall("g", {})], None),
        ([], "Please give the date."),
        ([ToolCall("f", {"x": True})], "Done."),
    ],
)
def test_render_then_parse_round_trips(fmt, call_list, response):
    text = render_output("Reasoning here.", call_list, response, fmt)
    if call_list and response:  # toolrl: <response> after the calls; hermes: the plain text before them
        before = text.index(response) < text.index(calls.CALL_OPEN)
        assert before == (fmt == "hermes"), text
    parsed = parse_response(text, fmt)
    assert parsed.ok, parsed.located_reason
    assert (parsed.think, list(parsed.calls), parsed.response) == ("Reasoning here.", call_list, response)


def test_render_calls_hermes_is_one_block_per_call():
    text = render_calls([ToolCall("f"), ToolCall("g")], "hermes")
    assert text.count("<tool_call>") == 2 and text.count("</tool_call>") == 2


def test_unknown_format_names_the_choices():
    with pytest.raises(ValueError, match="valid formats: toolrl, hermes"):
        parse_response("x", "xml")


TAGS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>", "\n", " ", F, "{", "x"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(TAGS), max_size=30).map("".join)))
@pytest.mark.parametrize("fmt", calls.FORMATS)
def test_parse_never_raises(fmt, text):
    parsed = parse_response(text, fmt)
    assert parsed.reason in (None, *calls.REASONS)
    assert all(isinstance(call.name, str) and isinstance(call.arguments, dict) for call in parsed.calls)


def test_parse_survives_non_strings():
    assert parse_response(None).reason == "missing_think"  # type: ignore[arg-type]


json_text = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text()),
    lambda inner: st.one_of(st.lists(inner), st.dictionaries(st.text(), inner)),
).map(lambda value: __import__("json").dumps(value))


@settings(max_examples=500, deadline=None)
@given(st.one_of(json_text, st.text(), json_text.map(lambda t: " \t" + t + "\r\n"), json_text.map(lambda t: t + "x")))
def test_decoder_agrees_with_json_loads(text):
    import json

    try:
        expected = (True, json.loads(text))
    except (ValueError, RecursionError):
        expected = (False, None)
    got = calls.loads_or_none(text)
    assert got[0] == expected[0]
    assert repr(got[1]) == repr(expected[1])


ONCE = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(TAGS + ["<", "<x>"]), max_size=25).map("".join))
def test_toolrl_parse_agrees_with_plain_definitions(text):
    parsed = parse_response(text)
    stripped = text.strip()
    if parsed.ok:
        assert all(stripped.count(tag) <= 1 for tag in ONCE) and stripped.startswith("<think>")
    start = stripped.find("<response>")
    if start < 0:
        assert parsed.response is None
    else:
        end = stripped.find("</response>", start)
        assert parsed.response == stripped[start + 10 : end if end >= 0 else len(stripped)].strip()
    if stripped.startswith("<think>"):
        end = stripped.find("</think>", 7)
        assert parsed.think == stripped[7 : end if end >= 0 else len(stripped)].strip()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([1], calls.CALL_NOT_OBJECT),
        ({"parameters": {}}, calls.CALL_WITHOUT_NAME),
        ({"name": "f", "parameters": "x=1"}, calls.ARGUMENTS_NOT_OBJECT),
    ],
)
def test_one_call_validator_for_model_output_ground_truths_gold_calls_and_records(value, problem):
    import json
    import re

    from verl_toolrl.core.errors import RecordError
    from verl_toolrl.data.xlam import xlam_calls
    from verl_toolrl.reward import parse_ground_truth
    from verl_toolrl.tasks.apibank import item_from_record

    assert calls.call_problem(value) == problem
    text = f"<think> t </think>\n<tool_call>\n{json.dumps(value)}\n</tool_call>"
    assert parse_response(text).reason == problem  # model output: a reason code
    said = re.escape(calls.describe_call_problem(problem))
    with pytest.raises(ValueError, match=f"call 1 {said}"):  # a ground truth
        parse_ground_truth(text)
    with pytest.raises(ValueError, match=f"the gold call {said}"):  # an API-Bank gold call
        item_from_record({"system": "S", "user": "U", "answer": [value]}, 1, 0)
    record = {"name": "f", "arguments": "x=1"} if problem == calls.ARGUMENTS_NOT_OBJECT else value
    with pytest.raises(RecordError, match=re.escape(calls.describe_call_problem(problem, "arguments"))):
        xlam_calls([record])  # a data record's call
