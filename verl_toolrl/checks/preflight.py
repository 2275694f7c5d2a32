"""Everything a training run can check before it needs a GPU: ``python -m verl_toolrl preflight``.

1. the recipe composes through Hydra with verl's defaults, and verl's own ``validate_config`` accepts it;
2. verl's ``load_reward_manager`` builds the configured reward manager from it (for ``toolrl``, which
   validates ``reward.reward_kwargs``);
3. every ground truth of the training and validation data, tokenized as a model response and fed to the
   manager the way verl's agent loop feeds it, earns the maximum format reward and an exact call match
   (a mismatch between the data's output format and ``reward.reward_kwargs.format`` shows up here), and
   the prompts fit ``data.max_prompt_length``. A multi-turn row (``agent_name=toolrl_bfcl_multi_turn``)
   has its ground truth replayed step by step on the entry's fresh simulators, scored turn by turn as the
   agent loop scores it and aggregated by the manager: it is at the maximum when every turn has the
   maximum format reward, an exact call match and BFCL's state match, and BFCL's verdict is valid. When the
   model's chat template prefills a think block (:mod:`verl_toolrl.core.chat_template`), the report says so, and each
   ground truth is fed as the model would write it after the prefill (the manager prepends the prefilled text, as in
   training).

The tokenizer is the model's (``actor_rollout_ref.model.tokenizer_path`` or ``.path``); when it cannot be
loaded (no hub access), a byte-level tokenizer stands in, with a notice: decoding is exact either way, but
the prompt lengths are then not the model's. Likewise verl validates a critic (the PPO recipe) against a
local stand-in model config when the critic's model cannot be loaded. Settings are checked first
(:mod:`verl_toolrl.checks.config`): a bad one is a :class:`~verl_toolrl.checks.config.ConfigError`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import open_dict
from transformers import AutoConfig
from verl.trainer.ppo.reward import load_reward_manager
from verl.trainer.ppo.utils import need_critic, need_reference_policy
from verl.utils import hf_tokenizer
from verl.utils.config import validate_config

from verl_toolrl.checks.config import RECIPES_DIR, ConfigError, load_recipe
from verl_toolrl.checks.config import compose as compose_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer, stand_in_model_dir
from verl_toolrl.core.chat_template import (
    TOOL_TEMPLATE_AGENT,
    chat_prompt_ids,
    leaves_tools_to_template,
    model_continuation,
    row_tools,
)
from verl_toolrl.plugin.multi_turn_agent_loop import score_turns, training_episode
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager, chat_template_kwargs
from verl_toolrl.plugin.verl_batch import agent_loop_sample
from verl_toolrl.reward import VARIANTS
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD
from verl_toolrl.reward.variants import format_range
from verl_toolrl.tasks.bfcl.episode import gold_outputs
from verl_toolrl.tasks.bfcl.multi_turn import MULTI_TURN_AGENT, entry_from_spec

__all__ = ["RECIPES_DIR", "byte_level_tokenizer", "compose_recipe", "preflight", "validate_recipe"]
TRAINING_COLUMNS = ("prompt", "reward_model")


def validate_recipe(config: Any) -> None:
    """verl's own start-up validation (``main_ppo`` runs it before anything else); raises on a bad config."""
    validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))


