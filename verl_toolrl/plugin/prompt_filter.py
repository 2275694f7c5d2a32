"""The variance-based prompt filter: skip, before rollout, prompts whose latest rollouts all scored alike.

A GRPO group whose rollouts all get the same reward has advantage 0 and teaches nothing: generating it is
waste. verl's DAPO filter (``algorithm.filter_groups``) drops such groups *after* generating them and
generates replacements; this filter uses each prompt's latest group to decide *before* generating it. It
is switched on by one Hydra choice in the GRPO recipes, ``toolrl/prompt_filter=variance``
(``recipes/toolrl/prompt_filter/variance.yaml``), and is off by default.

Three parts, through verl 0.9.1's own extension points:

- :class:`PromptHistory` (pure Python): per prompt, the scores of its latest groups and how often in a row
  it was skipped; for the prompt verl's sampler asks for, the prompt to serve instead.
- :class:`VarianceFilteredDataset` (``data.custom_cls``): verl's ``RLHFDataset`` that asks the history,
  held by a named Ray actor, which row to serve, stamps the row (``prompt_filter``), and prints one line
  per training batch: how many prompts it skipped and why.
- :class:`ScoreReporter`: the ``toolrl`` reward manager sends each stamped rollout's score to the actor
  before returning it, so the next batch is chosen on every score of the last one.

A settled prompt (its latest group's scores spread by at most ``min_std``) is skipped at most
``max_skips`` times in a row, then rolled out again, since the policy moves. Its place in the batch goes
to a prompt not settled: never-served ones first (in a seeded random order), then, of those not awaiting
scores, the one whose latest ``window`` groups settled least often, the one served longest ago among
equals. One group is a noisy estimate: a prompt solved 15 times in 16 scores alike in 8 rollouts only
about 60 % of the time, so its latest group alone would often call it unsettled and serve it in a settled
prompt's place, to score alike again; its record over several groups puts it behind the prompts that
spread every time. When every prompt is settled the requested one is served. Only the training dataset
filters (the validation set is verl's as is). The history lives in the Ray actor, not in checkpoints: a
resumed run starts it empty.
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ray
from omegaconf import DictConfig, ListConfig, OmegaConf
from verl.utils.dataset.rl_dataset import RLHFDataset

from verl_toolrl import REWARD_MANAGER_NAME
from verl_toolrl.plugin.options import options_from_config

#: The row field (non-tensor) carrying a served prompt's stamp, "PROMPT:SERVE".
PROMPT_FILTER_FIELD = "prompt_filter"
#: The named Ray actor holding the history; one per Ray job (verl's driver job namespace).
HISTORY_ACTOR = "toolrl_prompt_filter"


@dataclass(frozen=True)
class PromptFilterOptions:
    """``data.prompt_filter``: when a prompt counts as settled and how long it stays skipped.

    >>> PromptFilterOptions(min_std=0.0, max_skips=2).max_skips
    2
    >>> PromptFilterOptions(max_skips=-1)
    Traceback (most recent call last):
    ...
    ValueError: data.prompt_filter.max_skips=-1: must be an integer >= 0
    >>> PromptFilterOptions(window=0)
    Traceback (most recent call last):
    ...
    ValueError: data.prompt_filter.window=0: must be an integer >= 1
    """

    min_std: float = 0.0  # a group whose scores' standard deviation is at most this is settled
    max_skips: int = 2  # a settled prompt is rolled out again after this many skips in a row
    window: int = 4  # how many of a prompt's latest groups rank it as a replacement (1: the latest alone)
    seed: int = 0  # order in which never-served prompts replace skipped ones

    def __post_init__(self) -> None:
        if not isinstance(self.min_std, int | float) or isinstance(self.min_std, bool) or self.min_std < 0:
            raise ValueError(f"data.prompt_filter.min_std={self.min_std!r}: must be a number >= 0")
        for name, least in (("max_skips", 0), ("window", 1), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"data.prompt_filter.{name}={value!r}: must be an integer >= {least}")

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | DictConfig | None) -> PromptFilterOptions:
        """The options from the config node ``data.prompt_filter``; an unknown key is a ``ValueError``.

        >>> PromptFilterOptions.from_config({"max_skips": 1}).max_skips
        1
        >>> PromptFilterOptions.from_config({"max_skip": 1})
        Traceback (most recent call last):
        ...
        ValueError: data.prompt_filter.max_skip: unknown option; known: min_std, max_skips, window, seed
        """
        return options_from_config(cls, node, "data.prompt_filter")


def stamp(prompt: int, serve: int) -> str:
    """The stamp of the ``serve``-th prompt served, dataset row ``prompt``.

    >>> stamp(3, 17), parse_stamp(stamp(3, 17))
    ('3:17', (3, 17))
    """
    return f"{prompt}:{serve}"


def parse_stamp(text: str) -> tuple[int, int]:
    """``(prompt, serve)`` from a stamp; a malformed one is a ``ValueError`` quoting it.

    >>> parse_stamp("x")
    Traceback (most recent call last):
    ...
    ValueError: prompt_filter stamp 'x' is not PROMPT:SERVE
    """
    prompt, _, serve = str(text).partition(":")
    if not (prompt.isdigit() and serve.isdigit()):
        raise ValueError(f"prompt_filter stamp {text!r} is not PROMPT:SERVE")
    return int(prompt), int(serve)


@dataclass(frozen=True)
class Served:
    """What to serve for a requested prompt: the row, its stamp, and the skipped prompt with the reason."""

    prompt: int
    stamp: str
    skipped: int | None = None
    reason: str = ""


class PromptHistory:
    """Per prompt of a dataset of ``size`` rows: the scores of its latest ``window`` groups and its skips in
    a row. The unsettled prompts are kept in a heap on :meth:`replacement_order`, so choosing a replacement
    costs a heap operation, not a scan of the training set.

    >>> history = PromptHistory(3, PromptFilterOptions(max_skips=1))
    >>> history.serve(0)
    Served(prompt=0, stamp='0:0', skipped=None, reason='')
    >>> for score in (4.0, 4.0, 4.0):
    ...     history.record("0:0", score)
    >>> served = history.serve(0)  # settled: row 0 is skipped once, a never-served row goes instead
    >>> served.skipped, served.prompt != 0, served.reason
    (0, True, 'its 3 latest rollouts all scored +4.00')
    >>> history.serve(0).prompt  # max_skips reached: rolled out again
    0

    Of two unsettled prompts, the one whose recorded groups settled least often replaces first:

    >>> history = PromptHistory(3, PromptFilterOptions(max_skips=0))
    >>> for prompt, scores in ((1, [4.0, 4.0]), (1, [4.0, 1.0]), (2, [4.0, 1.0])):
    ...     stamp_text = history.serve(prompt).stamp
    ...     for score in scores:
    ...         history.record(stamp_text, score)
    >>> history.settled_share(1), history.settled_share(2), sorted([1, 2], key=history.replacement_order)
    (0.5, 0.0, [2, 1])
    """

    def __init__(self, size: int, options: PromptFilterOptions) -> None:
        if size <= 0:
            raise ValueError(f"the prompt filter needs a non-empty training set; got {size} rows")
        self.options = options
        self.size = size
        self.serves = 0
        self.latest: dict[int, int] = {}  # prompt -> serve number of its latest served group
        self.groups: dict[int, deque[list[float]]] = {}  # prompt -> scores of its latest groups, newest last
        self.skips: dict[int, int] = {}  # prompt -> times skipped in a row
        order = list(range(size))
        random.Random(options.seed).shuffle(order)
        self.rank = {prompt: position for position, prompt in enumerate(order)}
        # The unsettled prompts as a heap on replacement_order, so a skip costs a pop, not a scan of the set:
        # `queued` holds each unsettled prompt's current key; a heap entry whose key is not it is stale.
        self.queued = {prompt: self.replacement_order(prompt) for prompt in range(size)}
        self.heap: list[tuple[tuple[bool, float, int, int], int]] = []
        self._rebuild_heap()

    def record(self, stamp_text: str, score: float) -> None:
        """One rollout's score for the group a stamp names; scores of a group already superseded are ignored."""
        prompt, serve = parse_stamp(stamp_text)
        if self.latest.get(prompt) == serve:
            self.groups[prompt][-1].append(float(score))
            self._requeue(prompt)

    def group_scores(self, prompt: int) -> list[float]:
        """The scores recorded so far for ``prompt``'s latest group."""
        groups = self.groups.get(prompt)
        return list(groups[-1]) if groups else []

    def settled(self, prompt: int) -> str:
        """Why ``prompt``'s latest group teaches nothing ("" if it might)."""
        return self.why_settled(self.group_scores(prompt))

    def why_settled(self, scores: list[float]) -> str:
        """Why a group with these scores teaches nothing ("" if it might): two or more scores, spread by at
        most ``min_std``."""
        if len(scores) < 2 or statistics.pstdev(scores) > self.options.min_std:
            return ""
        if min(scores) == max(scores):
            return f"its {len(scores)} latest rollouts all scored {scores[0]:+.2f}"
        return f"its {len(scores)} latest rollouts scored {min(scores):+.2f} to {max(scores):+.2f}"

    def settled_share(self, prompt: int) -> float:
        """The share of ``prompt``'s latest ``window`` groups with two or more scores that settled (0 for
        none)."""
        groups = [scores for scores in self.groups.get(prompt, ()) if len(scores) >= 2]
        return sum(bool(self.why_settled(scores)) for scores in groups) / len(groups) if groups else 0.0

    def serve(self, requested: int) -> Served:
        """The prompt to roll out when verl's sampler asks for ``requested``: itself unless it is settled
        and was skipped fewer than ``max_skips`` times in a row; then an unsettled prompt: never-served
        first (in the seeded order), then, of those not awaiting scores, the one that settled least often,
        then the one served longest ago. Every prompt settled: ``requested``."""
        if not 0 <= requested < self.size:
            raise IndexError(f"prompt {requested} is outside the training set's {self.size} rows")
        reason = self.settled(requested)
        if reason and self.skips.get(requested, 0) < self.options.max_skips:
            replacement = self.first_replacement()
            if replacement is not None:
                self.skips[requested] = self.skips.get(requested, 0) + 1
                return self._serve(replacement, skipped=requested, reason=reason)
        self.skips[requested] = 0
        return self._serve(requested)

    def replacement_order(self, prompt: int) -> tuple[bool, float, int, int]:
        """Sort key of a candidate replacement, smallest first: its latest group still unscored (served in
        this batch), how often it settled, its latest serve (-1: never served, so those come first), its
        seeded rank."""
        in_flight = prompt in self.latest and not self.group_scores(prompt)
        return in_flight, self.settled_share(prompt), self.latest.get(prompt, -1), self.rank[prompt]

    def first_replacement(self) -> int | None:
        """The unsettled prompt with the smallest :meth:`replacement_order`; None when every prompt is settled."""
        while self.heap:
            key, prompt = self.heap[0]
            if self.queued.get(prompt) == key:
                return prompt
            heapq.heappop(self.heap)
        return None

    def _requeue(self, prompt: int) -> None:
        """Bring ``prompt``'s heap entry up to date after its groups changed (its key depends on them alone)."""
        if self.settled(prompt):
            self.queued.pop(prompt, None)
            return
        key = self.replacement_order(prompt)
        if self.queued.get(prompt) != key:
            self.queued[prompt] = key
            heapq.heappush(self.heap, (key, prompt))
            if len(self.heap) > 2 * self.size + 64:
                self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        """The heap of the queued prompts alone, without stale entries."""
        self.heap = [(key, prompt) for prompt, key in self.queued.items()]
        heapq.heapify(self.heap)

    def _serve(self, prompt: int, skipped: int | None = None, reason: str = "") -> Served:
        serve, self.serves = self.serves, self.serves + 1
        self.latest[prompt] = serve
        self.groups.setdefault(prompt, deque(maxlen=self.options.window)).append([])
        self._requeue(prompt)
        return Served(prompt, stamp(prompt, serve), skipped, reason)


