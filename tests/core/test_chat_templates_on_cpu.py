"""Today's chat templates: think-block prefills and the model's own tool template, with verl's real classes.

Local tokenizers carry the real chat templates of Qwen2.5-Instruct, Qwen3 (hybrid, and the thinking-only
Qwen3-4B-Thinking-2507) and Llama-3.2-Instruct (``tests/chat_templates/``, sources in its README). The
training rows are built from the real xLAM records of ``../shared`` by the data command. The one stand-in
is the rollout server in the agent-loop tests: it returns given tokens in place of a model's generation.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import hydra
import pyarrow.parquet as pq
import pytest
import torch
from omegaconf import OmegaConf
from transformers import Qwen2Config, Qwen2ForCausalLM
from verl.experimental.agent_loop.agent_loop import DictConfigWrap, _agent_loop_registry
from verl.trainer.ppo.reward import load_reward_manager
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.rollout.replica import TokenOutput

from verl_toolrl.checks.preflight import (
    chat_prompt_ids,
    compose_recipe,
    preflight,
    score_ground_truths,
)
from verl_toolrl.checks.stand_in import byte_level_tokenizer
from verl_toolrl.core.chat_template import ThinkPrefill, think_prefill
from verl_toolrl.data.cli import main as data_main
from verl_toolrl.eval.backends import OpenAIBackend, Sampling, TransformersBackend, VllmBackend, make_backend
from verl_toolrl.eval.generations import GENERATIONS_FILE, RunInfo, read_generations
from verl_toolrl.eval.pipeline import generate, run_items, run_prompts, score
from verl_toolrl.eval.registry import get_benchmark
from verl_toolrl.plugin.agent_loop import TOOL_TEMPLATE_AGENT
from verl_toolrl.plugin.verl_batch import agent_loop_sample

TEMPLATES = Path(__file__).resolve().parents[1] / "chat_templates"
DATA = ["data.train_files=unused.parquet", "data.val_files=unused.parquet"]
#: template fixture -> the root Hugging Face model_type of its checkpoints (picks verl's token builder)
MODEL_TYPES = {
    "qwen2_5_instruct": "qwen2",
    "qwen3_hybrid": "qwen3",
    "qwen3_thinking_2507": "qwen3",
    "llama3_2_instruct": "llama",
}
LLAMA_SPECIAL = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


def template_tokenizer(name: str):
    """A byte-level tokenizer (exact decoding, built locally) with ``name``'s real chat template and the
    special tokens that template writes; ``<think>`` and ``<tool_call>`` are ordinary added tokens, as in
    Qwen's vocabularies."""
    tokenizer = byte_level_tokenizer(added_tokens=["<tool_call>", "</tool_call>", "<think>", "</think>"])
    if name.startswith("llama"):
        tokenizer.add_special_tokens(
            {"bos_token": LLAMA_SPECIAL[0], "eos_token": LLAMA_SPECIAL[3], "additional_special_tokens": LLAMA_SPECIAL}
        )
    tokenizer.chat_template = (TEMPLATES / f"{name}.jinja").read_text()
    return tokenizer


@pytest.fixture(scope="module", params=list(MODEL_TYPES))
def model(request):
    return request.param, template_tokenizer(request.param)


@pytest.fixture(scope="module")
def xlam_rows(shared_dir, tmp_path_factory):
    """Rows of the shared xLAM records, per (format, tool prompt), as the data command writes them."""
    rows = {}
    for format, tool_prompt in (("toolrl", "system"), ("hermes", "system"), ("hermes", "template")):
        out = tmp_path_factory.mktemp(f"{format}-{tool_prompt}")
        argv = ["--input", str(shared_dir / "data/raw_samples/xlam.json"), "--output", str(out)]
        assert data_main("xlam", [*argv, "--format", format, "--tool-prompt", tool_prompt]) == 0
        rows[format, tool_prompt] = (out / "train.parquet", pq.read_table(out / "train.parquet").to_pylist())
    return rows


def manager_for(tokenizer, *overrides: str):
    return load_reward_manager(compose_recipe("toolrl_grpo", [*DATA, *overrides]), tokenizer)


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("qwen2_5_instruct", {}, ThinkPrefill("none")),
        ("qwen3_hybrid", {}, ThinkPrefill("none")),
        ("qwen3_hybrid", {"enable_thinking": True}, ThinkPrefill("none")),
        ("qwen3_hybrid", {"enable_thinking": False}, ThinkPrefill("closed", "<think>\n\n</think>\n\n")),
        ("qwen3_thinking_2507", {}, ThinkPrefill("open", "<think>\n")),
        ("llama3_2_instruct", {}, ThinkPrefill("none")),
    ],
)
def test_the_think_prefill_is_read_from_each_real_template(name, kwargs, expected):
    assert think_prefill(template_tokenizer(name), kwargs) == expected


