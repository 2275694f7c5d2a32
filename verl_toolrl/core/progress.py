"""The progress bar of every long-running command (data conversion, generation, scoring).

>>> list(progress_bar([1, 2], description="demo", enabled=False))
[1, 2]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress_bar(
    items: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    description: str,
    unit: str = "item",
    enabled: bool = True,
) -> Any:
    """A ``tqdm`` bar over ``items`` (or one updated by hand up to ``total``), shown only when
    ``enabled`` and stderr is a terminal; usable as a context manager."""
    return tqdm(items, total=total, desc=description, unit=unit, mininterval=0.5, disable=None if enabled else True)