#: The history as a Ray actor (no CPU reserved: it does a few list operations per call).
PromptHistoryActor = ray.remote(num_cpus=0)(PromptHistory)


class VarianceFilteredDataset(RLHFDataset):
    """verl's ``RLHFDataset`` (``data.custom_cls``) serving, for the training set, the prompt the history
    chooses instead of the one requested; the validation set (any other ``data_files``) is left as is.

    Built in verl's trainer process, which is a Ray worker: the training set creates the named history
    actor. ``data.dataloader_num_workers`` must be 0 (the choice needs the scores of the batch before,
    which a prefetching worker process would not wait for).
    """

    def __init__(self, data_files, tokenizer, config, processor=None, max_samples: int = -1) -> None:
        super().__init__(data_files, tokenizer, config, processor, max_samples)
        self.filters = same_files(data_files, config.get("train_files"))
        if not self.filters:
            return
        options = check_data_config(config)
        self.history = PromptHistoryActor.options(name=HISTORY_ACTOR, get_if_exists=True).remote(len(self), options)
        self.batch_size = config.get("gen_batch_size") or config.get("train_batch_size") or 1
        self.batches, self.in_batch, self.skipped = 0, 0, []

    def __getitem__(self, item: int) -> dict:
        if not self.filters:
            return super().__getitem__(item)
        served: Served = ray.get(self.history.serve.remote(int(item)))
        row = super().__getitem__(served.prompt)
        row[PROMPT_FILTER_FIELD] = served.stamp
        if served.skipped is not None:
            self.skipped.append(f"prompt {served.skipped} ({served.reason}; prompt {served.prompt} served)")
        self.in_batch += 1
        if self.in_batch == self.batch_size:
            self.batches += 1
            print(batch_summary(self.batches, self.in_batch, self.skipped), flush=True)
            self.in_batch, self.skipped = 0, []
        return row


