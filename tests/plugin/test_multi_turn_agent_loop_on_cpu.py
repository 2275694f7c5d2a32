"""The ``toolrl_bfcl_multi_turn`` agent loop driven by a scripted policy.

The one stand-in is the policy: :class:`ScriptedServer` takes the place of verl's server manager and
returns given token sequences and log-probs (the texts of a script, tokenized). Everything else is real: verl 0.9.1's
``AgentLoopBase`` and Continuous Token builder, a byte-level BPE tokenizer trained here with a ChatML
template (``verl_toolrl.checks.stand_in.byte_level_tokenizer``), BFCL's simulators and checker from the
``bfcl-eval`` wheel, the rows of ``data_preprocess.bfcl_multi_turn`` and the ``toolrl`` reward manager.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import RAY_TIMEOUT_S  # tests/conftest.py: the shared Ray settings
from omegaconf import OmegaConf
from verl import DataProto
from verl.experimental.agent_loop.agent_loop import DictConfigWrap, _agent_loop_registry
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.rollout.replica import TokenOutput

from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.core.calls import ToolCall, render_output
from verl_toolrl.data import cli as data_cli
from verl_toolrl.data.bfcl_multi_turn import entry_row, main, turn_ground_truths
from verl_toolrl.plugin.multi_turn_agent_loop import BfclMultiTurnAgentLoop, training_episode
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager
from verl_toolrl.plugin.verl_batch import agent_loop_sample
from verl_toolrl.reward import compute_score, score_range
from verl_toolrl.reward.multi_turn import MULTI_TURN_FIELD, REWARD_EXTRA_KEYS
from verl_toolrl.tasks.bfcl.episode import gold_outputs
from verl_toolrl.tasks.bfcl.multi_turn import HELDOUT_FILE, MULTI_TURN_AGENT, entry_from_spec, load_entries
from verl_toolrl.tasks.episode import HASH_SEED, MAX_STEPS_PER_TURN

pytestmark = pytest.mark.usefixtures("bfcl_scratch")


@pytest.fixture(scope="module")
def entries(bfcl_scratch: None) -> dict[str, Any]:
    base = load_entries("multi_turn_base", limit=2)
    return {"base": base[0], "base1": base[1], "miss_func": load_entries("multi_turn_miss_func", limit=1)[0]}


@pytest.fixture(scope="module")
def tokenizer(entries: dict[str, Any]) -> Any:
    texts = [json.dumps(entry_row(entry, "toolrl", "train")) for entry in entries.values()]
    texts += [output for entry in entries.values() for output in gold_outputs(entry)]
    return byte_level_tokenizer(texts, vocab_size=1200)


class ScriptedServer:
    """verl's server manager replaced by a script: each ``generate`` returns the next text's tokens
    (ending with ``<|im_end|>``, as a chat model stops) and records the prompt it was given."""

    def __init__(self, tokenizer: Any, outputs: list[str]) -> None:
        end = tokenizer.eos_token_id
        self.sequences = [tokenizer.encode(text, add_special_tokens=False) + [end] for text in outputs]
        self.generated: list[list[int]] = []
        self.prompts: list[list[int]] = []

    async def generate(
        self, *, request_id: str, prompt_ids: list[int], sampling_params: dict, **kwargs: Any
    ) -> TokenOutput:
        self.prompts.append(list(prompt_ids))
        if not self.sequences:
            raise AssertionError("the loop asked for more steps than the script has")
        self.generated.append(self.sequences.pop(0))
        step = len(self.generated)  # the weights version, as verl's server reports it
        fields = {"min_global_steps": step, "max_global_steps": step}
        return TokenOutput(
            token_ids=self.generated[-1], log_probs=[-0.5] * len(self.generated[-1]), extra_fields=fields
        )


def make_loop(
    tokenizer: Any,
    server: ScriptedServer,
    *,
    response_length: int = 16384,
    max_steps: int | None = None,
    reward_kwargs: dict | None = None,
) -> BfclMultiTurnAgentLoop:
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {
                "rollout": {
                    "prompt_length": 16384,
                    "response_length": response_length,
                    "multi_turn": {
                        "max_assistant_turns": max_steps,
                        "max_tool_response_length": 4096,
                        "tool_response_truncate_side": "middle",
                    },
                }
            },
            "data": {"apply_chat_template_kwargs": {}},
            "reward": {"reward_kwargs": reward_kwargs or {}},
        }
    )
    return BfclMultiTurnAgentLoop(
        trainer_config=DictConfigWrap(config),
        server_manager=server,
        tokenizer=tokenizer,
        processor=None,
        dataset_cls=RLHFDataset,
        data_config=DictConfigWrap(config.data),
    )


def run_loop(tokenizer: Any, entry: Any, outputs: list[str], **options: Any) -> tuple[Any, ScriptedServer]:
    server = ScriptedServer(tokenizer, outputs)
    row = entry_row(entry, "toolrl", "train")
    kwargs = {
        "raw_prompt": row["prompt"],
        "extra_info": row["extra_info"],
        "reward_model": row["reward_model"],
        "global_steps": 0,
    }

    async def go() -> Any:  # verl's loop binds to the running event loop when built
        return await make_loop(tokenizer, server, **options).run({"temperature": 1.0}, **kwargs)

    return asyncio.run(go()), server


def maxima(entry: Any) -> list[float]:
    return [score_range(gt)[1] + 1.0 for gt in turn_ground_truths(entry, "toolrl")]


def manager_reward(output: Any, **reward_kwargs: Any) -> dict:
    """The toolrl reward manager's result for the loop's output, as verl's reward worker hands it over."""
    responses = torch.tensor(output.response_ids)
    data = DataProto.from_dict(
        tensors={
            "responses": responses.unsqueeze(0),
            "attention_mask": torch.ones(1, len(output.prompt_ids) + len(responses), dtype=torch.int64),
        },
        non_tensors={
            "tool_extra_fields": np.array([output.extra_fields], dtype=object),
            "reward_model": np.array([{"ground_truth": "[]"}], dtype=object),
        },
    )
    manager = ToolRLRewardManager({"reward": {"reward_kwargs": reward_kwargs}}, tokenizer=None)
    return asyncio.run(manager.run_single(data))


