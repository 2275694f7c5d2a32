"""The optional CPU path: verl's real trainer on a machine without a GPU.

- :mod:`verl_toolrl.cpu.platform`: the ``cpu`` platform verl selects with ``VERL_PLATFORM=cpu``;
- :mod:`verl_toolrl.cpu.patches`: every run-time adjustment to verl and vLLM it needs, each named;
- :mod:`verl_toolrl.cpu.plugin`: the target of the ``toolrl_cpu`` ``verl.plugins`` entry point;
- :mod:`verl_toolrl.cpu.tiny_policy`: the tiny local policy the CPU recipes train.

Nothing else in the package imports this one.
"""