def check_data_config(data: Mapping[str, Any] | DictConfig) -> PromptFilterOptions:
    """The filter's options from the ``data`` node, refusing a prefetching dataloader and a validation set
    given as the training set's files.

    >>> check_data_config({"dataloader_num_workers": 8})
    Traceback (most recent call last):
    ...
    ValueError: data.dataloader_num_workers=8: the prompt filter needs 0, so each batch is chosen after ...
    """
    options = PromptFilterOptions.from_config(data.get("prompt_filter"))
    if same_files(data.get("val_files"), data.get("train_files")):
        raise ValueError(
            "data.val_files is data.train_files: the prompt filter (which filters the training set only) cannot "
            "tell the two apart; validate on other files, or a copy"
        )
    workers = data.get("dataloader_num_workers", 0)
    if workers != 0:
        raise ValueError(
            f"data.dataloader_num_workers={workers}: the prompt filter needs 0, so each batch is chosen after "
            "the previous one is scored"
        )
    return options


def check_prompt_filter(config: Mapping[str, Any] | DictConfig) -> None:
    """When ``data.custom_cls`` is the filter's dataset: its options, no prefetching, and the ``toolrl``
    reward manager (the one that reports scores to it). Raises ``ValueError`` naming the key.

    >>> check_prompt_filter({"data": {"custom_cls": {"name": "VarianceFilteredDataset"}},
    ...                      "reward": {"reward_manager": {"name": "naive"}}})
    Traceback (most recent call last):
    ...
    ValueError: reward.reward_manager.name=naive: the prompt filter needs the toolrl manager, which reports ...
    """
    data = config.get("data") or {}
    if (data.get("custom_cls") or {}).get("name") != VarianceFilteredDataset.__name__:
        return
    check_data_config(data)
    manager = ((config.get("reward") or {}).get("reward_manager") or {}).get("name")
    if manager != REWARD_MANAGER_NAME:
        raise ValueError(
            f"reward.reward_manager.name={manager}: the prompt filter needs the {REWARD_MANAGER_NAME} manager, "
            "which reports each rollout's score to it"
        )