def test_registered_with_verl() -> None:
    assert (
        _agent_loop_registry[MULTI_TURN_AGENT]["_target_"]
        == "verl_toolrl.plugin.multi_turn_agent_loop.BfclMultiTurnAgentLoop"
    )


@pytest.mark.parametrize("name", ["base", "miss_func"])
def test_ground_truth_replay_reaches_the_maximum_every_turn(tokenizer: Any, entries: dict, name: str) -> None:
    entry = entries[name]
    output, _ = run_loop(tokenizer, entry, gold_outputs(entry))
    record = output.extra_fields[MULTI_TURN_FIELD]
    assert output.extra_fields["turn_scores"] == maxima(entry)
    assert record["turns_reached"] == entry.num_turns and record["bfcl_valid"] and record["call_errors"] == 0
    result = manager_reward(output)
    assert result["reward_score"] == pytest.approx(sum(maxima(entry)) / entry.num_turns)
    assert result["reward_extra_info"]["state_match"] == 1.0 and result["reward_extra_info"]["bfcl_valid"] == 1.0
    assert manager_reward(output, multi_turn_aggregation="mix")["reward_score"] <= sum(maxima(entry)) / entry.num_turns
    assert manager_reward(output, multi_turn_aggregation="bfcl")["reward_score"] == 1.0


