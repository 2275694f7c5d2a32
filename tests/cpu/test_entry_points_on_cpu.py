"""The two ``verl.plugins`` entry points, in fresh processes that import verl as every trainer process does:
``toolrl`` (reward manager, agent loops) and ``toolrl_cpu`` (the CPU platform and its adjustments). A GPU run
that names only ``toolrl`` (``VERL_USE_EXTERNAL_PLUGINS=toolrl``, verl's own switch) imports no CPU module;
both loaded, the CPU platform is selected as before and the plugin's parts are registered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

PROBE = textwrap.dedent("""
    import json, sys
    import verl
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER
    from verl.plugin.platform import get_platform
    print("PROBE " + json.dumps({
        "cpu_modules": sorted(name for name in sys.modules if name.startswith("verl_toolrl.cpu")),
        "plugin_modules": sorted(name for name in sys.modules if name.startswith("verl_toolrl.plugin")),
        "reward_manager": "toolrl" in REWARD_MANAGER,
        "agent_loops": sorted(name for name in _agent_loop_registry if name.startswith("toolrl")),
        "platform": type(get_platform()).__name__,
    }))
""")


def probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("VERL_PLATFORM", "VERL_USE_EXTERNAL_PLUGINS")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE "))
    return json.loads(line[len("PROBE ") :])


def test_the_package_declares_two_entry_points() -> None:
    declared = {point.name: point.value for point in entry_points(group="verl.plugins")}
    assert declared["toolrl"] == "verl_toolrl.plugin"
    assert declared["toolrl_cpu"] == "verl_toolrl.cpu.plugin"


def test_naming_only_toolrl_imports_no_cpu_module() -> None:
    out = probe(VERL_USE_EXTERNAL_PLUGINS="toolrl")
    assert out["cpu_modules"] == []
    assert out["reward_manager"] and out["agent_loops"] == ["toolrl_bfcl_multi_turn", "toolrl_tool_template"]
    assert out["platform"] != "PlatformCPU"


def test_both_loaded_the_cpu_path_is_selected_and_the_plugin_registered() -> None:
    out = probe(VERL_PLATFORM="cpu")
    assert "verl_toolrl.cpu.plugin" in out["cpu_modules"] and "verl_toolrl.cpu.patches" in out["cpu_modules"]
    assert out["platform"] == "PlatformCPU"
    assert out["reward_manager"] and out["agent_loops"] == ["toolrl_bfcl_multi_turn", "toolrl_tool_template"]
