"""Offline evaluation of checkpoints on BFCL (single-turn, BFCL's own checker) and API-Bank.

Modules: ``bfcl_data`` (items, prompts, gold calls from the bfcl-eval wheel), ``bfcl`` (decode + checker,
aggregates), ``apibank`` (ToolRL's processed levels and rules), ``backends`` (transformers / vLLM / OpenAI
HTTP), ``generations`` (run files), ``pipeline`` (generate, score), ``report`` (markdown and chart).
Command line: ``python -m verl_toolrl.eval --help``.
"""