def test_a_wrong_argument_lowers_that_turn_only(tokenizer: Any, entries: dict) -> None:
    entry = entries["base"]  # turn 2 is sort('final_report.pdf'), which changes no state
    outputs = gold_outputs(entry)
    wrong = render_output("I will call the tools.", [ToolCall("sort", {"file_name": "draft.pdf"})])
    index = [i for i, text in enumerate(outputs) if '"sort"' in text][0]
    outputs[index] = wrong
    output, _ = run_loop(tokenizer, entry, outputs)
    scores, best = output.extra_fields["turn_scores"], maxima(entry)
    assert scores[2] < best[2]
    assert [s for t, s in enumerate(scores) if t != 2] == [b for t, b in enumerate(best) if t != 2]
    assert manager_reward(output, multi_turn_aggregation="last")["reward_score"] == best[-1]
    assert manager_reward(output, multi_turn_aggregation="bfcl")["reward_score"] == 0.0


def test_observation_tokens_are_exactly_the_zeros_of_response_mask(tokenizer: Any, entries: dict) -> None:
    entry = entries["base"]
    output, server = run_loop(tokenizer, entry, gold_outputs(entry))
    mask, ids = output.response_mask, output.response_ids
    assert len(mask) == len(ids)
    assert [t for t, m in zip(ids, mask, strict=True) if m == 1] == [
        t for sequence in server.generated for t in sequence
    ]
    masked = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m == 0])
    assert '{"current_working_directory": "document"}' in masked  # an observation
    assert entry.questions[1][0]["content"] in masked  # the next user turn
    # the server's log-probs on generated tokens, 0 on observation tokens (verl's rollout_log_probs)
    assert [(m, lp) for m, lp in zip(mask, output.response_logprobs, strict=True)] == [
        (m, -0.5 if m else 0.0) for m in mask
    ]
    # the server's fields verl's trainer reads: the first step's min_global_steps, the last step's max
    assert (output.extra_fields["min_global_steps"], output.extra_fields["max_global_steps"]) == (
        1,
        len(server.generated),
    )
    # every later prompt is the trajectory so far: generated and observation tokens in order
    assert server.prompts[-1] == output.prompt_ids + ids[: len(server.prompts[-1]) - len(output.prompt_ids)]


def test_the_token_stream_is_the_chat_template_of_the_dialogue(tokenizer: Any, entries: dict) -> None:
    """Prompt and response together are the dialogue the episode holds, as the chat template renders it: each
    output once (generated), each observation and user turn once (context), nothing else."""
    entry = entries["base"]
    outputs = gold_outputs(entry)
    output, _ = run_loop(tokenizer, entry, outputs)
    episode, last_prompt = training_episode(entry, "toolrl"), None
    for text in outputs:
        last_prompt = episode.prompt()
        episode.advance(text)
    dialogue = last_prompt + [{"role": "assistant", "content": outputs[-1]}]
    rendered = tokenizer.apply_chat_template(dialogue, tokenize=False)
    stream = tokenizer.decode(output.prompt_ids + output.response_ids, skip_special_tokens=False)

    # verl's default Continuous Token builder (the stand-in tokenizer names no model type) joins a generated
    # <|im_end|> and the next message without the template's newline; model-specific builders insert it
    def joined(text: str) -> str:
        return text.replace("<|im_end|>\n", "<|im_end|>").rstrip("\n")

    assert joined(stream) == joined(rendered)
    assert stream.count(outputs[0]) == 1


def test_the_step_limit_ends_the_trajectory(tokenizer: Any, entries: dict) -> None:
    entry = entries["base"]
    loop_forever = render_output("Look again.", [ToolCall("ls", {})])
    output, server = run_loop(tokenizer, entry, [loop_forever] * 10, max_steps=3)
    record = output.extra_fields[MULTI_TURN_FIELD]
    assert len(server.generated) == 3 and record["force_terminated"] and not record["bfcl_valid"]
    assert record["turns_reached"] == 0 and len(output.extra_fields["turn_scores"]) == entry.num_turns
    assert max(output.extra_fields["turn_scores"]) < min(maxima(entry))


