"""Shared fixtures: the read-only project material in ../shared (skipped with a reason when absent) and a
scratch BFCL_PROJECT_ROOT."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED} (it sits beside the repository in CI)")
    return SHARED


@pytest.fixture(scope="module")
def bfcl_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A scratch ``BFCL_PROJECT_ROOT`` for one test module (importing ``bfcl_eval`` writes folders there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BFCL_PROJECT_ROOT", str(tmp_path_factory.mktemp("bfcl_project_root")))
        yield
