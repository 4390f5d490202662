"""FQL: flow-matching BC teacher + one-step student distilled with ``alpha``.

Faithful to the official ``agents/fql.py`` (spec/algorithms.md §2.3): 10 Euler steps, the
teacher under ``no_grad`` and clipped only at the end, distillation on the *unclipped*
student output, Q (mean of the 2 critics) on the clipped student action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from drol.agents.base import Batch, OfflineAgent, aggregate, normalized_q_loss
from drol.agents.config import AgentConfig, need
from drol.agents.flow import VectorField, euler_actions, flow_matching_loss
from drol.agents.registry import register
from drol.nn.networks import LatentActor
from drol.nn.sampling import sample_gaussian
from drol.tasks import OGBENCH, Task, d4rl_row


@dataclass
class FQLConfig(AgentConfig):
    """The official ``agents/fql.py`` defaults."""

    alpha: float = 10.0  # distillation coefficient
    flow_steps: int = 10
    normalize_q_loss: bool = False

    def validate(self) -> None:
        super().validate()
        need(self, self.alpha >= 0, "alpha", "must be >= 0")
        need(self, 1 <= self.flow_steps <= 1000, "flow_steps", "must be in [1, 1000]")


# FQL's own per-environment flags (its paper's appendix; spec/algorithms.md §2.5):
# OGBench family -> (alpha, discount, q_agg)
FQL_OGBENCH: dict[str, tuple[float, float, str]] = {
    "antmaze-large-navigate": (10.0, 0.99, "min"),
    "antmaze-giant-navigate": (10.0, 0.995, "min"),
    "humanoidmaze-medium-navigate": (30.0, 0.995, "mean"),
    "humanoidmaze-large-navigate": (30.0, 0.995, "mean"),
    "antsoccer-arena-navigate": (10.0, 0.995, "mean"),
    "cube-single-play": (300.0, 0.99, "mean"),
    "cube-double-play": (300.0, 0.99, "mean"),
    "scene-play": (300.0, 0.99, "mean"),
    "puzzle-3x3-play": (1000.0, 0.99, "mean"),
    "puzzle-4x4-play": (1000.0, 0.99, "mean"),
    "pointmaze-medium-navigate": (10.0, 0.99, "mean"),  # not in FQL's grid: untuned
    "pointmaze-large-navigate": (10.0, 0.99, "mean"),
}


def ogbench_discount(task: Task) -> float:
    """The FQL paper's discount of an OGBench family (its Table 5), used by its baselines too
    (the official README's IQL/ReBRAC/IFQL commands on humanoidmaze pass the same 0.995)."""
    return FQL_OGBENCH[task.family][1]


# D4RL task (or antmaze group) -> (alpha, q_agg)
FQL_D4RL: dict[str, tuple[float, str]] = {
    "antmaze-umaze": (10.0, "mean"),
    "antmaze-umaze-diverse": (10.0, "mean"),
    "antmaze-medium-play": (10.0, "mean"),
    "antmaze-medium-diverse": (10.0, "mean"),
    "antmaze-large-play": (3.0, "mean"),
    "antmaze-large-diverse": (3.0, "mean"),
    "pen-human-v1": (10000.0, "min"),
    "pen-cloned-v1": (10000.0, "min"),
    "pen-expert-v1": (3000.0, "min"),
    "door-human-v1": (30000.0, "min"),
    "door-cloned-v1": (30000.0, "min"),
    "door-expert-v1": (30000.0, "min"),
    "hammer-human-v1": (30000.0, "min"),
    "hammer-cloned-v1": (10000.0, "min"),
    "hammer-expert-v1": (30000.0, "min"),
    "relocate-human-v1": (10000.0, "min"),
    "relocate-cloned-v1": (30000.0, "min"),
    "relocate-expert-v1": (30000.0, "min"),
}


@register
class FQLAgent(OfflineAgent):
    name = "fql"
    label = "FQL"
    paper_group = "one-step"
    Config = FQLConfig
    cfg: FQLConfig

    @classmethod
    def task_defaults(cls, task: Task) -> dict[str, Any]:
        if task.suite == OGBENCH:
            alpha, discount, q_agg = FQL_OGBENCH[task.family]
            return {"alpha": alpha, "discount": discount, "q_agg": q_agg}
        alpha, q_agg = d4rl_row(FQL_D4RL, task.name)
        return {"alpha": alpha, "q_agg": q_agg}

    def build_actor(self) -> None:
        A, hidden = self.action_dim, self.cfg.hidden_dims
        self.actor_bc_flow = VectorField(self.obs_dim, A, hidden)
        self.actor = LatentActor(self.obs_dim, A, hidden)  # one-step student

    def noise(self, n: int) -> Tensor:
        return sample_gaussian((n, self.action_dim), generator=self.generator, device=self.device_)

    def policy(self, obs: Tensor) -> Tensor:
        return self.actor(obs, self.noise(obs.shape[0])).clamp(-1.0, 1.0)

    def teacher_actions(self, obs: Tensor, z: Tensor) -> Tensor:
        """Euler integration of the BC flow from ``z``; clipped once at the end."""
        return euler_actions(self.actor_bc_flow, obs, z, self.cfg.flow_steps)

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        flow_loss = flow_matching_loss(self.actor_bc_flow, obs, act, self.generator)
        # distillation towards the (detached) teacher from the same noise
        z = self.noise(obs.shape[0])
        target = self.teacher_actions(obs, z)
        student = self.actor(obs, z)
        distill_loss = (student - target).pow(2).mean()
        # Q on the clipped student action, critic frozen
        q = aggregate(self.critic(obs, student.clamp(-1.0, 1.0), frozen=True), "mean")
        q_loss = normalized_q_loss(q, self.cfg.normalize_q_loss, eps=None)
        loss = flow_loss + self.cfg.alpha * distill_loss + q_loss
        info = {
            "actor_loss": loss.detach(),
            "flow_loss": flow_loss.detach(),
            "distill_loss": distill_loss.detach(),
            "q_loss": q_loss.detach(),
            "q": q.detach().mean(),
        }
        if diagnostics:
            with torch.no_grad():
                info["mse"] = (self.policy(obs) - act).pow(2).mean()
        return loss, info