def test_the_manager_detects_the_prefill_at_start_up_and_the_option_overrides_it():
    thinking = template_tokenizer("qwen3_thinking_2507")
    assert manager_for(thinking).think_prefill == ThinkPrefill("open", "<think>\n")
    assert manager_for(thinking, "reward.reward_kwargs.think_prefill=none").think_prefill.kind == "none"
    hybrid = template_tokenizer("qwen3_hybrid")
    assert manager_for(hybrid, "reward.reward_kwargs.think_prefill=open").think_prefill.text == "<think>\n"
    closed = manager_for(hybrid, "+data.apply_chat_template_kwargs.enable_thinking=false")
    assert closed.think_prefill.kind == "closed"
    with pytest.raises(ValueError, match="think_prefill: unknown value 'on'; valid choices: auto, none, open"):
        manager_for(hybrid, "reward.reward_kwargs.think_prefill=on")


@pytest.mark.parametrize(("format", "tool_prompt"), [("toolrl", "system"), ("hermes", "system")])
def test_gold_targets_score_the_maximum_through_the_manager_for_every_template(model, xlam_rows, format, tool_prompt):
    name, tokenizer = model
    _, rows = xlam_rows[format, tool_prompt]
    manager = manager_for(tokenizer, f"reward.reward_kwargs.format={format}")
    check = asyncio.run(score_ground_truths(manager, tokenizer, rows, source=name, prompt_limit=100_000))
    assert check.ok, check.summary(100_000)
    assert check.rows == len(rows) == 11


def test_a_prefilled_think_block_zeroes_the_format_reward_unless_the_manager_restores_it(xlam_rows):
    """The failure of trl#6966: a thinking checkpoint never writes <think> (its template prefilled it), so
    the bare response earns format reward 0; the detected prefill restores the model's full output."""
    tokenizer = template_tokenizer("qwen3_thinking_2507")
    _, rows = xlam_rows["toolrl", "system"]
    detected, blind = manager_for(tokenizer), manager_for(tokenizer, "reward.reward_kwargs.think_prefill=none")
    for row in rows:
        truth = row["reward_model"]["ground_truth"]
        generated = tokenizer.encode(truth.removeprefix("<think>"), add_special_tokens=False)
        sample = agent_loop_sample(chat_prompt_ids(tokenizer, row["prompt"]), generated, dict(row, global_steps=0))
        restored = asyncio.run(detected.run_single(sample))["reward_extra_info"]
        bare = asyncio.run(blind.run_single(sample))["reward_extra_info"]
        assert (restored["format_reward"], restored["exact_match"]) == (1.0, 1.0)
        assert bare["format_reward"] == 0.0


def test_closing_the_think_block_with_enable_thinking_false_is_reported_by_the_preflight(xlam_rows):
    tokenizer = template_tokenizer("qwen3_hybrid")
    _, rows = xlam_rows["toolrl", "system"]
    manager = manager_for(tokenizer, "+data.apply_chat_template_kwargs.enable_thinking=false")
    check = asyncio.run(score_ground_truths(manager, tokenizer, rows, source="x", prompt_limit=10**5))
    assert check.at_max == 0 and not check.ok
    assert "closed think block" in manager.think_prefill.describe()


class GivenTokensServer:
    """Stand-in for verl's LLM server client (the one thing a CPU test cannot have): records the prompt it
    is sent and returns the given response tokens."""

    def __init__(self, response_ids: list[int]):
        self.response_ids, self.prompts = response_ids, []

    async def generate(self, *, prompt_ids, **_) -> TokenOutput:
        self.prompts.append(list(prompt_ids))
        return TokenOutput(token_ids=self.response_ids, log_probs=None, stop_reason="completed")


