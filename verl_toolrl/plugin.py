"""What verl loads from this package: the target of its ``verl.plugins`` entry point.

``import verl`` imports this module in every process (the trainer's driver and every Ray worker), so
everything the plugin registers with verl is imported here, and only here:

- :mod:`verl_toolrl.reward_manager`: the ``toolrl`` reward manager (``reward.reward_manager.name``).

``python -m verl_toolrl check`` says whether the import worked, with the real error when it did not.
"""

from verl_toolrl import reward_manager  # noqa: F401  (registers the reward manager "toolrl")
