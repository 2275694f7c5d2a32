"""``--protocol toolrl`` against an oracle: ToolRL's evaluation code, ported statement by statement.

The oracle below re-implements, in the same control flow (bare ``except`` included), the code of
``qiancheng0/ToolRL`` at commit 8cee13ec0ca72f0461da372a93a6fd8140dbb840:

- ``benchmarks/BFCL/rlla_qwen.py``: ``RLLAHandler._format_prompt`` (lines 48-99, with the ``SYS`` and
  ``json_string`` constants of lines 11-40), ``decode_ast`` (102-121), ``decode_execute`` (124-139) and
  ``xlam_json_to_python_tool_calls`` (141-167);
- ``benchmarks/API-Bank/generate.py`` lines 83-100 (reading the output) and ``benchmarks/API-Bank/evaluate.py``
  lines 38-71 (the SOFT MATCH verdict);

and BFCL's evaluation flow around the handler (gorilla 4ed459c0, ``bfcl/eval_checker/eval_runner.py``:
``relevance_file_runner`` lines 180-195 and ``ast_file_runner`` lines 265-315: decode, format check,
``ast_checker``). The package's protocol must agree with it on every prompt (all single-turn items) and
every verdict (gold answers and every kind of malformed output the issue lists).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from verl_toolrl.checks.preflight import byte_level_tokenizer
from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.eval import bfcl, toolrl_scripts
from verl_toolrl.eval.apibank import score_toolrl
from verl_toolrl.tasks.apibank import item_from_record, load_items
from verl_toolrl.tasks.bfcl import single_turn as bfcl_data
from verl_toolrl.tasks.bfcl import toolrl_handler

# --- the oracle -----------------------------------------------------------------------------------

ORACLE_JSON_STRING = (
    '{"name": "Tool name", "parameters": {"Parameter name": "Parameter content", "... ...": "... ..."}}\n'
    '{"name": "... ...", "parameters": {"... ...": "... ...", "... ...": "... ..."}}'
)
ORACLE_SYS = (
    "You are a helpful multi-turn dialogue assistant capable of leveraging tool calls to solve user tasks and "
    "provide structured chat responses.\n\n**Available Tools**\nIn your response, you can use the following tools:\n"
    "{tools}\n\n**Steps for Each Turn**\n1. **Think:** Recall relevant context and analyze the current user goal.\n"
    "2. **Decide on Tool Usage:** If a tool is needed, specify the tool and its parameters.\n"
    "3. **Respond Appropriately:** If a response is needed, generate one while maintaining consistency across "
    "user queries.\n\n**Output Format**\n```plaintext\n<think> Your thoughts and reasoning </think>\n<tool_call>\n"
    "{json_string}\n...\n</tool_call>\n<response> AI's final response </response>\n```\n\n**Important Notes**\n"
    "1. You must always include the `<think>` field to outline your reasoning. Provide at least one of "
    "`<tool_call>` or `<response>`. Decide whether to use `<tool_call>` (possibly multiple times), `<response>`, "
    "or both.\n2. You can invoke multiple tool calls simultaneously in the `<tool_call>` fields. Each tool call "
    'should be a JSON object with a "name" field and an "parameters" field containing a dictionary of '
    'parameters. If no parameters are needed, leave the "parameters" field an empty dictionary.\n3. Refer to '
    "the previous dialogue records in the history, including the user's queries, previous `<tool_call>`, "
    "`<response>`, and any tool feedback noted as `<obs>` (if exists).\n"
)


def oracle_format_prompt(messages: list[dict[str, Any]], function: Any, turn_type: str = "single_turn") -> str:
    def convert_to_format_tool(tools: Any, count: int = 1) -> Any:
        if isinstance(tools, dict):
            params = tools["parameters"].get("properties", {})
            return (
                f"{count}. Name: {tools['name']}\nDescription: {tools['description']}\nParameters: {json.dumps(params)}"
            )
        if isinstance(tools, list):
            return "\n".join(convert_to_format_tool(tool, index + 1) for index, tool in enumerate(tools))
        return tools

    system = ORACLE_SYS.format(tools=convert_to_format_tool(function), json_string=ORACLE_JSON_STRING)
    user = "**Dialogue Records History**\n"
    for index, message in enumerate(messages):
        if message["role"] == "system":
            continue
        if message["role"] == "user":
            if turn_type == "multi_turn":
                user += f"<user> {message['content'].strip()}\n{toolrl_handler.MULTI_TURN_INSTRUCTION} </user>\n"
            else:
                user += (
                    f"<user> {message['content'].strip()}\nIf there's no appropriate tools to apply or required "
                    "parameters are missing, please directly inform me in your response without any tool call, or "
                    "call the tool with the name as 'None'. Otherwise, you should use one or more necessary tool "
                    "calls to complete the given task in this turn. </user>\n"
                )
        elif message["role"] == "tool":
            user += (
                f"<obs> You have made the tool call {message['name'].strip()}. "
                f"Execution returns: {message['content'].strip()} </obs>\n"
            )
            if index == len(messages) - 1:
                user += f"\n<user> {toolrl_handler.AFTER_LAST_RESULT} </user>\n"
        elif message["role"] == "assistant":
            message["content"] = message["content"].strip()
            user += f"\n{message['content'].strip()}\n"
    user = user.strip()
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def oracle_decode_ast(result: str) -> list:
    if "<tool_call>" not in result:
        return []
    tool_calls = result.split("<tool_call>")[-1].split("</tool_call>")[0].strip().split("\n")
    decoded_output = []
    for tool_call in tool_calls:
        try:
            tool_call = json.loads(tool_call)
            name = tool_call["name"]
            if name.strip().lower() == "none":
                continue
            arguments = tool_call["parameters"]
            decoded_output.append({name: arguments})
        except:  # noqa: E722 - the handler's bare except
            continue
    return decoded_output


def oracle_decode_execute(result: str) -> list:
    if "<tool_call>" not in result:
        return []
    calls = result.split("<tool_call>")[-1].split("</tool_call>")[0].strip().split("\n")
    tool_calls = []
    for call in calls:
        try:
            tool_calls.append(json.loads(call))
        except:  # noqa: E722
            continue
    python_format = []
    for tool_call in tool_calls:
        if isinstance(tool_call, dict):
            name = tool_call.get("name", "")
            arguments = tool_call.get("parameters", {})
            if name.strip().lower() == "none":
                continue
            args_str = ", ".join([f"{key}={repr(value)}" for key, value in arguments.items()])
            python_format.append(f"{name}({args_str})")
    return python_format


def oracle_bfcl_verdict(item: bfcl_data.BfclItem, output: str) -> bool:
    """BFCL's runners around the handler: relevance by emptiness, AST by format check then the checker."""
    utils = bfcl_data.bfcl_utils()
    decoded = oracle_decode_ast(output)
    if item.category in bfcl_data.RELEVANCE_CATEGORIES:
        contain_func_call = not utils.is_empty_output(decoded)
        return not contain_func_call if "irrelevance" in item.category else contain_func_call
    if not utils.is_function_calling_format_output(decoded):
        return False
    try:
        checker = bfcl.load_checker()
        result = checker(
            item.functions,
            decoded,
            item.possible_answer,
            bfcl._language_enum(item.language),
            item.category,
            bfcl.CHECKER_MODEL_NAME,
        )
    except Exception:  # BFCL's run would stop here; the item cannot count as right
        return False
    return bool(result["valid"])


