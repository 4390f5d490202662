"""FQL: flow-matching BC teacher + one-step student distilled with ``alpha``.

Faithful to the official ``agents/fql.py`` (seohongpark/fql): 10 Euler steps, the
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
from drol.agents.sources import (
    FQL_E2,
    FQL_README,
    FQL_TABLE5,
    Sourced,
    fql_code,
    is_unverified,
    official_off,
    sourced,
    unverified,
)
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


_NOT_IN_GRID = unverified("not in FQL's grid: untuned")

# FQL's own per-environment flags (its paper's appendix), each equal
# to the official fql README's command for that environment:
# OGBench family -> (alpha, discount, q_agg)
FQL_OGBENCH: dict[str, Sourced[tuple[float, float, str]]] = {
    "antmaze-large-navigate": Sourced((10.0, 0.99, "min"), FQL_README),
    "antmaze-giant-navigate": Sourced((10.0, 0.995, "min"), FQL_README),
    "humanoidmaze-medium-navigate": Sourced((30.0, 0.995, "mean"), FQL_README),
    "humanoidmaze-large-navigate": Sourced((30.0, 0.995, "mean"), FQL_README),
    "antsoccer-arena-navigate": Sourced((10.0, 0.995, "mean"), FQL_README),
    "cube-single-play": Sourced((300.0, 0.99, "mean"), FQL_README),
    "cube-double-play": Sourced((300.0, 0.99, "mean"), FQL_README),
    "scene-play": Sourced((300.0, 0.99, "mean"), FQL_README),
    "puzzle-3x3-play": Sourced((1000.0, 0.99, "mean"), FQL_README),
    "puzzle-4x4-play": Sourced((1000.0, 0.99, "mean"), FQL_README),
    "pointmaze-medium-navigate": Sourced((10.0, 0.99, "mean"), _NOT_IN_GRID),
    "pointmaze-large-navigate": Sourced((10.0, 0.99, "mean"), _NOT_IN_GRID),
}


def ogbench_discount(task: Task) -> Sourced[float]:
    """The FQL paper's discount of an OGBench family (its Table 5), used by its baselines too
    (the official README's IQL/ReBRAC/IFQL commands on humanoidmaze pass the same 0.995)."""
    row = FQL_OGBENCH[task.family]
    if is_unverified(row.source):
        return Sourced(row.value[1], row.source)
    return Sourced(row.value[1], f"{FQL_README} (FQL's discount, shared by its baselines)")


def fql_q_agg(task: Task) -> Sourced[str]:
    """FQL's critic aggregation on ``task`` as the FQL paper's flow baselines inherit it (App.
    E.2: FAWAC and FBRAC use "the same default hyperparameters as FQL"; Table 5: clipped
    double Q-learning on adroit and antmaze-{large, giant}-navigate)."""
    if task.suite == OGBENCH:
        q_agg = FQL_OGBENCH[task.family].value[2]
    else:
        q_agg = d4rl_row(FQL_D4RL, task.name).value[1]
    return Sourced(q_agg, f"{FQL_E2} (FQL's defaults) and {FQL_TABLE5} (clipped double Q)")


# D4RL task (or antmaze group) -> (alpha, q_agg)
FQL_D4RL: dict[str, Sourced[tuple[float, str]]] = {
    "antmaze-umaze": Sourced((10.0, "mean"), FQL_README),
    "antmaze-umaze-diverse": Sourced((10.0, "mean"), FQL_README),
    "antmaze-medium-play": Sourced((10.0, "mean"), FQL_README),
    "antmaze-medium-diverse": Sourced((10.0, "mean"), FQL_README),
    "antmaze-large-play": Sourced((3.0, "mean"), FQL_README),
    "antmaze-large-diverse": Sourced((3.0, "mean"), FQL_README),
    "pen-human-v1": Sourced((10000.0, "min"), FQL_README),
    "pen-cloned-v1": Sourced((10000.0, "min"), FQL_README),
    "pen-expert-v1": Sourced((3000.0, "min"), FQL_README),
    "door-human-v1": Sourced((30000.0, "min"), FQL_README),
    "door-cloned-v1": Sourced((30000.0, "min"), FQL_README),
    "door-expert-v1": Sourced((30000.0, "min"), FQL_README),
    "hammer-human-v1": Sourced((30000.0, "min"), FQL_README),
    "hammer-cloned-v1": Sourced((10000.0, "min"), FQL_README),
    "hammer-expert-v1": Sourced((30000.0, "min"), FQL_README),
    "relocate-human-v1": Sourced((10000.0, "min"), FQL_README),
    "relocate-cloned-v1": Sourced((30000.0, "min"), FQL_README),
    "relocate-expert-v1": Sourced((30000.0, "min"), FQL_README),
}


@register
class FQLAgent(OfflineAgent):
    name = "fql"
    label = "FQL"
    colour = "#bcbd22"  # tab:olive
    paper_group = "one-step"
    Config = FQLConfig
    cfg: FQLConfig
    default_source = fql_code("fql")
    default_sources = official_off(fql_code("fql"))

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite == OGBENCH:
            row = FQL_OGBENCH[task.family]
            alpha, discount, q_agg = row.value
            return sourced({"alpha": alpha, "discount": discount, "q_agg": q_agg}, row.source)
        row = d4rl_row(FQL_D4RL, task.name)
        alpha, q_agg = row.value
        return sourced({"alpha": alpha, "q_agg": q_agg}, row.source)

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
