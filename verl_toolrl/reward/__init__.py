"""The ToolRL reward: format, tool-call correctness and think length, with every paper variant.

>>> from verl_toolrl.reward import compute_score
>>> gt = '<think> t </think>\\n<response> Hello! </response>'
>>> compute_score("rlla", "<think> greet </think>\\n<response> Hi </response>", gt)["score"]
1.0
"""

from verl_toolrl.reward.config import MATCHINGS, OPTION_KEYS, RewardOptions, reward_config
from verl_toolrl.reward.score import (
    SCORE_KEYS,
    GroundTruth,
    compute_score,
    parse_ground_truth,
    reward_options,
    score_range,
)
from verl_toolrl.reward.variants import VARIANTS, Variant

__all__ = [
    "MATCHINGS",
    "OPTION_KEYS",
    "SCORE_KEYS",
    "VARIANTS",
    "GroundTruth",
    "RewardOptions",
    "Variant",
    "compute_score",
    "parse_ground_truth",
    "reward_config",
    "reward_options",
    "score_range",
]
