"""What verl loads from this package: the target of its ``verl.plugins`` entry point.

``import verl`` imports this module in every process (the trainer's driver and every Ray worker), so
everything the plugin registers with verl is imported here, and only here:

- :mod:`verl_toolrl.cpu_platform`: the ``cpu`` platform, inert unless ``VERL_PLATFORM=cpu`` selects it;
  then :mod:`verl_toolrl.cpu_patches` adjusts verl and vLLM for it, in this process. First, so that its
  adjustments are in place before the imports below load the verl modules they adjust.
- :mod:`verl_toolrl.reward_manager`: the ``toolrl`` reward manager (``reward.reward_manager.name``);
- :mod:`verl_toolrl.agent_loop`: the ``toolrl_tool_template`` agent loop
  (``actor_rollout_ref.rollout.agent.default_agent_loop``), in every ``AgentLoopWorker``;
- :mod:`verl_toolrl.multi_turn_agent_loop`: the ``toolrl_bfcl_multi_turn`` agent loop (rows with that ``agent_name``).

``python -m verl_toolrl check`` says whether the import worked, with the real error when it did not.
"""

from verl_toolrl import cpu_patches  # registers the "cpu" platform (verl_toolrl.cpu_platform)

cpu_patches.apply()

from verl_toolrl import reward_manager  # noqa: E402, F401, I001  (registers the reward manager "toolrl")
from verl_toolrl import agent_loop  # noqa: E402, F401, I001  (registers the agent loop "toolrl_tool_template")
from verl_toolrl import multi_turn_agent_loop  # noqa: E402, F401, I001  (registers "toolrl_bfcl_multi_turn")
