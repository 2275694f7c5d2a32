"""The ``toolrl_bfcl_multi_turn`` agent loop: BFCL's stateful simulators in verl's rollout, rewarded turn by turn.

Per row (``agent_name=toolrl_bfcl_multi_turn``, rows from ``python -m data_preprocess.bfcl_multi_turn``) the
loop builds the entry from ``extra_info.bfcl_entry`` and an :class:`Episode`: the entry's own fresh
:class:`~verl_toolrl.tasks.bfcl.environment.Environment` (and a second one that runs the ground
truth, for BFCL's state match), the dialogue in the ``strict`` protocol (chat roles, so the token stream
only grows). Then, until the last user turn is done, a step limit or ``response_length`` ends it:

1. generate through verl's server manager (``server_manager.generate`` on token ids);
2. decode the tokens, parse the calls with :func:`verl_toolrl.core.calls.parse_response` in the row's format;
3. with calls: execute them in the environment (errors become ``Error during execution: ...``
   observations) and append one ``tool`` message per call; without calls: the turn ends, its scores are
   taken, and the next user turn's messages are appended (at a ``miss_func`` turn, BFCL's message with
   the added docs: the system prompt cannot change in an append-only token stream).

Reused from verl 0.9.1 (``ToolAgentLoop``): the Continuous Token calls (``ct_build_initial_tokens``,
``ct_merge_assistant_token`` for generated tokens with mask 1 and the server's log-probs,
``ct_merge_context_msg`` for observation and user tokens with mask 0 and log-prob 0), its termination rule for the length budget (stop when the mask reaches
``response_length``; an observation that would pass it is not appended), the tool-response truncation
settings (``multi_turn.max_tool_response_length``, ``tool_response_truncate_side``) and the output
schema (the server's ``extra_fields`` of the first step, ``max_global_steps`` of the last, which verl's
trainer reads; ``turn_scores``, ``tool_rewards``). Not reused: its per-worker tool
instances (a row's simulators must live for the whole trajectory) and its tool parsers (the package's
parser reads both formats the reward scores). ``multi_turn.max_assistant_turns`` is the step limit per
user turn (BFCL's 20 when unset).

Each turn is scored with the ``toolrl`` reward manager's scorer (the options of ``reward.reward_kwargs``,
the step of ``global_steps``) and with the state match (:mod:`verl_toolrl.reward.multi_turn`); turns the
trajectory did not reach score an empty response and no match. ``turn_scores`` get the turn scores, and
``extra_fields[MULTI_TURN_FIELD]`` the components, which the reward manager aggregates.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
from verl.utils.profiler import simple_timer

from verl_toolrl.tasks.bfcl.multi_turn import MAX_STEPS_PER_TURN, MultiTurnEntry, render_prompt, turn_messages
from verl_toolrl.core.calls import Format, parse_response
from verl_toolrl.data.bfcl_multi_turn import AGENT_NAME, PROTOCOL, entry_from_spec
from verl_toolrl.tasks.bfcl.environment import Environment, ground_truth_calls, official_verdict
from verl_toolrl.reward import score_range
from verl_toolrl.reward.config import RewardOptions
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD, turn_response, turn_score
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager, training_step

@dataclass
class Episode:
    """One trajectory through one entry, without tokens: the dialogue, the environments, what ran.

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> episode = Episode(load_entries("multi_turn_base", limit=1)[0], "toolrl")
    >>> episode.advance('<think> x </think>\\n<tool_call>\\n{"name": "cd", "parameters": {"folder": "document"}}\\n</tool_call>')
    'observations'
    >>> episode.messages()[-1]
    {'role': 'tool', 'content': '{"current_working_directory": "document"}'}
    """

    entry: MultiTurnEntry
    format: Format
    max_steps: int = MAX_STEPS_PER_TURN
    environment: Environment = field(init=False)
    truth: Environment = field(init=False)
    conversation: list[dict[str, str]] = field(init=False, default_factory=list)
    outputs: list[list[str]] = field(init=False, default_factory=list)  # [turn][step] raw outputs
    executed: list[list[list[str]]] = field(init=False, default_factory=list)  # [turn][step] call strings that ran
    state_matches: list[bool] = field(init=False, default_factory=list)  # one per finished turn
    calls: int = 0
    call_errors: int = 0
    done: bool = False
    force_terminated: bool = False

    def __post_init__(self) -> None:
        self.environment, self.truth = Environment(self.entry), Environment(self.entry)
        self._truth_calls = ground_truth_calls(self.entry)
        self._open_turn(0)

    @property
    def turn(self) -> int:
        return len(self.outputs) - 1

    def _open_turn(self, turn: int) -> None:
        if turn >= self.entry.num_turns:
            self.done = True
            return
        self.outputs.append([])
        self.executed.append([])
        # "toolrl" messages carry a miss_func turn's docs in the user message (see the module docstring)
        self.conversation.extend(turn_messages(self.entry, turn, "toolrl" if turn in self.entry.held_out else PROTOCOL))

    def messages(self) -> list[dict[str, str]]:
        """The chat messages so far (system prompt with the docs shown from the start)."""
        return render_prompt(self.entry, 0, self.conversation, PROTOCOL, self.format)

    def advance(self, output: str) -> str:
        """Take one model output: ``"observations"`` (calls ran), ``"next_turn"``, or ``"done"``."""
        self.outputs[-1].append(output)
        self.conversation.append({"role": "assistant", "content": output})
        parsed = parse_response(output.strip(), self.format)
        calls = list(parsed.calls) if parsed.calls_ok else []
        if not calls:
            self._close_turn()
            return "done" if self.done else "next_turn"
        results = self.environment.execute(calls)
        self.calls += len(results)
        self.call_errors += sum(result.error for result in results)
        self.executed[-1].append([result.rendered for result in results if result.rendered is not None])
        self.conversation.extend({"role": "tool", "content": result.observation} for result in results)
        if len(self.outputs[-1]) >= self.max_steps:  # BFCL ends the entry when a turn runs out of steps
            self.force_terminated = self.done = True
            return "done"
        return "observations"

    def _close_turn(self) -> None:
        self.truth.execute(self._truth_calls[self.turn])
        self.state_matches.append(self.environment.state_matches(self.truth)[0])
        self._open_turn(self.turn + 1)

    def verdict(self) -> dict[str, Any]:
        """BFCL's verdict on what ran (a trajectory cut short fails as force-terminated)."""
        finished = len(self.state_matches)
        return official_verdict(self.entry, self.executed[:finished])


