"""The benchmark layer: evaluation items, their prompts per protocol, and gold answers.

One home for what both the data converters (``verl_toolrl.data``: validation samples) and the evaluation
(``verl_toolrl.eval``: generation and scoring) need to know about a benchmark; it imports neither.

- ``bfcl``: BFCL v4 items (single- and multi-turn category names) from the ``bfcl-eval`` wheel, the
  ``strict`` prompt, the ``toolrl`` prompt (through ``toolrl_handler``), gold calls and outputs;
- ``bfcl_multi_turn``: BFCL's multi-turn entries and their prompts per protocol, step by step;
- ``apibank``: ToolRL's processed API-Bank levels, their released prompts and gold calls;
- ``toolrl_handler``: the prompts of ToolRL's BFCL handler, re-implemented;
- ``protocols``: the protocol names (``toolrl``, ``strict``) and their generation defaults.
"""