def test_the_length_limit_holds(tokenizer: Any, entries: dict) -> None:
    entry = entries["base"]
    output, server = run_loop(tokenizer, entry, gold_outputs(entry), response_length=120)
    assert len(output.response_ids) <= 120 and len(output.response_mask) == len(output.response_ids)
    assert len(server.generated) < len(gold_outputs(entry))
    assert output.extra_fields[MULTI_TURN_FIELD]["turns_reached"] < entry.num_turns


def test_bad_calls_become_error_observations(tokenizer: Any, entries: dict) -> None:
    entry = entries["base"]
    calls = [ToolCall("rm_everything", {}), ToolCall("cd", {"directory": "x"}), ToolCall("cd", {"folder": 123})]
    outputs = [render_output("Try.", calls), render_output("Done.", response="ok")]
    output, _ = run_loop(tokenizer, entry, outputs + gold_outputs(entry)[2:])
    masked = tokenizer.decode([t for t, m in zip(output.response_ids, output.response_mask, strict=True) if m == 0])
    assert 'Error during execution: unknown function "rm_everything"' in masked
    assert "Error during execution: bad arguments for cd" in masked
    assert masked.count("Error during execution:") == 3  # the simulator's own exception too
    assert output.extra_fields[MULTI_TURN_FIELD]["call_errors"] == 3


def test_two_trajectories_of_one_entry_never_share_state(tokenizer: Any, entries: dict) -> None:
    entry = entries["base"]
    row = entry_row(entry, "toolrl", "train")
    kwargs = {
        "raw_prompt": row["prompt"],
        "extra_info": row["extra_info"],
        "reward_model": row["reward_model"],
        "global_steps": 0,
    }
    step = render_output("Go.", [ToolCall("cd", {"folder": "document"}), ToolCall("mkdir", {"dir_name": "temp"})])
    servers = [
        ScriptedServer(
            tokenizer, [step, render_output("x", response="x")] + ["<think> x </think>\n<response> x </response>"] * 3
        )
        for _ in range(2)
    ]

    async def both() -> list[Any]:
        return await asyncio.gather(*(make_loop(tokenizer, server).run({}, **kwargs) for server in servers))

    outputs = asyncio.run(both())
    observed = [
        tokenizer.decode([t for t, m in zip(o.response_ids, o.response_mask, strict=True) if m == 0]) for o in outputs
    ]
    for text in observed:  # each ran cd and mkdir on its own fresh file system: no "already exists" error
        assert '{"current_working_directory": "document"}' in text and "Error during execution" not in text
    assert outputs[0].extra_fields["turn_scores"] == outputs[1].extra_fields["turn_scores"]


async def test_bad_multi_turn_options_fail_at_start_up(tokenizer: Any) -> None:
    with pytest.raises(
        ValueError, match=r"reward.reward_kwargs.multi_turn_state_weight: 2 is not a number in \[0, 1\]"
    ):
        make_loop(
            tokenizer,
            ScriptedServer(tokenizer, []),
            reward_kwargs={"multi_turn_aggregation": "mix", "multi_turn_state_weight": 2},
        )
    with pytest.raises(ValueError, match="reward.reward_kwargs.multi_turn_aggregation: unknown value 'best'"):
        ToolRLRewardManager({"reward": {"reward_kwargs": {"multi_turn_aggregation": "best"}}}, tokenizer=None)


def test_data_command_writes_a_seeded_split(tmp_path: Any) -> None:
    args = [
        "--output-dir",
        str(tmp_path),
        "--categories",
        "multi_turn_base",
        "--limit",
        "10",
        "--heldout-fraction",
        "0.2",
        "--seed",
        "3",
    ]
    assert main(args) == 0
    train, heldout = pd.read_parquet(tmp_path / "train.parquet"), pd.read_parquet(tmp_path / "heldout.parquet")
    ids = json.loads((tmp_path / HELDOUT_FILE).read_text())["ids"]["multi_turn_base"]
    assert sorted(heldout["extra_info"].map(lambda e: e["index"])) == ids and len(ids) == 2 and len(train) == 8
    assert set(train["agent_name"]) == {MULTI_TURN_AGENT}
    assert not set(train["extra_info"].map(lambda e: e["index"])) & set(ids)
    assert len(json.loads(train["reward_model"][0]["ground_truth"])) == len(
        json.loads(train["extra_info"][0]["bfcl_entry"])["questions"]
    )
    assert main(args + ["--output-dir", str(tmp_path / "again")]) == 0
    assert json.loads((tmp_path / "again" / HELDOUT_FILE).read_text())["ids"]["multi_turn_base"] == ids


