"""The ``toolrl`` reward manager inside verl 0.9.1, against verl's real classes, on CPU.

Registration through the ``verl.plugins`` entry point (fresh processes, Ray workers), construction by
verl's ``load_reward_manager`` from the composed recipe, ``run_single`` on batches shaped as verl's agent
loop builds them with a real (locally built) tokenizer, equality with verl's ``naive`` manager running
the same reward as a custom function, the score's position in ``rm_scores``, and GRPO advantages.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import RAY_TIMEOUT_S  # tests/conftest.py: the shared Ray settings
from omegaconf import open_dict
from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopWorker, _InternalAgentLoopOutput
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
from verl.trainer.ppo.reward import load_reward_manager

from verl_toolrl.checks.preflight import compose_recipe
from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager
from verl_toolrl.plugin.verl_batch import agent_loop_sample, rollout_batch
from verl_toolrl.reward import SCORE_KEYS, compute_score
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD, REWARD_EXTRA_KEYS, single_turn_scores

ROOT = Path(__file__).resolve().parents[2]
DATA = ["data.train_files=unused.parquet", "data.val_files=unused.parquet"]


def target(*calls: tuple[str, dict], response: str | None = None, think: str = "I should call the tool.") -> str:
    """A toolrl-format output (the paper's ground-truth layout)."""
    parts = [f"<think> {think} </think>"]
    if calls:
        lines = "\n".join(json.dumps({"name": name, "parameters": params}) for name, params in calls)
        parts.append(f"<tool_call>\n{lines}\n</tool_call>")
    if response is not None:
        parts.append(f"<response> {response} </response>")
    return "\n".join(parts)


WEATHER = target(("get_weather", {"city": "Paris", "unit": "celsius"}), ("get_time", {"tz": "CET"}))
GREETING = target(response="Hello! How can I help?", think="No tool is needed.")

#: (ground truth, response) pairs from the best to the worst answer, each a different reward.
CASES = [
    (WEATHER, WEATHER),
    (WEATHER, target(("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"}))),
    (WEATHER, target(("get_weather", {"city": "Rome", "unit": "celsius"}))),
    (WEATHER, target(("get_news", {"topic": "Paris"}))),
    (WEATHER, '<think> no closing tag\n<tool_call>\n{"name": "get_weather"}'),
    (GREETING, GREETING),
    (GREETING, target(response="Hi there, anything else?", think="Reply with a greeting.")),
    (GREETING, target(("get_weather", {"city": "Paris"}))),
]


@pytest.fixture(scope="module")
def tokenizer():
    corpus = [text for pair in CASES for text in pair] * 4
    return byte_level_tokenizer(
        corpus, vocab_size=400, added_tokens=["<tool_call>", "</tool_call>", "<think>", "</think>"]
    )


@pytest.fixture(scope="module")
def tokenizer_dir(tokenizer, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(path)
    return path


def recipe(*overrides: str):
    return compose_recipe("toolrl_grpo", [*DATA, *overrides])


def manager_for(tokenizer, *overrides: str) -> ToolRLRewardManager:
    manager = load_reward_manager(recipe(*overrides), tokenizer)
    assert isinstance(manager, ToolRLRewardManager)
    return manager


def response_ids(tokenizer, text: str) -> list[int]:
    """Token ids of a generated response: the text, then end of sequence (as vLLM stops)."""
    return tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]


def fields(ground_truth: str, *, step: int | None = 0, uid: str = "u0", index: int = 0) -> dict:
    """A dataset row's fields as verl carries them next to the tokens."""
    row = {
        "data_source": "rlla",
        "reward_model": {"ground_truth": ground_truth, "style": "rule"},
        "extra_info": {"index": index, "split": "train"},
        "uid": uid,
        "index": index,
        "agent_name": "single_turn_agent",
    }
    if step is not None:
        row["global_steps"] = step
    return row


def prompt_ids(tokenizer) -> list[int]:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the weather in Paris?"}],
        add_generation_prompt=True,
        tokenize=True,
    )["input_ids"]


