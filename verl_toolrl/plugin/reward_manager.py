"""The verl reward-loop adapter: ``reward.reward_manager.name=toolrl``.

verl 0.9.1 computes rewards in ``RewardLoopWorker`` Ray actors, which build a reward manager by name from
a registry. Importing this module registers :class:`ToolRLRewardManager` under ``toolrl``; the package's
``verl.plugins`` entry point imports it whenever a process runs ``import verl`` (driver and Ray workers
alike), so verl needs no change. ``python -m verl_toolrl check`` says whether that worked.

The manager is thin: for each sample it decodes the valid response tokens exactly as verl's ``naive``
manager does, reads the trainer's step, the ground truth, ``data_source`` and ``extra_info``, and calls
:func:`verl_toolrl.reward.compute_score` with the options of the config node ``reward.reward_kwargs``
(validated when the manager is built, so a typo fails at start-up). Unlike ``naive`` it runs in the
event loop, without a thread hop per sample (the work is a few microseconds of pure Python), and always
returns the same float keys (``REWARD_EXTRA_KEYS``), so verl logs every reward component as a metric.
Single-turn rows carry the multi-turn keys too (one turn, no executed call): verl 0.9.1 gathers a batch's
``reward_extra_info`` over its first row's keys (``AgentLoopWorker._postprocess``, ``RewardLoopManager``),
so a batch mixing single- and multi-turn rows needs one key set.

Data contract of :meth:`ToolRLRewardManager.run_single` (one trajectory; the last sequence is scored):

- ``batch["responses"]``: response token ids, right-padded; ``batch["attention_mask"]``: its last
  ``responses.shape[-1]`` entries mark the valid response tokens.
- ``non_tensor_batch["reward_model"]["ground_truth"]``, ``["data_source"]``, optional ``["extra_info"]``.
- ``non_tensor_batch["global_steps"]`` (verl's trainer stamps it on every prompt), or
  ``non_tensor_batch["tool_extra_fields"]["global_steps"]`` (the rollout server's weights version).

When the model's chat template prefills a think block (Qwen3 thinking checkpoints end the generation
prompt with ``<think>\\n``), the response never contains ``<think>``; the manager detects this at start-up
from the tokenizer's template and ``data.apply_chat_template_kwargs`` (:mod:`verl_toolrl.core.chat_template`)
and scores the model's full output, the prefilled text prepended. ``reward.reward_kwargs.think_prefill``
(``auto``, ``none``, ``open``) overrides the detection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, TypedDict

from omegaconf import DictConfig, OmegaConf
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_toolrl import REWARD_MANAGER_NAME as NAME  # reward.reward_manager.name
from verl_toolrl.core.chat_template import ThinkPrefill, resolve_think_prefill
from verl_toolrl.plugin.prompt_filter import ScoreReporter
from verl_toolrl.reward import VARIANTS, RewardOptions, compute_score, reward_config
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD, single_turn_scores, trajectory_scores


class RewardLoopResult(TypedDict):
    """What a reward-loop manager returns for one sample: verl puts ``reward_score`` on the last valid
    response token and logs each ``reward_extra_info`` entry as a metric."""

    reward_score: float
    reward_extra_info: dict[str, float]


def chat_template_kwargs(config: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """``data.apply_chat_template_kwargs`` (e.g. ``enable_thinking``), which verl passes to the template.

    >>> chat_template_kwargs({"data": {"apply_chat_template_kwargs": {"enable_thinking": False}}})
    {'enable_thinking': False}
    """
    kwargs = (config.get("data") or {}).get("apply_chat_template_kwargs") or {}
    if isinstance(kwargs, DictConfig):
        kwargs = OmegaConf.to_container(kwargs, resolve=True)
    return dict(kwargs)


def check_reward_config(config: Mapping[str, Any] | DictConfig) -> None:
    """Refuse reward settings that would silently bypass the toolrl manager inside verl.

    verl's ``RewardLoopWorker`` sends samples to a reward model instead of the manager when
    ``reward.reward_model.enable`` is set, and a ``reward.custom_reward_function.path`` would be ignored.

    >>> check_reward_config({"reward": {"reward_model": {"enable": True}}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_model.enable=True: routes samples to a reward model and bypasses ...
    """
    reward = config.get("reward") or {}
    if (reward.get("reward_model") or {}).get("enable"):
        raise ValueError(
            f"reward.reward_model.enable={reward['reward_model']['enable']}: routes samples to a reward model "
            "and bypasses the rule-based toolrl reward; valid choices with reward.reward_manager.name="
            f"{NAME}: false"
        )
    custom_path = (reward.get("custom_reward_function") or {}).get("path")
    if custom_path:
        raise ValueError(
            f"reward.custom_reward_function.path={custom_path!r}: set, but reward.reward_manager.name="
            f"{NAME} computes the ToolRL reward itself; unset the path, or use reward_manager.name=naive "
            "to score with a custom function"
        )


def training_step(non_tensor: Mapping[str, Any]) -> int | None:
    """The trainer's global step stamped on a sample, or None when the sample carries none.

    verl's trainer puts ``global_steps`` on every prompt it sends to the rollout; the rollout server also
    reports the step of the weights it generated with in ``tool_extra_fields``.

    >>> training_step({"global_steps": 7}), training_step({"tool_extra_fields": {"global_steps": 3}})
    (7, 3)
    >>> training_step({"tool_extra_fields": {"global_steps": None}}) is None
    True
    """
    step = non_tensor.get("global_steps")
    if step is None:
        tool_fields = non_tensor.get("tool_extra_fields")
        if isinstance(tool_fields, Mapping):
            step = tool_fields.get("global_steps")
    return None if step is None else int(step)


def valid_response_ids(batch: Mapping[str, Any]) -> Any:
    """The response tokens of one sample that its attention mask marks valid (as verl's ``naive`` reads them).

    >>> import torch
    >>> mask = torch.tensor([0, 1, 1, 1, 1, 0])  # a left-padded prompt of 3, a response of 2 and padding
    >>> valid_response_ids({"responses": torch.tensor([5, 6, 0]), "attention_mask": mask})
    tensor([5, 6])
    """
    response_ids = batch["responses"]
    valid_length = int(batch["attention_mask"][-response_ids.shape[-1] :].sum())
    return response_ids[:valid_length]


@register(NAME)
class ToolRLRewardManager(RewardManagerBase):
    """Scores tool-calling responses with the ToolRL reward (``reward.reward_manager.name=toolrl``).

    Built by verl's ``load_reward_manager(config, tokenizer, ...)`` in every reward worker; the options come from
    ``config.reward.reward_kwargs`` (see :func:`verl_toolrl.reward.config.reward_config`). ``compute_score`` (verl's
    default or custom function) and the reward-model arguments are accepted for signature compatibility and unused.

    >>> manager = ToolRLRewardManager({"reward": {"reward_kwargs": {"variant": "coarse"}}}, tokenizer=None)
    >>> manager.options.variant, manager.score_text("<think> a </think>\\n<response> b </response>",
    ...     "<think> x </think>\\n<response> y </response>", step=0)["score"]
    ('coarse', 1.0)
    """

    def __init__(
        self,
        config: DictConfig | Mapping[str, Any],
        tokenizer: Any,
        compute_score: Any = None,
        reward_router_address: str | None = None,
        reward_model_tokenizer: Any = None,
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        check_reward_config(config)
        self.options: RewardOptions = reward_config(config)
        self.think_prefill: ThinkPrefill = resolve_think_prefill(
            self.options.think_prefill, tokenizer, chat_template_kwargs(config)
        )
        self._option_kwargs = asdict(self.options)
        self._needs_step = step_scheduled(self.options.variant)
        self.report_score = ScoreReporter()  # to the prompt filter, for rows it served (a no-op otherwise)

    def score_text(
        self,
        response: str,
        ground_truth: str,
        *,
        step: int | None,
        data_source: str = "",
        extra_info: Mapping[str, Any] | None = None,
    ) -> dict[str, float]:
        """The reward of one decoded response: the same float keys (``SCORE_KEYS``) for every sample."""
        if step is None:
            if self._needs_step:
                raise ValueError(
                    f"reward variant {self.options.variant!r} follows the training step, but the sample "
                    "carries no non_tensor_batch['global_steps'] (nor tool_extra_fields['global_steps'])"
                )
            step = 0
        # compute_score returns exactly the float keys SCORE_KEYS; extra_info is passed through unread
        return compute_score(data_source, response, ground_truth, extra_info, step=step, **self._option_kwargs)

    async def run_single(self, data: DataProto) -> RewardLoopResult:
        """The reward of one trajectory as verl's reward loop asks for it: its last sequence's valid
        response tokens decoded (``skip_special_tokens=True``), scored against
        ``reward_model["ground_truth"]`` at the sample's training step; ``reward_extra_info`` holds every
        ``REWARD_EXTRA_KEYS`` float (a multi-turn trajectory's turns aggregated, a single-turn row's
        ``SCORE_KEYS`` with the multi-turn keys of one turn). A row the prompt filter served
        (:mod:`verl_toolrl.plugin.prompt_filter`) has its score sent to the filter first. A sample without a
        string ground truth is a ``ValueError`` naming its row."""
        sample = data[-1]  # multi-sequence trajectories are scored on their last sequence, as in naive
        non_tensor = sample.non_tensor_batch
        reward_model = non_tensor.get("reward_model")
        if not isinstance(reward_model, Mapping) or not isinstance(reward_model.get("ground_truth"), str):
            index = (non_tensor.get("extra_info") or {}).get("index", "?")
            raise ValueError(
                f"sample (extra_info.index={index}) has no string reward_model['ground_truth']; "
                f"got reward_model={reward_model!r}"
            )
        tool_fields = non_tensor.get("tool_extra_fields")
        if isinstance(tool_fields, Mapping) and tool_fields.get(MULTI_TURN_FIELD) is not None:
            # a multi-turn trajectory: the agent loop scored its turns, the manager aggregates them
            scores = trajectory_scores(tool_fields[MULTI_TURN_FIELD], self.options)
            await self.report_score(non_tensor, scores["score"])
            return {"reward_score": scores["score"], "reward_extra_info": scores}
        response = self.tokenizer.decode(valid_response_ids(sample.batch), skip_special_tokens=True)
        response = self.think_prefill.text + response  # the model's full output (see chat_template)
        scores = self.score_text(
            response,
            reward_model["ground_truth"],
            step=training_step(non_tensor),
            data_source=str(non_tensor.get("data_source", "")),
            extra_info=non_tensor.get("extra_info"),
        )
        await self.report_score(non_tensor, scores["score"])
        return {"reward_score": scores["score"], "reward_extra_info": single_turn_scores(scores)}


def step_scheduled(variant: str) -> bool:
    """Whether a reward variant's scores depend on the training step.

    >>> step_scheduled("dynamic"), step_scheduled("original")
    (True, False)
    """
    spec = VARIANTS[variant]
    return spec.schedule is not None or spec.length == "scheduled"