def oracle_apibank_tool_calls(output: str) -> list:
    assistant_output = output.strip()
    all_tool_calls = []
    tool_calls = assistant_output.split("<tool_call>")[-1].split("</tool_call>")[0].strip()
    for tool_call in tool_calls.strip().split("\n"):
        if tool_call.strip() == "":
            continue
        try:
            all_tool_calls.append(json.loads(tool_call))
        except:  # noqa: E722
            pass
    return all_tool_calls


def oracle_apibank_score(tool_calls: list, record: dict) -> int:
    answer = record["answer"]
    if type(answer) == list:  # noqa: E721 - as evaluate.py
        answer = answer[0]
    answer_name, answer_parameters = answer["name"], answer["parameters"]
    score = 0
    try:
        for tool_call in tool_calls:
            if type(tool_call) == str:  # noqa: E721
                tool_call = json.loads(tool_call)
            predict = tool_call
            if "name" not in predict or "parameters" not in predict:
                name, parameters = answer_name, predict
            else:
                name, parameters = predict["name"], predict["parameters"]
            if name == answer_name and parameters == answer_parameters:
                score += 1
                break
    except Exception:
        pass
    return score


# --- the cases ------------------------------------------------------------------------------------


def _block(*lines: str) -> str:
    return "<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"


def malformed_outputs(good: str, other: str) -> dict[str, str]:
    """Every kind of output the issue lists, built around one good call line and one other call line."""
    think = "<think> reasoning </think>\n"
    return {
        "gold": think + _block(good),
        "last_block_wins": think + _block(good) + "\n" + _block(other),
        "first_block_ignored": think + _block(other) + "\n" + _block(good),
        "blank_lines": think + "<tool_call>\n\n" + good + "\n\n\n</tool_call>",
        "bad_line_skipped": think + _block("{not json", good, "plain words"),
        "none_call_skipped": think + _block('{"name": "None", "parameters": {}}', good),
        "none_spaced_lower": think + _block('{"name": " none ", "parameters": {}}'),
        "only_none": think + _block('{"name": "None", "parameters": {}}') + "\n<response> No tool fits. </response>",
        "parameters_string": think + _block(good.replace('"parameters": {', '"parameters": "{')[:-1] + '"}'),
        "parameters_list": think + _block('{"name": "f", "parameters": [1, 2]}'),
        "parameters_missing": think + _block('{"name": "f"}', good),
        "name_missing": think + _block('{"parameters": {}}'),
        "name_not_string": think + _block('{"name": 7, "parameters": {}}', good),
        "array_line": think + _block("[" + good + "]"),
        "scalar_lines": think + _block("5", '"text"', "null", "true", good),
        "two_calls_one_line": think + _block(good + " " + other),
        "unclosed_block": think + "<tool_call>\n" + good,
        "no_tags_json_only": good,
        "close_before_open": think + "</tool_call>\n" + good + "\n<tool_call>\n" + other,
        "no_call": think + "<response> I cannot help. </response>",
        "empty": "",
        "think_only": "<think> hmm </think>",
        "crlf": think + "<tool_call>\r\n" + good + "\r\n</tool_call>",
        "duplicate_keys": think + _block(good[:-1] + ', "parameters": {}}'),
        "deep_nesting": think + _block("[" * 100_000 + "]" * 100_000, good),
        "huge_number": think + _block('{"name": "f", "parameters": {"x": ' + "9" * 5000 + "}}", good),
        "nan": think + _block('{"name": "f", "parameters": {"x": NaN}}'),
        "json_string_of_call": think + _block(json.dumps(good)),
        "bare_parameters": think + _block(json.dumps(json.loads(good)["parameters"])),
        "exception_before_right": think + _block("7", good),
        "truthy_number": think + _block(good.replace("true", "1")),
        "text_after_close": think + _block(good) + "\n<response> done </response>",
    }


