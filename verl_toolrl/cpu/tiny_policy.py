"""A tiny local policy for training on CPU: a tokenizer trained on the data's own text (the package's one
byte-level BPE builder, :func:`verl_toolrl.checks.stand_in.byte_level_tokenizer`, with its ChatML chat
template), a 2-layer Qwen2, and a short supervised warm start on the data's ground truths.

Hub downloads are not needed (nor possible on this project's machines). An untrained model writes noise:
every rollout then scores the minimum, every GRPO advantage is 0 and an update proves nothing. A few
supervised steps on the ground truths make sampled responses partly right, so rewards differ inside a
GRPO group. The policy is for proving the training loop, not for learning to call tools.

    python -m verl_toolrl.cpu.tiny_policy --data DATA_DIR/train.parquet --output DATA_DIR/tiny-policy

With ``--distractors`` the warm start also fits, for every target that calls a tool with arguments, a
:func:`distractor`: the same response with the first call's arguments dropped. The policy then starts at a
coin flip between the right call and a worse one, one token apart, a decision GRPO can learn within a few
steps (``benchmarks/bench_cpu_learning.py``); a policy fitted to the targets alone has nothing to choose.
``--distractors SHARE`` fits distractors for that share of each file's calls with arguments only (chosen by
the seed): a policy settled on most prompts and undecided on a few, the regime where most GRPO groups score
alike (``bench_cpu_learning.py --filters``). The targets it starts undecided on are saved beside the model
(:data:`UNDECIDED_FILE`).

>>> tokenizer = byte_level_tokenizer(["<think> hi </think>", '{"name": "get_weather"}'], vocab_size=300)
>>> text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
...                                      add_generation_prompt=True)
>>> text
'<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n'
>>> tokenizer.decode(tokenizer(text)["input_ids"]) == text
True
>>> sum(p.numel() for p in build_policy(tokenizer).parameters()) < 1_000_000
True
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoTokenizer, GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.core.calls import ToolCall, parse_response, render_output

#: Prompt tokens the policy is trained and run on: the warm start keeps each prompt's last CONTEXT_TOKENS,
#: and the CPU recipe cuts rollout prompts to the same length (recipes/toolrl/cpu.yaml,
#: data.max_prompt_length with truncation: left). A 2-layer model trained on one prompt length and sampled on
#: another writes noise; trained and sampled alike, its rewards differ within a GRPO group.
CONTEXT_TOKENS = 192
#: The file, beside the model, listing the targets of the prompts whose distractor the warm start fitted
#: (a JSON list of strings): the prompts the policy starts undecided on, where RL has something to learn.
UNDECIDED_FILE = "undecided_targets.json"


def build_policy(
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 4096,
    seed: int = 0,
) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 causal LM sized for ``tokenizer`` (float32, stops at ``<|im_end|>``).

    Head size ``hidden_size / num_heads`` must be one vLLM's CPU attention supports (32, 64, 80, ...)."""
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return model


@dataclass(frozen=True)
class Example:
    """One supervised example: the chat messages of a prompt and the target response."""

    messages: list[dict[str, str]]
    target: str


def gold_outputs(ground_truth: str) -> list[str]:
    """The gold outputs in a row's ground truth: a single-turn row's text, or each turn's of a multi-turn
    row (a JSON list of gold outputs, :mod:`verl_toolrl.data.bfcl_multi_turn`).

    >>> gold_outputs("<think> a </think>"), gold_outputs('["<think> a </think>", "<think> b </think>"]')
    (['<think> a </think>'], ['<think> a </think>', '<think> b </think>'])
    """
    if ground_truth.startswith("["):
        try:
            turns = json.loads(ground_truth)
        except ValueError:
            return [ground_truth]
        if isinstance(turns, list) and turns and all(isinstance(turn, str) for turn in turns):
            return turns
    return [ground_truth]