def test_a_mixed_batch_of_single_and_multi_turn_rows_loads_and_scores_as_verl_gathers_it(
    tokenizer: Any, tmp_path: Any, shared_dir: Any
) -> None:
    """``--mix-with`` the single-turn mix: verl's RLHFDataset reads the mixed parquet, and every row's
    ``reward_extra_info`` from the real manager has one key set, which verl gathers per key into the batch
    (``np.array([info[key] for info in infos])`` over the first row's keys) in either order."""
    samples = shared_dir / "data" / "raw_samples"
    assert (
        data_cli.main(
            "mix",
            [
                "--output",
                str(tmp_path / "mix"),
                "--seed",
                "0",
                "--skip-invalid",
                "--toolace",
                str(samples / "toolace.json"),
                "--xlam",
                str(samples / "xlam.json"),
                "--toolace-count",
                "3",
                "--hammer-count",
                "1",
                "--xlam-count",
                "3",
                "--test-fraction",
                "0.3",
            ],
        )
        == 0
    )
    single_rows = len(pd.read_parquet(tmp_path / "mix" / "train.parquet"))
    assert (
        main(
            [
                "--output-dir",
                str(tmp_path / "mixed"),
                "--categories",
                "multi_turn_base",
                "--limit",
                "3",
                "--heldout-fraction",
                "0",
                "--mix-with",
                str(tmp_path / "mix"),
            ]
        )
        == 0
    )
    config = OmegaConf.create(
        {"max_prompt_length": 8192, "truncation": "left", "filter_overlong_prompts": False, "return_raw_chat": True}
    )
    dataset = RLHFDataset(data_files=[str(tmp_path / "mixed" / "train.parquet")], tokenizer=tokenizer, config=config)
    rows = [dataset[i] for i in range(len(dataset))]
    assert len(rows) == 3 + single_rows
    assert sorted(row["agent_name"] for row in rows) == sorted(
        [MULTI_TURN_AGENT] * 3 + ["single_turn_agent"] * single_rows
    )
    assert pd.read_parquet(tmp_path / "mixed" / "heldout.parquet").empty

    manager = ToolRLRewardManager({"reward": {"reward_kwargs": {}}}, tokenizer=tokenizer)
    results = []
    for row in rows:
        if row["agent_name"] == MULTI_TURN_AGENT:
            output, _ = run_loop(
                tokenizer,
                entry_from_spec(row["extra_info"]["bfcl_entry"]),
                gold_outputs(entry_from_spec(row["extra_info"]["bfcl_entry"])),
            )
            results.append(manager_reward(output))
        else:
            truth = row["reward_model"]["ground_truth"]
            sample = agent_loop_sample(
                [1, 2], tokenizer.encode(truth, add_special_tokens=False), {**row, "global_steps": 0}
            )
            results.append(asyncio.run(manager.run_single(sample)))
            assert results[-1]["reward_score"] == compute_score("", truth, truth)["score"]
    for ordered in (results, results[::-1]):
        infos = [result["reward_extra_info"] for result in ordered]
        gathered = {key: np.array([info[key] for info in infos]) for key in infos[0]}
        assert tuple(gathered) == REWARD_EXTRA_KEYS and all(len(values) == len(rows) for values in gathered.values())
    single = [
        r["reward_extra_info"] for r, row in zip(results, rows, strict=True) if row["agent_name"] != MULTI_TURN_AGENT
    ]
    assert all(info["turns"] == 1.0 and info["calls"] == 0.0 and info["call_score"] == info["score"] for info in single)


