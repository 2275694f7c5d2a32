"""Reward-manager throughput: ``toolrl`` against verl's ``naive`` manager running the same reward.

One GRPO step of the paper's recipe: 512 prompts x 4 rollouts = 2,048 responses (ToolRL's released
targets, each with four answers of different quality), tokenized with a byte-level BPE tokenizer trained
on them, right-padded to 1,024 tokens as verl's agent loop pads them. Both managers are built by verl's
own ``RewardLoopWorker`` from the composed ``toolrl_grpo`` recipe (``naive`` with the ToolRL reward as
``reward.custom_reward_function``), and score the batch through the worker's ``compute_score_batch``,
the code a reward worker runs for a whole batch (one task per sample slice). Scores and the reward
components both managers return must be identical; ``toolrl`` also returns the multi-turn keys for
single-turn rows (verl gathers a batch's ``reward_extra_info`` over its first row's keys, so a batch that
mixes single- and multi-turn rows needs one key set; ``verl_toolrl.plugin.reward_manager``), and nothing else.

Prints samples/s for both, the ratio (target: toolrl no slower than naive), and the batch's reward time
against a realistic 60 s training step (target: under 1 %) with the recipe's ``reward.num_workers``
workers scoring in parallel (verl splits the batch between them); the one-worker figure is printed too.
Most of a worker's time per sample is verl's own (the ``DataProto`` slicing and config reads of
``RewardLoopWorker.compute_score``) and the tokenizer's decode, not the reward.

    python benchmarks/bench_reward_manager.py [--shared ../shared] [--repeat 5] [--smoke]

``--smoke`` (CI): 32 prompts (128 responses), 2 rounds; the share is that of the full batch, scaled from the
smoke batch's time per response.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from bench_reward import targets  # the same released targets as the reward benchmark
from verdict import Verdicts
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

from verl_toolrl.checks.preflight import compose_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.core.calls import ToolCall, parse_response, render_output
from verl_toolrl.plugin.verl_batch import rollout_batch
from verl_toolrl.reward.multi_turn import MULTI_TURN_KEYS

PROMPTS, ROLLOUTS, RESPONSE_LENGTH, PROMPT_LENGTH = 512, 4, 1024, 256
STEP_SECONDS = 60.0

REWARD_FILE = """
from verl_toolrl.reward import compute_score as toolrl_score

