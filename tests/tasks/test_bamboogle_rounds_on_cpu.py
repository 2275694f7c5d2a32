"""Bamboogle's rounds against a port of ToolRL's ``benchmarks/Bamboogle/generate.py`` (the oracle below:
its loop and judge parsing, with the vLLM call, ``search_serper`` and ``gpt_chatcompletion`` replaced by
scripted outputs, a deterministic engine and scripted judge replies). On each scripted policy, every message
sent to the policy and to the judge is byte-identical to the oracle's, and the answers, verdicts and search
counts agree."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest

from verl_toolrl.eval.bamboogle import judge_messages, needs_judge, parse_judgment
from verl_toolrl.tasks.bamboogle.items import BamboogleItem
from verl_toolrl.tasks.bamboogle.prompts import toolrl_system_prompt
from verl_toolrl.tasks.bamboogle.rounds import Trajectory, read_strict
from verl_toolrl.tasks.bamboogle.search import SearchEngine, SearchEnvironment, SearchSettings

# --- the oracle: ToolRL's generate.py, verbatim where it matters -----------------------------------

SYS = (
    "You are a helpful multi-turn dialogue assistant capable of leveraging tool calls to solve user tasks and provide "
    "structured chat responses.\n"
    "\n"
    "**Available Tools**\n"
    "In your response, you can use the following tools:\n"
    "1. Name: Search\n"
    "Description: Search the answer for a specific query leveraging the google search engine\n"
    'Parameters: {"query": {"description": "The query to search for.", "type": "string", "default": ""}}\n'
    "\n"
    "**Steps for Each Turn**\n"
    "1. **Think:** Recall relevant context and analyze the current user goal.\n"
    "2. **Decide on Tool Usage:** If a tool is needed, specify the tool and its parameters.\n"
    "3. **Respond Appropriately:** If a response is needed, generate one while maintaining consistency across user "
    "queries.\n"
    "\n"
    "**Output Format**\n"
    "```plaintext\n"
    "<think> Your thoughts and reasoning </think>\n"
    "<tool_call>\n"
    '{"name": "Tool name", "parameters": {"Parameter name": "Parameter content", "... ...": "... ..."}}\n'
    '{"name": "... ...", "parameters": {"... ...": "... ...", "... ...": "... ..."}}\n'
    "...\n"
    "</tool_call>\n"
    "<response> AI's final response </response>\n"
    "```\n"
    "\n"
    "**Important Notes**\n"
    "1. You must always include the `<think>` field to outline your reasoning. Provide at least one of `<tool_call>` "
    "or `<response>`. Decide whether to use `<tool_call>` (possibly multiple times), `<response>`, or both.\n"
    "2. You can invoke multiple tool calls simultaneously in the `<tool_call>` fields. Each tool call should be a "
    'JSON object with a "name" field and an "parameters" field containing a dictionary of parameters. If no '
    'parameters are needed, leave the "parameters" field an empty dictionary.\n'
    "3. Refer to the previous dialogue records in the history, including the user's queries, previous `<tool_call>`, "
    "`<response>`, and any tool feedback noted as `<obs>` (if exists).\n"
)

USER = "{query}\nPerform tool call if you are not sure about the answer. Make a plan to solve the problem step by step."

JUDGE_SYS = (
    "You are a helpful assistant to help me judge if the answer for a specific query is correct or not. You will be "
    "given the query, the ground truth answer and the predicted answer. You should first think about if the predicted "
    'answer is semantically the same as the ground truth answer. If so give "Yes" in the field "Judgment", otherwise '
    'give "No".\n'
    "\n"
    "**Output Format**\n"
    "Your Response:\n"
    "- Thought: <Your brief thoughts>\n"
    "- Judgment: <Yes/No>\n"
)

JUDGE_USER = """**Query**
{query}

**Ground Truth Answer**
{ground_truth}

**Predicted Answer**
{predicted}