def examples_from_parquet(path: Path) -> list[Example]:
    """The (prompt, ground truth) pairs of a verl parquet written by ``data_preprocess`` (a multi-turn row's
    first turn: its prompt asks for that one)."""
    frame = pd.read_parquet(path, columns=["prompt", "reward_model"])
    return [
        Example([{"role": m["role"], "content": m["content"]} for m in prompt], gold_outputs(reward["ground_truth"])[0])
        for prompt, reward in zip(frame["prompt"], frame["reward_model"], strict=True)
    ]


def distractor(target: str) -> str | None:
    """``target`` with its first call's arguments dropped: a worse answer that shares every token with it up
    to the arguments; None for a target without a call with arguments (or one the renderer would not
    reproduce byte for byte).

    >>> print(distractor('<think> x </think>\\n<tool_call>\\n{"name": "f", "parameters": {"a": 1}}\\n</tool_call>'))
    <think> x </think>
    <tool_call>
    {"name": "f", "parameters": {}}
    </tool_call>
    >>> distractor("<think> x </think>\\n<response> hi </response>") is None
    True
    """
    parsed = parse_response(target, "toolrl")
    if not parsed.calls or not parsed.calls[0].arguments or parsed.think is None:
        return None
    if render_output(parsed.think, parsed.calls, parsed.response) != target:
        return None
    return render_output(parsed.think, [ToolCall(parsed.calls[0].name), *parsed.calls[1:]], parsed.response)


def with_distractors(examples: Sequence[Example], chosen: Sequence[Example]) -> list[Example]:
    """The examples followed by one example per :func:`distractor` of the ``chosen`` ones' targets (those
    :func:`undecided` picks).

    >>> call = '<think> x </think>\\n<tool_call>\\n{"name": "f", "parameters": {"a": %d}}\\n</tool_call>'
    >>> examples = [Example([], call % n) for n in range(4)] + [Example([], "<think> x </think>")]
    >>> [len(with_distractors(examples, undecided(examples, share))) for share in (1.0, 0.5, 0.1, 0.0)]
    [9, 7, 6, 5]
    """
    return [*examples, *(Example(example.messages, distractor(example.target)) for example in chosen)]


def undecided(examples: Sequence[Example], share: float = 1.0, seed: int = 0) -> list[Example]:
    """The examples whose distractor the warm start also fits, so that the policy starts undecided on them:
    ``share`` of those whose target has a :func:`distractor` (rounded, at least one when ``share > 0``;
    which ones, by ``seed``).

    >>> call = '<think> x </think>\\n<tool_call>\\n{"name": "f", "parameters": {"a": %d}}\\n</tool_call>'
    >>> examples = [Example([], call % n) for n in range(4)] + [Example([], "<think> x </think>")]
    >>> [examples.index(example) for example in undecided(examples, 0.5, seed=0)]
    [1, 3]
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"distractor share {share}: must be between 0 and 1")
    candidates = [example for example in examples if distractor(example.target) is not None]
    chosen = round(share * len(candidates)) or (1 if share > 0 and candidates else 0)
    return [candidates[index] for index in sorted(random.Random(seed).sample(range(len(candidates)), chosen))]


def _encode(tokenizer: PreTrainedTokenizerFast, example: Example, context: int) -> tuple[list[int], int]:
    """Token ids of the prompt's last ``context`` tokens + target + ``<|im_end|>``, and where the target
    starts."""
    prompt = tokenizer.apply_chat_template(example.messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][-context:]
    target_ids = tokenizer(example.target + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    return prompt_ids + target_ids, len(prompt_ids)


def warm_start(
    model: Qwen2ForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    examples: Sequence[Example],
    *,
    steps: int = 100,
    lr: float = 2e-3,
    context: int = CONTEXT_TOKENS,
    seed: int = 0,
) -> list[float]:
    """Supervised steps on the targets (loss on target tokens only, all examples each step); the losses.

    Each prompt is cut to its last ``context`` tokens, as verl cuts the rollout's prompts to
    ``data.max_prompt_length`` (``truncation: left``), so the policy is trained on what it will see."""
    torch.manual_seed(seed)
    encoded = [_encode(tokenizer, example, context) for example in examples]
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
    labels = torch.full((len(encoded), width), -100)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (ids, start) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, start : len(ids)] = torch.tensor(ids[start:])
        attention[row, : len(ids)] = 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


def corpus(frames: Iterable[pd.DataFrame]) -> Iterable[str]:
    """Every prompt message and ground truth of the given parquet frames: the tokenizer's training text."""
    for frame in frames:
        for prompt, reward in zip(frame["prompt"], frame["reward_model"], strict=True):
            yield from (message["content"] for message in prompt)
            yield from gold_outputs(reward["ground_truth"])


