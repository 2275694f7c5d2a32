"""What a task is: its items, prompts per protocol, gold answers and tool environments.

One home for what the data converters (``verl_toolrl.data``: training and validation rows), the
evaluation (``verl_toolrl.eval``: generation and scoring) and training (``verl_toolrl.plugin``: the agent
loops) need to know about a task; it imports none of them.

- ``episode``: one multi-turn episode (user turns, model steps, calls run in an environment, BFCL's step
  rule), generic over its environment, renderer and decoder, which training and evaluation both drive;
- ``bfcl``: BFCL v4, single-turn (``bfcl.single_turn``) and multi-turn (``bfcl.multi_turn``) items and
  prompts, BFCL's simulators as an environment (``bfcl.environment``), a BFCL entry as an episode
  (``bfcl.episode``) and ToolRL's BFCL handler prompts (``bfcl.toolrl_handler``);
- ``apibank``: ToolRL's processed API-Bank levels, their released prompts and gold calls;
- ``bamboogle``: ToolRL's Bamboogle questions, its ``Search`` prompts, search engines as an environment,
  a question as an episode;
- ``protocols``: the protocol names (``toolrl``, ``strict``) and their generation defaults.
"""