def score_turns(
    episode: Episode,
    ground_truths: list[str],
    scorer: ToolRLRewardManager,
    options: RewardOptions,
    step: int | None,
) -> dict[str, Any]:
    """The per-turn scores and components of a finished episode (see the module docstring)."""
    fmt, option_kwargs = episode.format, asdict(scorer.options)
    turns = []
    for turn, ground_truth in enumerate(ground_truths):
        reached = turn < len(episode.state_matches)
        response = turn_response(episode.outputs[turn], fmt) if reached else ""
        scores = scorer.score_text(response, ground_truth, step=step)
        state = episode.state_matches[turn] if reached else False
        call_range = score_range(ground_truth, step=step or 0, **option_kwargs)
        turns.append({**scores, "state_match": float(state), "turn_score": turn_score(scores["score"], state, call_range, options)})
    return {
        "turns": turns,
        "turns_reached": len(episode.state_matches),
        "bfcl_valid": bool(episode.verdict()["valid"]),
        "calls": episode.calls,
        "call_errors": episode.call_errors,
    }


def truncate(text: str, limit: int | None, side: str) -> str:
    """An observation cut to ``limit`` characters as verl's ``ToolAgentLoop`` cuts tool responses.

    >>> truncate("abcdefghij", 4, "left"), truncate("abcdefghij", 4, "right")
    ('abcd...(truncated)', '...(truncated)ghij')
    """
    if not limit or len(text) <= limit:
        return text
    if side == "left":
        return text[:limit] + "...(truncated)"
    if side == "right":
        return "...(truncated)" + text[-limit:]
    half = limit // 2
    return text[:half] + "...(truncated)..." + text[-half:]


