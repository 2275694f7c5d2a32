"""What a reader of the code relies on: every document the code cites is in the repository, and code
comments carry no issue numbers (they say why, not which ticket)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    path
    for folder in ("verl_toolrl", "tests", "benchmarks", "data_preprocess")
    for path in (ROOT / folder).rglob("*.py")
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_cited_spec_files_are_in_the_repository(path):
    for cited in re.findall(r"\bspec/[\w.-]+\.md\b", path.read_text(encoding="utf-8")):
        assert (ROOT / cited).is_file(), f"{path.name} cites {cited}, which is not in the repository"


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_issue_numbers_in_comments(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        comment = line.split("#", 1)[1] if "#" in line else ""
        assert not re.search(r"\bissue\s*#?\d", comment, re.IGNORECASE), f"{path.name}:{number}: {line.strip()}"
