"""What runs inside verl's workers: the target of the ``toolrl`` ``verl.plugins`` entry point.

``import verl`` imports this package in every process (the trainer's driver and every Ray worker), and so
registers everything the plugin adds to verl:

- :mod:`verl_toolrl.plugin.reward_manager`: the ``toolrl`` reward manager (``reward.reward_manager.name``);
- :mod:`verl_toolrl.plugin.agent_loop`: the ``toolrl_tool_template`` agent loop
  (``actor_rollout_ref.rollout.agent.default_agent_loop``), in every ``AgentLoopWorker``;
- :mod:`verl_toolrl.plugin.multi_turn_agent_loop`: the ``toolrl_bfcl_multi_turn`` agent loop (rows with that
  ``agent_name``).

:mod:`verl_toolrl.plugin.prompt_filter` is not registered: verl loads its dataset class by path
(``data.custom_cls``) when a recipe chooses ``toolrl/prompt_filter=variance``, and the reward manager sends it
the scores. Nor is :mod:`verl_toolrl.plugin.replay_buffer`, which verl's v1 trainer loads by path
(``trainer.v1.sampler.custom_sampler``) when a recipe chooses ``toolrl/rollout_subsample=max_variance``.

The optional CPU path is a separate entry point, ``toolrl_cpu`` (:mod:`verl_toolrl.cpu.plugin`), so a GPU
run can leave it out with ``VERL_USE_EXTERNAL_PLUGINS=toolrl``. ``python -m verl_toolrl check`` says whether
the import worked, with the real error when it did not.
"""

from verl_toolrl.plugin import agent_loop, multi_turn_agent_loop, reward_manager

__all__ = ["agent_loop", "multi_turn_agent_loop", "reward_manager"]
