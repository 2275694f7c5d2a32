"""A plugin option group from its Hydra config node: the node's keys checked against a dataclass's fields.

The prompt filter (``data.prompt_filter``) and the rollout sub-sampler
(``trainer.v1.sampler.sampler_kwargs``) read their options through :func:`options_from_config`, so both
refuse a misspelt or missing key alike, naming it in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

Options = TypeVar("Options")


def options_from_config(cls: type[Options], node: Mapping[str, Any] | DictConfig | None, prefix: str) -> Options:
    """``cls`` (a dataclass) built from a config node; a key it does not know, or a field without a default
    that the node lacks, is a ``ValueError`` naming ``prefix.key``.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Sampler:
    ...     keep: int
    ...     seed: int = 0
    >>> options_from_config(Sampler, {"keep": 2}, "sampler_kwargs")
    Sampler(keep=2, seed=0)
    >>> options_from_config(Sampler, {"keep": 2, "sed": 1}, "sampler_kwargs")
    Traceback (most recent call last):
    ...
    ValueError: sampler_kwargs.sed: unknown option; known: keep, seed
    >>> options_from_config(Sampler, None, "sampler_kwargs")
    Traceback (most recent call last):
    ...
    ValueError: sampler_kwargs.keep: missing; known: keep, seed
    """
    values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    specs = fields(cls)  # type: ignore[arg-type]
    names = [spec.name for spec in specs]
    known = ", ".join(names)
    for key in values:
        if key not in names:
            raise ValueError(f"{prefix}.{key}: unknown option; known: {known}")
    for spec in specs:
        if spec.name not in values and spec.default is MISSING and spec.default_factory is MISSING:
            raise ValueError(f"{prefix}.{spec.name}: missing; known: {known}")
    return cls(**values)