def rollout_prompt_ids(
    tokenizer: Any,
    row: Mapping[str, Any],
    agent_loop: str,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> list[int]:
    """The prompt ids ``agent_loop`` sends the rollout for ``row``; ``ValueError`` when that loop would not
    show the row its tools (a ``--tool-prompt template`` row under ``single_turn_agent``) or refuses it."""
    tools = None
    if agent_loop == TOOL_TEMPLATE_AGENT:
        tools = row_tools(row.get("extra_info"), row["prompt"])
    elif leaves_tools_to_template(row):
        raise ValueError(
            f"its tools are left to the chat template (--tool-prompt template), but {agent_loop} renders "
            f"prompts without tools; set actor_rollout_ref.rollout.agent.default_agent_loop={TOOL_TEMPLATE_AGENT}"
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
    multi_turn: int = 0  # rows replayed on BFCL's simulators (every turn checked, state match and verdict too)

    @property
    def ok(self) -> bool:
        return self.rows > 0 and self.at_max == self.rows

    def summary(self, prompt_limit: int) -> str:
        mean = self.score_sum / self.scored if self.scored else float("nan")
        over = "not counted (stand-in tokenizer)" if self.prompts_over_limit is None else self.prompts_over_limit
        replayed = (
            f" ({self.multi_turn} multi-turn rows replayed on BFCL's simulators: every turn, with the state "
            "match and BFCL's verdict)"
            if self.multi_turn
            else ""
        )
        lines = [
            (
                f"{self.source}: {self.at_max}/{self.rows} ground truths at the maximum format reward "
                f"with an exact call match{replayed} (mean score {mean:.4f}); "
                f"prompts over {prompt_limit} tokens: {over}"
            )
        ]
        lines += [f"  {miss}" for miss in self.misses]
        return "\n".join(lines)


def multi_turn_gold_record(manager: Any, row: Mapping[str, Any], step: int) -> dict[str, Any]:
    """The agent loop's per-turn record (``extra_fields[MULTI_TURN_FIELD]``) for a multi-turn row whose
    ground truth is replayed as the model's outputs: each turn's calls in one step, then an answer, run on
    the entry's fresh simulators in the episode the agent loop drives
    (:func:`verl_toolrl.plugin.multi_turn_agent_loop.training_episode`), scored by
    :func:`~verl_toolrl.plugin.multi_turn_agent_loop.score_turns` with ``manager``'s options."""
    extra_info = row.get("extra_info") or {}
    entry = entry_from_spec(extra_info["bfcl_entry"])
    format = extra_info.get("format") or manager.options.format
    episode = training_episode(entry, format)
    for output in gold_outputs(entry, format):
        episode.advance(output)
    return score_turns(episode, json.loads(row["reward_model"]["ground_truth"]), manager, manager.options, step)


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
    configured ``agent_loop`` would render without its tools). A row's own ``agent_name`` wins over
    ``agent_loop``; multi-turn rows are replayed (:func:`multi_turn_gold_record`)."""
    options = manager.options
    format_max = format_range(VARIANTS[options.variant], step, options.schedule_steps)[1]
    check = GroundTruthCheck(source, prompts_over_limit=0 if count_prompt_lengths else None)
    samples: list[Any] = []
    multi_turn_rows: set[int] = set()
    for index, row in enumerate(rows):
        ground_truth = row["reward_model"]["ground_truth"]
        row_loop = row.get("agent_name") or agent_loop
        tool_extra_fields = None
        try:
            if row_loop == MULTI_TURN_AGENT:
                prompt_ids = chat_prompt_ids(tokenizer, row["prompt"], None, chat_template_kwargs)
                tool_extra_fields = {MULTI_TURN_FIELD: multi_turn_gold_record(manager, row, step)}
                multi_turn_rows.add(index)
            else:
                prompt_ids = rollout_prompt_ids(tokenizer, row, row_loop, chat_template_kwargs)
        except (ValueError, KeyError) as error:
            samples.append(
                ValueError(f"{type(error).__name__}: {error}" if isinstance(error, KeyError) else str(error))
            )
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
        samples.append(agent_loop_sample(prompt_ids, response_ids, fields, tool_extra_fields=tool_extra_fields))

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
        replayed = index in multi_turn_rows
        check.multi_turn += replayed
        # a multi-turn row's components are its turns' means: at the maximum only when every turn is
        if (
            info["format_reward"] == format_max
            and info["exact_match"] == 1.0
            and (not replayed or (info["state_match"] == 1.0 and info["bfcl_valid"] == 1.0))
        ):
            check.at_max += 1
        elif len(check.misses) < max_misses:
            multi = f", state_match {info['state_match']}, bfcl_valid {info['bfcl_valid']}" if replayed else ""
            check.misses.append(
                f"row {index}: format_reward {info['format_reward']} (max {format_max}), "
                f"exact_match {info['exact_match']}, parsed {info['parsed']}{multi}"
            )
    return check


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"


def load_tokenizer(path: str) -> tuple[Any, str | None]:
    """The model's tokenizer, or a local byte-level stand-in and a notice saying why."""
    try:
        return hf_tokenizer(path, trust_remote_code=False), None
    except Exception as error:  # any hub or file error: fall back, and say so
        notice = (
            f"could not load the tokenizer of {path!r} ({_first_line(error)}); "
            "scoring with a byte-level stand-in (decoding is exact; prompt lengths are not the model's)"
        )
        return byte_level_tokenizer(), notice


def critic_stand_in(config: Any, directory: Path) -> tuple[Any, str | None]:
    """The config to validate: ``config`` itself, or, when it has a critic whose model cannot be loaded
    (verl's validation reads its model config), a copy whose critic points at a local stand-in model, and
    a notice saying so."""
    if not need_critic(config):
        return config, None
    path = config.critic.model.get("hf_config_path") or config.critic.model.path
    try:
        AutoConfig.from_pretrained(path, trust_remote_code=False)
        return config, None
    except Exception as error:  # any hub or file error: stand in, and say so
        stand_in = copy.deepcopy(config)
        with open_dict(stand_in):
            stand_in.critic.model.path = str(stand_in_model_dir(directory))
            stand_in.critic.model.hf_config_path = stand_in.critic.model.tokenizer_path = None
        notice = (
            f"could not load the critic's model config {path!r} ({_first_line(error)}); "
            "validating the critic with a local stand-in model config"
        )
        return stand_in, notice


def read_training_rows(path: str) -> list[dict[str, Any]]:
    """The rows of a verl training parquet; an unreadable file or a missing column is a ``ConfigError``."""

    try:
        frame = pd.read_parquet(Path(path).expanduser())
    except Exception as error:  # pyarrow's ArrowInvalid, OSError, ...: say which file, in one line
        raise ConfigError(f"{path}: not a readable parquet file ({_first_line(error)})") from None
    missing = [column for column in TRAINING_COLUMNS if column not in frame.columns]
    if missing:
        raise ConfigError(
            f"{path}: no column {missing[0]!r}; a training file has {', '.join(TRAINING_COLUMNS)} "
            "(python -m data_preprocess.<source> writes them)"
        )
    return frame.to_dict("records")


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
    """Run every CPU check of a training run; report through ``print_fn``; True when all pass.

    A bad setting or data file raises :class:`~verl_toolrl.checks.config.ConfigError` (one line)."""
    config = load_recipe(config_name, overrides, config_dir)
    print_fn(f"recipe {config_name}: composed from {Path(config_dir).resolve()} with {len(overrides)} overrides")
    with tempfile.TemporaryDirectory(prefix="toolrl-stand-in-") as scratch:
        to_validate, critic_notice = critic_stand_in(config, Path(scratch))
        if critic_notice:
            print_fn(f"recipe: {critic_notice}")
        try:
            validate_recipe(to_validate)
        except (AssertionError, ValueError) as error:  # verl's own checks, some of them asserts
            raise ConfigError(f"recipe {config_name}: verl validate_config: {_first_line(error)}") from None
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
        f"reward manager {config.reward.reward_manager.name!r}: built {type(manager).__name__} with {manager.options}"
    )
    print_fn(f"chat template: {manager.think_prefill.describe()}")
    agent_loop = config.actor_rollout_ref.rollout.agent.default_agent_loop
    template_tools = " (tools rendered by the chat template)" if agent_loop == TOOL_TEMPLATE_AGENT else ""
    print_fn(f"agent loop: {agent_loop}{template_tools}")

    all_ok = True
    for path in data_files(config):
        rows = read_training_rows(path)
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
