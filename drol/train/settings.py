"""A run's settings: what the user set on the command line (or the workflow's ``--set``),
validated into :class:`RunSettings` with one-line errors naming the option."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from drol.agents import get_method, method_names
from drol.agents.config import coerce, parse_overrides
from drol.errors import ConfigError, UserError
from drol.speed.step import SPEED_KEYS, SpeedSettings
from drol.tasks import parse_task
from drol.train.rundir import RunSpec
from drol.train.tracking import DEFAULT_LOGGER, check_logger

# run-level integer settings: (lowest, highest) accepted value
RUN_LIMITS: dict[str, tuple[int, int]] = {
    "seed": (0, 2**31 - 1),
    "steps": (1, 10**9),
    "eval_every": (1, 10**9),
    "eval_episodes": (1, 100_000),
    "log_every": (1, 10**9),
    "checkpoint_every": (1, 10**9),
    "num_probe_states": (1, 10_000),
    "probe_neighbors": (1, 100_000),
    "threads": (1, 1024),
    "eval_envs": (1, 100_000),
}
OPTION = {  # how the user spells each setting
    "seed": "--seed",
    "steps": "--steps",
    "eval_every": "--eval-every",
    "eval_episodes": "--eval-episodes",
    "threads": "--threads",
    "K": "--K",
}


@dataclass
class RunSettings(RunSpec):
    """Everything that defines a run (besides the agent hyperparameters): the
    :class:`~drol.train.rundir.RunSpec` plus where and how to run it."""

    data_dir: str | None = None
    checkpoint_every: int = 10000
    device: str = "cpu"
    threads: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    precision: str = "fp32"  # drol.speed.step: 'fp32' (exact) or 'bf16' (opt-in autocast)
    compile: str = "auto"  # drol.speed.step: torch.compile of the whole step ('auto': long runs)
    logger: str = DEFAULT_LOGGER  # drol.train.tracking: tensorboard | wandb | none
    # drol.train.lockstep: evaluation episodes side by side where that reproduces the
    # sequential rows exactly (same eval.csv); ``false`` forces the sequential loop
    eval_lockstep: bool = True
    eval_envs: int = 10  # at most this many envs side by side (memory: ~160 MB per cube env)

    RUN_KEYS = (
        "log_every",
        "checkpoint_every",
        "num_probe_states",
        "probe_neighbors",
        *SPEED_KEYS,
        "logger",
        "eval_lockstep",
        "eval_envs",
    )

    @property
    def speed(self) -> SpeedSettings:
        """The speed settings, ``compile='auto'`` resolved for this run's length."""
        return SpeedSettings(precision=self.precision, compile=self.compile).resolved(self.steps)

    def validate(self) -> None:
        """Raise a one-line :class:`ConfigError` naming the option and its accepted range."""
        if self.method not in method_names():
            get_method(self.method)  # raises, naming the choices
        check_logger(self.logger)
        for key, (lo, hi) in RUN_LIMITS.items():
            value = getattr(self, key)
            if key == "threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                name = OPTION.get(key, f"--set {key}")
                raise ConfigError(f"bad {name} {value!r}: must be an integer in [{lo}, {hi}]")


def split_settings(values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``--set`` values -> (run-level settings, agent hyperparameters)."""
    run, agent = {}, {}
    for key, value in values.items():
        (run if key in RunSettings.RUN_KEYS else agent)[key] = value
    return run, agent


def split_overrides(pairs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``key=value`` strings -> (run-level settings, agent hyperparameters)."""
    return split_settings(parse_overrides(pairs))


def parse_bool(key: str, value: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off) -> bool; a one-line error otherwise."""
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"bad --set {key}={value!r}: must be true or false")


def run_setting_values(run_keys: Mapping[str, str]) -> dict[str, int | str | bool]:
    """Run-level ``--set`` values: integers within :data:`RUN_LIMITS`, and the speed
    settings of :mod:`drol.speed.step` and the tracker (``logger``) as their choices; a one-line
    :class:`ConfigError` naming the key and its range otherwise (``drol train`` and the workflow's DAG-build check use
    this one rule)."""
    speed = {k: v for k, v in run_keys.items() if k in SPEED_KEYS}
    chosen = SpeedSettings.from_values(speed)
    out: dict[str, int | str | bool] = {k: getattr(chosen, k) for k in speed}
    for key, value in run_keys.items():
        if key in SPEED_KEYS:
            continue
        if key == "logger":
            out[key] = check_logger(value)
            continue
        if key == "eval_lockstep":
            out[key] = parse_bool(key, value)
            continue
        lo, hi = RUN_LIMITS[key]
        try:
            number = coerce(key, value, int)
        except ConfigError:
            number = None
        if number is None or not lo <= number <= hi:
            raise ConfigError(f"bad --set {key}={value!r}: must be an integer in [{lo}, {hi}]")
        out[key] = number
    return out


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` where torch sees a CUDA device, else ``cpu``; a one-line error
    for ``--device cuda`` without one (torch would assert deep inside)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda, but torch sees no CUDA device: use --device cpu")
    return device


def make_settings(
    *,
    task: str,
    method: str,
    K: int,
    seed: int,
    steps: int | None,
    eval_every: int,
    eval_episodes: int | None,
    data_dir: str | None,
    device: str,
    threads: int | None,
    overrides: list[str],
) -> RunSettings:
    """Validated :class:`RunSettings` from command-line values (``--set`` pairs unparsed)."""
    device = resolve_device(device)
    run_keys, agent_keys = split_overrides(overrides)
    run_values = run_setting_values(run_keys)
    defaults = get_method(method).run_settings(parse_task(task))  # the method's, sourced
    settings = RunSettings(
        task=task,
        method=method,
        K=K,
        seed=seed,
        steps=steps if steps is not None else defaults["steps"].value,
        eval_every=eval_every,
        eval_episodes=eval_episodes
        if eval_episodes is not None
        else defaults["eval_episodes"].value,
        data_dir=data_dir,
        device=device,
        threads=threads,
        overrides=agent_keys,
        **run_values,
    )
    settings.validate()
    return settings


__all__ = [
    "OPTION",
    "RUN_LIMITS",
    "RunSettings",
    "make_settings",
    "run_setting_values",
    "split_overrides",
    "split_settings",
]
