"""The reward variants: one table saying what each named variant changes, and the step schedules.

Every variant of the ToolRL paper's ablations (and ``binary`` from Nemotron-Tool-N1) is one row of
``VARIANTS``; nothing else in the package restates which variant does what. The schedules reproduce the
released code's arithmetic operation by operation, so scores match it to the last bit.

Ranges at the defaults (``schedule_steps=150``), as ``(min, max)``:

==============  ===============  =================  ==========  =================
variant         format           correctness        length      score
==============  ===============  =================  ==========  =================
original        [0, 1]           [-3, 3]            –           [-3, 4]
with_length     [0, 1]           [-3, 3]            [0, 1]      [-3, 5]
dynamic_length  [0, 1]           [-3, 3]            [0, 1]      [-3, 5]
equal_max       [0, 1]           [-1, 1]            –           [-1, 2]
two_stage       [0, 1]/[0, 0.5]  [-1, 1]/[-3, 3]    –           [-1, 2]/[-3, 3.5]
dynamic         [-2, 2]..[-1, 1] [-2, 2]..[-3, 3]   –           within [-4, 4]
finegrained     [0, 1]           [-3, 3]            –           [-3, 4]
intermediate    [0, 1]           [-3, 3]            –           [-3, 4]
coarse          [0, 1]           [-3, 3]            –           [-3, 4]
binary          {0, 1}           {0, 1}             –           {0, 1}
==============  ===============  =================  ==========  =================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Variant:
    """What one named variant changes relative to ``original``."""

    length: Literal["fixed", "scheduled"] | None = None  # add the think-length reward
    correctness_max: float = 3.0  # correctness range is [-correctness_max, correctness_max]
    schedule: Literal["two_stage", "dynamic"] | None = None  # step-dependent ranges
    exact_lists: bool = False  # `finegrained`: name/key match is 1 if lists are equal, else 0
    whole_call: bool = False  # `intermediate`: a call counts 1 only if the whole object is equal
    coarse: bool = False  # exact call-list equality -> max, anything else -> min
    binary: bool = False  # all-or-nothing reward (Nemotron-Tool-N1)


VARIANTS: dict[str, Variant] = {
    "original": Variant(),
    "with_length": Variant(length="fixed"),
    "dynamic_length": Variant(length="scheduled"),
    "equal_max": Variant(correctness_max=1.0),
    "two_stage": Variant(schedule="two_stage"),
    "dynamic": Variant(schedule="dynamic"),
    "finegrained": Variant(exact_lists=True),
    "intermediate": Variant(whole_call=True),
    "coarse": Variant(coarse=True),
    "binary": Variant(binary=True),
}

FORMAT_RANGE = (0.0, 1.0)
LENGTH_RANGE = (0.0, 1.0)
LENGTH_TARGET_WORDS = 512  # think length that earns the full length reward (fixed schedule)


def format_range(variant: Variant, step: int, schedule_steps: float = 150) -> tuple[float, float]:
    """(min, max) of the format reward at ``step``.

    >>> format_range(VARIANTS["original"], 0)
    (0.0, 1.0)
    >>> format_range(VARIANTS["two_stage"], 30), format_range(VARIANTS["dynamic"], 0)
    ((0.0, 0.5), (-2.0, 2.0))
    """
    low, high = FORMAT_RANGE
    if variant.schedule == "two_stage" and step >= schedule_steps / 5:
        high, low = high / 2, low / 2
    elif variant.schedule == "dynamic":
        high = 2 - (2 - high) * step / schedule_steps
        low = -2 + (2 + low) * step / schedule_steps
        high = 1.0 if high < 1.0 else high
        low = -1.0 if low > -1.0 else low
    return low, high


def correctness_range(variant: Variant, step: int, schedule_steps: float = 150) -> tuple[float, float]:
    """(min, max) of the tool-call correctness reward at ``step``.

    >>> correctness_range(VARIANTS["original"], 0), correctness_range(VARIANTS["equal_max"], 0)
    ((-3.0, 3.0), (-1.0, 1.0))
    >>> correctness_range(VARIANTS["two_stage"], 29), correctness_range(VARIANTS["dynamic"], 75)
    ((-1.0, 1.0), (-2.5, 2.5))
    """
    high, low = variant.correctness_max, -variant.correctness_max
    if variant.schedule == "two_stage" and step < schedule_steps / 5:
        high, low = high / 3, low / 3
    elif variant.schedule == "dynamic":
        high = (high - 2) * step / schedule_steps + 2
        low = (low + 2) * step / schedule_steps - 2
        high = 3.0 if high > 3.0 else high
        low = -3.0 if low < -3.0 else low
    return low, high


def length_target(variant: Variant, step: int, schedule_steps: float = 150) -> float:
    """Think length (in words) that earns the full length reward: 512, or in the scheduled variant
    384 growing by 256 words every 0.7·``schedule_steps`` steps (105 in the paper), without a cap.

    >>> length_target(VARIANTS["with_length"], 10), length_target(VARIANTS["dynamic_length"], 105)
    (512, 640.0)
    """
    if variant.length != "scheduled":
        return LENGTH_TARGET_WORDS
    return (640 - 384) * step / (schedule_steps * 7 / 10) + 384
