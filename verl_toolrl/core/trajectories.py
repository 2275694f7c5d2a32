"""verl's trajectory keys: which GRPO group (prompt) a rollout belongs to.

verl's v1 trainer stores each rollout under ``{uid}_{session}_{index}`` (the prompt's uid, the rollout's
number in its group, the output's index in a multi-output session) and dumps it as ``uid`` in
``trainer.rollout_data_dir``; the rollout sub-sampler and the training-log reader both group by it.
"""

from __future__ import annotations


def group_of(key: str) -> str:
    """The GRPO group (the prompt's uid) of a trajectory key ``{uid}_{session}_{index}``; a key of another
    shape is its own group.

    >>> group_of("8f2c-41_3_0"), group_of("plain")
    ('8f2c-41', 'plain')
    """
    parts = key.rsplit("_", 2)
    return parts[0] if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else key