def run_agent_loop(agent_name: str, name: str, tokenizer, row: dict, response_ids: list[int]):
    """One row through the registered agent loop, instantiated as verl's AgentLoopWorker does it (inside
    the running event loop, which the loop captures)."""
    config = compose_recipe("toolrl_grpo", [*DATA, "data.max_prompt_length=100000", "data.max_response_length=512"])
    server = GivenTokensServer(response_ids)

    async def rollout():
        loop = hydra.utils.instantiate(
            config=_agent_loop_registry[agent_name],
            trainer_config=DictConfigWrap(config=config),
            server_manager=server,
            tokenizer=tokenizer,
            processor=None,
            hf_model_type=MODEL_TYPES[name],
            dataset_cls=RLHFDataset,
            data_config=DictConfigWrap(config.data),
        )
        kwargs = {"raw_prompt": list(row["prompt"]), "extra_info": row["extra_info"], "index": 0}
        return await loop.run({"temperature": 1.0}, **kwargs)

    output = asyncio.run(rollout())
    return server.prompts[0], output


def test_the_tool_template_loop_renders_exactly_the_templates_own_tool_prompt(model, xlam_rows):
    name, tokenizer = model
    _, rows = xlam_rows["hermes", "template"]
    row = rows[0]
    messages, tools = row["prompt"], json.loads(row["extra_info"]["tools"])
    response_ids = tokenizer.encode(row["reward_model"]["ground_truth"], add_special_tokens=False)
    prompt_ids, output = run_agent_loop(TOOL_TEMPLATE_AGENT, name, tokenizer, row, response_ids)
    expected = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=True)
    expected = list(expected["input_ids"] if isinstance(expected, dict) or hasattr(expected, "keys") else expected)
    assert prompt_ids == expected
    assert tokenizer.decode(prompt_ids) == tokenizer.apply_chat_template(
        messages, tools=tools, add_generation_prompt=True, tokenize=False
    )
    assert tools[0]["function"]["name"] in tokenizer.decode(prompt_ids)
    assert output.response_ids == response_ids and output.prompt_ids == prompt_ids
    # verl's own single-turn loop shows the same row without any tool
    plain_ids, _ = run_agent_loop("single_turn_agent", name, tokenizer, row, response_ids)
    assert tools[0]["function"]["name"] not in tokenizer.decode(plain_ids)


def test_the_tool_template_loop_refuses_rows_that_already_list_their_tools(xlam_rows):
    _, rows = xlam_rows["hermes", "system"]
    tokenizer = template_tokenizer("qwen2_5_instruct")
    with pytest.raises(
        ValueError, match="already lists tools; build the data with --format hermes --tool-prompt template"
    ):
        run_agent_loop(TOOL_TEMPLATE_AGENT, "qwen2_5_instruct", tokenizer, rows[0], [1])


def test_the_preflight_renders_template_rows_with_their_tools_and_flags_the_wrong_agent_loop(xlam_rows):
    name = "qwen3_thinking_2507"
    tokenizer = template_tokenizer(name)
    _, rows = xlam_rows["hermes", "template"]
    manager = manager_for(tokenizer, "reward.reward_kwargs.format=hermes")
    score = lambda loop: asyncio.run(  # noqa: E731
        score_ground_truths(manager, tokenizer, rows, source=name, prompt_limit=10**5, agent_loop=loop)
    )
    assert score(TOOL_TEMPLATE_AGENT).ok
    wrong = score("single_turn_agent")
    assert wrong.at_max == 0 and wrong.rows == len(rows)
    assert "default_agent_loop=toolrl_tool_template" in wrong.misses[0]


