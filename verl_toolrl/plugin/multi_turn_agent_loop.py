"""The ``toolrl_bfcl_multi_turn`` agent loop: BFCL's stateful simulators in verl's rollout, rewarded turn by turn.

Per row (``agent_name=toolrl_bfcl_multi_turn``, rows from ``python -m data_preprocess.bfcl_multi_turn``) the
loop builds the entry from ``extra_info.bfcl_entry`` and drives the episode the evaluation drives too
(:func:`training_episode`, a :class:`~verl_toolrl.tasks.bfcl.episode.BfclEpisode`: the entry's own fresh
simulators, a second set that runs the ground truth for BFCL's state match, the ``strict`` protocol as a
stream, so the token stream only grows). This loop keeps the tokens only. Until the episode is done or
``response_length`` ends it:

1. generate through verl's server manager (``server_manager.generate`` on token ids);
2. decode the tokens and hand the text to the episode (which parses the calls in the row's format, runs
   them, appends one ``tool`` message per call with errors as ``Error during execution: ...``
   observations, and opens the next user turn after a step without calls);
3. tokenize what the episode appended after the output (its tool messages, or the next user turn): the next
   prompt less the previous one and the output's own assistant message, whose tokens the stream already holds
   as generated (as verl's ``ToolAgentLoop`` merges after appending the assistant message).

Some of BFCL's simulators render a Python set into an observation, so the workers must start with the hash
seed pinned (the multi-turn recipe's ``ray_kwargs.ray_init.runtime_env``; :mod:`verl_toolrl.tasks.episode`).

Reused from verl 0.9.1 (``ToolAgentLoop``): the Continuous Token calls (``ct_build_initial_tokens``,
``ct_merge_assistant_token`` for generated tokens with mask 1 and the server's log-probs,
``ct_merge_context_msg`` for observation and user tokens with mask 0 and log-prob 0), its termination rule for the
length budget (stop when the mask reaches ``response_length``; an observation that would pass it is not appended), the
tool-response truncation
settings (``multi_turn.max_tool_response_length``, ``tool_response_truncate_side``) and the output
schema (the server's ``extra_fields`` of the first step, ``max_global_steps`` of the last, which verl's
trainer reads; ``turn_scores``, ``tool_rewards``). Not reused: its per-worker tool
instances (a row's simulators must live for the whole trajectory) and its tool parsers (the package's
parser reads both formats the reward scores). ``multi_turn.max_assistant_turns`` is the most model outputs
per user turn, BFCL's step rule with ``MAXIMUM_STEP_LIMIT`` one less (unset: BFCL's 20, so 21 outputs).

Each turn is scored with the ``toolrl`` reward manager's scorer (the options of ``reward.reward_kwargs``,
the step of ``global_steps``) and with the state match (:mod:`verl_toolrl.reward.multi_turn`); turns the
trajectory did not reach score an empty response and no match. ``turn_scores`` get the turn scores, and
``extra_fields[MULTI_TURN_FIELD]`` the components, which the reward manager aggregates.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
from verl.utils.profiler import simple_timer

from verl_toolrl.core.calls import Format
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager, training_step
from verl_toolrl.reward import score_range
from verl_toolrl.reward.config import RewardOptions
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD, turn_response, turn_score
from verl_toolrl.tasks.bfcl.episode import BfclEpisode
from verl_toolrl.tasks.bfcl.multi_turn import MULTI_TURN_AGENT, PROTOCOL, MultiTurnEntry, entry_from_spec
from verl_toolrl.tasks.episode import MAX_STEPS_PER_TURN


def training_episode(entry: MultiTurnEntry, format: Format, max_assistant_turns: int | None = None) -> BfclEpisode:
    """The episode a rollout drives: the ``strict`` protocol as a stream (the token stream only grows),
    BFCL's step rule with at most ``max_assistant_turns`` outputs per user turn (its
    ``MAXIMUM_STEP_LIMIT`` is one less; None: BFCL's 20, so 21 outputs), and the state match of each turn.

    >>> from verl_toolrl.tasks.bfcl.multi_turn import load_entries
    >>> episode = training_episode(load_entries("multi_turn_base", limit=1)[0], "toolrl")
    >>> call = '{"name": "cd", "parameters": {"folder": "document"}}'
    >>> episode.advance(f"<think> x </think>\\n<tool_call>\\n{call}\\n</tool_call>")
    'observations'
    >>> episode.prompt()[-1]
    {'role': 'tool', 'content': '{"current_working_directory": "document"}'}
    >>> episode.step_limit, training_episode(episode.entry, "toolrl", 3).step_limit
    (20, 2)
    """
    step_limit = MAX_STEPS_PER_TURN if not max_assistant_turns else max_assistant_turns - 1
    return BfclEpisode(entry, PROTOCOL, format, stream=True, step_limit=step_limit, state_match=True)


def score_turns(
    episode: BfclEpisode,
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
        response = turn_response([step.output for step in episode.turns[turn]], fmt) if reached else ""
        scores = scorer.score_text(response, ground_truth, step=step)
        state = episode.state_matches[turn] if reached else False
        call_range = score_range(ground_truth, step=step or 0, **option_kwargs)
        turns.append(
            {
                **scores,
                "state_match": float(state),
                "turn_score": turn_score(scores["score"], state, call_range, options),
            }
        )
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


@register(MULTI_TURN_AGENT)
class BfclMultiTurnAgentLoop(AgentLoopBase):
    """Multi-turn rollouts on BFCL's simulators (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("tools", None)  # verl's per-worker tools: this loop's tools are the row's simulators
        super().__init__(*args, **kwargs)
        multi_turn = self.rollout_config.multi_turn
        self.response_length = self.rollout_config.response_length
        self.max_assistant_turns = multi_turn.get("max_assistant_turns")
        self.max_observation_chars = multi_turn.get("max_tool_response_length")
        self.truncate_side = multi_turn.get("tool_response_truncate_side", "middle")
        self.scorer = ToolRLRewardManager(self.config, self.tokenizer)
        self.options = self.scorer.options  # reward.reward_kwargs, read once by the manager

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        extra_info = kwargs.get("extra_info") or {}
        if "bfcl_entry" not in extra_info:
            raise ValueError(
                f"{MULTI_TURN_AGENT}: the row has no extra_info.bfcl_entry "
                "(rows come from data_preprocess.bfcl_multi_turn)"
            )
        entry = entry_from_spec(extra_info["bfcl_entry"])
        ground_truths = json.loads(kwargs["reward_model"]["ground_truth"])
        episode = training_episode(
            entry, extra_info.get("format", self.scorer.options.format), self.max_assistant_turns
        )
        metrics: dict[str, Any] = {}
        messages = episode.prompt()
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
            answered = len(episode.prompt())
            with simple_timer("tool_calls", metrics):
                episode.advance(text)
            if episode.done or len(response_mask) >= self.response_length:
                break
            updated = self._truncated(episode.prompt())
            # the stream already holds the output's tokens: what is new starts after its assistant message
            merged, new_mask, new_logprobs = await self.ct_merge_context_msg(
                updated[: answered + 1], updated, runtime_ids, response_mask, logprobs or None
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
                MULTI_TURN_FIELD: {**result, "steps": steps, "force_terminated": episode.force_quit},
            }
        )
        return out

    def _truncated(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        return [
            {**m, "content": truncate(m["content"], self.max_observation_chars, self.truncate_side)}
            if m["role"] == "tool"
            else m
            for m in messages
        ]