@register(AGENT_NAME)
class BfclMultiTurnAgentLoop(AgentLoopBase):
    """Multi-turn rollouts on BFCL's simulators (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("tools", None)  # verl's per-worker tools: this loop's tools are the row's simulators
        super().__init__(*args, **kwargs)
        multi_turn = self.rollout_config.multi_turn
        self.response_length = self.rollout_config.response_length
        self.max_steps = multi_turn.get("max_assistant_turns") or MAX_STEPS_PER_TURN
        self.max_observation_chars = multi_turn.get("max_tool_response_length")
        self.truncate_side = multi_turn.get("tool_response_truncate_side", "middle")
        self.scorer = ToolRLRewardManager(self.config, self.tokenizer)
        self.options = self.scorer.options  # reward.reward_kwargs, read once by the manager

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        extra_info = kwargs.get("extra_info") or {}
        if "bfcl_entry" not in extra_info:
            raise ValueError(f"{AGENT_NAME}: the row has no extra_info.bfcl_entry (rows come from data_preprocess.bfcl_multi_turn)")
        entry = entry_from_spec(extra_info["bfcl_entry"])
        ground_truths = json.loads(kwargs["reward_model"]["ground_truth"])
        episode = Episode(entry, extra_info.get("format", self.scorer.options.format), self.max_steps)
        metrics: dict[str, Any] = {}
        messages = episode.messages()
        prompt_ids = await self.ct_build_initial_tokens(messages)
        runtime_ids, response_mask, request_id = list(prompt_ids), [], uuid4().hex
        server_fields: dict[str, Any] = {}
        logprobs: list[float] = []  # the server's log-probs of generated tokens, 0.0 for observation tokens
        steps = 0
        while not episode.done:
            with simple_timer("generate_sequences", metrics):
                output = await self.server_manager.generate(
                    request_id=request_id, prompt_ids=runtime_ids, sampling_params=sampling_params
                )
            steps += 1
            if not server_fields:  # the server's fields (min/max_global_steps, ...), as ToolAgentLoop keeps them
                server_fields.update(output.extra_fields)
            elif output.extra_fields.get("max_global_steps") is not None:
                server_fields["max_global_steps"] = output.extra_fields["max_global_steps"]
            merged, response_mask, logprobs = await self.ct_merge_assistant_token(
                runtime_ids,
                output.token_ids,
                response_mask,
                logprobs if (logprobs or output.log_probs) else None,
                assistant_logprobs=output.log_probs or None,
            )
            logprobs = logprobs or []
            runtime_ids = merged.token_ids
            text = self.scorer.think_prefill.text + self.tokenizer.decode(output.token_ids, skip_special_tokens=True)
            previous = episode.messages()
            with simple_timer("tool_calls", metrics):
                episode.advance(text)
            if episode.done or len(response_mask) >= self.response_length:
                break
            updated = self._truncated(episode.messages())
            merged, new_mask, new_logprobs = await self.ct_merge_context_msg(
                self._truncated(previous), updated, runtime_ids, response_mask, logprobs or None
            )
            if len(new_mask) >= self.response_length:
                break
            runtime_ids, response_mask, logprobs = merged.token_ids, new_mask, new_logprobs or []
        with simple_timer("compute_score", metrics):
            result = score_turns(episode, ground_truths, self.scorer, self.options, training_step(kwargs))
        metrics.setdefault("num_preempted", -1)
        response_ids = runtime_ids[len(prompt_ids) :]
        out = AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids[: self.response_length],
            response_mask=response_mask[: self.response_length],
            response_logprobs=logprobs[: self.response_length] or None,
            num_turns=len(episode.conversation) + 1,
            metrics=metrics,
            extra_fields=server_fields,
        )
        out.extra_fields.update(
            {
                "turn_scores": [turn["turn_score"] for turn in result["turns"]],
                "tool_rewards": [],
                MULTI_TURN_FIELD: {**result, "steps": steps, "force_terminated": episode.force_terminated},
            }
        )
        return out

    def _truncated(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        return [
            {**m, "content": truncate(m["content"], self.max_observation_chars, self.truncate_side)} if m["role"] == "tool" else m
            for m in messages
        ]