def test_the_preflight_replays_multi_turn_ground_truths_on_the_simulators(tokenizer: Any, entries: dict) -> None:
    """``python -m verl_toolrl preflight`` on multi-turn rows: the ground truth replayed turn by turn reaches
    the maximum on every turn; a row whose per-turn ground truth disagrees with its entry is a miss."""
    from verl_toolrl.checks.preflight import score_ground_truths

    rows = [entry_row(entry, "toolrl", "train") for entry in entries.values()]
    manager = ToolRLRewardManager({"reward": {"reward_kwargs": {}}}, tokenizer=tokenizer)
    check = asyncio.run(
        score_ground_truths(manager, tokenizer, rows, source="mt", prompt_limit=8192, agent_loop="single_turn_agent")
    )
    assert check.ok and check.multi_turn == check.rows == 3 and check.misses == []
    assert "3 multi-turn rows replayed on BFCL's simulators" in check.summary(8192)
    truths = json.loads(rows[0]["reward_model"]["ground_truth"])
    truths[0] = truths[1]  # turn 1's ground truth says what turn 2 does
    wrong = {**rows[0], "reward_model": {"style": "rule", "ground_truth": json.dumps(truths)}}
    check = asyncio.run(score_ground_truths(manager, tokenizer, [wrong, rows[1]], source="mt", prompt_limit=8192))
    assert not check.ok and check.at_max == 1
    assert check.misses[0].startswith(
        "row 0: format_reward 1.0 (max 1.0), exact_match 0.75, parsed 1.0, state_match 1.0, bfcl_valid 1.0"
    )


def test_a_step_scheduled_variant_follows_global_steps_per_turn(tokenizer: Any, entries: dict) -> None:
    entry, outputs = entries["base"], gold_outputs(entries["base"])
    ground_truths = turn_ground_truths(entry, "toolrl")
    for step in (0, 140):
        server = ScriptedServer(tokenizer, outputs)
        row = entry_row(entry, "toolrl", "train")
        kwargs = {
            "raw_prompt": row["prompt"],
            "extra_info": row["extra_info"],
            "reward_model": row["reward_model"],
            "global_steps": step,
        }

        async def go(server: ScriptedServer, kwargs: dict) -> Any:
            return await make_loop(tokenizer, server, reward_kwargs={"variant": "dynamic"}).run({}, **kwargs)

        scores = asyncio.run(go(server, kwargs)).extra_fields["turn_scores"]
        assert scores == [score_range(gt, step=step, variant="dynamic")[1] + 1.0 for gt in ground_truths]
    assert score_range(ground_truths[0], step=0, variant="dynamic") != score_range(
        ground_truths[0], step=140, variant="dynamic"
    )


def test_the_multi_turn_recipe_composes_and_passes_verls_validation(tmp_path: Any) -> None:
    from verl_toolrl.checks.preflight import compose_recipe, validate_recipe
    from verl_toolrl.checks.stand_in import stand_in_model_dir

    stand_in_model_dir(tmp_path)
    overrides = [
        "data.train_files=train.parquet",
        "data.val_files=heldout.parquet",
        f"actor_rollout_ref.model.path={tmp_path}",
    ]
    config = compose_recipe("toolrl_multiturn_grpo", [*overrides, "reward.reward_kwargs.multi_turn_aggregation=mix"])
    validate_recipe(config)
    assert config.actor_rollout_ref.rollout.agent.default_agent_loop == MULTI_TURN_AGENT
    assert config.actor_rollout_ref.rollout.multi_turn.max_assistant_turns == MAX_STEPS_PER_TURN + 1  # BFCL's step rule
    assert config.ray_kwargs.ray_init.runtime_env.env_vars.PYTHONHASHSEED == HASH_SEED
    assert config.algorithm.adv_estimator == "grpo" and config.actor_rollout_ref.rollout.n == 8
    assert ToolRLRewardManager(config, tokenizer=None).options.multi_turn_aggregation == "mix"


