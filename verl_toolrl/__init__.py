"""verl-toolrl: ToolRL tool-calling rewards, data, recipes and evaluation as a verl plugin.

The parts are imported from their modules (``verl_toolrl.calls``, ``.prompts``, ``.reward``,
``.reward_manager``, ``.data``, ``.eval``); importing the package itself loads nothing heavy.
"""

#: The name verl knows the plugin's reward manager by (``reward.reward_manager.name``) and the name of the
#: package's ``verl.plugins`` entry point. Here, free of verl imports, so ``plugin_check`` can read it
#: before importing verl.
REWARD_MANAGER_NAME = "toolrl"