def run(manager: RewardManagerBase, data):
    """``run_single`` on the event loop the manager was built on (verl's naive manager binds to it)."""
    return manager.loop.run_until_complete(manager.run_single(data))


# ---------------------------------------------------------------- registration through the entry point


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args] if not code else [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        check=False,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_import_verl_alone_registers_toolrl_in_a_fresh_process():
    result = python(
        """
        import sys
        import verl
        from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
        cls = get_reward_manager_cls("toolrl")
        print(cls.__module__, cls.__name__, "verl_toolrl.plugin.reward_manager" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["verl_toolrl.plugin.reward_manager", "ToolRLRewardManager", "True"]


def test_check_command_reports_the_registered_manager():
    result = python("", "-m", "verl_toolrl", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "reward manager 'toolrl': registered (verl_toolrl.plugin.reward_manager.ToolRLRewardManager)" in result.stdout
    )


def test_check_command_prints_the_real_import_error_when_the_plugin_fails():
    # Make the plugin module unimportable, as a broken install would: verl only logs this at DEBUG.
    result = python(
        """
        import sys
        sys.modules["verl_toolrl.plugin.reward_manager"] = None
        from verl_toolrl.__main__ import main
        sys.exit(main(["check"]))
        """
    )
    assert result.returncode == 1
    assert "NOT registered" in result.stdout
    assert "verl failed to load the plugin while importing" in result.stdout
    assert "Traceback" in result.stdout and "import of verl_toolrl.plugin.reward_manager halted" in result.stdout


# ---------------------------------------------------------------- construction from the recipe


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        (
            "reward.reward_manager.source=importlib",
            "reward.reward_manager.name=ToolRLRewardManager",
            "reward.reward_manager.module.path=pkg://verl_toolrl.plugin.reward_manager",
        ),
    ],
    ids=["register", "importlib"],
)
def test_load_reward_manager_builds_toolrl_from_the_recipe(tokenizer, overrides):
    manager = manager_for(tokenizer, *overrides)
    assert manager.tokenizer is tokenizer
    assert (manager.options.variant, manager.options.format, manager.options.schedule_steps) == (
        "original",
        "toolrl",
        150,
    )


def test_options_come_from_reward_kwargs(tokenizer):
    manager = manager_for(
        tokenizer,
        "reward.reward_kwargs.variant=dynamic",
        "reward.reward_kwargs.format=hermes",
        "reward.reward_kwargs.matching=optimal",
        "reward.reward_kwargs.values=lenient",
        "reward.reward_kwargs.schedule_steps=300",
    )
    options = manager.options
    assert (options.variant, options.format, options.matching, options.values) == (
        "dynamic",
        "hermes",
        "optimal",
        "lenient",
    )
    assert options.schedule_steps == 300


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "reward.reward_kwargs.variant=dinamic",
            "reward.reward_kwargs.variant: unknown value 'dinamic'; valid choices: original, with_length",
        ),
        (
            "reward.reward_kwargs.format=json",
            "reward.reward_kwargs.format: unknown value 'json'; valid choices: toolrl, hermes",
        ),
        ("reward.reward_kwargs.matching=best", "matching: unknown value 'best'; valid choices: greedy, optimal"),
        ("reward.reward_kwargs.schedule_steps=0", "reward.reward_kwargs.schedule_steps: 0 is not a positive number"),
        ("reward.reward_model.enable=true", "reward.reward_model.enable=True: routes samples to a reward model"),
    ],
)
def test_a_bad_setting_fails_when_the_manager_is_built(tokenizer, override, message):
    config = compose_recipe("toolrl_grpo", [*DATA, override])  # composes: the manager itself refuses it
    with pytest.raises(ValueError) as error:
        load_reward_manager(config, tokenizer)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_an_added_unknown_reward_option_fails_when_the_manager_is_built(tokenizer):
    # "+key=value" gets past Hydra (it adds the key); the manager names it and the valid keys.
    config = recipe()
    with open_dict(config):
        config.reward.reward_kwargs.varaint = "dynamic"
    with pytest.raises(ValueError, match="^reward.reward_kwargs.varaint: unknown key; valid keys: variant, format"):
        load_reward_manager(config, tokenizer)


# ---------------------------------------------------------------- run_single on verl-shaped data


@pytest.mark.parametrize("ground_truth, response", CASES)
def test_run_single_on_an_agent_loop_sample_scores_the_decoded_response(tokenizer, ground_truth, response):
    manager = manager_for(tokenizer)
    result = run(
        manager,
        agent_loop_sample(prompt_ids(tokenizer), response_ids(tokenizer, response), fields(ground_truth)),
    )
    expected = compute_score("rlla", response, ground_truth)
    assert result["reward_extra_info"] == single_turn_scores(expected)
    assert {key: result["reward_extra_info"][key] for key in SCORE_KEYS} == expected
    assert result["reward_score"] == expected["score"]
    assert list(result["reward_extra_info"]) == list(REWARD_EXTRA_KEYS)
    assert all(type(value) is float for value in result["reward_extra_info"].values())


def gathered_by_verl(results: list[dict]):
    """The batch verl 0.9.1's ``AgentLoopWorker._postprocess`` builds from these reward results (the real
    method; the worker's only state it reads says no reward workers are attached)."""
    ids = torch.tensor([[1, 2, 3, 4]])
    outputs = [
        _InternalAgentLoopOutput(
            prompt_ids=ids[:, :2],
            response_ids=ids[:, 2:],
            input_ids=ids,
            position_ids=torch.arange(4)[None],
            response_mask=torch.ones(1, 2, dtype=torch.long),
            attention_mask=torch.ones(1, 4, dtype=torch.long),
            reward_score=result["reward_score"],
            num_turns=2,
            metrics=AgentLoopMetrics(),
            extra_fields={"reward_extra_info": result["reward_extra_info"]},
        )
        for result in results
    ]
    return AgentLoopWorker._postprocess(SimpleNamespace(reward_loop_worker_handles=None), outputs)


def test_verl_batches_single_and_multi_turn_rows_only_with_one_key_set(tokenizer):
    # verl gathers reward_extra_info over the FIRST row's keys (``np.array([info[key] for info in infos])``,
    # in the agent loop and in the reward loop alike), so a batch that mixes single- and multi-turn rows
    # needs one key set: a single-turn row carries the multi-turn keys too, with their one-turn values.
    manager = manager_for(tokenizer)
    ids = prompt_ids(tokenizer), response_ids(tokenizer, WEATHER)
    single = run(manager, agent_loop_sample(*ids, fields(WEATHER)))
    turn = {**compute_score("rlla", WEATHER, WEATHER), "state_match": 1.0, "turn_score": 4.0}
    record = {"turns": [turn], "turns_reached": 1, "bfcl_valid": True, "calls": 2, "call_errors": 0}
    multi = run(manager, agent_loop_sample(*ids, fields(WEATHER), tool_extra_fields={MULTI_TURN_FIELD: record}))
    for rows in ([single, multi], [multi, single]):
        batch = gathered_by_verl(rows)
        assert batch.meta_info["reward_extra_keys"] == list(REWARD_EXTRA_KEYS)
        logged = [row["reward_extra_info"]["bfcl_valid"] for row in rows]
        assert (
            batch.non_tensor_batch["bfcl_valid"].tolist() == logged == ([0.0, 1.0] if rows[0] is single else [1.0, 0.0])
        )
    # Were single-turn rows to log only their own keys, verl would fail on a batch that starts with a
    # multi-turn row, and silently drop the multi-turn metrics of one that starts with a single-turn row.
    own_keys = {**single, "reward_extra_info": {key: single["reward_extra_info"][key] for key in SCORE_KEYS}}
    with pytest.raises(KeyError, match="turns"):
        gathered_by_verl([multi, own_keys])
    assert gathered_by_verl([own_keys, multi]).meta_info["reward_extra_keys"] == list(SCORE_KEYS)


def test_the_cases_span_distinct_rewards(tokenizer):
    manager = manager_for(tokenizer)
    scores = [
        run(manager, agent_loop_sample(prompt_ids(tokenizer), response_ids(tokenizer, r), fields(gt)))["reward_score"]
        for gt, r in CASES
    ]
    assert scores[:5] == sorted(scores[:5], reverse=True) and len(set(scores[:5])) == 5
    assert scores[5] == scores[6] == 1.0 and scores[7] == 0.0


@pytest.fixture(scope="module")
def reward_file(tmp_path_factory) -> Path:
    """The ToolRL reward as a verl custom reward function file; it also returns the text it was given."""
    path = tmp_path_factory.mktemp("reward") / "toolrl_reward.py"
    path.write_text(
        textwrap.dedent(
            """
            from verl_toolrl.reward import compute_score as toolrl_score

            def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
                return {**toolrl_score(data_source, solution_str, ground_truth), "solution_str": solution_str}
            """
        )
    )
    return path


def test_a_custom_reward_function_next_to_toolrl_is_refused(tokenizer, reward_file):
    with pytest.raises(ValueError, match="computes the ToolRL reward itself"):
        load_reward_manager(recipe(f"reward.custom_reward_function.path={reward_file}"), tokenizer)


@pytest.fixture(scope="module")
def naive_with_toolrl_score(tokenizer, reward_file):
    """verl's naive manager with the same reward as a custom function (how one would use it without the
    plugin), to compare decoding and results."""
    return load_reward_manager(
        recipe("reward.reward_manager.name=naive", f"reward.custom_reward_function.path={reward_file}"),
        tokenizer,
    )


def padding_layouts(tokenizer) -> list[tuple[str, list[int], list[int], dict]]:
    """Samples whose responses fill none, some or all of the padded response width, with special tokens
    (end of sequence, then padding) that decoding must drop, and prompts of different lengths."""
    prompt = prompt_ids(tokenizer)
    samples = []
    for index, (ground_truth, response) in enumerate(CASES):
        ids = response_ids(tokenizer, response)
        samples.append((response, prompt[: 5 + 3 * index], ids, fields(ground_truth, index=index, uid=f"u{index % 2}")))
    truncated = tokenizer.encode(WEATHER, add_special_tokens=False)[:17]  # cut at the length limit: no EOS
    samples.append((tokenizer.decode(truncated), prompt, truncated, fields(WEATHER, index=len(samples))))
    return samples


def padded_batch(tokenizer, samples: list[tuple[str, list[int], list[int], dict]]):
    """The samples of :func:`padding_layouts` as one batch, responses padded to the longest."""
    return rollout_batch(
        [(p, r, f) for _, p, r, f in samples],
        prompt_length=len(prompt_ids(tokenizer)),
        response_length=max(len(ids) for _, _, ids, _ in samples),
        pad_token_id=tokenizer.pad_token_id,
    )


def test_decoding_matches_verl_naive_manager_for_every_padding_layout(tokenizer, naive_with_toolrl_score):
    manager = manager_for(tokenizer)
    samples = padding_layouts(tokenizer)
    batch = padded_batch(tokenizer, samples)
    for row, (text, _, _, _) in enumerate(samples):
        ours = run(manager, batch[row : row + 1])
        naive = run(naive_with_toolrl_score, batch[row : row + 1])
        assert naive["reward_extra_info"].pop("solution_str") == text
        assert ours["reward_extra_info"] == single_turn_scores(naive["reward_extra_info"])
        assert ours["reward_score"] == naive["reward_score"]


# ---------------------------------------------------------------- the training step


@pytest.mark.parametrize("variant", ["dynamic", "two_stage", "dynamic_length"])
def test_a_step_scheduled_variant_follows_global_steps(tokenizer, variant):
    manager = manager_for(tokenizer, f"reward.reward_kwargs.variant={variant}")
    ground_truth = WEATHER  # a partly right answer with a 300-word think: every schedule moves its score
    response = target(("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"}), think=" ".join(["hmm"] * 300))
    scores = {}
    for step in (0, 150):
        data = agent_loop_sample(
            prompt_ids(tokenizer), response_ids(tokenizer, response), fields(ground_truth, step=step)
        )
        scores[step] = run(manager, data)["reward_score"]
        assert scores[step] == compute_score("rlla", response, ground_truth, step=step, variant=variant)["score"]
    assert scores[0] != scores[150]


def test_the_schedule_horizon_is_an_option(tokenizer):
    ground_truth, response = CASES[1]
    data = agent_loop_sample(prompt_ids(tokenizer), response_ids(tokenizer, response), fields(ground_truth, step=150))
    paper = run(manager_for(tokenizer, "reward.reward_kwargs.variant=dynamic"), data)["reward_score"]
    longer = run(
        manager_for(tokenizer, "reward.reward_kwargs.variant=dynamic", "reward.reward_kwargs.schedule_steps=300"),
        data,
    )["reward_score"]
    assert (
        longer
        == compute_score("rlla", response, ground_truth, step=150, variant="dynamic", schedule_steps=300)["score"]
    )
    assert longer != paper


def test_the_step_falls_back_to_the_rollout_servers_weights_version(tokenizer):
    manager = manager_for(tokenizer, "reward.reward_kwargs.variant=dynamic")
    ground_truth, response = CASES[1]
    data = agent_loop_sample(
        prompt_ids(tokenizer),
        response_ids(tokenizer, response),
        fields(ground_truth, step=None),
        tool_extra_fields={"global_steps": 150},
    )
    expected = compute_score("rlla", response, ground_truth, step=150, variant="dynamic")["score"]
    assert run(manager, data)["reward_score"] == expected


def test_a_scheduled_variant_without_a_step_is_an_error_and_an_unscheduled_one_is_not(tokenizer):
    ground_truth, response = CASES[1]
    data = agent_loop_sample(prompt_ids(tokenizer), response_ids(tokenizer, response), fields(ground_truth, step=None))
    with pytest.raises(ValueError, match="follows the training step"):
        run(manager_for(tokenizer, "reward.reward_kwargs.variant=dynamic"), data)
    assert run(manager_for(tokenizer), data)["reward_score"] == compute_score("rlla", response, ground_truth)["score"]


def test_a_sample_without_a_ground_truth_names_the_row(tokenizer):
    row = fields(WEATHER, index=41)
    row["reward_model"] = {"style": "rule"}
    data = agent_loop_sample(prompt_ids(tokenizer), response_ids(tokenizer, WEATHER), row)
    with pytest.raises(ValueError, match=r"extra_info.index=41.*ground_truth"):
        run(manager_for(tokenizer), data)


# ---------------------------------------------------------------- from scores to advantages


def test_the_score_lands_on_the_last_valid_response_token_for_every_padding_layout(tokenizer):
    manager = manager_for(tokenizer)
    samples = padding_layouts(tokenizer)
    lengths = [len(ids) for _, _, ids, _ in samples]
    for width in (max(lengths), max(lengths) + 7):  # longest response fills the width, or not
        batch = rollout_batch(
            [(p, r, f) for _, p, r, f in samples],
            prompt_length=len(prompt_ids(tokenizer)),
            response_length=width,
            pad_token_id=tokenizer.pad_token_id,
        )
        scores = [run(manager, batch[row : row + 1])["reward_score"] for row in range(len(batch))]
        rm_scores = ToolRLRewardManager.assemble_rm_scores(batch, scores)
        for row, length in enumerate(lengths):
            expected = torch.zeros(width)
            expected[length - 1] = scores[row]
            assert torch.equal(rm_scores[row], expected), row


def test_rewards_feed_verl_grpo_advantages(tokenizer):
    manager = manager_for(tokenizer)
    # Two prompts (uid u0: the tool-call target, u1: the greeting), four rollouts each.
    groups = {"u0": [r for gt, r in CASES[:4]], "u1": [r for gt, r in CASES[5:8]] + [CASES[5][1]]}
    targets = {"u0": WEATHER, "u1": GREETING}
    samples = [
        (prompt_ids(tokenizer), response_ids(tokenizer, response), fields(targets[uid], uid=uid, index=i))
        for uid, responses in groups.items()
        for i, response in enumerate(responses)
    ]
    width = max(len(ids) for _, ids, _ in samples) + 3
    batch = rollout_batch(
        samples,
        prompt_length=len(prompt_ids(tokenizer)),
        response_length=width,
        pad_token_id=tokenizer.pad_token_id,
    )
    scores = [run(manager, batch[row : row + 1])["reward_score"] for row in range(len(batch))]
    rm_scores = ToolRLRewardManager.assemble_rm_scores(batch, scores)
    advantages, returns = compute_grpo_outcome_advantage(
        token_level_rewards=rm_scores,
        response_mask=batch.batch["response_mask"],
        index=batch.non_tensor_batch["uid"],
        norm_adv_by_std_in_grpo=True,
    )
    for row, (uid, (_, ids, _)) in enumerate(zip(batch.non_tensor_batch["uid"], samples, strict=True)):
        group = np.array([s for s, u in zip(scores, batch.non_tensor_batch["uid"], strict=True) if u == uid])
        expected = (scores[row] - group.mean()) / (group.std(ddof=1) + 1e-6)
        assert torch.allclose(advantages[row, : len(ids)], torch.full((len(ids),), expected, dtype=torch.float32))
        assert torch.all(advantages[row, len(ids) :] == 0)
    assert torch.equal(advantages, returns)
    assert advantages[0, 0] > 0 > advantages[3, 0]  # the exact answer beats the wrong tool


# ---------------------------------------------------------------- inside verl's Ray reward workers


def test_verl_reward_loop_workers_score_with_toolrl_in_ray_actors(tokenizer, tokenizer_dir, ray_cluster):
    from verl.experimental.reward_loop import RewardLoopManager

    config = recipe(
        f"actor_rollout_ref.model.path={tokenizer_dir}",
        "reward.num_workers=2",
        "reward.reward_kwargs.variant=dynamic",
    )
    manager = RewardLoopManager(config)  # starts RewardLoopWorker actors, which build the manager by name
    samples = padding_layouts(tokenizer)
    for row, sample in enumerate(samples):
        sample[3]["global_steps"] = 10 * row
    batch = padded_batch(tokenizer, samples)

    # 1) the trainer's batch path: RewardLoopManager.compute_rm_score
    output = manager.compute_rm_score(batch)
    assert output.meta_info["reward_extra_keys"] == list(REWARD_EXTRA_KEYS)
    for row, (text, _, ids, row_fields) in enumerate(samples):
        expected = compute_score(
            "rlla",
            text,
            row_fields["reward_model"]["ground_truth"],
            step=row_fields["global_steps"],
            variant="dynamic",
        )
        assert output.batch["rm_scores"][row, len(ids) - 1].item() == pytest.approx(expected["score"])
        assert output.batch["rm_scores"][row].abs().sum().item() == pytest.approx(abs(expected["score"]))
        for key in SCORE_KEYS:
            assert output.non_tensor_batch[key][row] == expected[key]

    # 2) the streaming path: the agent loop calls a worker handle with one trajectory while rolling out
    text, _, ids, row_fields = samples[1]
    data = agent_loop_sample(prompt_ids(tokenizer), ids, row_fields)
    result = ray_cluster.get(manager.reward_loop_worker_handles[0].compute_score.remote(data), timeout=RAY_TIMEOUT_S)
    expected = compute_score("rlla", text, row_fields["reward_model"]["ground_truth"], step=10, variant="dynamic")
    assert result == {"reward_score": expected["score"], "reward_extra_info": single_turn_scores(expected)}
