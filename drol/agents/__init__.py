"""Agents: one module per method, each registered in :mod:`drol.agents.registry`."""

from __future__ import annotations

from drol.agents.base import OfflineAgent
from drol.agents.config import AgentConfig
from drol.agents.registry import get_method, make_agent, make_config, method_names, methods

__all__ = [
    "AgentConfig",
    "OfflineAgent",
    "get_method",
    "make_agent",
    "make_config",
    "method_names",
    "methods",
]
