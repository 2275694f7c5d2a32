"""Where one GRPO batch's gradient points: toward the exact answer, or elsewhere? (the tiny policy, no verl)

Samples a group of responses to one prompt from a local policy at the rollout temperature, scores them with
the toolrl reward, forms GRPO's advantages and the policy-gradient loss as verl's actor does (on-policy, so
the PPO ratio is 1), and compares its gradient g with h, the gradient of log P(ground truth | prompt).
Prints, per batch and per loss aggregation, cos(g, h) and cos(sign g, h) (AdamW's first step moves every
weight by lr in the direction sign g), and the norms of the parts that the exact (positive-advantage) and the
broken (negative-advantage) responses contribute. docs/learning.md explains what the figures mean.

    python benchmarks/grpo_gradient_alignment.py --model DATA_DIR/tiny-policy --data DATA_DIR/train.parquet \
        --row 7 --group 32 --batches 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from verl_toolrl.cpu.tiny_policy import CONTEXT_TOKENS
from verl_toolrl.reward.score import compute_score


def cosine(x: torch.Tensor, y: torch.Tensor) -> float:
    return (x @ y / (x.norm() * y.norm() + 1e-12)).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="local policy folder (save_pretrained)")
    parser.add_argument("--data", type=Path, required=True, help="verl parquet (data_preprocess output)")
    parser.add_argument("--row", type=int, default=0, help="the prompt's row in --data")
    parser.add_argument("--group", type=int, default=32, help="responses sampled (the GRPO group)")
    parser.add_argument("--batches", type=int, default=3, help="groups sampled, seeds 0, 1, ...")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-response-tokens", type=int, default=160)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    frame = pd.read_parquet(args.data, columns=["prompt", "reward_model"])
    if not 0 <= args.row < len(frame):
        raise SystemExit(f"grpo_gradient_alignment: --row {args.row}: {args.data} has rows 0..{len(frame) - 1}")
    text = tokenizer.apply_chat_template(list(frame["prompt"][args.row]), tokenize=False, add_generation_prompt=True)
    prompt = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][:, -CONTEXT_TOKENS:]
    truth = frame["reward_model"][args.row]["ground_truth"]

    def log_probs(responses: torch.Tensor) -> torch.Tensor:
        ids = torch.cat([prompt.expand(responses.shape[0], -1), responses], 1)
        logits = model(ids).logits[:, prompt.shape[1] - 1 : -1] / args.temperature
        return torch.log_softmax(logits, -1).gather(-1, responses.unsqueeze(-1)).squeeze(-1)

    def gradient(loss: torch.Tensor) -> torch.Tensor:
        model.zero_grad()
        loss.backward(retain_graph=True)
        return torch.cat([p.grad.flatten().clone() for p in model.parameters()])

    truth_ids = tokenizer(truth + tokenizer.eos_token, add_special_tokens=False, return_tensors="pt")["input_ids"]
    truth_logp = log_probs(truth_ids).sum()
    h = gradient(truth_logp)
    print(f"log P(ground truth) {truth_logp.item():+.3f}, |h| {h.norm():.3f}, {h.numel():,} parameters")
    for batch in range(args.batches):
        torch.manual_seed(batch)
        with torch.no_grad():
            out = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                do_sample=True,
                top_k=0,
                top_p=1.0,
                temperature=args.temperature,
                max_new_tokens=args.max_response_tokens,
                num_return_sequences=args.group,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        responses = out[:, prompt.shape[1] :]
        mask = torch.ones_like(responses, dtype=torch.float)
        for row in range(responses.shape[0]):
            ends = (responses[row] == tokenizer.eos_token_id).nonzero()
            if len(ends):
                mask[row, ends[0, 0] + 1 :] = 0
        texts = tokenizer.batch_decode(
            [r[m.bool()] for r, m in zip(responses, mask, strict=True)], skip_special_tokens=True
        )
        scores = torch.tensor([compute_score("alignment", t, truth)["score"] for t in texts])
        if scores.std() == 0:
            print(f"batch {batch}: every response scored {scores[0]:+.2f}: advantage 0, no gradient")
            continue
        advantages = (scores - scores.mean()) / (scores.std() + 1e-6)
        token_logp = log_probs(responses) * mask
        tokens, count = mask.sum(), responses.shape[0]
        better, worse = advantages > 0, advantages < 0
        parts = {
            "token-mean": (advantages[:, None] * token_logp).sum() / tokens,
            "seq-mean-token-mean": (advantages * token_logp.sum(1) / mask.sum(1)).sum() / count,
            "better responses only": (advantages[better, None] * token_logp[better]).sum() / tokens,
            "worse responses only": (advantages[worse, None] * token_logp[worse]).sum() / tokens,
        }
        print(
            f"batch {batch}: mean reward {scores.mean():+.2f}, {int(better.sum())} above the mean "
            f"({mask[better].sum(1).mean():.0f} tokens), {int(worse.sum())} below "
            f"({mask[worse].sum(1).mean():.0f} tokens)"
        )
        for name, objective in parts.items():
            g = gradient(objective)
            print(
                f"  {name:22s} cos(g, h) {cosine(g, h):+.3f}  cos(sign g, h) {cosine(torch.sign(g), h):+.3f}  "
                f"|g| {g.norm():.3f}"
            )


if __name__ == "__main__":
    main()
