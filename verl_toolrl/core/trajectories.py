"""verl's trajectory keys: which GRPO group (prompt) a rollout belongs to.

verl's v1 trainer stores each rollout under ``{uid}_{session}_{index}`` (the prompt's uid, the rollout's
number in its group, the output's index in a multi-output session) and dumps it as ``uid`` in
``trainer.rollout_data_dir``; the rollout sub-sampler and the training-log reader both group by it.
"""

from __future__ import annotations

from collections.abc import Iterable


def group_of(key: str) -> str:
    """The GRPO group (the prompt's uid) of a trajectory key ``{uid}_{session}_{index}``; a key of another
    shape is its own group.

    >>> group_of("8f2c-41_3_0"), group_of("plain")
    ('8f2c-41', 'plain')
    """
    parts = key.rsplit("_", 2)
    return parts[0] if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else key


def groups_of(keys: Iterable[str]) -> dict[str, list[int]]:
    """The positions of ``keys`` by :func:`group_of`, groups in order of first appearance.

    >>> groups_of(["a_0_0", "b_0_0", "a_1_0"])
    {'a': [0, 2], 'b': [1]}
    """
    groups: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(group_of(key), []).append(position)
    return groups
