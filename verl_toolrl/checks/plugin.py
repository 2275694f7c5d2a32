"""Is the ``toolrl`` reward manager registered in verl? The answer ``python -m verl_toolrl check`` prints.

``import verl`` loads every ``verl.plugins`` entry point, and logs a plugin that fails to import only at
DEBUG level; training then stops much later with "Unknown reward manager: toolrl". :func:`plugin_status`
imports verl the way every trainer process does, while listening to that DEBUG log, and reports whether
``toolrl`` is registered and, if not, the real import error with its traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points

from verl_toolrl import REWARD_MANAGER_NAME as NAME

ENTRY_POINT_GROUP = "verl.plugins"


@dataclass(frozen=True)
class PluginStatus:
    """What importing verl did with the ``toolrl`` plugin."""

    registered: bool  # "toolrl" is in verl's reward-manager registry after `import verl`
    entry_point: str | None  # target of the verl.plugins entry point, None when the package declares none
    manager: str | None  # "module.Class" registered under "toolrl"
    load_error: str | None  # what verl logged (at DEBUG) when loading the entry point failed
    traceback: str | None  # traceback of loading the entry point again, when it is not registered
    verl_imported_before: bool  # verl was already imported, so its plugin log could not be observed

    @property
    def ok(self) -> bool:
        return self.registered and self.load_error is None

    def report(self) -> str:
        """A human-readable account, ending in the fix when something is wrong.

        >>> print(PluginStatus(False, None, None, None, None, False).report())
        verl.plugins entry point 'toolrl': not declared
        reward manager 'toolrl': NOT registered
        fix: install the package so its entry point is registered: pip install -e . (from the repository root)
        """
        lines = [f"verl.plugins entry point {NAME!r}: {self.entry_point or 'not declared'}"]
        lines.append(
            f"reward manager {NAME!r}: " + (f"registered ({self.manager})" if self.registered else "NOT registered")
        )
        if self.load_error:
            lines.append(f"verl failed to load the plugin while importing: {self.load_error}")
        if self.traceback:
            lines.append("loading the entry point again raised:\n" + self.traceback.rstrip())
        if self.verl_imported_before:
            lines.append("note: verl was imported before this check, so its plugin-loading log was not observed")
        if self.entry_point is None:
            lines.append(
                "fix: install the package so its entry point is registered: pip install -e . (from the repository root)"
            )
        elif not self.ok:
            lines.append(
                "fix: the import error above is what every trainer process will hit; fix it, then re-run this check"
            )
        return "\n".join(lines)


class _PluginLog(logging.Handler):
    """Collects verl's 'Failed to load plugin' DEBUG messages about one plugin."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(f"Failed to load plugin '{NAME}'"):
            self.messages.append(message)


def plugin_status() -> PluginStatus:
    """Import verl as a trainer process does and report what happened to the ``toolrl`` plugin.

    Run it in a fresh process (``python -m verl_toolrl check``): once verl is imported, its plugin log
    is gone, and a plugin that only fails during verl's own import (a circular import) may load fine later.
    """
    declared = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == NAME]
    verl_imported_before = "verl" in sys.modules
    verl_logger = logging.getLogger("verl")
    listener = _PluginLog()
    saved_level, saved_propagate = verl_logger.level, verl_logger.propagate
    verl_logger.addHandler(listener)
    verl_logger.setLevel(logging.DEBUG)
    verl_logger.propagate = False
    try:
        import verl  # noqa: F401  (loads every verl.plugins entry point)
    finally:
        verl_logger.removeHandler(listener)
        verl_logger.setLevel(saved_level)
        verl_logger.propagate = saved_propagate

    # verl only now: importing it loads the plugins, which the listener above had to hear
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER

    manager_cls = REWARD_MANAGER.get(NAME)
    error_trace = None
    if manager_cls is None and declared:
        try:
            declared[0].load()
        except Exception:  # report whatever the plugin raises, with its traceback
            error_trace = traceback.format_exc()
    return PluginStatus(
        registered=manager_cls is not None,
        entry_point=declared[0].value if declared else None,
        manager=f"{manager_cls.__module__}.{manager_cls.__qualname__}" if manager_cls else None,
        load_error="; ".join(listener.messages) or None,
        traceback=error_trace,
        verl_imported_before=verl_imported_before,
    )


def platform_problem() -> str | None:
    """What is wrong with ``VERL_PLATFORM``, if it names no registered verl platform (verl would fail later,
    inside a Ray worker, with a traceback).

    >>> import os
    >>> "VERL_PLATFORM" in os.environ or platform_problem() is None
    True
    """
    from verl.plugin.platform.platform_manager import PlatformRegistry  # verl only once asked

    name = os.environ.get("VERL_PLATFORM", "").strip().lower()
    if not name or PlatformRegistry.get(name) is not None:
        return None
    return (
        f"VERL_PLATFORM={name}: no such verl platform; registered: {', '.join(PlatformRegistry.registered_names())} "
        "(unset it to let verl detect the device, or VERL_PLATFORM=cpu for the CPU training path)"
    )
