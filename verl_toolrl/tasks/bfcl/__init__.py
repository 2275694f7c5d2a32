"""BFCL v4 (the ``bfcl-eval`` wheel's data, simulators and checkers) as a task.

- ``single_turn``: single-turn items, the ``strict`` and ``toolrl`` prompts, gold calls and outputs;
- ``multi_turn``: multi-turn entries and their prompts per protocol, step by step;
- ``environment``: BFCL's simulators, fresh per trajectory, executing parsed calls;
- ``episode``: an entry as the multi-turn episode (renderers per protocol, decoder, gold outputs, verdict);
- ``toolrl_handler``: the prompts of ToolRL's BFCL handler, re-implemented.
"""
