"""Agents: DROL, its static-routing ablation, and the FQL baseline."""

from __future__ import annotations

from typing import Any

import torch

from drol.agents.base import OfflineAgent
from drol.agents.config import AgentConfig, ConfigError, make_config
from drol.agents.drol import DROLAgent, StaticRoutingAgent
from drol.agents.fql import FQLAgent

METHODS = ("drol", "drol_static", "fql")

# official defaults that differ between methods (get_config of each agent)
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "drol": {},
    "drol_static": {},
    "fql": {"normalize_q_loss": False},
}


def make_agent(
    method: str,
    obs_dim: int,
    action_dim: int,
    cfg: AgentConfig,
    device: torch.device | str = "cpu",
    seed: int = 0,
    num_data: int | None = None,
) -> OfflineAgent:
    """Build the agent named ``method`` with a validated config."""
    torch.manual_seed(seed)  # network initialisation
    if method == "drol":
        return DROLAgent(obs_dim, action_dim, cfg, device=device, seed=seed)
    if method == "drol_static":
        if num_data is None:
            raise ConfigError("drol_static needs the dataset size (num_data)")
        if cfg.impl != "winner":
            raise ConfigError(
                "bad hyperparameter impl='full': drol_static supports only impl=winner"
            )
        return StaticRoutingAgent(
            obs_dim, action_dim, cfg, device=device, seed=seed, num_data=num_data
        )
    if method == "fql":
        return FQLAgent(obs_dim, action_dim, cfg, device=device, seed=seed)
    raise ConfigError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")


__all__ = [
    "METHODS",
    "METHOD_DEFAULTS",
    "AgentConfig",
    "ConfigError",
    "DROLAgent",
    "FQLAgent",
    "OfflineAgent",
    "StaticRoutingAgent",
    "make_agent",
    "make_config",
]
