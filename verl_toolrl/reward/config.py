"""The reward's one configuration: every key of ``reward.reward_kwargs``, its default and its valid values.

:class:`RewardOptions` is the dataclass of that node, read from a trainer config by :func:`reward_config`
through verl's own reader (``verl.utils.config.omega_conf_to_dataclass``, which merges the node into the
dataclass's structured config). Everything that takes reward settings takes this one object: the reward
(:func:`verl_toolrl.reward.compute_score`, keyword arguments named as its fields), the multi-turn
aggregation (:mod:`verl_toolrl.reward.multi_turn`), the reward manager and its think-prefill detection
(:mod:`verl_toolrl.plugin.reward_manager`) and the command-line checks (:mod:`verl_toolrl.checks.config`).

A bad key or value is one ``ValueError`` line naming it, the bad value and what is valid:
``<key>: unknown value 'x'; valid choices: ...`` from the dataclass, prefixed with ``reward.reward_kwargs.``
when read from a trainer config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from numbers import Real
from typing import Any

from omegaconf import DictConfig, OmegaConf

from verl_toolrl.core.calls import FORMATS
from verl_toolrl.core.chat_template import THINK_PREFILL_MODES
from verl_toolrl.reward.correctness import VALUE_EQUALITIES
from verl_toolrl.reward.variants import VARIANTS

#: The trainer-config node holding the reward's options.
NODE = "reward.reward_kwargs"
#: How predicted calls are matched to the ground truth's: greedy (released code) or optimal (assignment).
MATCHINGS: tuple[str, ...] = ("greedy", "optimal")
#: How a multi-turn trajectory's turn scores make its reward (see :mod:`verl_toolrl.reward.multi_turn`).
AGGREGATIONS: tuple[str, ...] = ("mean", "last", "bfcl", "mix")


def _positive(value: float) -> bool:
    return value > 0


def _unit_interval(value: float) -> bool:
    return 0.0 <= value <= 1.0


def _choice(default: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"choices": choices})


def _number(default: float, valid: Callable[[float], bool], meaning: str) -> Any:
    return field(default=default, metadata={"valid": valid, "meaning": meaning})


@dataclass(frozen=True)
class RewardOptions:
    """Every option of ``reward.reward_kwargs``, validated on construction.

    >>> RewardOptions(variant="dynamic").schedule_steps
    150
    >>> RewardOptions(variant="dinamic")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: variant: unknown value 'dinamic'; valid choices: original, with_length, dynamic_length, equal_max,
    two_stage, dynamic, finegrained, intermediate, coarse, binary
    >>> RewardOptions(multi_turn_aggregation="sum")
    Traceback (most recent call last):
    ...
    ValueError: multi_turn_aggregation: unknown value 'sum'; valid choices: mean, last, bfcl, mix
    """

    variant: str = _choice("original", tuple(VARIANTS))  # the paper's ablations, see variants.py
    format: str = _choice("toolrl", FORMATS)  # output format of responses and ground truths
    matching: str = _choice("greedy", MATCHINGS)
    values: str = _choice("exact", tuple(VALUE_EQUALITIES))  # exact (Python ==) | lenient (correctness.py)
    #: horizon of the step-scheduled variants (150 in the paper)
    schedule_steps: float = _number(150, _positive, "a positive number (the schedules' horizon)")
    #: the reward manager's: whether the chat template prefills a think block (core.chat_template)
    think_prefill: str = _choice("auto", THINK_PREFILL_MODES)
    multi_turn_aggregation: str = _choice("mean", AGGREGATIONS)
    #: weight of the state match under the ``mix`` aggregation (the call score gets the rest)
    multi_turn_state_weight: float = _number(
        0.5, _unit_interval, "a number in [0, 1] (the state match's weight under mix)"
    )

    def __post_init__(self) -> None:
        for spec in fields(self):
            problem = value_problem(spec.name, getattr(self, spec.name))
            if problem is not None:
                raise ValueError(f"{spec.name}: {problem}")


#: Every key ``reward.reward_kwargs`` may hold, in the order error messages list them.
OPTION_KEYS: tuple[str, ...] = tuple(spec.name for spec in fields(RewardOptions))
_FIELDS = {spec.name: spec for spec in fields(RewardOptions)}


def value_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the option ``key`` (None when it is valid).

    >>> value_problem("matching", "best")
    "unknown value 'best'; valid choices: greedy, optimal"
    >>> value_problem("schedule_steps", 0), value_problem("format", "hermes")
    ("0 is not a positive number (the schedules' horizon)", None)
    """
    metadata = _FIELDS[key].metadata
    if "choices" in metadata:
        choices = metadata["choices"]
        return None if value in choices else f"unknown value {value!r}; valid choices: {', '.join(choices)}"
    if isinstance(value, bool) or not isinstance(value, Real) or not metadata["valid"](value):
        return f"{value!r} is not {metadata['meaning']}"
    return None