Your Response:
"""


def form_user_prompt(history):
    output = "**Dialogue Records History**\n"
    for h in history:
        if h["role"] == "user":
            output += f"<user> {h['content']} </user>\n\n"
        elif h["role"] == "obs":
            output += f"<obs> {h['content']} </obs>\n\n"
        elif h["role"] == "assistant":
            content = h["content"]
            output += f"{content}\n"
    return output.strip()


def oracle(
    question: str,
    gt_answer: str,
    policy: Callable[[list], str],
    search_serper: Callable[[str, int], str],
    judge: Callable[[list], str],
) -> dict:
    """One item of the script's main loop; returns what it sent and decided."""
    sent, judged = [], None
    history = [{"role": "user", "content": USER.format(query=question)}]
    round_idx = 0
    round_threshold = 4
    while True:
        round_idx += 1
        if round_idx > round_threshold:
            pd_answer = "Round Limit Exceeded, no answer is derived."
            break
        messages = [
            {"role": "system", "content": SYS},
            {"role": "user", "content": form_user_prompt(history)},
        ]
        sent.append(messages)
        assistant_output = policy(messages).strip()
        if "<tool_call>" in assistant_output:
            try:
                if "<think>" in assistant_output:
                    thought = assistant_output.split("<think>")[1].split("</think>")[0].strip()
                else:
                    thought = assistant_output.split("<tool_call>")[0].strip()
                tool_calls = assistant_output.split("<tool_call>")[1].split("</tool_call>")[0].strip()
                tool_call = tool_calls.split("\n")[0]
                tool_call = ast.literal_eval(tool_call)
                query = tool_call["parameters"]["query"]
                search_result = search_serper(query, 5).strip()
                history.append(
                    {
                        "role": "assistant",
                        "content": f"<think> {thought} </think>\n<tool_call>\n{tool_call}\n</tool_call>",
                    }
                )
                history.append(
                    {
                        "role": "obs",
                        "content": f"Search results for the first tool call query:\n{search_result}",
                    }
                )
                if round_idx < round_threshold - 1:
                    history.append(
                        {
                            "role": "user",
                            "content": (
                                "Please continue to search if needed. If you can obtain the answer, please do not "
                                "call any tool and directly provide a succinct answer in the response."
                            ),
                        }
                    )
                else:
                    history.append(
                        {
                            "role": "user",
                            "content": (
                                "Do not make tool call any more. Please directly provide a succinct answer in your "
                                "next response."
                            ),
                        }
                    )
            except Exception:  # the script's bare except
                pass
        elif "<response>" in assistant_output:
            if "<think>" in assistant_output:
                thought = assistant_output.split("<think>")[1].split("</think>")[0].strip()
            else:
                thought = assistant_output.split("<response>")[0].strip()
            response = assistant_output.split("<response>")[1].split("</response>")[0].strip()
            history.append(
                {
                    "role": "assistant",
                    "content": f"<think> {thought} </think>\n<response> {response} </response>",
                }
            )
            pd_answer = response
            break
        else:
            if "</think>" in assistant_output:
                pd_answer = assistant_output.split("</think>")[1].strip()
            else:
                pd_answer = assistant_output.strip()
            history.append({"role": "assistant", "content": f"{assistant_output}"})
            break
    if pd_answer == "Round Limit Exceeded, no answer is derived." or pd_answer == "":
        final_score, timeout = 0, True
    else:
        messages = [
            {"role": "system", "content": JUDGE_SYS},
            {
                "role": "user",
                "content": JUDGE_USER.format(query=question, ground_truth=gt_answer, predicted=pd_answer),
            },
        ]
        judged = messages
        response = judge(messages).strip()
        response.split("- Thought:")[1].split("- Judgment:")[0].strip()
        judgment = response.split("- Judgment:")[1].strip()
        final_score, timeout = int(judgment == "Yes"), False
    tool_total = sum(h["role"] == "obs" for h in history)
    return {
        "sent": sent,
        "judge": judged,
        "answer": pd_answer,
        "score": final_score,
        "timeout": timeout,
        "searches": tool_total,
        "history": history,
    }


# --- the scripted policies -------------------------------------------------------------------------


class ScriptedEngine(SearchEngine):
    """A deterministic engine for the comparison (the real engines are tested against their APIs)."""

    def fetch(self, query: str) -> str:
        return f"1. About {query}\n- Snippet: {query} is in 1812.\n"


def call(query: str, think: str = "I will search.") -> str:
    return (
        f"<think> {think} </think>\n<tool_call>\n"
        f'{{"name": "Search", "parameters": {{"query": "{query}"}}}}\n</tool_call>'
    )


SCRIPTS: dict[str, list[str]] = {
    "searches then an answer": [
        call("Citibank founded"),
        "  " + call("US president 1812") + "\n",
        "<think> Madison. </think>\n<response> James Madison </response>",
    ],
    "an answer without search": ["<think> I know it. </think>\n<response> Titan IIIE </response>"],
    "an unparsable call, then an answer": [
        "<think> t </think>\n<tool_call>\n{'name': 'Search', 'parameters': {'q': 1}}\n</tool_call>",
        "<think> t </think>\n<tool_call>\nSearch(query='x')\n</tool_call>",
        "<tool_call>\n[1, 2]\n</tool_call>",
        "<response> Madison </response>",
    ],
    "calls past round 4": [call(f"query {n}") for n in range(1, 9)],
    "three searches then an answer": [
        call("a"),
        call("b"),
        call("c"),
        "<think> done </think>\n<response> 1812 </response>",
    ],
    "no <response>: the text after </think>": [
        call("x"),
        "<think> so </think>\nJames Madison was president.",
    ],
    "no tags at all": ["James Madison"],
    "an empty answer": ["<think> unsure </think>\n<response>   </response>"],
    "a call and a response in one output": [
        call("Citibank") + "\n<response> 1812 </response>",
        "<think> ok </think>\n<response> 1812 </response>",
    ],
    "a call without a think, single-quoted": [
        "Let me look.\n<tool_call>\n{'name': 'Search', 'parameters': {'query': 'Voyager 2'}}\n</tool_call>",
        "<think> x </think>\n<response> Titan IIIE </response>",
    ],
}
JUDGE_REPLIES = ["- Thought: same person.\n- Judgment: Yes", "- Thought: different.\n- Judgment: No"]


