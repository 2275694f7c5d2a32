"""verl's real trainer on CPU: ``recipes/train_cpu.sh`` runs ``verl.trainer.main_ppo`` (FSDP2 actor, vLLM CPU
rollout server, the toolrl reward manager, GRPO/GAE/GDPO updates, weight sync, validation, checkpoints) with
the tiny local policy on the demo mix built from the shared sample records. Everything is real; the policy
is tiny. Each run takes minutes on a 2-core machine, so the runs are shared by the tests of this module.

The CPU environment (``.venv-cpu``) is built by ``recipes/setup.sh`` on machines without a GPU; on a GPU
machine, where setup does not build it, these tests skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import torch
from test_benchmarks_on_cpu import run_smoke  # tests/test_benchmarks_on_cpu.py: exit 0, every result MET
from transformers import AutoModelForCausalLM, AutoTokenizer

from verl_toolrl.checks.training_log import rollout_records, step_metrics, step_rewards
from verl_toolrl.core.trajectories import group_of
from verl_toolrl.cpu.tiny_policy import CONTEXT_TOKENS, examples_from_parquet
from verl_toolrl.plugin.rollout_subsample import mean_group_std
from verl_toolrl.reward import compute_score

ROOT = Path(__file__).resolve().parents[2]
CPU_VENV = ROOT / ".venv-cpu"
COMPONENTS = ("format_reward", "correctness_reward", "length_reward", "parsed", "num_calls", "exact_match")
RUN_TIMEOUT_S = 1200


def _cpu_venv() -> Path:
    if not (CPU_VENV / "bin" / "python").exists():
        if shutil.which("nvidia-smi"):
            pytest.skip("a GPU machine: recipes/setup.sh builds the CPU training environment only without a GPU")
        pytest.fail(f"{CPU_VENV} is missing: bash recipes/setup.sh builds it on machines without a GPU")
    return CPU_VENV


def run_train_cpu(
    data_dir: Path, metrics: Path, *overrides: str, recipe: str = "toolrl_grpo_cpu", val_split: str = "test"
) -> str:
    """Run recipes/train_cpu.sh to the end; its output (the test fails with the output's end on exit != 0)."""
    env = {
        "DATA_DIR": str(data_dir),
        "VAL_SPLIT": val_split,
        "RECIPE": recipe,
        "VERL_FILE_LOGGER_PATH": str(metrics),
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
    }
    result = subprocess.run(
        ["bash", "recipes/train_cpu.sh", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


def train(data_dir: Path, metrics: Path, *overrides: str, recipe: str = "toolrl_grpo_cpu") -> dict:
    """Run recipes/train_cpu.sh to the end; the step metrics verl's file logger wrote to ``metrics``."""
    run_train_cpu(data_dir, metrics, *overrides, recipe=recipe)
    return step_metrics(metrics)


#: Two steps with the prompt filter on the first 3 training rows, 2 a batch, in order, every scored group
#: counted as settled (any spread <= 1e9): batch 2 asks for rows 0 and 1, scored in step 1, and must get
#: row 2 twice, the one prompt not settled, which only the scores of step 1 reaching the filter explain.
PROMPT_FILTER_RUN = (
    "toolrl/prompt_filter=variance",
    "data.prompt_filter.min_std=1e9",
    "data.shuffle=false",
    "data.train_max_samples=3",
    "data.train_batch_size=2",
    "actor_rollout_ref.actor.ppo_mini_batch_size=2",
    "trainer.total_training_steps=2",
    "trainer.total_epochs=2",  # one batch an epoch
    "trainer.test_freq=-1",
    "trainer.val_before_train=false",
    "trainer.save_freq=-1",
)


def assert_the_filter_skipped_the_scored_rows(output: str) -> None:
    """The prompt filter's lines of a :data:`PROMPT_FILTER_RUN`: nothing known in batch 1; in batch 2, rows 0
    and 1 skipped for row 2, each with its group's scores."""
    assert "prompt filter: batch 1: 2 prompts served, 0 settled skipped" in output
    scores = r"its \d+ latest rollouts (all scored [+-]\d+\.\d\d|scored [+-]\d+\.\d\d to [+-]\d+\.\d\d)"
    skipped = [rf"prompt {row} \({scores}; prompt 2 served\)" for row in (0, 1)]
    batch_2 = re.search(r"prompt filter: batch 2: .*", output)
    assert batch_2 and re.fullmatch(
        rf"prompt filter: batch 2: 2 prompts served, 2 settled skipped: {skipped[0]}, {skipped[1]}", batch_2[0]
    ), batch_2


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> dict:
    """A newcomer's README command on a machine without a GPU or hub: the checks, the demo mix of the shared
    sample records, then two GRPO steps on CPU with the step-scheduled ``dynamic`` variant, validated after
    step 2, checkpointed at step 2."""
    _cpu_venv()
    data_dir = tmp_path_factory.mktemp("quickstart") / "data"
    env = {
        "DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
    }
    overrides = [
        "reward.reward_kwargs.variant=dynamic",
        "trainer.total_training_steps=2",
        "trainer.test_freq=2",
        "trainer.save_freq=2",
    ]
    result = subprocess.run(
        ["bash", "-c", '. .venv/bin/activate && exec bash recipes/quickstart.sh "$@"', "quickstart", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    demo = data_dir.parent / "data-samples"
    run_dir = demo / "cpu-run"
    metrics = step_metrics(run_dir / "metrics.jsonl")
    return {"stdout": result.stdout, "data": demo, "dir": run_dir, "metrics": metrics}


def test_the_quickstart_checks_then_trains_on_cpu_and_prints_each_steps_rewards(quickstart: dict) -> None:
    out = quickstart["stdout"]
    steps = [
        "== 1/4 plugin and settings",
        "reward manager 'toolrl': registered",
        "== 2/4 data",
        "far too small to train on",
        "== 3/4 recipe",
        "verl validate_config passed",
        "built ToolRLRewardManager with RewardOptions(variant='dynamic'",
        "preflight: all checks passed",
        "== 4/4 training",
        "training on CPU instead",
        "building the tiny local policy",
        # verl's console lines (step:1, step:2) stream from a Ray worker through Ray's log monitor, best-effort:
        # on a loaded machine the driver can exit before they arrive, so the steps are checked in the table,
        # which comes from verl's file logger.
        "| step | score mean |",
        "To train a real model, on a GPU machine run:",
    ]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    assert re.search(r"train\.parquet: (\d+)/\1 ground truths at the maximum", out)
    table = out[out.index("| step | score mean |") :].splitlines()
    assert [row.split("|")[1].strip() for row in table[2:4]] == ["1", "2"]
    assert "bash recipes/run_toolrl.sh reward.reward_kwargs.variant=dynamic" in out


def test_the_tiny_policy_read_back_as_verl_reads_it_writes_the_answers_it_was_warm_started_on(quickstart: dict) -> None:
    """The warm start trains on the token ids verl and vLLM give: the tokenizer as ``AutoTokenizer`` reads it
    back, a Qwen2Tokenizer whose pre-tokenizer splits digits one at a time. Warm-started on the ids of the
    tokenizer as built (digits grouped), the policy wrote another tool's name or broken arguments on 5 of the
    8 demo prompts, greedily."""
    folder = quickstart["data"] / "tiny-policy"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    answers = []
    for example in examples_from_parquet(quickstart["data"] / "train.parquet"):
        text = tokenizer.apply_chat_template(example.messages, tokenize=False, add_generation_prompt=True)
        prompt = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][:, -CONTEXT_TOKENS:]
        with torch.no_grad():
            output = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=400)
        answers.append(tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True) == example.target)
    assert sum(answers) >= 7, answers


def test_grpo_steps_log_rewards_and_update_the_policy(quickstart: dict) -> None:
    metrics = quickstart["metrics"]
    assert sorted(metrics) == [1, 2]
    for step in metrics.values():
        assert {"critic/score/mean", "critic/score/min", "critic/score/max", "actor/grad_norm"} <= step.keys()
    # The warm-started policy's rollouts differ in reward inside a group, so GRPO's advantages are not all zero
    # and the update has a signal. (A step without one still shows a tiny grad_norm, 0.003 in one run, so the
    # gradient is checked on the steps with nonzero advantages.)
    signal = [step for step in metrics.values() if step["critic/advantages/max"] > step["critic/advantages/min"]]
    assert signal
    for step in signal:
        assert step["critic/score/max"] > step["critic/score/min"] and step["actor/grad_norm"] > 0
    assert all(step["prompt_length/max"] <= CONTEXT_TOKENS for step in metrics.values())


def test_validation_logs_every_reward_component(quickstart: dict) -> None:
    validated = quickstart["metrics"][2]
    sources = {key.split("/")[1] for key in validated if key.startswith("val-core/")}
    assert sources  # one per data_source of test.parquet
    for source in sources:
        assert f"val-core/{source}/reward/mean@1" in validated
        for component in COMPONENTS:
            assert f"val-aux/{source}/{component}/mean@1" in validated


def test_the_scheduled_variant_receives_the_trainers_steps(quickstart: dict) -> None:
    records = rollout_records(quickstart["dir"] / "rollouts")
    assert sorted(records) == [1, 2]
    summary = step_rewards(records, variant="dynamic")
    # Every logged score is the dynamic variant's at the step the trainer ran, ...
    assert all(step["score_mismatch"] == 0 and step["responses"] == 8 for step in summary.values())
    # 2 groups of 4 rollouts a step: the share of groups without a GRPO signal is 0, 1/2 or 1, and it is 1
    # exactly at the steps where verl's own GRPO advantages are all zero.
    assert all(step["zero_variance_groups"] in (0.0, 0.5, 1.0) for step in summary.values())
    for number, step in summary.items():
        logged = quickstart["metrics"][number]
        flat = logged["critic/advantages/max"] == logged["critic/advantages/min"] == 0
        assert (step["zero_variance_groups"] == 1.0) == flat, (number, step, logged)
    # ... which is not what the same responses score at another step.
    rows = [(step, row) for step, step_rows in records.items() for row in step_rows]
    assert any(
        abs(compute_score("", row["output"], row["gts"], step=step + 1, variant="dynamic")["score"] - row["score"])
        > 1e-4
        for step, row in rows
    )


def test_training_resumes_from_the_saved_checkpoint_with_gdpo(quickstart: dict) -> None:
    # One run proves two things (each trainer run costs minutes here): it resumes from the quickstart's step-2
    # checkpoint, and its step 3 runs GDPO, which normalises format and correctness separately. verl 0.9.1's
    # v1 trainer does not hand the reward components to the estimator; its legacy trainer does, and it reads
    # the v1 trainer's checkpoint.
    checkpoints = quickstart["dir"] / "checkpoints"
    assert (checkpoints / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert (checkpoints / "global_step_2" / "actor").is_dir()
    metrics = train(
        quickstart["data"],
        quickstart["dir"] / "resumed.jsonl",
        "reward.reward_kwargs.variant=dynamic",
        "trainer.total_training_steps=3",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        f"trainer.default_local_dir={checkpoints}",
        "algorithm.adv_estimator=gdpo",
        "+algorithm.gdpo_reward_keys=[format_reward,correctness_reward]",
        "trainer.use_v1=false",
    )
    assert sorted(metrics) == [3]
    step = metrics[3]
    assert "critic/advantages/mean" in step and "actor/grad_norm" in step
    assert {"gdpo/format_reward/mean", "gdpo/correctness_reward/mean"} <= step.keys()


def test_the_prompt_filter_skips_prompts_whose_scored_rollouts_settled(quickstart: dict, tmp_path: Path) -> None:
    output = run_train_cpu(
        quickstart["data"], tmp_path / "metrics.jsonl", *PROMPT_FILTER_RUN, f"trainer.default_local_dir={tmp_path}"
    )
    assert_the_filter_skipped_the_scored_rows(output)
    assert sorted(step_metrics(tmp_path / "metrics.jsonl")) == [1, 2]


def test_rollout_subsampling_trains_each_group_on_its_largest_variance_half(quickstart: dict, tmp_path: Path) -> None:
    """Two steps with ``toolrl/rollout_subsample=max_variance`` (2 of each group's 4 rollouts): the trainer
    dumps, and so trained on, 2 rollouts of each of the step's 2 groups, and the spread the sub-sampler
    printed for what it kept is the dump's."""
    output = run_train_cpu(
        quickstart["data"],
        tmp_path / "metrics.jsonl",
        "toolrl/rollout_subsample=max_variance",
        "actor_rollout_ref.actor.ppo_mini_batch_size=1",  # the 4 kept rollouts a step, in mini-batches of 1 x 4
        "trainer.total_training_steps=2",
        "trainer.test_freq=-1",
        "trainer.val_before_train=false",
        "trainer.save_freq=-1",
        f"trainer.rollout_data_dir={tmp_path / 'rollouts'}",
        f"trainer.default_local_dir={tmp_path}",
    )
    lines = re.findall(
        r"rollout subsample: step (\d+): trained on 4 of 8 rollouts, 2 of each group's 4; "
        r"mean group std (\d+\.\d\d), kept (\d+\.\d\d)",
        output,
    )
    assert [int(step) for step, _, _ in lines] == [1, 2], output[-3000:]
    dumps = rollout_records(tmp_path / "rollouts")
    assert sorted(dumps) == [1, 2] and sorted(step_metrics(tmp_path / "metrics.jsonl")) == [1, 2]
    for (step, spread, kept), rows in zip(lines, (dumps[1], dumps[2]), strict=True):
        groups = Counter(group_of(row["uid"]) for row in rows)
        assert list(groups.values()) == [2, 2], (step, groups)
        dumped = mean_group_std([row["uid"] for row in rows], [float(row["score"]) for row in rows])
        assert f"{dumped:.2f}" == kept and float(kept) >= float(spread), (step, spread, kept)


def test_ppo_trains_a_critic_and_the_actor_with_gae(quickstart: dict, tmp_path: Path) -> None:
    metrics = train(
        quickstart["data"],
        tmp_path / "metrics.jsonl",
        "trainer.total_training_steps=1",
        "trainer.test_freq=-1",
        f"trainer.default_local_dir={tmp_path}",
        recipe="toolrl_ppo_cpu",
    )
    (step,) = metrics.values()
    assert {"critic/vf_loss", "critic/values/mean", "critic/vf_explained_var", "actor/grad_norm"} <= step.keys()
    # GAE advantages come from the critic's values, which differ per token: not all zero as without a critic.
    assert step["critic/advantages/max"] > step["critic/advantages/min"]


def test_the_cpu_training_benchmark_reaches_its_verdict_on_the_quickstart_run(quickstart: dict, tmp_path: Path) -> None:
    # At smoke size the benchmark reads the run the quickstart trained (verl's JSONL and the rollout dump)
    # instead of training again: a third trainer start would cost CI minutes and prove nothing new.
    output = run_smoke(
        ROOT / "benchmarks" / "bench_cpu_training.py",
        "--metrics",
        str(quickstart["dir"] / "metrics.jsonl"),
        "--rollouts",
        str(quickstart["dir"] / "rollouts"),
        "--output",
        str(tmp_path),
    )
    assert "target steady-state step" in output and (tmp_path / "steps.csv").is_file()
