"""CORL's settings for the D4RL BC/IQL/ReBRAC cells, compared with ours.

``config/corl_excerpt.yaml`` records CORL's config values per (method, dataset) with the repo
path and commit, and facts of its algorithm files. :func:`differences` maps each CORL key to
our setting and lists where our resolved settings (:func:`drol.agents.settings.task_settings`)
differ; ``tools/check_corl.py`` runs it over the 54 cells, and the tables give no verdict to a
cell whose settings differ.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from drol.agents.settings import task_settings
from drol.agents.sources import corl_path
from drol.errors import ConfigError
from drol.tasks import D4RL_FAMILIES

EXCERPT = Path(__file__).resolve().parents[2] / "config" / "corl_excerpt.yaml"
METHODS = ("bc", "iql", "rebrac")
DATASETS = tuple(t for tasks in D4RL_FAMILIES.values() for t in tasks)


def _antmaze(task: str) -> bool:
    return task.startswith("antmaze")


def _reward(task: str, corl_normalize_reward: bool, method: str) -> tuple[float, float]:
    """Our (reward_scale, reward_bias) for CORL's ``normalize_reward`` (our D4RL loader gives
    AntMaze rewards as r - 1 already, drol.data.d4rl)."""
    if not corl_normalize_reward or not _antmaze(task):
        return (1.0, 0.0)
    if method == "iql":  # CORL's modify_reward: r - 1 (= ours)
        return (1.0, 0.0)
    return (100.0, 100.0)  # ReBRAC: 100 * r = 100 * (r' + 1)


# CORL config key -> (our key, transform of CORL's value into ours)
Mapping_ = dict[str, tuple[str, Callable[[Any], Any]]]
SAME: Callable[[Any], Any] = lambda v: v  # noqa: E731
CONFIG_KEYS: dict[str, Mapping_] = {
    "bc": {
        "batch_size": ("batch_size", SAME),
        "max_timesteps": ("steps", int),
        "n_episodes": ("eval_episodes", SAME),
        "normalize": ("obs_norm", SAME),
    },
    "iql": {
        "batch_size": ("batch_size", SAME),
        "max_timesteps": ("steps", int),
        "n_episodes": ("eval_episodes", SAME),
        "normalize": ("obs_norm", SAME),
        "iql_tau": ("expectile", float),
        "beta": ("alpha", float),
        "actor_lr": ("lr", float),
        "qf_lr": ("critic_lr", float),
        "vf_lr": ("critic_lr", float),
        "discount": ("discount", float),
        "tau": ("tau", float),
    },
    "rebrac": {
        "batch_size": ("batch_size", SAME),
        "eval_episodes": ("eval_episodes", SAME),
        "normalize_states": ("obs_norm", SAME),
        "actor_bc_coef": ("alpha_actor", float),
        "critic_bc_coef": ("alpha_critic", float),
        "actor_learning_rate": ("lr", float),
        "critic_learning_rate": ("critic_lr", float),
        "hidden_dim": ("hidden", SAME),
        "actor_n_hiddens": ("depth", SAME),
        "critic_n_hiddens": ("depth", SAME),
        "critic_ln": ("layer_norm", SAME),
        "gamma": ("discount", float),
        "tau": ("tau", float),
        "policy_freq": ("actor_freq", SAME),
        "policy_noise": ("actor_noise", float),
        "noise_clip": ("actor_noise_clip", float),
    },
}


def expected(method: str, task: str, values: dict[str, Any], code: dict[str, Any]) -> dict:
    """Our key -> the value CORL's recorded ``values`` (config) and ``code`` facts imply."""
    out: dict[str, Any] = {}
    for key, (ours, convert) in CONFIG_KEYS[method].items():
        if key in values:
            out[ours] = convert(values[key])
    if method == "rebrac":
        out["steps"] = int(values["num_epochs"]) * int(values["num_updates_on_epoch"])
    if "normalize_reward" in values:
        out["reward_scale"], out["reward_bias"] = _reward(task, values["normalize_reward"], method)
    if method == "iql":
        # CORL's GaussianPolicy never passes actor_dropout to its MLP (code fact, recorded)
        out["actor_dropout"] = (
            0.0
            if code.get("gaussian_policy_ignores_dropout")
            else float(values.get("actor_dropout") or 0.0)
        )
        out["actor_lr_decay_steps"] = int(values["max_timesteps"])
    for key, value in code.items():
        if key != "gaussian_policy_ignores_dropout":
            out[key] = value
    return out


def load_excerpt(path: str | Path = EXCERPT) -> dict[str, Any]:
    """The recorded excerpt (a one-line error naming the file when unreadable)."""
    return _load(str(path))


@lru_cache(maxsize=4)
def _load(name: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(name).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(
            f"{name}: unreadable CORL excerpt ({' '.join(str(err).split())})"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("configs"), dict):
        raise ConfigError(f"{name}: needs 'configs:' (method -> dataset -> path, values)")
    return raw


def differences(method: str, task: str, excerpt: dict[str, Any] | None = None) -> list[str]:
    """Where our resolved settings of ``method`` on ``task`` differ from CORL's recorded ones
    (empty when they match, or when CORL did not make the reported number of this cell)."""
    excerpt = excerpt if excerpt is not None else load_excerpt()
    entry = excerpt["configs"].get(method, {}).get(task)
    if entry is None:
        return []
    ours = task_settings(method, task)
    out = []
    if entry["path"] != corl_path(method, task):
        out.append(f"recorded path {entry['path']} is not ours ({corl_path(method, task)})")
    code = excerpt.get("code", {}).get(method, {})
    for key, want in expected(method, task, entry["values"], code).items():
        if key not in ours:
            out.append(f"{key} is not a setting of ours")
        elif ours[key].value != want:
            out.append(f"{key} = {ours[key].value!r} ({ours[key].source}); CORL: {want!r}")
    return out