def test_tool_template_rows_load_in_verls_dataset(xlam_rows, tmp_path):
    path, rows = xlam_rows["hermes", "template"]
    assert all("<tools>" not in row["prompt"][0]["content"] for row in rows)
    config = OmegaConf.create(
        {
            "max_prompt_length": 100_000,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    dataset = RLHFDataset(str(path), template_tokenizer("qwen3_hybrid"), config)
    assert len(dataset) == len(rows) == 11
    item = dataset[3]
    assert item["raw_prompt"][0]["role"] == "system"
    assert json.loads(item["extra_info"]["tools"]) == json.loads(rows[3]["extra_info"]["tools"])


def test_tool_template_rows_need_the_hermes_format(shared_dir, tmp_path, capsys):
    argv = ["--input", str(shared_dir / "data/raw_samples/xlam.json"), "--output", str(tmp_path)]
    assert data_main("xlam", [*argv, "--tool-prompt", "template"]) == 2
    assert "--tool-prompt template needs --format hermes" in capsys.readouterr().err


def tiny_checkpoint(tokenizer, path: Path) -> Path:
    """A tiny random Qwen2 (2 layers, width 32) saved with ``tokenizer`` at ``path``: a real checkpoint the
    evaluation's transformers backend loads, its outputs meaningless."""
    torch.manual_seed(0)
    Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
    ).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_the_evaluations_decoding_restores_the_prefilled_think_block(tmp_path):
    """The transformers backend on a tiny random Qwen2 (greedy, so deterministic) carrying the Qwen3
    thinking template: the text it returns is the model's full output, the prefilled <think> included."""
    tiny_checkpoint(template_tokenizer("qwen3_thinking_2507"), tmp_path)
    prompts = [[{"role": "user", "content": "Weather in Paris?"}], [{"role": "user", "content": "Hi"}]]
    sampling = Sampling(max_new_tokens=4)
    full = make_backend("transformers", str(tmp_path), sampling, device="cpu").generate(prompts)
    bare = make_backend("transformers", str(tmp_path), sampling, device="cpu", think_prefill="none").generate(prompts)
    assert full == ["<think>\n" + text for text in bare]


def test_the_preflight_command_reports_the_prefill_and_the_loop_and_passes(xlam_rows):
    path, _ = xlam_rows["hermes", "template"]
    lines: list[str] = []
    overrides = [
        f"data.train_files={path}",
        f"data.val_files={path}",
        "reward.reward_kwargs.format=hermes",
        f"actor_rollout_ref.rollout.agent.default_agent_loop={TOOL_TEMPLATE_AGENT}",
    ]
    assert preflight(
        "toolrl_grpo", overrides, tokenizer=template_tokenizer("qwen3_thinking_2507"), print_fn=lines.append
    )
    assert "chat template: the generation prompt opens a think block ('<think>\\n')" in "\n".join(lines)
    assert f"agent loop: {TOOL_TEMPLATE_AGENT} (tools rendered by the chat template)" in lines
    plain = overrides[:-1]
    assert not preflight("toolrl_grpo", plain, tokenizer=template_tokenizer("qwen2_5_instruct"), print_fn=lines.append)


# --- the evaluation renders --tool-prompt template prompts as the agent loop does --------------------------

#: Evaluation runs in the hermes format with the tools left to the chat template: two BFCL items, two API-Bank.
TEMPLATE_RUNS = {
    "bfcl": ("bfcl", "hermes", ["simple_python", "live_simple"], 1, None),
    "apibank": ("apibank", "hermes", ["1"], 2, "data/toolrl/api_bank"),
}


def template_run(benchmark: str, shared_dir: Path) -> RunInfo:
    name, format, categories, limit, data_dir = TEMPLATE_RUNS[benchmark]
    directory = str(shared_dir / data_dir) if data_dir else None
    return RunInfo(name, "m", "transformers", format, categories, limit, {}, directory, "strict", "template")


@pytest.fixture(scope="module")
def eval_template_prompts(shared_dir):
    """id -> (messages, tool schemas) of the evaluation's template runs, from its benchmark interface."""
    prompts = {}
    for benchmark in TEMPLATE_RUNS:
        info = template_run(benchmark, shared_dir)
        items = run_items(info)
        tools = get_benchmark(benchmark).prompt_tools(info, items)
        prompts.update((i, (messages, tools[i])) for i, (_, messages) in run_prompts(info, items).items())
    return prompts


@pytest.fixture(scope="module")
def template_rows(shared_dir, tmp_path_factory):
    """The data command's ``--format hermes --tool-prompt template`` rows of the same items, by source id."""
    out = tmp_path_factory.mktemp("eval-template-rows")
    common = ["--format", "hermes", "--tool-prompt", "template"]
    bfcl = ["--categories", *TEMPLATE_RUNS["bfcl"][2], "--limit", "1"]
    assert data_main("bfcl", ["--output", str(out / "bfcl"), *common, *bfcl]) == 0
    apibank = ["--input", str(shared_dir / "data/toolrl/api_bank"), "--levels", "1", "--skip-invalid"]
    assert data_main("apibank", ["--output", str(out / "apibank"), *common, *apibank]) == 0
    rows = [row for path in sorted(out.glob("*/*.parquet")) for row in pq.read_table(path).to_pylist()]
    return {row["extra_info"]["source_id"]: row for row in rows}


class TokenizerOnlyLLM:
    """Stand-in for ``vllm.LLM`` (vLLM does not run on CPU): ``VllmBackend.render`` asks it for its tokenizer."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def get_tokenizer(self):
        return self.tokenizer


def test_the_evaluation_renders_tool_template_prompts_as_the_agent_loop_does(
    model, eval_template_prompts, template_rows, tmp_path
):
    """For each real template, a BFCL and an API-Bank item in the hermes format with --tool-prompt template:
    the evaluation's prompt is the data row's, its transformers backend renders exactly
    ``apply_chat_template(messages, tools=...)``, which is what the toolrl_tool_template loop sends for that
    row; the vLLM backend hands those token ids to vLLM and the openai backend sends the same tools."""
    name, tokenizer = model
    assert len(eval_template_prompts) == 4 and {i.split("_")[0].split("-")[0] for i in eval_template_prompts} == {
        "simple",
        "live",
        "level",
    }
    ids = list(eval_template_prompts)
    messages, tools = [eval_template_prompts[i][0] for i in ids], [eval_template_prompts[i][1] for i in ids]
    backend = TransformersBackend(str(tiny_checkpoint(tokenizer, tmp_path)), Sampling(max_new_tokens=1), device="cpu")
    texts = backend.render(messages, tools)
    vllm = VllmBackend.__new__(VllmBackend)
    vllm.llm = TokenizerOnlyLLM(tokenizer)
    openai = OpenAIBackend.__new__(OpenAIBackend)
    openai.model, openai.sampling = "m", Sampling()
    for item_id, prompt, schemas, text, vllm_prompt in zip(
        ids, messages, tools, texts, vllm.render(messages, tools), strict=True
    ):
        row = template_rows[item_id]
        assert (prompt, schemas) == (row["prompt"], json.loads(row["extra_info"]["tools"]))
        assert "<tools>" not in prompt[0]["content"] and schemas[0]["function"]["name"] in text
        assert text == tokenizer.apply_chat_template(prompt, tools=schemas, add_generation_prompt=True, tokenize=False)
        loop_ids, _ = run_agent_loop(
            TOOL_TEMPLATE_AGENT, name, tokenizer, row, tokenizer.encode("x", add_special_tokens=False)
        )
        assert backend.tokenizer(text, add_special_tokens=False)["input_ids"] == loop_ids
        assert vllm_prompt == {"prompt_token_ids": loop_ids}
        body = openai.request(prompt, schemas)
        assert (body["messages"], body["tools"], body["tool_choice"]) == (row["prompt"], schemas, "none")


def test_a_tool_template_run_records_and_checks_its_tools(shared_dir, tmp_path):
    """generate -> score through the pipeline with the transformers backend on a tiny checkpoint carrying the
    Qwen3 template: each generation records the tools its template listed, scoring checks them, and a
    toolrl-format run's generation lines stay as they were (no tools)."""
    model_dir = tiny_checkpoint(template_tokenizer("qwen3_hybrid"), tmp_path / "model")
    backend = make_backend("transformers", str(model_dir), Sampling(max_new_tokens=4), device="cpu")
    info = template_run("bfcl", shared_dir)
    out = tmp_path / "run"
    generate(out, info, backend, progress=False)
    expected = get_benchmark("bfcl").prompt_tools(info, run_items(info))
    generations = read_generations(out / GENERATIONS_FILE)
    assert len(generations) == 2 and all(g.tools == expected[g.id] and g.tools for g in generations)
    assert score(out, workers=1, progress=False)["tool_prompt"] == "template"
    path = out / GENERATIONS_FILE
    path.write_text(path.read_text().replace('"name": "', '"name": "renamed_', 1))
    with pytest.raises(ValueError, match="differs from this run's prompt"):
        score(out, workers=1, progress=False)
    plain = RunInfo("bfcl", "m", "transformers", "toolrl", ["simple_python"], 1, {}, None, "toolrl")
    generate(tmp_path / "plain", plain, backend, progress=False)
    assert '"tools"' not in (tmp_path / "plain" / GENERATIONS_FILE).read_text()


def test_tool_template_runs_need_the_hermes_format_and_a_single_turn_benchmark(shared_dir):
    with pytest.raises(ValueError, match="tool_prompt 'template' needs the hermes format"):
        run_prompts(
            RunInfo("bfcl", "m", "transformers", "toolrl", ["simple_python"], 1, {}, None, "toolrl", "template")
        )
    multi_turn = RunInfo("bfcl", "m", "transformers", "hermes", ["multi_turn_base"], 1, {}, None, "strict", "template")
    with pytest.raises(ValueError, match="--tool-prompt template is not supported here"):
        run_prompts(multi_turn)
