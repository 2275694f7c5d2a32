"""The think-length reward of the ``with_length`` and ``dynamic_length`` variants."""

from __future__ import annotations

from verl_toolrl.core.calls import THINK_CLOSE, THINK_OPEN


def think_words(text: str) -> int | None:
    """Words in the last think block (text after the last ``<think>`` up to the next ``</think>``), or
    None when either tag is missing, as the released reward reads it.

    >>> think_words("<think> one two three </think>\\n<response> x </response>"), think_words("no think")
    (3, None)
    """
    if THINK_OPEN not in text or THINK_CLOSE not in text:
        return None
    start = text.rfind(THINK_OPEN) + len(THINK_OPEN)
    end = text.find(THINK_CLOSE, start)
    return len(text[start : end if end >= 0 else len(text)].split())


def length_reward(text: str, target_words: float, low: float = 0.0, high: float = 1.0) -> float:
    """``min(1, round(words / target_words, 2))`` mapped onto [low, high]; ``low`` without a think block.

    >>> length_reward("<think> " + "word " * 256 + "</think>", 512)
    0.5
    """
    words = think_words(text)
    if words is None:
        return low
    fraction = round(words / target_words, 2)
    if fraction > 1.0:
        fraction = 1.0
    return fraction * (high - low) + low