_CALL = '{"name": "f", "parameters": {}}'


def _call_line(call: ToolCall) -> str:
    return json.dumps({"name": call.name, "parameters": call.arguments})


BFCL_SAMPLE = (
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "irrelevance",
    "live_irrelevance",
    "live_relevance",
)


@pytest.fixture(scope="module")
def bfcl_cases() -> list[tuple[bfcl_data.BfclItem, str, str]]:
    cases = []
    for category in BFCL_SAMPLE:
        for item in bfcl_data.load_items(category, limit=3):
            calls = bfcl_data.gold_calls(item) or [ToolCall(item.functions[0]["name"], {})]
            good, other = _call_line(calls[0]), _call_line(ToolCall(calls[0].name, {"wrong": 1}))
            for kind, output in malformed_outputs(good, other).items():
                cases.append((item, kind, output))
            cases.append((item, "gold_output", bfcl_data.gold_output(item)))
    return cases


# --- prompts --------------------------------------------------------------------------------------


def test_bfcl_prompts_are_the_handlers_on_every_single_turn_item() -> None:
    tokenizer = byte_level_tokenizer()
    count = 0
    for category in bfcl_data.SINGLE_TURN_CATEGORIES:
        for item in bfcl_data.load_items(category):
            messages = bfcl_data.item_messages(item, protocol="toolrl")
            expected = oracle_format_prompt(copy.deepcopy(item.messages), copy.deepcopy(item.prompt_functions))
            assert toolrl_handler.prompt_string(messages) == expected, item.id
            count += 1
            if count % 400 == 1:  # what a ChatML (Qwen) chat template renders from the two messages
                rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                assert rendered == expected, item.id
    assert count == 3641


def test_handler_prompt_with_history_and_tool_results() -> None:
    functions = bfcl_data.load_items("simple_python", limit=1)[0].prompt_functions
    dialogue = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "  List the files.  "},
        {
            "role": "assistant",
            "content": ' <think> t </think>\n<tool_call>\n{"name": "ls", "parameters": {}}\n</tool_call> ',
        },
        {"role": "tool", "name": " ls() ", "content": ' {"files": ["a"]} '},
    ]
    for turn_type in ("single_turn", "multi_turn"):
        expected = oracle_format_prompt(copy.deepcopy(dialogue), copy.deepcopy(functions), turn_type)
        assert toolrl_handler.prompt_string(toolrl_handler.messages(functions, dialogue, turn_type)) == expected  # type: ignore[arg-type]
    more = [*dialogue, {"role": "user", "content": "Now read a."}]
    assert toolrl_handler.prompt_string(toolrl_handler.messages(functions, more)) == oracle_format_prompt(
        copy.deepcopy(more), copy.deepcopy(functions)
    )