def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    return toolrl_score(data_source, solution_str, ground_truth)
"""


def rollouts(target: str) -> list[str]:
    """Four answers to one target: exact, a dropped argument, a wrong tool, broken format."""
    parsed = parse_response(target)
    think = parsed.think or "thinking"
    if not parsed.calls:
        return [
            target,
            render_output(think, [], "Another answer."),
            render_output(think, [ToolCall("search", {})]),
            target.replace("</think>", ""),
        ]
    first = parsed.calls[0]
    dropped = ToolCall(first.name, dict(list(first.arguments.items())[:-1]))
    return [
        target,
        render_output(think, [dropped, *parsed.calls[1:]]),
        render_output(think, [ToolCall(first.name + "_v2", first.arguments)]),
        target.replace("</tool_call>", ""),
    ]


def step_batch(tokenizer, shared: Path, prompts: int = PROMPTS):
    """The batch of one training step (``prompts`` x 4 responses), as verl's agent loop returns it."""
    pool = targets(shared)
    prompt_ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Which tool answers this?"}], add_generation_prompt=True, tokenize=True
    )["input_ids"]
    samples = []
    for prompt in range(prompts):
        # every target in turn; a smaller batch takes them evenly spread (both sources, all lengths)
        target = pool[prompt % len(pool) if prompts >= len(pool) else prompt * len(pool) // prompts]
        fields = {
            "data_source": "rlla",
            "reward_model": {"ground_truth": target, "style": "rule"},
            "extra_info": {"index": prompt, "split": "train"},
            "uid": f"prompt-{prompt}",
            "global_steps": 1,
        }
        for response in rollouts(target):
            ids = tokenizer.encode(response, add_special_tokens=False)[: RESPONSE_LENGTH - 1]
            samples.append((prompt_ids, ids + [tokenizer.eos_token_id], fields))
    return pool, rollout_batch(
        samples,
        prompt_length=PROMPT_LENGTH,
        response_length=RESPONSE_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
    )


def worker_for(tokenizer_dir: Path, *overrides: str) -> RewardLoopWorker:
    config = compose_recipe(
        "toolrl_grpo",
        [
            "data.train_files=unused",
            "data.val_files=unused",
            f"actor_rollout_ref.model.path={tokenizer_dir}",
            *overrides,
        ],
    )
    return RewardLoopWorker(config)


def timed(worker: RewardLoopWorker, batch, repeat: int) -> tuple[float, float, list[dict]]:
    """Median wall-clock and CPU seconds of ``compute_score_batch`` over the whole batch, and its results.

    The CPU time is the work the reward costs a worker; on a machine shared with other jobs the wall time
    also counts the time the process waited for a core."""
    walls, cpus, results = [], [], None
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        results = worker.loop.run_until_complete(worker.compute_score_batch(batch))
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_start)
    return statistics.median(walls), statistics.median(cpus), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--repeat", type=int, default=None, help="rounds of each timing, the median kept [5]")
    parser.add_argument("--smoke", action="store_true", help="CI size: 32 prompts, 2 rounds")
    args = parser.parse_args()
    args.repeat = args.repeat or (3 if args.smoke else 5)
    prompts = 32 if args.smoke else PROMPTS

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pool = targets(args.shared)
        tokenizer = byte_level_tokenizer(
            [text for target in pool for text in rollouts(target)],
            vocab_size=4000,
            added_tokens=["<tool_call>", "</tool_call>", "<think>", "</think>", "<response>", "</response>"],
        )
        tokenizer.save_pretrained(folder / "tokenizer")
        (folder / "reward.py").write_text(textwrap.dedent(REWARD_FILE))
        pool, batch = step_batch(tokenizer, args.shared, prompts)
        lengths = batch.batch["response_mask"].sum(-1).float()
        print(
            f"batch: {len(batch)} responses ({prompts} prompts x {ROLLOUTS}) from {len(pool)} ToolRL targets,"
            f" {lengths.mean():.0f} tokens on average (max {lengths.max():.0f}), padded to {RESPONSE_LENGTH}"
        )

        toolrl = worker_for(folder / "tokenizer")
        naive = worker_for(
            folder / "tokenizer",
            "reward.reward_manager.name=naive",
            f"reward.custom_reward_function.path={folder / 'reward.py'}",
        )
        print(
            f"managers: {type(toolrl.reward_manager).__name__} vs {type(naive.reward_manager).__name__} "
            "(ToolRL reward as custom function), each in verl's RewardLoopWorker"
        )
        naive_seconds, naive_cpu, naive_results = timed(naive, batch, args.repeat)
        toolrl_seconds, toolrl_cpu, toolrl_results = timed(toolrl, batch, args.repeat)

    extra = {key for ours in toolrl_results for key in ours["reward_extra_info"]}
    extra -= {key for theirs in naive_results for key in theirs["reward_extra_info"]}
    same = all(
        ours["reward_score"] == theirs["reward_score"]
        and all(ours["reward_extra_info"][key] == value for key, value in theirs["reward_extra_info"].items())
        for ours, theirs in zip(toolrl_results, naive_results, strict=True)
    )
    print(f"scores and naive's reward components identical: {same}; toolrl's keys beyond naive's: {sorted(extra)}")
    if not same or extra != set(MULTI_TURN_KEYS):
        raise SystemExit(
            f"toolrl and naive disagree (toolrl's keys beyond naive's should be {sorted(MULTI_TURN_KEYS)})"
        )
    for name, seconds, cpu in (("naive", naive_seconds, naive_cpu), ("toolrl", toolrl_seconds, toolrl_cpu)):
        print(
            f"{name:>6}: {len(batch) / seconds:9.0f} samples/s  ({seconds * 1000:7.1f} ms per batch, "
            f"{cpu * 1000:7.1f} ms of CPU, median of {args.repeat})"
        )
    check = Verdicts(smoke=args.smoke)
    check.timing(
        "throughput, toolrl over naive (CPU time)",
        f"{naive_cpu / toolrl_cpu:.2f}x (wall clock {naive_seconds / toolrl_seconds:.2f}x)",
        ">= 1.00x",
        naive_cpu >= toolrl_cpu,
    )
    scale = PROMPTS * ROLLOUTS / len(batch)  # the paper's batch from this one's time per response
    share, wall_share = 100 * toolrl_cpu * scale / STEP_SECONDS, 100 * toolrl_seconds * scale / STEP_SECONDS
    workers = toolrl.config.reward.num_workers  # the recipe's reward workers (verl's default: 8)
    print(
        f"one reward worker: {share:.2f} % of a {STEP_SECONDS:.0f} s step in CPU time "
        f"(wall clock {wall_share:.2f} %, which also counts waiting for a core)"
    )
    check.timing(
        f"toolrl's reward for one step's batch ({PROMPTS * ROLLOUTS:,} responses), share of a {STEP_SECONDS:.0f} s step"
        f" on the recipe's {workers} reward workers",
        f"{share / workers:.2f} % of CPU time (wall clock {wall_share / workers:.2f} %)",
        "< 1 %",
        share / workers < 1,
    )
    check.finish()


if __name__ == "__main__":
    main()
