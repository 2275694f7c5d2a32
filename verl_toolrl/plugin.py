"""What verl loads from this package: the target of its ``verl.plugins`` entry point.

``import verl`` imports this module in every process (the trainer's driver and every Ray worker), so
everything the plugin registers with verl is imported here, and only here:

- :mod:`verl_toolrl.reward_manager`: the ``toolrl`` reward manager (``reward.reward_manager.name``);
- :mod:`verl_toolrl.agent_loop`: the ``toolrl_tool_template`` agent loop
  (``actor_rollout_ref.rollout.agent.default_agent_loop``), in every ``AgentLoopWorker``.

``python -m verl_toolrl check`` says whether the import worked, with the real error when it did not.
"""

from verl_toolrl import reward_manager  # noqa: F401  (registers the reward manager "toolrl")
from verl_toolrl import agent_loop  # noqa: F401, I001  (registers the agent loop "toolrl_tool_template")
