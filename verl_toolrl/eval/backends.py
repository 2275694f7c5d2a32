"""Generation backends behind one small interface: chat prompts in, completion texts out.

- ``transformers``: Hugging Face ``generate`` on CPU or GPU (slow, works everywhere);
- ``vllm``: vLLM's offline ``LLM.chat`` (GPU; ``pip install 'verl-toolrl[gpu]'``);
- ``openai``: any OpenAI-compatible chat-completions endpoint, e.g. a model served by ``vllm serve``
  (``pip install openai``).

Each backend renders prompts with the model's own chat template and returns the text after it with special
tokens removed. A prompt may come with tool schemas (``--tool-prompt template``): ``transformers`` and
``vllm`` then render it with :func:`verl_toolrl.core.chat_template.chat_prompt_text` / ``chat_prompt_ids``, the
chat template with ``tools=``, exactly as the ``toolrl_tool_template`` agent loop showed it in training;
``openai`` sends them as the request's ``tools`` with ``tool_choice="none"``, so the server's template lists
them and no tool parser reads the output (vLLM >= 0.10 keeps the tools in the prompt under ``"none"``; older
servers need ``--expand-tools-even-if-tool-choice-none``). Each text returned is preceded by what that
template prefilled of the response (``think_prefill``, see :mod:`verl_toolrl.core.chat_template`: a Qwen3
thinking checkpoint's ``<think>\\n``), so the text scored is the model's full output, as in training.
``think_prefill="auto"`` reads the template (``transformers``, ``vllm``); an ``openai`` server's template cannot
be read, so there ``auto`` prepends nothing and ``open`` says the served model's template opens a think
block. Optional dependencies are imported when a backend is made; a missing one is a one-line error saying
what to install. Greedy decoding when ``temperature`` is 0.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from verl_toolrl.core.chat_template import chat_prompt_ids, chat_prompt_text, resolve_think_prefill

Messages = list[dict[str, str]]
Tools = list[dict[str, Any]] | None  # tool schemas for the chat template (None: the prompt lists its tools)
BACKENDS: tuple[str, ...] = ("transformers", "vllm", "openai")
INSTALL_HINTS: dict[str, str] = {
    "transformers": "pip install transformers torch",
    "vllm": "pip install 'verl-toolrl[gpu]' (vLLM needs a CUDA GPU)",
    "openai": "pip install openai (or 'verl-toolrl[eval]')",
}
#: Prompts handed to a backend per call by default (generation files are written after each call).
DEFAULT_BATCH_SIZE: dict[str, int] = {"transformers": 8, "vllm": 1024, "openai": 64}


@dataclass(frozen=True)
class Sampling:
    """Decoding settings shared by every backend."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {self.temperature}, {self.top_p}")


class Backend(Protocol):
    name: str

    def generate(self, prompts: Sequence[Messages], tools: Sequence[Tools] | None = None) -> list[str]:
        """One completion per prompt, in order; ``tools[i]``: the schemas prompt ``i``'s template lists."""
        ...


def _prompt_tools(prompts: Sequence[Messages], tools: Sequence[Tools] | None) -> list[Tools]:
    """``tools`` checked against ``prompts`` (one entry each), or None for each prompt.

    >>> _prompt_tools([[], []], None)
    [None, None]
    """
    if tools is None:
        return [None] * len(prompts)
    if len(tools) != len(prompts):
        raise ValueError(f"{len(tools)} tool lists for {len(prompts)} prompts")
    return list(tools)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def require(module: str, backend: str) -> Any:
    """Import an optional dependency of a backend, or raise a one-line error saying what to install.

    >>> require("json", "openai").__name__
    'json'
    >>> require("surely_not_installed_module", "vllm")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: the vllm backend needs surely_not_installed_module: pip install 'verl-toolrl[gpu]'
    (vLLM needs a CUDA GPU)
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = error.name or module
        raise ModuleNotFoundError(f"the {backend} backend needs {missing}: {INSTALL_HINTS[backend]}") from None


class TransformersBackend:
    """Batched ``model.generate`` with left padding."""

    name = "transformers"

    def __init__(
        self,
        model: str,
        sampling: Sampling,
        device: str | None = None,
        dtype: str = "auto",
        think_prefill: str = "auto",
    ) -> None:
        torch = require("torch", self.name)
        transformers = require("transformers", self.name)
        self.torch, self.sampling = torch, sampling
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r}: torch sees no CUDA device here; use --device cpu")
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model, padding_side="left")
            self.model = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
        except (OSError, ValueError) as error:  # no such folder, not a model, hub offline or unreachable
            raise ValueError(f"model {model!r} cannot be loaded: {_first_line(error)}") from None
        self.prefill = resolve_think_prefill(think_prefill, self.tokenizer).text
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = self.model.to(self.device).eval()

    def render(self, prompts: Sequence[Messages], tools: Sequence[Tools] | None = None) -> list[str]:
        """The prompt texts the model is given (:func:`~verl_toolrl.core.chat_template.chat_prompt_text`)."""
        return [
            chat_prompt_text(self.tokenizer, m, t) for m, t in zip(prompts, _prompt_tools(prompts, tools), strict=True)
        ]

    def generate(self, prompts: Sequence[Messages], tools: Sequence[Tools] | None = None) -> list[str]:
        if not prompts:
            return []
        texts = self.render(prompts, tools)
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sample = self.sampling.temperature > 0
        options: dict[str, Any] = {"do_sample": sample, "max_new_tokens": self.sampling.max_new_tokens}
        if sample:
            options.update(temperature=self.sampling.temperature, top_p=self.sampling.top_p)
            self.torch.manual_seed(self.sampling.seed)
        with self.torch.no_grad():
            tokens = self.model.generate(**batch, **options, pad_token_id=self.tokenizer.pad_token_id)
        new_tokens = tokens[:, batch["input_ids"].shape[1] :]
        return [self.prefill + text for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


class VllmBackend:
    """vLLM offline inference (``LLM.chat``); prompts go to vLLM in one call so it can batch them."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        sampling: Sampling,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        think_prefill: str = "auto",
    ) -> None:
        vllm = require("vllm", self.name)
        options: dict[str, Any] = {"model": model, "tensor_parallel_size": tensor_parallel_size, "seed": sampling.seed}
        if max_model_len:
            options["max_model_len"] = max_model_len
        self.llm = vllm.LLM(**options)
        self.prefill = resolve_think_prefill(think_prefill, self.llm.get_tokenizer()).text
        self.params = vllm.SamplingParams(
            max_tokens=sampling.max_new_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
            seed=sampling.seed,
        )

    def render(self, prompts: Sequence[Messages], tools: Sequence[Tools]) -> list[dict[str, list[int]]]:
        """The token prompts vLLM is given for prompts with tool schemas (:func:`chat_prompt_ids`)."""
        tokenizer = self.llm.get_tokenizer()
        return [{"prompt_token_ids": chat_prompt_ids(tokenizer, m, t)} for m, t in zip(prompts, tools, strict=True)]

    def generate(self, prompts: Sequence[Messages], tools: Sequence[Tools] | None = None) -> list[str]:
        if not prompts:
            return []
        per_prompt = _prompt_tools(prompts, tools)
        if any(per_prompt):  # LLM.chat takes one tool list for the whole batch: render each prompt here
            outputs = self.llm.generate(self.render(prompts, per_prompt), self.params, use_tqdm=False)
        else:
            outputs = self.llm.chat(list(prompts), self.params, use_tqdm=False)
        return [self.prefill + output.outputs[0].text for output in outputs]


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server, ``concurrency`` requests at a time."""

    name = "openai"

    def __init__(
        self,
        model: str,
        sampling: Sampling,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str = "EMPTY",
        concurrency: int = 16,
        timeout: float = 600.0,
        think_prefill: str = "auto",
    ) -> None:
        openai = require("openai", self.name)
        self.prefill = resolve_think_prefill("none" if think_prefill == "auto" else think_prefill, None).text
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=3)
        self.base_url, self._connection_error = base_url, openai.APIConnectionError
        self.model, self.sampling, self.concurrency = model, sampling, max(1, concurrency)

    def request(self, messages: Messages, tools: Tools = None) -> dict[str, Any]:
        """The chat-completions request body for one prompt (with its tool schemas, if any).

        >>> backend = OpenAIBackend.__new__(OpenAIBackend)
        >>> backend.model, backend.sampling = "m", Sampling(max_new_tokens=8)
        >>> backend.request([{"role": "user", "content": "Hi"}])["max_tokens"]
        8
        >>> body = backend.request([{"role": "user", "content": "Hi"}],
        ...                        [{"type": "function", "function": {"name": "f"}}])
        >>> body["tools"][0]["function"]["name"], body["tool_choice"]
        ('f', 'none')
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.sampling.max_new_tokens,
            "temperature": self.sampling.temperature,
            "top_p": self.sampling.top_p,
            "seed": self.sampling.seed,
        }
        if tools:
            body.update(tools=tools, tool_choice="none")
        return body

    def _complete(self, messages: Messages, tools: Tools = None) -> str:
        response = self.client.chat.completions.create(**self.request(messages, tools))
        return self.prefill + (response.choices[0].message.content or "")

    def generate(self, prompts: Sequence[Messages], tools: Sequence[Tools] | None = None) -> list[str]:
        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                return list(pool.map(self._complete, prompts, _prompt_tools(prompts, tools)))
        except self._connection_error as error:
            raise ValueError(
                f"no OpenAI-compatible server answers at {self.base_url} ({error}); start one "
                "(e.g. vllm serve MODEL) or give its --base-url"
            ) from None


def make_backend(name: str, model: str, sampling: Sampling | None = None, **options: Any) -> Backend:
    """The backend called ``name`` for ``model``; ``options`` go to its constructor (``device``, ``dtype``;
    ``tensor_parallel_size``, ``max_model_len``; ``base_url``, ``api_key``, ``concurrency``; all:
    ``think_prefill``).

    >>> make_backend("tgi", "m")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'tgi'; valid backends: transformers, vllm, openai
    """
    classes = {"transformers": TransformersBackend, "vllm": VllmBackend, "openai": OpenAIBackend}
    if name not in classes:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(BACKENDS)}")
    return classes[name](model, sampling or Sampling(), **options)