def batch_summary(batch: int, served: int, skipped: list[str]) -> str:
    """The line the dataset prints per training batch.

    >>> batch_summary(3, 4, ["prompt 5 (its 8 latest rollouts all scored +4.00; prompt 2 served)"])
    'prompt filter: batch 3: 4 prompts served, 1 settled skipped: prompt 5 (its 8 latest ... prompt 2 served)'
    >>> batch_summary(1, 4, [])
    'prompt filter: batch 1: 4 prompts served, 0 settled skipped'
    """
    line = f"prompt filter: batch {batch}: {served} prompts served, {len(skipped)} settled skipped"
    return line + (": " + ", ".join(skipped) if skipped else "")


def same_files(data_files: Any, train_files: Any) -> bool:
    """Whether a dataset's files are ``data.train_files`` (a path or a list of them).

    >>> same_files(["a.parquet"], "a.parquet"), same_files(["a.parquet", "b.parquet"], "a.parquet")
    (True, False)
    >>> same_files(None, "a.parquet")
    False
    """

    def as_list(files: Any) -> list[str]:
        if isinstance(files, ListConfig):
            files = OmegaConf.to_container(files)
        return [str(f) for f in files] if isinstance(files, list | tuple) else [str(files)]

    return data_files is not None and train_files is not None and as_list(data_files) == as_list(train_files)


class ScoreReporter:
    """Sends a stamped training rollout's score to the history actor (found by name on first use); an
    unstamped sample (validation, or the filter off) costs one dictionary lookup."""

    def __init__(self) -> None:
        self.history = None

    async def __call__(self, non_tensor: Mapping[str, Any], score: float) -> None:
        stamp_text = non_tensor.get(PROMPT_FILTER_FIELD)
        if stamp_text is None:
            return
        if self.history is None:
            self.history = ray.get_actor(HISTORY_ACTOR)
        await self.history.record.remote(str(stamp_text), float(score))
