"""A CPU platform for verl 0.9.1, so its real trainer runs on a machine without a GPU.

verl resolves its device through a platform registry (``verl.plugin.platform``) and ships NVIDIA, Ascend and
AMD platforms only; without an accelerator it falls back to NVIDIA, and the trainer fails on ``cuda`` and
``nccl``. :class:`PlatformCPU` is registered as ``cpu`` whenever the plugin loads, and is inert unless
selected with verl's own switch, ``VERL_PLATFORM=cpu``: it never claims auto-detection, so a GPU run is not
affected. Selected, it gives verl the ``cpu`` device, the ``gloo`` backend, a device module with the memory
calls verl makes, and no CUDA IPC (weights reach the rollout through shared memory). What must be adjusted
inside verl and vLLM themselves lives in :mod:`verl_toolrl.cpu.patches`, applied only then.

The CPU path proves the training loop and lets one try settings; it does not train a useful model.

>>> platform = PlatformCPU()
>>> platform.device_name, platform.communication_backend_name(), platform.is_platform_available(True)
('cpu', 'gloo', False)
>>> platform.device_module.memory_reserved(), platform.current_device()
(0, 'cpu')
"""

from __future__ import annotations

import os
import types
from contextlib import contextmanager
from typing import Any

import torch
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry

NAME = "cpu"  # VERL_PLATFORM=cpu selects it
#: What the vLLM CPU engine reserves for its KV cache, in GiB (vLLM's default is 4 GiB per engine).
KV_CACHE_GIB = "1"


def is_selected() -> bool:
    """Whether verl's platform switch (``VERL_PLATFORM``) names this platform."""
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == NAME


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _memory_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
    """(free, total) bytes of host memory, as ``torch.cuda.mem_get_info`` reports device memory."""
    page = os.sysconf("SC_PAGE_SIZE")
    return os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page


def _device_module() -> types.ModuleType:
    """``torch.cpu`` plus the ``torch.cuda`` calls verl makes on its device module (memory statistics,
    cache and RNG handling), which CPU tensors answer trivially."""
    module = types.ModuleType("verl_toolrl.cpu.platform.device")
    for name in dir(torch.cpu):
        if not name.startswith("_"):
            setattr(module, name, getattr(torch.cpu, name))
    for name in (
        "empty_cache",
        "ipc_collect",
        "set_per_process_memory_fraction",
        "reset_peak_memory_stats",
        "manual_seed",
        "manual_seed_all",
    ):
        setattr(module, name, _no_op)
    for name in ("memory_reserved", "memory_allocated", "max_memory_reserved", "max_memory_allocated"):
        setattr(module, name, _zero)
    module.mem_get_info = _memory_info
    module.get_rng_state = lambda device=None: torch.get_rng_state()
    module.set_rng_state = lambda state, device=None: torch.set_rng_state(state)
    module.get_device_name = lambda device=None: "cpu"
    module.current_device = lambda: "cpu"
    module.set_device = _no_op
    return module


@PlatformRegistry.register(platform=NAME)
class PlatformCPU(PlatformBase):
    """verl's platform interface on the host CPU (one "device" per process, collectives over gloo)."""

    def __init__(self) -> None:
        self._device_module = _device_module()

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return self._device_module

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return False  # only chosen by name (VERL_PLATFORM=cpu), never by verl's auto-detection

    def current_device(self) -> str:  # type: ignore[override]
        # A string, not an index: verl passes it to `.to(device=...)` (utils/fsdp_utils.py), where an int
        # would mean cuda:N.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"  # Ray sets it for its (faked) GPU resource; nothing reads it on CPU

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        # verl places its workers on Ray "GPU" bundles; the CPU recipe declares one fake GPU
        # (ray_kwargs.ray_init.num_gpus=1), so placement works unchanged.
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return ["RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"]

    def is_ipc_supported(self) -> bool:
        return False  # no CUDA IPC: verl sends weights to the rollout through shared memory

    def rollout_env_vars(self) -> dict[str, str]:
        return {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", KV_CACHE_GIB)}

    def cudart(self) -> Any:
        return None