@pytest.mark.parametrize("name", list(SCRIPTS))
@pytest.mark.parametrize("judge_reply", JUDGE_REPLIES)
def test_rounds_and_judge_match_toolrls_script(name: str, judge_reply: str) -> None:
    item = BamboogleItem(
        "0", "Who was president of the United States in the year that Citibank was founded?", "james madison"
    )
    engine = ScriptedEngine(SearchSettings("serper"))
    outputs = iter(SCRIPTS[name])
    expected = oracle(
        item.question,
        item.answer,
        lambda _: next(outputs),
        lambda q, n: engine.fetch(q),
        lambda _: judge_reply,
    )

    trajectory = Trajectory(item, "toolrl", "toolrl", SearchEnvironment(engine))
    sent = []
    for output in SCRIPTS[name]:
        if trajectory.done:
            break
        sent.append(trajectory.prompt())
        trajectory.advance(output)
    assert trajectory.done
    assert sent == expected["sent"]
    assert trajectory.dialogue == expected["history"]
    assert trajectory.answer == expected["answer"]
    assert trajectory.timed_out == (expected["answer"] == "Round Limit Exceeded, no answer is derived.")
    assert trajectory.searches == expected["searches"]
    record = trajectory.record()
    assert needs_judge(record) == (expected["judge"] is not None)
    if expected["judge"] is not None:
        assert judge_messages(item.question, item.answer, trajectory.answer) == expected["judge"]
        assert int(bool(parse_judgment(judge_reply))) == expected["score"]


def test_the_system_prompt_is_the_scripts_sys() -> None:
    assert toolrl_system_prompt() == SYS


def test_the_scripted_policies_cover_each_path() -> None:
    item = BamboogleItem("0", "Q?", "a")
    engine = ScriptedEngine(SearchSettings("serper"))
    outcomes = {}
    for name, outputs in SCRIPTS.items():
        trajectory = Trajectory(item, "toolrl", "toolrl", SearchEnvironment(engine))
        for output in outputs:
            if not trajectory.done:
                trajectory.advance(output)
        outcomes[name] = (trajectory.answer, trajectory.searches, trajectory.kinds)
    assert outcomes["calls past round 4"] == (
        "Round Limit Exceeded, no answer is derived.",
        4,
        ["search"] * 4,
    )
    assert outcomes["an unparsable call, then an answer"] == ("Madison", 0, ["unparsed"] * 3 + ["answer"])
    assert outcomes["an empty answer"][0] == ""
    assert outcomes["no <response>: the text after </think>"][0] == "James Madison was president."
    assert outcomes["a call and a response in one output"][1:] == (1, ["search", "answer"])


def test_judge_replies_without_a_judgment_are_unjudged() -> None:
    assert parse_judgment("The answer is correct.") is None
    assert parse_judgment("- Thought: fine\n- Judgment:   Yes  ") is True
    assert parse_judgment("- Judgment: yes") is False  # the script compares with "Yes" exactly


def test_strict_protocol_runs_every_search_call_as_tool_messages() -> None:
    item = BamboogleItem("1", "Q?", "a")
    engine = ScriptedEngine(SearchSettings("serper"))
    trajectory = Trajectory(item, "strict", "hermes", SearchEnvironment(engine), "template")
    output = (
        "<think>\n"
        "Two searches.\n"
        "</think>\n"
        "\n"
        "<tool_call>\n"
        '{"name": "Search", "arguments": {"query": "a"}}\n'
        "</tool_call>\n"
        '<tool_call>\n{"name": "Lookup", "arguments": {"query": "b"}}\n</tool_call>'
    )
    assert trajectory.tools[0]["function"]["name"] == "Search"
    assert "<tools>" not in trajectory.prompt()[0]["content"]
    trajectory.advance(output)
    roles = [m["role"] for m in trajectory.prompt()]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user"]
    assert trajectory.prompt()[3]["content"].startswith("1. About a") and trajectory.prompt()[4]["content"].startswith(
        "Error:"
    )
    assert trajectory.searches == 1
    trajectory.advance('<think>\nt\n</think>\n\n<tool_call>\n{"name": "Search", "arguments": \n</tool_call>')
    assert trajectory.kinds[-1] == "unparsed" and len(trajectory.prompt()) == 6
    trajectory.advance("<think>\nDone.\n</think>\n\n1812")
    assert trajectory.answer == "1812" and not trajectory.timed_out
    assert read_strict("<think> t </think>\n<response> x </response>", "toolrl").answer == "x"
