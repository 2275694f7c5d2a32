"""The evaluation protocols: how a benchmark's prompts are written and its outputs decoded and scored.

- ``toolrl`` (the default): as ToolRL's own evaluation code did, so numbers sit next to the paper's:
  BFCL through its handler ``benchmarks/BFCL/rlla_qwen.py`` (prompts and ``decode_ast``), API-Bank
  through ``benchmarks/API-Bank/generate.py`` (parsing) and ``evaluate.py`` (scoring), quirks included;
  generation as those scripts ran it (greedy; up to 4,096 new tokens). The ``toolrl`` output format only.
- ``strict``: the package's own prompts (``verl_toolrl.core.prompts``) and parser (``calls.parse_response``,
  with its reason codes), in either output format: a stricter measurement, and the one for hermes models.
"""

from __future__ import annotations

from typing import Literal

Protocol = Literal["toolrl", "strict"]
PROTOCOLS: tuple[str, ...] = ("toolrl", "strict")
DEFAULT_PROTOCOL: Protocol = "toolrl"
#: New tokens per generation when the user gives none: ToolRL's scripts asked for 4,096 (BFCL's
#: ``OSSHandler``: ``min(4096, context left)``; API-Bank ``generate.py``: ``max_tokens=4096``).
MAX_NEW_TOKENS: dict[str, int] = {"toolrl": 4096, "strict": 1024}


def default_protocol(format: str) -> Protocol:
    """The protocol a run gets when none is asked for: ``toolrl``, except for the hermes format, which
    ToolRL's code cannot read.

    >>> default_protocol("toolrl"), default_protocol("hermes")
    ('toolrl', 'strict')
    """
    return DEFAULT_PROTOCOL if format == "toolrl" else "strict"


def check_protocol(protocol: str, format: str = "toolrl") -> Protocol:
    """``protocol`` if known and usable with the output ``format``, else ``ValueError`` naming the choices.

    >>> check_protocol("strict", "hermes")
    'strict'
    >>> check_protocol("toolrl", "hermes")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: --protocol toolrl evaluates the toolrl output format only
    (ToolRL's handler and scripts read <tool_call> lines of JSON); use --protocol strict for --format hermes
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if protocol == "toolrl" and format != "toolrl":
        raise ValueError(
            "--protocol toolrl evaluates the toolrl output format only (ToolRL's handler and scripts read "
            f"<tool_call> lines of JSON); use --protocol strict for --format {format}"
        )
    return protocol  # type: ignore[return-value]
