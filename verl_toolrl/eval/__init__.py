"""Offline evaluation of checkpoints on BFCL (BFCL's own checker) and API-Bank, per protocol.

Modules: ``benchmark`` (the benchmark interface), ``registry`` (the implementations by name), ``bfcl`` (decode +
checker, aggregates, the BFCL benchmark and its single-turn part), ``bfcl_multi_turn`` (the multi-turn part: the model
in the loop on BFCL's simulators, transcripts, BFCL's verdict), ``apibank`` (ToolRL's rules and the strict ones),
``toolrl_scripts`` (ToolRL's decoders re-implemented), ``backends`` (transformers / vLLM / OpenAI HTTP), ``generations``
(run files), ``pipeline`` (generate, score), ``report`` (markdown and chart). Items, prompts and gold answers come from
the benchmark layer, ``verl_toolrl.tasks``. Command line: ``python -m verl_toolrl.eval --help``.
"""