def make_tiny_policy(
    train_files: Sequence[Path],
    output: Path,
    *,
    extra_files: Sequence[Path] = (),
    vocab_size: int = 4096,
    steps: int = 100,
    distractors: float = 0.0,
    seed: int = 0,
) -> dict[str, float]:
    """Train the tokenizer on the data, build the model, warm-start it on the rows of ``train_files`` (and
    the distractors of that share of each file's calls, :func:`with_distractors`), ``save_pretrained`` both
    to ``output`` with the targets it starts undecided on (:data:`UNDECIDED_FILE`); returns a summary
    (parameters, examples, first and last loss, seconds)."""
    started = time.perf_counter()
    frames = [pd.read_parquet(path, columns=["prompt", "reward_model"]) for path in (*train_files, *extra_files)]
    tokenizer = byte_level_tokenizer(corpus(frames), vocab_size=vocab_size)
    model = build_policy(tokenizer, seed=seed)
    by_file = [examples_from_parquet(path) for path in train_files]
    chosen = [undecided(rows, share=distractors, seed=seed) for rows in by_file]
    examples = [
        example for rows, picked in zip(by_file, chosen, strict=True) for example in with_distractors(rows, picked)
    ]
    output.mkdir(parents=True, exist_ok=True)
    targets = [example.target for picked in chosen for example in picked]
    (output / UNDECIDED_FILE).write_text(json.dumps(targets, indent=1) + "\n")
    model.config.save_pretrained(output)  # the Qwen2 config.json by which AutoTokenizer picks its class
    tokenizer.save_pretrained(output)
    # verl and vLLM read the tokenizer back with AutoTokenizer, which makes a Qwen2 folder's tokenizer a
    # Qwen2Tokenizer: its pre-tokenizer (digits one at a time, NFC) is not the one the merges were learned
    # with, so the same text gets other ids. The warm start trains on the ids they will see.
    tokenizer = AutoTokenizer.from_pretrained(output)
    losses = warm_start(model, tokenizer, examples, steps=steps, seed=seed)
    model.save_pretrained(output)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "examples": len(examples),
        "first_loss": losses[0] if losses else math.nan,
        "last_loss": losses[-1] if losses else math.nan,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_toolrl.cpu.tiny_policy", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, nargs="+", required=True, help="parquet files to warm-start on (data_preprocess output)"
    )
    parser.add_argument(
        "--extra-text",
        type=Path,
        nargs="*",
        default=[],
        help="more parquet files whose text the tokenizer also learns (e.g. test.parquet)",
    )
    parser.add_argument("--output", type=Path, required=True, help="folder for the model and tokenizer")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=100, help="supervised warm-start steps")
    parser.add_argument(
        "--distractors",
        type=float,
        nargs="?",
        const=1.0,
        default=0.0,
        metavar="SHARE",
        help="also warm-start on the distractors of SHARE (default 1: all) of each file's calls (see the module doc)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 <= args.distractors <= 1:
        print(f"error: --distractors {args.distractors:g}: a share, between 0 and 1", file=sys.stderr)
        return 2
    for path in (*args.data, *args.extra_text):
        if not path.is_file():
            print(f"error: {path}: no such file (make the data first: python -m data_preprocess.mix)", file=sys.stderr)
            return 2
    summary = make_tiny_policy(
        args.data,
        args.output,
        extra_files=args.extra_text,
        vocab_size=args.vocab_size,
        steps=args.steps,
        distractors=args.distractors,
        seed=args.seed,
    )
    print(f"tiny policy -> {args.output}: " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
