"""Every case the released ToolRL code scored (shared/spec/reward_vectors.jsonl) matches to 1e-9."""

from __future__ import annotations

import json

import pytest

from verl_toolrl.reward import VARIANTS, compute_score

PAPER_VARIANTS = [name for name in VARIANTS if name != "binary"]
COMPONENTS = ("score", "format_reward", "correctness_reward", "length_reward")


@pytest.fixture(scope="module")
def vectors(shared_dir):
    with open(shared_dir / "spec" / "reward_vectors.jsonl") as handle:
        return [json.loads(line) for line in handle]


def test_vectors_cover_every_paper_variant(vectors):
    assert len(vectors) == 1044
    assert {row["variant"] for row in vectors} == set(PAPER_VARIANTS)


@pytest.mark.parametrize("variant", PAPER_VARIANTS)
def test_released_scores_reproduced(vectors, variant):
    rows = [row for row in vectors if row["variant"] == variant]
    mismatches = []
    for row in rows:
        got = compute_score("rlla", row["prediction"], row["ground_truth"], step=row["step"], variant=variant)
        for key in COMPONENTS:
            if abs(got[key] - row[key]) > 1e-9:
                mismatches.append((row["step"], key, got[key], row[key], row["prediction"][:200]))
    assert not mismatches, mismatches[:5]
