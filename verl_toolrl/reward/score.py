"""``compute_score``: one response and its ground truth in, the reward and its components out.

This is the function verl calls (directly as ``reward.custom_reward_function``, or through the
``toolrl`` reward manager). ``score = format + correctness (+ length)``; see ``variants.py`` for each
variant's ranges and ``spec/REWARD.md`` for the released reward it reproduces. Model output never
raises; a malformed ground truth (it comes from data) raises ``ValueError`` saying what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from verl_toolrl.core.calls import (
    ARGUMENTS_KEY,
    CALL_OPEN,
    RESPONSE_OPEN,
    call_problem,
    describe_call_problem,
    loads_or_none,
    parse_response,
    released_call_lines,
)
from verl_toolrl.reward.config import OPTION_KEYS, RewardOptions
from verl_toolrl.reward.correctness import (
    VALUE_EQUALITIES,
    call_correctness,
    lists_equal,
    same_calls,
)
from verl_toolrl.reward.format import hermes_layout_ok, toolrl_layout_ok
from verl_toolrl.reward.length import length_reward
from verl_toolrl.reward.variants import (
    LENGTH_RANGE,
    VARIANTS,
    correctness_range,
    format_range,
    length_target,
)

#: The keys of every :func:`compute_score` result, all floats.
SCORE_KEYS: tuple[str, ...] = (
    "score",  # the reward
    "format_reward",
    "correctness_reward",
    "length_reward",  # 0.0 unless the variant has a length term
    "parsed",  # 1.0 when the response parsed without any error reason
    "num_calls",  # well-formed predicted calls
    "exact_match",  # 1.0 when the predicted calls equal the ground truth's (none for none)
)


DEFAULT_OPTIONS = RewardOptions()


@lru_cache(maxsize=256)
def _options(*values: Any) -> RewardOptions:
    return RewardOptions(*values)


def reward_options(**options: Any) -> RewardOptions:
    """Validated options from keyword arguments (any ``reward.reward_kwargs`` node); an unknown name is a
    ``ValueError`` listing the valid ones.

    >>> reward_options(variant="coarse").variant
    'coarse'
    >>> reward_options(varient="coarse")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: unknown reward option 'varient'; valid options: variant, format, matching, values, schedule_steps,
    think_prefill, multi_turn_aggregation, multi_turn_state_weight
    """
    if not options:
        return DEFAULT_OPTIONS
    for name in options:
        if name not in OPTION_KEYS:
            raise ValueError(f"unknown reward option {name!r}; valid options: {', '.join(OPTION_KEYS)}")
    return _options(*(options.get(name, getattr(DEFAULT_OPTIONS, name)) for name in OPTION_KEYS))


@dataclass(frozen=True)
class GroundTruth:
    """A validated target: its calls (JSON objects as decoded) and which blocks it has."""

    calls: tuple[dict, ...]
    has_call: bool
    has_response: bool


def _bad_ground_truth(problem: str, text: str) -> ValueError:
    return ValueError(f"malformed ground truth: {problem} (ground truth starts {text[:120]!r})")


def _check_call(value: Any, index: int, key: str, text: str) -> dict:
    problem = call_problem(value, key)
    if problem is not None:
        raise _bad_ground_truth(f"call {index} {describe_call_problem(problem, key)}", text)
    return value


@lru_cache(maxsize=1 << 16)
def parse_ground_truth(text: str, format: str = "toolrl") -> GroundTruth:
    """Read and validate a ground truth (cached: GRPO scores every prompt's target many times).

    >>> gt = parse_ground_truth('<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n</tool_call>')
    >>> gt.calls, gt.has_call, gt.has_response
    (({'name': 'f', 'parameters': {}},), True, False)
    >>> parse_ground_truth(
    ...     '<think> t </think>\\n<tool_call>\\n{"name": "f"}\\n</tool_call>'
    ... )  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: malformed ground truth: call 1 has no "parameters" object
    (ground truth starts '<think> t </think>\\n<tool_call>\\n{"name": "f"}\\n</tool_call>')
    """
    if not isinstance(text, str):
        raise ValueError(f"malformed ground truth: expected a string, got {type(text).__name__}")
    key = ARGUMENTS_KEY[format]
    if format == "hermes":
        parsed = parse_response(text, "hermes")
        if not parsed.ok or parsed.raw_calls is None:
            raise _bad_ground_truth(f"not a well-formed hermes response ({parsed.located_reason})", text)
        calls = tuple(_check_call(v, i, key, text) for i, v in enumerate(parsed.raw_calls, 1))
        return GroundTruth(calls, bool(calls), parsed.response is not None)
    has_call, has_response = CALL_OPEN in text, RESPONSE_OPEN in text
    if not has_call:
        return GroundTruth((), False, has_response)
    lines = released_call_lines(text)
    if lines is None:
        raise _bad_ground_truth("<tool_call> without a closing </tool_call>", text)
    calls = []
    for index, line in enumerate(lines, 1):
        ok, value = loads_or_none(line)
        if not ok:
            raise _bad_ground_truth(f"call line {index} is not valid JSON: {line[:80]!r}", text)
        calls.append(_check_call(value, index, key, text))
    return GroundTruth(tuple(calls), True, has_response)


@lru_cache(maxsize=1024)
def _ranges(variant: str, step: int, schedule_steps: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(format range, correctness range) of a variant at a step; cached, as steps repeat."""
    spec = VARIANTS[variant]
    return format_range(spec, step, schedule_steps), correctness_range(spec, step, schedule_steps)


def score_range(ground_truth: str, *, step: int = 0, **options: Any) -> tuple[float, float]:
    """(lowest, highest) score any response can get against ``ground_truth`` at ``step``.

    >>> score_range('<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {}}\\n</tool_call>')
    (-3.0, 4.0)
    >>> score_range('<think> t </think>\\n<response> hi </response>', variant="with_length")
    (0.0, 2.0)
    """
    opts = reward_options(**options)
    variant, gt = VARIANTS[opts.variant], parse_ground_truth(ground_truth, opts.format)
    if variant.binary:
        return 0.0, 1.0
    (format_low, format_high), (low, high) = _ranges(opts.variant, int(step), opts.schedule_steps)
    low, high = (low, high) if gt.has_call else (0.0, 0.0)
    length_low, length_high = LENGTH_RANGE if variant.length else (0.0, 0.0)
    return format_low + low + length_low, format_high + high + length_high


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: str,
    extra_info: dict | None = None,
    *,
    step: int = 0,
    **options: Any,
) -> dict[str, float]:
    """Score one decoded response against its ground truth; see ``SCORE_KEYS`` for the result.

    ``options`` are those of :class:`~verl_toolrl.reward.config.RewardOptions` (``variant``, ``format``,
    ``matching``, ``values`` and ``schedule_steps`` are read here; the manager's and the multi-turn options
    are accepted, so any ``reward.reward_kwargs`` node may be passed); ``step`` is the trainer's global
    step (read by the scheduled variants).
    ``data_source`` and ``extra_info`` are accepted for verl's signature and not read.

    >>> gt = '<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {"a": 1, "b": 2}}\\n</tool_call>'
    >>> out = '<think> t </think>\\n<tool_call>\\n{"name": "f", "parameters": {"a": 1}}\\n</tool_call>'
    >>> r = compute_score("rlla", out, gt)
    >>> r["score"], r["format_reward"], r["correctness_reward"]
    (1.75, 1.0, 0.75)
    >>> compute_score("rlla", "nonsense", gt)["score"], compute_score("rlla", "nonsense", gt, variant="binary")["score"]
    (-3.0, 0.0)
    """
    opts = reward_options(**options) if options else DEFAULT_OPTIONS
    step = int(step)  # numpy integers from verl's batch would turn the arithmetic below into numpy floats
    variant, key, value_eq = VARIANTS[opts.variant], ARGUMENTS_KEY[opts.format], VALUE_EQUALITIES[opts.values]
    gt = parse_ground_truth(ground_truth, opts.format)
    text = solution_str.strip() if isinstance(solution_str, str) else ""
    parsed = parse_response(text, opts.format)
    pred = parsed.raw_calls
    if opts.format == "toolrl":
        layout_ok = toolrl_layout_ok(text, gt.has_call, gt.has_response, parsed.reason is None)
    else:
        layout_ok = hermes_layout_ok(parsed, gt.has_call, gt.has_response)
        pred = pred or None  # no block at all is no call list, as in the toolrl format
    exact = lists_equal(gt.calls, pred or (), key, value_eq)

    if variant.binary:
        format_reward = float(layout_ok)
        correctness = float(same_calls(gt.calls, pred or (), key, value_eq))
        score, length = format_reward * correctness, 0.0
    else:
        (format_low, format_high), (low, high) = _ranges(opts.variant, step, opts.schedule_steps)
        format_reward = format_high if layout_ok else format_low
        correctness = 0.0
        if gt.has_call:
            if pred is not None and exact:
                correctness = high
            elif pred is None or variant.coarse:
                correctness = low
            else:
                correctness = call_correctness(
                    gt.calls,
                    pred,
                    low,
                    high,
                    key,
                    exact_lists=variant.exact_lists,
                    whole_call=variant.whole_call,
                    optimal=opts.matching == "optimal",
                    value_eq=value_eq,
                )
        length = 0.0
        if variant.length:
            length = length_reward(text, length_target(variant, step, opts.schedule_steps), *LENGTH_RANGE)
        score = format_reward + correctness + length
    return {  # every value is a Python float: the ranges and rewards above are computed in floats
        "score": score,
        "format_reward": format_reward,
        "correctness_reward": correctness,
        "length_reward": length,
        "parsed": 1.0 if parsed.reason is None else 0.0,
        "num_calls": float(parsed.num_calls),
        "exact_match": 1.0 if exact else 0.0,
    }
