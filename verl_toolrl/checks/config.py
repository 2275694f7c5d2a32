"""The one check of a training command's settings, run before anything heavy starts.

``python -m verl_toolrl check``, ``python -m verl_toolrl preflight``, ``recipes/quickstart.sh`` and
``recipes/run_toolrl.sh`` all compose the recipe through :func:`load_recipe`, so an ordinary mistake
(a misspelled key or value under ``reward.reward_kwargs``, a negative ``schedule_steps``,
``reward.reward_model.enable=true``, training data not given) is one line naming the key, the bad value
and the valid choices, raised as :class:`ConfigError`; the commands print it and exit with status 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_toolrl.reward.config import NODE, OPTION_KEYS, reward_config

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"
DATA_KEYS = ("data.train_files", "data.val_files")
DATA_HINT = "build it with python -m data_preprocess.mix --output DIR, see the README"


class ConfigError(ValueError):
    """A training setting that cannot work, in one line naming the key, its value and the valid choices."""


def check_overrides(overrides: Sequence[str]) -> None:
    """Refuse an override of a key that ``reward.reward_kwargs`` does not have, before Hydra does (Hydra's
    own error suggests adding ``+`` to the typo).

    >>> check_overrides(["reward.reward_kwargs.variant=dynamic", "trainer.total_epochs=1"])
    >>> check_overrides(["reward.reward_kwargs.varient=dynamic"])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    verl_toolrl.checks.config.ConfigError: reward.reward_kwargs.varient: unknown key; valid keys: variant, format,
    matching, values, schedule_steps, think_prefill, multi_turn_aggregation, multi_turn_state_weight
    """
    prefix = NODE + "."
    for override in overrides:
        key = override.lstrip("+~").partition("=")[0]
        if key.startswith(prefix) and key[len(prefix) :] not in OPTION_KEYS:
            raise ConfigError(f"{key}: unknown key; valid keys: {', '.join(OPTION_KEYS)}")


def check_data_files(config: Any) -> None:
    """Both data keys name existing files (a path or a list of paths).

    >>> check_data_files({"data": {"train_files": None, "val_files": "x.parquet"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    verl_toolrl.checks.config.ConfigError: data.train_files: not set; give data.train_files=DIR/train.parquet ...
    """
    data = config.get("data") or {}
    for dotted in DATA_KEYS:
        key = dotted.split(".")[1]
        value = data.get(key)
        if not value:
            split = "train" if key == "train_files" else "test"
            raise ConfigError(f"{dotted}: not set; give {dotted}=DIR/{split}.parquet ({DATA_HINT})")
        for path in [value] if isinstance(value, str) else list(value):
            if not Path(path).expanduser().is_file():
                raise ConfigError(f"{dotted}={path}: no such file ({DATA_HINT})")


def check_config(config: Mapping[str, Any] | Any, *, require_data: bool = True) -> None:
    """Every setting the plugin depends on: the reward manager's options and routing, the prompt filter's
    and the rollout sub-sampler's options when they are on, and (when ``require_data``) the data files.
    Raises :class:`ConfigError`."""
    from verl_toolrl.plugin.prompt_filter import check_prompt_filter  # these three import verl
    from verl_toolrl.plugin.reward_manager import check_reward_config
    from verl_toolrl.plugin.rollout_subsample import check_rollout_subsample

    try:
        reward_config(config)
        check_reward_config(config)
        check_prompt_filter(config)
        check_rollout_subsample(config)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if require_data:
        check_data_files(config)


def compose(config_name: str, overrides: Sequence[str] = (), config_dir: Path = RECIPES_DIR) -> Any:
    """The composed trainer config, as ``main_ppo --config-path DIR --config-name NAME`` sees it; Hydra's
    composition errors become one-line :class:`ConfigError` s."""
    # Hydra only when a recipe is composed: check_overrides stays light for the command line
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    check_overrides(overrides)
    try:
        with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base=None):
            return hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"recipe {config_name} with {list(overrides)}: {first_line}") from None


def load_recipe(
    config_name: str,
    overrides: Sequence[str] = (),
    config_dir: Path = RECIPES_DIR,
    *,
    require_data: bool = True,
) -> Any:
    """Compose a recipe and check it (:func:`compose`, then :func:`check_config`)."""
    config = compose(config_name, overrides, config_dir)
    check_config(config, require_data=require_data)
    return config
