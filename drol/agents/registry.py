"""The method registry: the only list of training methods.

Each agent class carries its identity (``name``, ``label``, ``uses_candidates``,
``paper_group``, ``Config``, ``task_defaults``) and registers itself with :func:`register`. Everything else -- ``drol
train``/``bench`` choices, the trainer, the workflow's wildcard constraints, the grid's table
columns -- asks this module. Adding a method = one agent module + its line in ``AGENT_MODULES``
(or, outside this package, an entry point in the ``drol.agents`` group naming the module).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import torch

from drol.errors import ConfigError

if TYPE_CHECKING:
    from drol.agents.base import OfflineAgent
    from drol.agents.config import AgentConfig
    from drol.tasks import Task

# modules whose agent classes register themselves on import, in display order
AGENT_MODULES: tuple[str, ...] = (
    "drol.agents.bc",
    "drol.agents.iql",
    "drol.agents.rebrac",
    "drol.agents.fawac",
    "drol.agents.fbrac",
    "drol.agents.ifql",
    "drol.agents.deflow",
    "drol.agents.sorl",
    "drol.agents.fql",
    "drol.agents.drol",
)
ENTRY_POINT_GROUP = "drol.agents"  # installed plugins: name = module with @register classes

_METHODS: dict[str, type[OfflineAgent]] = {}
_loaded = False


def register(cls: type[OfflineAgent]) -> type[OfflineAgent]:
    """Class decorator: add an agent class under its ``name``."""
    if not cls.__dict__.get("name"):
        raise TypeError(f"{cls.__name__} needs a class attribute 'name'")
    if cls.name in _METHODS and _METHODS[cls.name] is not cls:
        raise ValueError(f"method {cls.name!r} is registered twice")
    _METHODS[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in AGENT_MODULES:
            importlib.import_module(module)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            ep.load()
        _loaded = True


def methods() -> dict[str, type[OfflineAgent]]:
    """Every registered method, name -> agent class, in display order: the order of
    ``AGENT_MODULES`` (whatever was imported first), then plugins in registration order."""
    _load()
    rank = {module: i for i, module in enumerate(AGENT_MODULES)}
    order = sorted(
        enumerate(_METHODS.items()),
        key=lambda item: (rank.get(item[1][1].__module__, len(rank)), item[0]),
    )
    return dict(item for _, item in order)


def method_names() -> tuple[str, ...]:
    return tuple(methods())


def get_method(name: str) -> type[OfflineAgent]:
    """The agent class of ``name``; a :class:`ConfigError` listing the choices otherwise."""
    known = methods()
    if name not in known:
        raise ConfigError(f"unknown method {name!r}: choose one of {', '.join(known)}")
    return known[name]


def make_config(
    method: str, *overrides: dict[str, Any], task: Task | None = None, K: int | None = None
) -> AgentConfig:
    """The validated config of ``method``: official defaults, then the task family's
    defaults (if ``task``), then ``K`` (candidate methods only), then ``overrides``."""
    cls = get_method(method)
    layers: list[dict[str, Any]] = []
    if task is not None:
        layers.append(cls.task_defaults(task))
    if K is not None and cls.uses_candidates:
        layers.append({"num_candidates": K})
    return cls.make_config(*layers, *overrides)


def make_agent(
    method: str,
    obs_dim: int,
    action_dim: int,
    cfg: AgentConfig,
    device: torch.device | str = "cpu",
    seed: int = 0,
    num_data: int | None = None,
) -> OfflineAgent:
    """Build the agent of ``method``; its network initialisation is seeded by ``seed``."""
    cls = get_method(method)
    torch.manual_seed(seed)
    return cls(obs_dim, action_dim, cfg, device=device, seed=seed, num_data=num_data)
