"""Everything a training run can check before it needs a GPU: ``python -m verl_toolrl preflight``.

1. the recipe composes through Hydra with verl's defaults, and verl's own ``validate_config`` accepts it;
2. verl's ``load_reward_manager`` builds the configured reward manager from it (for ``toolrl``, which
   validates ``reward.reward_kwargs``);
3. every ground truth of the training and validation data, tokenized as a model response and fed to the
   manager the way verl's agent loop feeds it, earns the maximum format reward and an exact call match
   (a mismatch between the data's output format and ``reward.reward_kwargs.format`` shows up here), and
   the prompts fit ``data.max_prompt_length``. When the model's chat template prefills a think block
   (:mod:`verl_toolrl.chat_template`), the report says so, and each ground truth is fed as the model
   would write it after the prefill (the manager prepends the prefilled text, as in training).

The tokenizer is the model's (``actor_rollout_ref.model.tokenizer_path`` or ``.path``); when it cannot be
loaded (no hub access), a byte-level tokenizer stands in, with a notice: decoding is exact either way, but
the prompt lengths are then not the model's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"

BYTE_LEVEL_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_level_tokenizer(
    corpus: Iterable[str] = (), *, vocab_size: int = 512, added_tokens: Sequence[str] = ()
) -> Any:
    """A byte-level BPE tokenizer built locally (no download) that decodes any text back exactly.

    Merges are learned from ``corpus`` (none: one token per byte). ChatML special tokens, ``<|im_end|>``
    as end of sequence and ``<|endoftext|>`` as padding, as in Qwen; ``added_tokens`` are ordinary
    (non-special) added tokens, as Qwen's ``<tool_call>``.

    >>> tokenizer = byte_level_tokenizer(added_tokens=["<tool_call>"])
    >>> text = "<tool_call>\\n{\\"a\\": \\"é\\"}"
    >>> tokenizer.decode(tokenizer.encode(text) + [tokenizer.eos_token_id], skip_special_tokens=True)
    '<tool_call>\\n{"a": "é"}'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(BYTE_LEVEL_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(corpus), trainer)
    pad, start, end = BYTE_LEVEL_SPECIAL_TOKENS
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=end, pad_token=pad, additional_special_tokens=[start]
    )
    tokenizer.add_tokens(list(added_tokens))
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def compose_recipe(config_name: str, overrides: Sequence[str] = (), config_dir: Path = RECIPES_DIR) -> Any:
    """The composed trainer config, as ``main_ppo --config-path DIR --config-name NAME`` sees it."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


def validate_recipe(config: Any) -> None:
    """verl's own start-up validation (``main_ppo`` runs it before anything else); raises on a bad config."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    validate_config(
        config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
    )


def chat_prompt_ids(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> list[int]:
    """Prompt token ids as verl builds them: the chat template with the generation prompt (and the tool
    schemas, as the ``toolrl_tool_template`` agent loop hands them to it).

    >>> tokenizer = byte_level_tokenizer()
    >>> len(chat_prompt_ids(tokenizer, [{"role": "user", "content": "hi"}]))
    21
    """
    encoded = tokenizer.apply_chat_template(
        [dict(message) for message in messages],
        tools=list(tools) if tools else None,
        add_generation_prompt=True,
        tokenize=True,
        **dict(chat_template_kwargs or {}),
    )
    return list(encoded["input_ids"] if isinstance(encoded, Mapping) else encoded)


def rollout_prompt_ids(
    tokenizer: Any,
    row: Mapping[str, Any],
    agent_loop: str,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> list[int]:
    """The prompt ids ``agent_loop`` sends the rollout for ``row``; ``ValueError`` when that loop would not
    show the row its tools (a ``--tool-prompt template`` row under ``single_turn_agent``) or refuses it."""
    from verl_toolrl.chat_template import AGENT_NAME, leaves_tools_to_template, row_tools

    tools = None
    if agent_loop == AGENT_NAME:
        tools = row_tools(row.get("extra_info"), row["prompt"])
    elif leaves_tools_to_template(row):
        raise ValueError(
            f"its tools are left to the chat template (--tool-prompt template), but {agent_loop} renders "
            f"prompts without tools; set actor_rollout_ref.rollout.agent.default_agent_loop={AGENT_NAME}"
        )
    return chat_prompt_ids(tokenizer, row["prompt"], tools, chat_template_kwargs)


@dataclass
class GroundTruthCheck:
    """How the data's own targets score through the reward manager."""

    source: str
    rows: int = 0
    at_max: int = 0  # maximum format reward and an exact call match
    scored: int = 0  # rows whose ground truth the reward accepted
    score_sum: float = 0.0
    prompts_over_limit: int | None = 0  # None when the tokenizer is a stand-in, not the model's
    misses: list[str] = field(default_factory=list)  # the first few rows that fell short, described

    @property
    def ok(self) -> bool:
        return self.rows > 0 and self.at_max == self.rows

    def summary(self, prompt_limit: int) -> str:
        mean = self.score_sum / self.scored if self.scored else float("nan")
        over = (
            "not counted (stand-in tokenizer)" if self.prompts_over_limit is None else self.prompts_over_limit
        )
        lines = [
            (
                f"{self.source}: {self.at_max}/{self.rows} ground truths at the maximum format reward "
                f"with an exact call match (mean score {mean:.4f}); "
                f"prompts over {prompt_limit} tokens: {over}"
            )
        ]
        lines += [f"  {miss}" for miss in self.misses]
        return "\n".join(lines)


async def score_ground_truths(
    manager: Any,
    tokenizer: Any,
    rows: Iterable[Mapping[str, Any]],
    *,
    source: str,
    prompt_limit: int,
    step: int = 0,
    count_prompt_lengths: bool = True,
    max_misses: int = 5,
    agent_loop: str = "single_turn_agent",
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> GroundTruthCheck:
    """Feed each row's ground truth to ``manager.run_single`` as the model's response, shaped as verl's
    agent loop shapes it, and count the rows that earn the maximum format reward and an exact match (a
    ground truth the reward rejects as malformed counts as a miss, with the reason, and so does a row the
    configured ``agent_loop`` would render without its tools)."""
    from verl_toolrl.chat_template import model_continuation
    from verl_toolrl.reward import VARIANTS
    from verl_toolrl.reward.variants import format_range
    from verl_toolrl.verl_batch import agent_loop_sample

    options = manager.options
    format_max = format_range(VARIANTS[options.variant], step, options.schedule_steps)[1]
    check = GroundTruthCheck(source, prompts_over_limit=0 if count_prompt_lengths else None)
    samples: list[Any] = []
    for index, row in enumerate(rows):
        ground_truth = row["reward_model"]["ground_truth"]
        try:
            prompt_ids = rollout_prompt_ids(tokenizer, row, agent_loop, chat_template_kwargs)
        except ValueError as error:
            samples.append(error)
            continue
        continuation = model_continuation(ground_truth, manager.think_prefill)
        response_ids = tokenizer.encode(continuation, add_special_tokens=False) + [tokenizer.eos_token_id]
        fields = {
            "data_source": row.get("data_source", ""),
            "reward_model": dict(row["reward_model"]),
            "extra_info": dict(row.get("extra_info") or {}),
            "uid": str(uuid.uuid4()),
            "index": index,
            "global_steps": step,
        }
        if check.prompts_over_limit is not None:
            check.prompts_over_limit += len(prompt_ids) > prompt_limit
        samples.append(agent_loop_sample(prompt_ids, response_ids, fields))
    async def scored(sample: Any) -> Any:
        return sample if isinstance(sample, ValueError) else await manager.run_single(sample)

    results = await asyncio.gather(*(scored(sample) for sample in samples), return_exceptions=True)
    for index, result in enumerate(results):
        check.rows += 1
        if isinstance(result, ValueError):  # the manager rejected the ground truth, or the loop the row
            if len(check.misses) < max_misses:
                check.misses.append(f"row {index}: {result}")
            continue
        if isinstance(result, BaseException):
            raise result
        info = result["reward_extra_info"]
        check.scored += 1
        check.score_sum += result["reward_score"]
        if info["format_reward"] == format_max and info["exact_match"] == 1.0:
            check.at_max += 1
        elif len(check.misses) < max_misses:
            check.misses.append(
                f"row {index}: format_reward {info['format_reward']} (max {format_max}), "
                f"exact_match {info['exact_match']}, parsed {info['parsed']}"
            )
    return check


def load_tokenizer(path: str) -> tuple[Any, str | None]:
    """The model's tokenizer, or a local byte-level stand-in and a notice saying why."""
    from verl.utils import hf_tokenizer

    try:
        return hf_tokenizer(path, trust_remote_code=False), None
    except Exception as error:  # any hub or file error: fall back, and say so
        notice = (
            f"could not load the tokenizer of {path!r} "
            f"({type(error).__name__}: {str(error).splitlines()[0]}); "
            "scoring with a byte-level stand-in (decoding is exact; prompt lengths are not the model's)"
        )
        return byte_level_tokenizer(), notice


def data_files(config: Any) -> list[str]:
    """The training and validation parquet files a config names (each a path or a list of paths)."""
    files: list[str] = []
    for key in ("train_files", "val_files"):
        value = config.data.get(key)
        if value is None:
            continue
        files += [value] if isinstance(value, str) else list(value)
    return files


def preflight(
    config_name: str = "toolrl_grpo",
    overrides: Sequence[str] = (),
    *,
    config_dir: Path = RECIPES_DIR,
    tokenizer: Any = None,
    print_fn: Any = print,
) -> bool:
    """Run every CPU check of a training run; report through ``print_fn``; True when all pass."""
    import pandas as pd
    from verl.trainer.ppo.reward import load_reward_manager

    from verl_toolrl.chat_template import AGENT_NAME
    from verl_toolrl.reward_manager import ToolRLRewardManager, chat_template_kwargs

    config = compose_recipe(config_name, overrides, config_dir)
    print_fn(
        f"recipe {config_name}: composed from {Path(config_dir).resolve()} with {len(overrides)} overrides"
    )
    validate_recipe(config)
    print_fn("recipe: verl validate_config passed")

    notice = None
    if tokenizer is None:
        model = config.actor_rollout_ref.model
        tokenizer, notice = load_tokenizer(model.get("tokenizer_path") or model.path)
        if notice:
            print_fn(f"tokenizer: {notice}")
    manager = load_reward_manager(config, tokenizer)
    if not isinstance(manager, ToolRLRewardManager):
        raise ValueError(
            f"reward.reward_manager.name={config.reward.reward_manager.name!r} "
            f"built {type(manager).__name__}; "
            "the preflight checks the toolrl reward manager"
        )
    print_fn(
        f"reward manager {config.reward.reward_manager.name!r}: "
        f"built {type(manager).__name__} with {manager.options}"
    )
    print_fn(f"chat template: {manager.think_prefill.describe()}")
    agent_loop = config.actor_rollout_ref.rollout.agent.default_agent_loop
    template_tools = " (tools rendered by the chat template)" if agent_loop == AGENT_NAME else ""
    print_fn(f"agent loop: {agent_loop}{template_tools}")

    all_ok = True
    for path in data_files(config):
        rows = pd.read_parquet(path).to_dict("records")
        check = asyncio.run(
            score_ground_truths(
                manager,
                tokenizer,
                rows,
                source=path,
                prompt_limit=config.data.max_prompt_length,
                count_prompt_lengths=notice is None,
                agent_loop=agent_loop,
                chat_template_kwargs=chat_template_kwargs(config),
            )
        )
        print_fn(check.summary(config.data.max_prompt_length))
        all_ok &= check.ok
    return all_ok
