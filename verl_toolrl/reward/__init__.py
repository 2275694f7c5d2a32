"""The ToolRL reward: format, tool-call correctness and think length, with every paper variant.

>>> from verl_toolrl.reward import compute_score
>>> gt = '<think> t </think>\\n<response> Hello! </response>'
>>> compute_score("rlla", "<think> greet </think>\\n<response> Hi </response>", gt)["score"]
1.0
"""

from verl_toolrl.reward.score import (
    MATCHINGS,
    OPTION_NAMES,
    SCORE_KEYS,
    GroundTruth,
    RewardOptions,
    compute_score,
    parse_ground_truth,
    reward_options,
    score_range,
)
from verl_toolrl.reward.variants import VARIANTS, Variant

__all__ = [
    "MATCHINGS",
    "OPTION_NAMES",
    "SCORE_KEYS",
    "VARIANTS",
    "GroundTruth",
    "RewardOptions",
    "Variant",
    "compute_score",
    "parse_ground_truth",
    "reward_options",
    "score_range",
]
