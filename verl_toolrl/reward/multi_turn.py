"""Multi-turn rewards: one score per user turn, and the trajectory's reward from them.

A turn is scored twice (the agent loop, :mod:`verl_toolrl.plugin.multi_turn_agent_loop`, gathers the inputs):

- with the package's reward (:func:`verl_toolrl.reward.compute_score`, every variant and option) on the
  turn's response (:func:`turn_response`: the calls of all its steps merged into one output) against the
  turn's ground truth (BFCL's calls of that turn as a gold output);
- with BFCL's state match: the simulators after the turn equal those that ran the ground truth so far.

``turn_score = call score + state match`` (0 or 1), so a perfect turn scores the variant's maximum + 1;
under the ``mix`` aggregation it is ``w * state + (1 - w) * call score scaled to [0, 1]`` instead. The
trajectory's reward aggregates the turns (``reward.reward_kwargs.multi_turn_aggregation``): ``mean``
(default), ``last`` (the last turn only), ``bfcl`` (BFCL's binary per-entry verdict) or ``mix`` (the mean
of the mixed turn scores, NeMo RL's 0.5 state + 0.5 call match by default, ``multi_turn_state_weight``).
The options are the reward's one configuration, :class:`verl_toolrl.reward.config.RewardOptions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from verl_toolrl.core.calls import Format, parse_response, render_output
from verl_toolrl.reward.config import RewardOptions
from verl_toolrl.reward.score import SCORE_KEYS as SINGLE_TURN_KEYS

#: The ``extra_fields`` key under which the agent loop hands its per-turn record to the reward manager.
MULTI_TURN_FIELD = "toolrl_multi_turn"
#: Metrics a multi-turn trajectory adds to the single-turn reward's keys.
MULTI_TURN_KEYS: tuple[str, ...] = (
    "turns",
    "turns_reached",
    "state_match",
    "call_score",
    "bfcl_valid",
    "calls",
    "call_errors",
)
#: The keys of every row's ``reward_extra_info``, single- and multi-turn alike: verl gathers the batch's
#: ``reward_extra_info`` per key, so a batch mixing both kinds of rows needs one key set.
REWARD_EXTRA_KEYS: tuple[str, ...] = (*SINGLE_TURN_KEYS, *MULTI_TURN_KEYS)


def turn_response(outputs: Sequence[str], format: Format) -> str:
    """One turn's steps as the one response the reward scores: when every step parses, the calls of all
    steps in one call block (after the first step's think), or the last output when no step called; else
    the first output that does not parse (so the turn fails the format check).

    >>> print(turn_response([
    ...     '<think> a </think>\\n<tool_call>\\n{"name": "ls", "parameters": {}}\\n</tool_call>',
    ...     '<think> b </think>\\n<tool_call>\\n{"name": "cd", "parameters": {"folder": "x"}}\\n</tool_call>',
    ...     '<think> c </think>\\n<response> done </response>',
    ... ], "toolrl"))
    <think> a </think>
    <tool_call>
    {"name": "ls", "parameters": {}}
    {"name": "cd", "parameters": {"folder": "x"}}
    </tool_call>
    >>> turn_response([], "toolrl")
    ''
    """
    parsed = [parse_response(output.strip(), format) for output in outputs]
    for output, result in zip(outputs, parsed, strict=True):
        if not result.ok:
            return output
    calls = [call for result in parsed for call in result.calls]
    if not calls:
        return outputs[-1] if outputs else ""
    return render_output(parsed[0].think or "", calls, format=format)


def turn_score(call_score: float, state_match: bool, call_range: tuple[float, float], options: RewardOptions) -> float:
    """The score of one turn (see the module docstring).

    >>> mix = RewardOptions(multi_turn_aggregation="mix")
    >>> turn_score(4.0, True, (-3.0, 4.0), RewardOptions()), turn_score(0.5, True, (-3.0, 4.0), mix)
    (5.0, 0.75)
    """
    if options.multi_turn_aggregation != "mix":
        return float(call_score) + float(state_match)
    low, high = call_range
    scaled = (call_score - low) / (high - low) if high > low else float(call_score >= high)
    weight = options.multi_turn_state_weight
    return weight * float(state_match) + (1.0 - weight) * scaled


def aggregate(turn_scores: Sequence[float], bfcl_valid: bool, options: RewardOptions) -> float:
    """The trajectory's reward from its turn scores (and BFCL's verdict for ``bfcl``).

    >>> last = RewardOptions(multi_turn_aggregation="last")
    >>> aggregate([5.0, 1.0], False, RewardOptions()), aggregate([5.0, 1.0], False, last)
    (3.0, 1.0)
    >>> aggregate([5.0, 1.0], True, RewardOptions(multi_turn_aggregation="bfcl"))
    1.0
    """
    if options.multi_turn_aggregation == "bfcl":
        return 1.0 if bfcl_valid else 0.0
    if not turn_scores:
        return 0.0
    if options.multi_turn_aggregation == "last":
        return float(turn_scores[-1])
    return float(sum(turn_scores) / len(turn_scores))


def single_turn_scores(scores: Mapping[str, float]) -> dict[str, float]:
    """A single-turn row's reward (``compute_score``'s keys) with :data:`MULTI_TURN_KEYS` added, so it has the
    key set of a trajectory (:data:`REWARD_EXTRA_KEYS`): one turn, reached, its call score the reward; no
    call executes, so no calls, call errors, state match nor BFCL verdict (all 0).

    >>> from verl_toolrl.reward import compute_score
    >>> out, gt = "<think> a </think>\\n<response> b </response>", "<think> x </think>\\n<response> y </response>"
    >>> scores = single_turn_scores(compute_score("", out, gt))
    >>> tuple(scores) == REWARD_EXTRA_KEYS, scores["call_score"] == scores["score"], scores["state_match"]
    (True, True, 0.0)
    """
    return {
        **{key: float(scores[key]) for key in SINGLE_TURN_KEYS},
        "turns": 1.0,
        "turns_reached": 1.0,
        "state_match": 0.0,
        "call_score": float(scores["score"]),
        "bfcl_valid": 0.0,
        "calls": 0.0,
        "call_errors": 0.0,
    }


def trajectory_scores(record: Mapping[str, Any], options: RewardOptions) -> dict[str, float]:
    """The reward and its logged components from the agent loop's per-turn record
    (``extra_fields[MULTI_TURN_FIELD]``): ``score`` the aggregate, each single-turn key the mean over the
    entry's turns, then :data:`MULTI_TURN_KEYS` (together :data:`REWARD_EXTRA_KEYS`, in that order).

    >>> turn = {"score": 4.0, "format_reward": 1.0, "correctness_reward": 3.0, "length_reward": 0.0, "parsed": 1.0,
    ...         "num_calls": 1.0, "exact_match": 1.0, "state_match": 1.0, "turn_score": 5.0}
    >>> trajectory = {"turns": [turn, turn], "turns_reached": 2, "bfcl_valid": True, "calls": 2, "call_errors": 0}
    >>> scores = trajectory_scores(trajectory, RewardOptions())
    >>> scores["score"], scores["call_score"], scores["state_match"], scores["bfcl_valid"]
    (5.0, 4.0, 1.0, 1.0)
    >>> tuple(scores) == REWARD_EXTRA_KEYS
    True
    """
    turns = list(record["turns"])
    turn_scores = [float(turn["turn_score"]) for turn in turns]

    def mean(key: str) -> float:
        return float(sum(float(turn[key]) for turn in turns) / len(turns)) if turns else 0.0

    scores = {"score": aggregate(turn_scores, bool(record["bfcl_valid"]), options)}
    scores.update({key: mean(key) for key in SINGLE_TURN_KEYS if key != "score"})
    scores.update(
        {
            "turns": float(len(turns)),
            "turns_reached": float(record["turns_reached"]),
            "state_match": mean("state_match"),
            "call_score": mean("score"),
            "bfcl_valid": 1.0 if record["bfcl_valid"] else 0.0,
            "calls": float(record["calls"]),
            "call_errors": float(record["call_errors"]),
        }
    )
    return scores