def test_rollout_workers_start_with_the_recipes_hash_seed(tmp_path: Any, ray_cluster: Any) -> None:
    """Ray workers started with the multi-turn recipe's ``ray_kwargs.ray_init.runtime_env`` (verl passes it to
    ``ray.init``; given per actor here, the same launch-time mechanism) run with the hash seed pinned, so two
    of them write the same dialogue for an output whose observation renders a Python set; a worker without
    it does not run pinned."""
    from verl_toolrl.checks.preflight import compose_recipe
    from verl_toolrl.checks.stand_in import stand_in_model_dir
    from verl_toolrl.tasks.episode import hash_seed_pinned

    stand_in_model_dir(tmp_path)
    config = compose_recipe(
        "toolrl_multiturn_grpo",
        ["data.train_files=t.parquet", "data.val_files=h.parquet", f"actor_rollout_ref.model.path={tmp_path}"],
    )
    runtime_env = {
        key: value
        for key, value in OmegaConf.to_container(config.ray_kwargs.ray_init.runtime_env).items()
        if value is not None
    }
    book = ToolCall(
        "book_flight",
        {
            "access_token": "secureAccessToken12345",
            "card_id": "144756014165",
            "travel_date": "2026-11-15",
            "travel_from": "SFO",
            "travel_to": "ORD",
            "travel_class": "premium",
        },
    )
    outputs = [render_output("go", [book])]

    @ray_cluster.remote
    class Rollout:
        def run(self, bfcl_root: str) -> tuple[bool, str]:
            import os

            os.environ["BFCL_PROJECT_ROOT"] = bfcl_root
            from verl_toolrl.tasks.bfcl.episode import BfclEpisode
            from verl_toolrl.tasks.bfcl.multi_turn import load_entries

            entry = next(e for e in load_entries("multi_turn_base") if e.id == "multi_turn_base_152")
            episode = BfclEpisode(entry, "strict", "toolrl", stream=True)
            for output in outputs:
                episode.advance(output)
            return hash_seed_pinned(), json.dumps(episode.conversation)

    pinned = [Rollout.options(runtime_env=runtime_env).remote() for _ in range(2)]
    results = ray_cluster.get([actor.run.remote(str(tmp_path / "bfcl")) for actor in pinned], timeout=RAY_TIMEOUT_S)
    assert results[0] == results[1] and results[0][0]
    assert "Must be one of {" in results[0][1]
    unpinned = Rollout.options(runtime_env={"env_vars": {"PYTHONHASHSEED": "1"}}).remote()
    assert not ray_cluster.get(unpinned.run.remote(str(tmp_path / "bfcl")), timeout=RAY_TIMEOUT_S)[0]


def test_the_rollout_and_the_preflight_replay_load_neither_data_nor_eval(tmp_path: Any) -> None:
    """Roles stay apart: the agent loop, and the preflight replaying a multi-turn row, load nothing of the
    data converters or the evaluation (a fresh interpreter, since this one has loaded both)."""
    code = """
import json, sys
from verl_toolrl.checks.preflight import multi_turn_gold_record
from verl_toolrl.plugin.multi_turn_agent_loop import BfclMultiTurnAgentLoop, training_episode
from verl_toolrl.plugin.reward_manager import ToolRLRewardManager
row = json.loads(sys.argv[1])
record = multi_turn_gold_record(ToolRLRewardManager({"reward": {"reward_kwargs": {}}}, tokenizer=None), row, 0)
loaded = sorted(m for m in sys.modules if m.startswith(("verl_toolrl.data", "verl_toolrl.eval")))
print(json.dumps([record["bfcl_valid"], loaded]))
"""
    row = entry_row(load_entries("multi_turn_base", limit=1)[0], "toolrl", "train")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "BFCL_PROJECT_ROOT": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(row)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == [True, []]
