"""verl-toolrl: ToolRL tool-calling rewards, data, recipes and evaluation as a verl plugin.

One folder per role, lower layers first (``import-linter`` holds the order, see ``pyproject.toml``):

- ``core``: the tool-call grammar, the prompt text and chat-template rendering (no verl or torch);
- ``reward``: the ToolRL reward, its variants and its one configuration (``reward.config``);
- ``tasks``: what a task is (BFCL single- and multi-turn with its simulators, API-Bank), shared by data,
  training and evaluation;
- ``data``: one converter per source to verl's parquet rows, and the paper's training mix;
- ``eval``: checkpoints on BFCL and API-Bank (backends, generations, scoring, report);
- ``plugin``: what runs inside verl's workers (the reward manager, the agent loops);
- ``checks``: the command-line checks (``python -m verl_toolrl check|preflight|hub``) and the training log;
- ``cpu``: the optional CPU training path, imported by nothing else.

Importing the package itself loads nothing heavy.
"""

#: The name verl knows the plugin's reward manager by (``reward.reward_manager.name``) and the name of the
#: package's ``verl.plugins`` entry point. Here, free of verl imports, so ``plugin_check`` can read it
#: before importing verl.
REWARD_MANAGER_NAME = "toolrl"
