"""The target of the ``toolrl_cpu`` ``verl.plugins`` entry point: the CPU platform and its adjustments.

``import verl`` imports this module in every process unless ``VERL_USE_EXTERNAL_PLUGINS`` leaves
``toolrl_cpu`` out. Importing it registers the ``cpu`` platform (:mod:`verl_toolrl.cpu.platform`); the
adjustments of :mod:`verl_toolrl.cpu.patches` are applied only when ``VERL_PLATFORM=cpu`` selects it, so a
GPU run that loads this module is unaffected.
"""

from verl_toolrl.cpu import patches

patches.apply()