def test_generation_defaults_follow_the_papers_scripts() -> None:
    from verl_toolrl.eval.__main__ import build_parser, run_info

    args = build_parser().parse_args(["bfcl", "generate", "--model", "m", "--output", "o"])
    info = run_info(args)
    assert info.protocol == "toolrl" and info.sampling["max_new_tokens"] == 4096 and info.sampling["temperature"] == 0
    strict = run_info(
        build_parser().parse_args(["bfcl", "generate", "--model", "m", "--output", "o", "--format", "hermes"])
    )
    assert strict.protocol == "strict" and strict.sampling["max_new_tokens"] == 1024


# --- BFCL decoding and verdicts -------------------------------------------------------------------


def test_decoders_agree_with_the_handler_on_every_case(bfcl_cases: list) -> None:
    for item, kind, output in bfcl_cases:
        assert toolrl_scripts.decode_ast(output) == oracle_decode_ast(output), (item.id, kind)
        try:
            expected = oracle_decode_execute(output)
        except Exception:
            with pytest.raises(ValueError, match="decode_execute raises"):
                toolrl_scripts.decode_execute(output)
        else:
            assert toolrl_scripts.decode_execute(output) == expected, (item.id, kind)


def test_bfcl_verdicts_agree_with_the_handler_and_bfcls_runner(bfcl_cases: list) -> None:
    differs_from_strict = set()
    for item, kind, output in bfcl_cases:
        ours = bfcl.score_item(item, output, protocol="toolrl")
        assert ours.valid == oracle_bfcl_verdict(item, output), (item.id, kind, ours)
        if ours.valid != bfcl.score_item(item, output, protocol="strict").valid:
            differs_from_strict.add(kind)
    gold = [
        bfcl.score_item(item, output, protocol="toolrl").valid
        for item, kind, output in bfcl_cases
        if kind == "gold_output"
    ]
    assert all(gold) and len(gold) == 3 * len(BFCL_SAMPLE)
    # the protocols really differ where the issue says they do
    assert {"last_block_wins", "first_block_ignored", "bad_line_skipped", "none_call_skipped"} <= differs_from_strict


def test_bfcl_toolrl_error_types_follow_bfcls_runner() -> None:
    item = bfcl_data.load_items("simple_python", limit=1)[0]
    assert bfcl.score_item(item, "no call", protocol="toolrl").error_type == "simple_function_checker:wrong_count"
    bad = _block('{"name": "calculate_triangle_area", "parameters": [1]}')
    assert bfcl.score_item(item, bad, protocol="toolrl").error_type == "ast_decoder:decoder_wrong_output_format"


# --- API-Bank ------------------------------------------------------------------------------------


def test_apibank_verdicts_agree_with_generate_and_evaluate(shared_dir: Any) -> None:
    records = {1: [], 2: []}
    for level in records:
        records[level] = json.loads(
            (shared_dir / "data" / "toolrl" / "api_bank" / f"level-{level}-api_processed.json").read_text()
        )
    items = load_items(shared_dir / "data" / "toolrl" / "api_bank", [1, 2])
    by_id = {item.id: item for item in items}
    checked = kinds_right = 0
    for level, level_records in records.items():
        for row, record in enumerate(level_records):
            item = by_id[f"level-{level}-{row}"]
            gold = item.gold[0]
            good = _call_line(gold)
            other = _call_line(ToolCall(gold.name, {**gold.arguments, "extra": 1}))
            outputs = {**malformed_outputs(good, other), "rendered_gold": render_output("t", item.gold)}
            for kind, output in outputs.items():
                ours = score_toolrl(output, item)
                assert ours["toolrl"] == bool(oracle_apibank_score(oracle_apibank_tool_calls(output), record)), (
                    item.id,
                    kind,
                )
                assert (
                    toolrl_scripts.apibank_tool_calls(output) == oracle_apibank_tool_calls(output) or kind == "nan"
                ), kind
                checked += 1
                kinds_right += ours["toolrl"] and kind == "rendered_gold"
    assert checked == 466 * (len(malformed_outputs(_CALL, _CALL)) + 1) and kinds_right == 466


def test_apibank_quirks_are_kept() -> None:
    item = item_from_record(
        {
            "system": "S",
            "user": "U",
            "answer": [{"name": "f", "parameters": {"x": 1}}, {"name": "g", "parameters": {}}],
        },
        1,
        0,
    )
    assert score_toolrl(_block('{"x": 1}'), item)["toolrl"]  # a bare parameters dict counts under the gold name
    assert score_toolrl(_block('{"name": "f", "parameters": {"x": true}}'), item)["toolrl"]  # True == 1
    assert not score_toolrl(_block('{"name": "g", "parameters": {}}'), item)["toolrl"]  # only the first gold call
    assert not score_toolrl(_block("null", '{"name": "f", "parameters": {"x": 1}}'), item)[
        "toolrl"
    ]  # exception ends it
    assert score_toolrl('{"name": "f", "parameters": {"x": 1}}', item)["toolrl"]  # no tags: the whole output