def reward_config(config: Mapping[str, Any] | DictConfig) -> RewardOptions:
    """The validated options of a trainer config's ``reward.reward_kwargs`` node (the defaults when absent),
    read by verl's ``omega_conf_to_dataclass``; a bad key or value is a ``ValueError`` in one line.

    >>> reward_config({"reward": {"reward_kwargs": {"think_prefill": "open"}}}).think_prefill
    'open'
    >>> reward_config({"reward": {"reward_kwargs": {"varaint": "dynamic"}}})  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_kwargs.varaint: unknown key; valid keys: variant, format, matching, values,
    schedule_steps, think_prefill, multi_turn_aggregation, multi_turn_state_weight
    >>> reward_config({"reward": {"reward_kwargs": {"think_prefill": "yes"}}})
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_kwargs.think_prefill: unknown value 'yes'; valid choices: auto, none, open
    >>> reward_config({"reward": {"reward_kwargs": {"multi_turn_aggregation": "max"}}})
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_kwargs.multi_turn_aggregation: unknown value 'max'; valid choices: mean, last, bfcl, mix
    >>> reward_config({"reward": {"reward_kwargs": {"schedule_steps": "soon"}}})
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_kwargs.schedule_steps: 'soon' is not a positive number (the schedules' horizon)
    >>> reward_config({"reward": {"reward_kwargs": {"multi_turn_state_weight": 2}}})  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_kwargs.multi_turn_state_weight: 2 is not a number in [0, 1] (the state match's weight
    under mix)
    """
    # verl.utils.config imports torch: imported here so that the reward itself (compute_score, the data
    # and evaluation commands) never loads it; only a trainer config's reader pays for it.
    from omegaconf.errors import OmegaConfBaseException
    from verl.utils.config import omega_conf_to_dataclass

    node = reward_kwargs_node(config)
    for key in node:  # named here: verl's reader would say "Key 'x' not in 'RewardOptions'" over 3 lines
        if key not in OPTION_KEYS:
            raise ValueError(f"{NODE}.{key}: unknown key; valid keys: {', '.join(OPTION_KEYS)}")
    try:
        return omega_conf_to_dataclass(node, RewardOptions)
    except (OmegaConfBaseException, ValueError) as error:
        # OmegaConf's type check names the key (error.key); RewardOptions says "<key>: ...". Either way the
        # line names the value as written (OmegaConf turns a 2 into 2.0 before RewardOptions sees it).
        key = str(getattr(error, "key", None) or str(error).partition(":")[0])
        problem = value_problem(key, node[key]) if key in node and key in OPTION_KEYS else None
        raise ValueError(f"{NODE}.{key}: {problem or str(error).strip().splitlines()[0]}") from None


def reward_kwargs_node(config: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """The ``reward.reward_kwargs`` node of a trainer config as a plain dict (empty when absent).

    >>> reward_kwargs_node({"reward": {"reward_kwargs": {"variant": "coarse"}}}), reward_kwargs_node({})
    ({'variant': 'coarse'}, {})
    """
    node = (config.get("reward") or {}).get("reward_kwargs") or {}
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    return dict(node)
