"""verl-toolrl: ToolRL tool-calling rewards, data, recipes and evaluation as a verl plugin.

The parts are imported from their modules (``verl_toolrl.calls``, ``.prompts``, ``.reward``,
``.reward_manager``, ``.data``, ``.eval``); importing the package itself loads nothing heavy.
"""
