"""IFQL: IQL's value and critic with a flow BC policy and rejection by Q (official
``agents/ifql.py``, the flow variant of IDQL).

Training: the IQL value/critic losses (:class:`drol.agents.iql.IQLCritic`) plus the BC
flow-matching loss of the velocity field, one Adam step on their sum, the target critic
moved towards the pre-step critic. Acting: ``num_samples`` Gaussian noises per state through
``flow_steps`` Euler steps, clipped, and the sample with the highest ``min_j Q_j`` (the
critic, not its target) is taken -- at evaluation too (the official sampler ignores the
temperature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from drol.agents.base import Batch
from drol.agents.config import need
from drol.agents.flow import VectorField, euler_actions, flow_matching_loss
from drol.agents.fql import ogbench_discount
from drol.agents.iql import IQL_D4RL, IQLConfig, IQLCritic
from drol.agents.registry import register
from drol.nn.sampling import sample_gaussian
from drol.tasks import OGBENCH, Task


@dataclass
class IFQLConfig(IQLConfig):
    """The official ``agents/ifql.py`` defaults (``alpha`` is unused)."""

    num_samples: int = 32  # N: flow samples ranked by Q per action
    flow_steps: int = 10

    def validate(self) -> None:
        super().validate()
        need(self, 1 <= self.num_samples <= 4096, "num_samples", "must be in [1, 4096]")
        need(self, 1 <= self.flow_steps <= 1000, "flow_steps", "must be in [1, 1000]")


# N: the official default 32, the value of every IFQL command in the official README
# (humanoidmaze-medium, visual-cube-single) and, as remembered, of the FQL paper's appendix
# table; only the discount changes per family (FQL's).
IFQL_NUM_SAMPLES = 32


@register
class IFQLAgent(IQLCritic):
    name = "ifql"
    label = "IFQL"
    paper_group = "multi-step"
    Config = IFQLConfig
    cfg: IFQLConfig

    @classmethod
    def task_defaults(cls, task: Task) -> dict[str, Any]:
        if task.suite == OGBENCH:
            return {"num_samples": IFQL_NUM_SAMPLES, "discount": ogbench_discount(task)}
        # D4RL: IQL's expectile per suite (IQL_D4RL), N the official default
        return {"expectile": IQL_D4RL[task.family]["expectile"], "num_samples": IFQL_NUM_SAMPLES}

    def build_actor(self) -> None:
        self.actor_flow = VectorField(self.obs_dim, self.action_dim, self.cfg.hidden_dims)

    @torch.no_grad()
    def policy(self, obs: Tensor) -> Tensor:
        """The best of ``num_samples`` flow samples per state under ``min_j Q_j``."""
        B, N, A = obs.shape[0], self.cfg.num_samples, self.action_dim
        z = sample_gaussian((B, N, A), self.generator, self.device_)
        obs_n = obs.unsqueeze(1).expand(B, N, obs.shape[-1])
        actions = euler_actions(self.actor_flow, obs_n, z, self.cfg.flow_steps)  # (B, N, A)
        q = self.critic(obs_n.reshape(B * N, -1), actions.reshape(B * N, A)).min(dim=0).values
        best = q.reshape(B, N).argmax(dim=1)
        return actions[torch.arange(B, device=obs.device), best]

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        loss = flow_matching_loss(self.actor_flow, obs, act, self.generator)
        info = {"actor_loss": loss.detach(), "flow_loss": loss.detach()}
        if diagnostics:
            info["mse"] = (self.policy(obs) - act).pow(2).mean()
        return loss, info
