"""The weight sync on CPU: after an update large enough to move the policy, the vLLM rollout server samples
from the new weights, not the old ones.

verl compares, for every rollout of a step, the log-probabilities the rollout server reported while sampling
with those the actor computes before its update (``training/rollout_probs_diff_*``,
``training/rollout_actor_probs_pearson_corr``). At step 1 both hold the starting weights. Step 1's update (a
learning rate far above the recipe's) moves the actor; if the sync then fails, step 2's rollouts come from
the old weights and the two disagree by far more than numerical noise. The actor's KL to the reference (the
starting weights) at step 2 shows the policy did move. verl's real trainer, the tiny local policy, the demo
mix of the shared sample records; one run of about 4 minutes on a 2-core machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_cpu_training_on_cpu import _cpu_venv, run_train_cpu  # the CPU environment's check, one train_cpu.sh run

from verl_toolrl.checks.training_log import step_metrics
from verl_toolrl.cpu.demo import demo_mix_command

ROOT = Path(__file__).resolve().parents[2]
#: Mean |rollout - actor| log-probability allowed on one set of weights: float32 vLLM against FSDP on CPU
#: measures about 0.002 (lr 1e-4 runs, steps 1-3).
SAME_WEIGHTS_MEAN_DIFF = 0.01


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> dict[int, dict[str, float]]:
    """Two GRPO steps at actor lr 5e-3 (the recipe's: 1e-4), both logged."""
    data_dir = tmp_path_factory.mktemp("weight_sync") / "data"
    samples = shared_dir / "data" / "raw_samples"
    subprocess.run(
        demo_mix_command(data_dir, samples, python=str(_cpu_venv() / "bin" / "python")),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    metrics = data_dir.parent / "metrics.jsonl"  # verl's file logger, one JSON line a step
    output = run_train_cpu(
        data_dir,
        metrics,
        "trainer.total_training_steps=2",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        "actor_rollout_ref.actor.optim.lr=5e-3",
        # A Ray cluster of its own, not one another job on the machine started (ray.init would join it).
        "+ray_kwargs.ray_init.address=local",
    )
    logged = step_metrics(metrics)
    assert sorted(logged) == [1, 2], output[-6000:]
    return logged


def test_step_1s_update_moves_the_policy(two_steps: dict[int, dict[str, float]]) -> None:
    assert two_steps[1]["actor/reward_kl_penalty"] < 1e-6
    # The mean log-probability change of step 2's rollouts between the starting and the updated weights.
    assert two_steps[2]["actor/reward_kl_penalty"] > 10 * SAME_WEIGHTS_MEAN_DIFF


def test_the_rollout_samples_from_the_updated_weights(two_steps: dict[int, dict[str, float]]) -> None:
    for step in (1, 2):
        logged = two_steps[step]
        assert logged["training/rollout_probs_diff_valid"] == 1
        assert logged["training/rollout_probs_diff_mean"] < SAME_WEIGHTS_MEAN_DIFF, (step, logged)
        assert logged["training/rollout_actor_probs_pearson_corr"] > 0.999, (step, logged)
