"""What verl loads from this package: the target of its ``verl.plugins`` entry point.

``import verl`` imports this module in every process (the trainer's driver and every Ray worker), so
everything the plugin registers with verl is imported here, and only here:

- :mod:`verl_toolrl.reward_manager`: the ``toolrl`` reward manager (``reward.reward_manager.name``).
- :mod:`verl_toolrl.cpu_platform`: the ``cpu`` platform, inert unless ``VERL_PLATFORM=cpu`` selects it;
  then :mod:`verl_toolrl.cpu_patches` adjusts verl and vLLM for it, in this process.

``python -m verl_toolrl check`` says whether the import worked, with the real error when it did not.
"""

from verl_toolrl import cpu_patches, cpu_platform, reward_manager  # noqa: F401  (registrations)

cpu_patches.apply()
