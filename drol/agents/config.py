"""Agent hyperparameters: typed dataclasses with the official ``get_config()`` defaults.

:class:`AgentConfig` holds what every method shares (optimiser, networks, TD target); each
agent module subclasses it with its own keys (``DROLConfig``, ``FQLConfig``, ...), extends
:meth:`AgentConfig.validate`, and names the subclass in its ``Config`` class attribute.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, TypeVar, get_type_hints

from drol.errors import ConfigError

Q_AGGS = ("mean", "min")
ACTIVATIONS = ("gelu", "relu")
MAX_HIDDEN = 16384  # wider MLPs are a typo, not an experiment (and would exhaust memory)
MAX_BATCH = 65536  # larger batches are a typo (10^9 rows would exhaust memory mid-run)

C = TypeVar("C", bound="AgentConfig")


def need(cfg: AgentConfig, ok: bool, key: str, rule: str) -> None:
    """Raise a :class:`ConfigError` naming ``key``, its value and ``rule`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"bad hyperparameter {key}={getattr(cfg, key)!r}: {rule}")


@dataclass
class AgentConfig:
    """Shared by every method (official defaults)."""

    lr: float = 3e-4
    batch_size: int = 256
    hidden: int = 512  # width of the 4-layer actor and critic MLPs
    depth: int = 4
    layer_norm: bool = True  # critic only
    discount: float = 0.99
    tau: float = 0.005
    q_agg: str = "mean"  # target aggregation over the 2 critics
    # settings of other code bases (CORL), off by default (drol.data.transforms, nn.networks)
    # hidden activation of the critic, value and Gaussian actors ('relu': CORL); the flow and
    # latent actors (FQL, IFQL, DROL) keep GELU
    activation: str = "gelu"
    critic_lr: float = 0.0  # learning rate of the critic/value networks; 0 = ``lr``
    obs_norm: bool = False  # observations standardised by the dataset's mean/std (+1e-3)
    reward_scale: float = 1.0  # training rewards -> reward_scale * r + reward_bias
    reward_bias: float = 0.0

    @property
    def hidden_dims(self) -> tuple[int, ...]:
        return (self.hidden,) * self.depth

    def validate(self) -> None:
        """Check every value; subclasses call ``super().validate()`` and add their keys."""
        need(self, self.lr > 0, "lr", "must be > 0")
        need(self, 1 <= self.batch_size <= MAX_BATCH, "batch_size", f"must be in [1, {MAX_BATCH}]")
        need(self, 1 <= self.hidden <= MAX_HIDDEN, "hidden", f"must be in [1, {MAX_HIDDEN}]")
        need(self, 1 <= self.depth <= 64, "depth", "must be in [1, 64]")
        need(self, 0 < self.discount <= 1, "discount", "must be in (0, 1]")
        need(self, 0 < self.tau <= 1, "tau", "must be in (0, 1]")
        need(self, self.q_agg in Q_AGGS, "q_agg", f"must be one of {Q_AGGS}")
        need(self, self.activation in ACTIVATIONS, "activation", f"one of {ACTIVATIONS}")
        need(self, self.critic_lr >= 0, "critic_lr", "must be >= 0 (0: the same as lr)")
        need(self, math.isfinite(self.reward_scale), "reward_scale", "must be finite")
        need(self, math.isfinite(self.reward_bias), "reward_bias", "must be finite")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def coerce(key: str, value: Any, typ: type) -> Any:
    """``value`` (a string from the command line or YAML, or a number) as ``typ``; a float
    must be finite (``inf``/``nan`` are refused for every float option, naming it)."""
    out = _coerce(key, value, typ)
    if typ is float and not math.isfinite(out):
        raise ConfigError(f"bad hyperparameter {key}={value!r}: must be a finite number")
    return out


def _coerce(key: str, value: Any, typ: type) -> Any:
    if isinstance(value, bool) and typ is not bool:
        raise ConfigError(f"bad hyperparameter {key}={value!r}: expected {typ.__name__}")
    if not isinstance(value, str):
        try:
            if typ is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return typ(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"bad hyperparameter {key}={value!r}: expected {typ.__name__}"
            ) from None
    text = value.strip()
    try:
        if typ is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            number = float(text) if "e" in text.lower() else int(text)
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            return int(number)
        return typ(text)
    except (ValueError, OverflowError):
        raise ConfigError(f"bad hyperparameter {key}={value!r}: expected {typ.__name__}") from None


def build_config(cls: type[C], *overrides: dict[str, Any]) -> C:
    """A validated ``cls`` from its defaults plus successive override dicts."""
    hints = get_type_hints(cls)
    types = {f.name: hints[f.name] for f in fields(cls)}
    cfg = cls()
    for mapping in overrides:
        for key, value in mapping.items():
            if key not in types:
                known = ", ".join(sorted(types))
                raise ConfigError(f"unknown hyperparameter {key!r} (known: {known})")
            setattr(cfg, key, coerce(key, value, types[key]))
    cfg.validate()
    return cfg


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``--set key=value`` strings -> ``{key: value}`` (values stay strings until coerced)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad --set {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """The repeatable ``--set KEY=VALUE`` option (into ``overrides``; see :func:`parse_overrides`)."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )
