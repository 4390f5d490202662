"""Agent hyperparameters: the official ``get_config()`` defaults, typed and validated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

Q_AGGS = ("mean", "min")


class ConfigError(ValueError):
    """A bad hyperparameter: the message names the key and the allowed values."""


@dataclass
class AgentConfig:
    """Shared by DROL, its static-routing ablation and FQL (official defaults)."""

    lr: float = 3e-4
    batch_size: int = 256
    hidden: int = 512  # width of the 4-layer actor and critic MLPs
    depth: int = 4
    layer_norm: bool = True  # critic only
    discount: float = 0.99
    tau: float = 0.005
    q_agg: str = "mean"  # target aggregation over the 2 critics
    # DROL
    num_candidates: int = 16  # K
    bc_coef: float = 1.0
    q_coef: float = 1.0
    actor_q_agg: str = "min"
    normalize_q_loss: bool = True
    # FQL
    alpha: float = 10.0
    flow_steps: int = 10
    # implementation choices (same math, see tests/test_drol_agent.py)
    impl: str = (
        "winner"  # 'winner': route under no_grad, recompute the winner; 'full': official graph
    )
    candidate_dtype: str = "float32"  # 'bfloat16': autocast the no-grad candidate pass (opt-in)

    @property
    def hidden_dims(self) -> tuple[int, ...]:
        return (self.hidden,) * self.depth

    def validate(self) -> None:
        def need(ok: bool, key: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"bad hyperparameter {key}={getattr(self, key)!r}: {rule}")

        need(self.lr > 0, "lr", "must be > 0")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        need(self.hidden >= 1, "hidden", "must be >= 1")
        need(self.depth >= 1, "depth", "must be >= 1")
        need(0 < self.discount <= 1, "discount", "must be in (0, 1]")
        need(0 < self.tau <= 1, "tau", "must be in (0, 1]")
        need(self.q_agg in Q_AGGS, "q_agg", f"must be one of {Q_AGGS}")
        need(self.actor_q_agg in Q_AGGS, "actor_q_agg", f"must be one of {Q_AGGS}")
        need(self.num_candidates >= 1, "num_candidates", "K must be >= 1")
        need(self.bc_coef >= 0, "bc_coef", "must be >= 0")
        need(self.q_coef >= 0, "q_coef", "must be >= 0")
        need(self.alpha >= 0, "alpha", "must be >= 0")
        need(self.flow_steps >= 1, "flow_steps", "must be >= 1")
        need(self.impl in ("winner", "full"), "impl", "must be 'winner' or 'full'")
        need(
            self.candidate_dtype in ("float32", "bfloat16"),
            "candidate_dtype",
            "must be 'float32' or 'bfloat16'",
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(key: str, value: Any, typ: type) -> Any:
    if not isinstance(value, str):
        return typ(value)
    text = value.strip()
    try:
        if typ is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            return int(float(text)) if "e" in text.lower() else int(text)
        return typ(text)
    except ValueError:
        raise ConfigError(f"bad hyperparameter {key}={value!r}: expected {typ.__name__}") from None


def make_config(*overrides: dict[str, Any]) -> AgentConfig:
    """Build a validated config from defaults plus successive override dicts."""
    types = {f.name: f.type for f in fields(AgentConfig)}
    pytypes = {"float": float, "int": int, "bool": bool, "str": str}
    cfg = AgentConfig()
    for mapping in overrides:
        for key, value in mapping.items():
            if key not in types:
                known = ", ".join(sorted(types))
                raise ConfigError(f"unknown hyperparameter {key!r} (known: {known})")
            setattr(cfg, key, _coerce(key, value, pytypes[str(types[key])]))
    cfg.validate()
    return cfg
