"""Local stand-ins for a model's tokenizer and config, built without any download.

The preflight decodes with :func:`byte_level_tokenizer` and validates a critic with
:func:`stand_in_model_dir` when the model cannot be loaded (no hub access); the CPU path's tiny policy
(``verl_toolrl.cpu.tiny_policy``), tests and benchmarks build their tokenizers with the same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BYTE_LEVEL_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_level_tokenizer(corpus: Iterable[str] = (), *, vocab_size: int = 512, added_tokens: Sequence[str] = ()) -> Any:
    """A byte-level BPE tokenizer built locally (no download) that decodes any text back exactly.

    Merges are learned from ``corpus`` (none: one token per byte). ChatML special tokens, ``<|im_end|>``
    as end of sequence and ``<|endoftext|>`` as padding, as in Qwen; ``added_tokens`` are ordinary
    (non-special) added tokens, as Qwen's ``<tool_call>``. Saved beside a Qwen2 ``config.json`` and read back
    with ``AutoTokenizer`` (as verl and vLLM do), it becomes a ``Qwen2Tokenizer`` with Qwen's pre-tokenizer,
    which gives other ids for text with digits: train a model on the tokenizer as read back
    (:func:`verl_toolrl.cpu.tiny_policy.make_tiny_policy` does).

    >>> tokenizer = byte_level_tokenizer(added_tokens=["<tool_call>"])
    >>> text = "<tool_call>\\n{\\"a\\": \\"é\\"}"
    >>> tokenizer.decode(tokenizer.encode(text) + [tokenizer.eos_token_id], skip_special_tokens=True)
    '<tool_call>\\n{"a": "é"}'
    >>> tokenizer.decode(tokenizer.encode("f(a , b) ?"))
    'f(a , b) ?'
    """
    # tokenizers and transformers only when a stand-in is built (seconds to import)
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
        tokenizer_object=backend,
        eos_token=end,
        pad_token=pad,
        additional_special_tokens=[start],
        clean_up_tokenization_spaces=False,  # decode gives back the exact text, spaces before "," included
    )
    tokenizer.add_tokens(list(added_tokens))
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def stand_in_model_dir(directory: str | Path, tokenizer: Any = None) -> Path:
    """Write a model folder verl's ``HFModelConfig`` loads (a 2-layer Qwen2 config and a tokenizer, no
    weights) into ``directory``, and return it.

    >>> import tempfile
    >>> from transformers import AutoConfig
    >>> AutoConfig.from_pretrained(stand_in_model_dir(tempfile.mkdtemp())).model_type
    'qwen2'
    """
    from transformers import Qwen2Config  # transformers only when a stand-in is built

    path = Path(directory)
    tokenizer = tokenizer if tokenizer is not None else byte_level_tokenizer()
    Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        architectures=["Qwen2ForCausalLM"],
    ).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
