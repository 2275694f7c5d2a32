"""The prompt filter's own cost: the time its history takes to choose a training batch of the paper's size.

The history (``verl_toolrl.plugin.prompt_filter.PromptHistory``) answers verl's dataloader row by row, on
the trainer's critical path: a settled prompt's replacement must be chosen before the batch can be rolled
out. At the paper's scale (the 4k mix less its 2 % test split, 512 prompts a step, 4 rollouts each) this
runs the history through a stream of batches whose scores come from a scripted policy, a stand-in for the
rollout (a third of the prompts always solved, a third never, a third half the time), so about half the
re-requested prompts are settled and replaced. The baseline, in the same run on the same stream, is the
same rule computed by scanning every prompt for each replacement; both must serve the same prompts.

Target: choosing the slowest batch takes under 0.6 s, 1 % of a 60 s GPU step. Run from the repository
root:

    python benchmarks/bench_prompt_filter.py [--prompts 3920] [--batch 512] [--group 4] [--smoke]

``--smoke`` (CI): 400 prompts, batches of 64.
"""

from __future__ import annotations

import argparse
import random
import time

from verdict import Verdicts  # benchmarks/verdict.py: target, figure, MET/MISSED

from verl_toolrl.plugin.prompt_filter import PromptFilterOptions, PromptHistory

TARGET_SECONDS = 0.6


class ScanningHistory(PromptHistory):
    """The baseline: the same replacement rule, found by scanning every prompt each time."""

    def first_replacement(self) -> int | None:
        candidates = [prompt for prompt in range(self.size) if not self.settled(prompt)]
        return min(candidates, key=self.replacement_order) if candidates else None


def run(history: PromptHistory, batches: int, batch: int, group: int, seed: int) -> tuple[list[int], list[float], int]:
    """Serve ``batches`` batches in a seeded order, scoring each served group with the scripted policy; the
    prompts served, the seconds each batch took to choose and how many settled prompts were replaced."""
    rng = random.Random(seed)
    solve_rate = [rng.choice((0.0, 0.5, 1.0)) for _ in range(history.size)]
    requests = list(range(history.size))
    rng.shuffle(requests)
    served, seconds, replaced = [], [], 0
    for index in range(batches):
        start = time.perf_counter()
        chosen = [history.serve(requests[(index * batch + row) % history.size]) for row in range(batch)]
        seconds.append(time.perf_counter() - start)
        for row in chosen:
            for _ in range(group):
                history.record(row.stamp, 1.0 if rng.random() < solve_rate[row.prompt] else 0.0)
        served.extend(row.prompt for row in chosen)
        replaced += sum(row.skipped is not None for row in chosen)
    return served, seconds, replaced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=None, help="training prompts [3920; --smoke: 400]")
    parser.add_argument("--batch", type=int, default=None, help="prompts a step [512; --smoke: 64]")
    parser.add_argument("--group", type=int, default=4, help="rollouts a prompt (rollout.n)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="CI size: 400 prompts, batches of 64")
    args = parser.parse_args()
    for name in ("prompts", "batch", "group"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"argument --{name}: must be at least 1, got {getattr(args, name)}")
    prompts = args.prompts or (400 if args.smoke else 3920)
    batch = args.batch or (64 if args.smoke else 512)
    batches = -(-prompts // batch) + 4  # every prompt served once, then four batches of re-requests
    options = PromptFilterOptions()
    served, seconds, replaced = run(PromptHistory(prompts, options), batches, batch, args.group, args.seed)
    baseline, baseline_seconds, _ = run(ScanningHistory(prompts, options), batches, batch, args.group, args.seed)
    same = sum(prompt == other for prompt, other in zip(served, baseline, strict=True))
    print(f"{prompts} prompts, {batches} batches of {batch}, {args.group} rollouts each ({options})")
    print(f"settled prompts replaced: {replaced} of {len(served)} served")
    print(
        f"baseline (scan every prompt): slowest batch {max(baseline_seconds):.3f} s, all {sum(baseline_seconds):.1f} s"
    )
    print(f"prompt filter: slowest batch {max(seconds):.4f} s, all {sum(seconds):.2f} s")
    check = Verdicts(smoke=args.smoke)
    check.target("prompts served as the scanning rule serves them", f"{same}/{len(served)}", "all", same == len(served))
    check.timing(
        f"slowest batch of {batch} chosen",
        f"{max(seconds):.3f} s",
        f"< {TARGET_SECONDS} s",
        max(seconds) < TARGET_SECONDS,
    )
    check.finish()


if __name__ == "__main__":
    main()
