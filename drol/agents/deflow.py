"""DeFlow (Mu et al. 2026): a BC flow models the data manifold; a separate one-step refinement
network adds a bounded correction that the critic improves.

Faithful to the official ``agents/deflow.py`` (muzhancun/DeFlow@5830f0e):

- actor ``a = clip(mu(s, z) + r(s, mu(s, z)))``: ``mu`` the BC flow (``flow_steps`` Euler
  steps from ``z ~ N(0, I)``, clipped), ``r`` an MLP over ``concat(s, a_base)`` (no time input);
  the critic's next actions and evaluation use this actor (one refinement, no best-of-N).
- actor loss ``L_flow + alpha * mean(r^2) - Q(s, a)`` with the base action detached and the
  critic frozen (Q the mean of the two critics, optionally divided by ``stopgrad(mean|Q|)``).
- ``use_lagrange`` (the default): ``alpha = exp(log_alpha)``, ``log_alpha`` a learned scalar
  initialised at 1.0 and trained by ``-log_alpha * (stopgrad(mean r^2) - target_divergence)``
  in the same Adam step; the actor sees ``stopgrad(alpha)``. Without it the official loss
  multiplies the fixed ``alpha`` in twice (``alpha * (alpha * mean r^2)``), kept here.
- one Adam over everything, the target critic moved towards the pre-step critic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from drol.agents.base import Batch, OfflineAgent, aggregate, normalized_q_loss
from drol.agents.config import AgentConfig, need
from drol.agents.flow import VectorField, euler_actions, flow_matching_loss
from drol.agents.registry import register
from drol.agents.sources import (
    DEFLOW_CODE,
    DEFLOW_README,
    Sourced,
    official_off,
    sourced,
    unverified,
)
from drol.nn.networks import LatentActor
from drol.nn.sampling import sample_gaussian
from drol.tasks import OGBENCH, Task, d4rl_group

LOG_ALPHA_INIT = 1.0  # the official Scalar(init_value=1.0)


@dataclass
class DeFlowConfig(AgentConfig):
    """The official ``agents/deflow.py`` defaults."""

    alpha: float = 10.0  # fixed refinement penalty (only without use_lagrange)
    use_lagrange: bool = True  # learn alpha towards target_divergence
    target_divergence: float = 0.001  # target mean squared refinement
    flow_steps: int = 10
    normalize_q_loss: bool = False

    def validate(self) -> None:
        super().validate()
        need(self, self.alpha >= 0, "alpha", "must be >= 0")
        need(self, self.target_divergence >= 0, "target_divergence", "must be >= 0")
        need(self, 1 <= self.flow_steps <= 1000, "flow_steps", "must be in [1, 1000]")


_NAV = unverified("not in DeFlow's list; its README's navigation advice (delta = 0.01)")

# OGBench family -> (target_divergence, discount, q_agg), the official README's commands
# (which all set normalize_q_loss=True)
DEFLOW_OGBENCH: dict[str, Sourced[tuple[float, float, str]]] = {
    "antmaze-large-navigate": Sourced((0.01, 0.99, "min"), DEFLOW_README),
    "antmaze-giant-navigate": Sourced((0.01, 0.995, "min"), DEFLOW_README),
    "humanoidmaze-medium-navigate": Sourced((0.001, 0.995, "mean"), DEFLOW_README),
    "humanoidmaze-large-navigate": Sourced((0.001, 0.995, "mean"), DEFLOW_README),
    "antsoccer-arena-navigate": Sourced((0.01, 0.995, "mean"), DEFLOW_README),
    "cube-single-play": Sourced((0.001, 0.99, "mean"), DEFLOW_README),
    "cube-double-play": Sourced((0.001, 0.99, "mean"), DEFLOW_README),
    "scene-play": Sourced((0.001, 0.99, "mean"), DEFLOW_README),
    "puzzle-3x3-play": Sourced((0.005, 0.99, "mean"), DEFLOW_README),
    "puzzle-4x4-play": Sourced((0.005, 0.99, "mean"), DEFLOW_README),
    "pointmaze-medium-navigate": Sourced((0.01, 0.99, "mean"), _NAV),
    "pointmaze-large-navigate": Sourced((0.01, 0.99, "mean"), _NAV),
}

# D4RL dataset (or group) -> (target_divergence, q_agg), the README's commands (500k steps)
DEFLOW_D4RL: dict[str, Sourced[tuple[float, str]]] = {
    "antmaze": Sourced((0.015, "mean"), DEFLOW_README),
    "pen": Sourced((0.01, "min"), DEFLOW_README),
    "door": Sourced((0.001, "min"), DEFLOW_README),
    "hammer": Sourced((0.001, "min"), DEFLOW_README),
    "relocate": Sourced((0.001, "min"), DEFLOW_README),
}


@register
class DeFlowAgent(OfflineAgent):
    name = "deflow"
    label = "DeFlow"
    colour = "#e377c2"  # tab:pink
    paper_group = "multi-step"
    Config = DeFlowConfig
    cfg: DeFlowConfig
    default_source = DEFLOW_CODE
    default_sources = official_off(DEFLOW_CODE)

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite == OGBENCH:
            row = DEFLOW_OGBENCH[task.family]
            delta, discount, q_agg = row.value
            values = {"target_divergence": delta, "discount": discount, "q_agg": q_agg}
        else:
            row = DEFLOW_D4RL["antmaze" if task.family == "antmaze" else d4rl_group(task.name)]
            delta, q_agg = row.value
            values = {"target_divergence": delta, "q_agg": q_agg}
        return sourced({**values, "normalize_q_loss": True}, row.source)

    def build_actor(self) -> None:
        A, hidden = self.action_dim, self.cfg.hidden_dims
        self.actor_bc_flow = VectorField(self.obs_dim, A, hidden)
        self.refine = LatentActor(self.obs_dim, A, hidden)  # r(s, a_base)
        self.log_alpha = nn.Parameter(torch.tensor([LOG_ALPHA_INIT]))

    def base_actions(self, obs: Tensor) -> Tensor:
        z = sample_gaussian((obs.shape[0], self.action_dim), self.generator, self.device_)
        return euler_actions(self.actor_bc_flow, obs, z, self.cfg.flow_steps)

    @torch.no_grad()
    def policy(self, obs: Tensor) -> Tensor:
        base = self.base_actions(obs)
        return (base + self.refine(obs, base)).clamp(-1.0, 1.0)

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        flow_loss = flow_matching_loss(self.actor_bc_flow, obs, act, self.generator)
        base = self.base_actions(obs)  # no gradient (euler_actions)
        refinement = self.refine(obs, base)
        raw = refinement.pow(2).mean()
        if self.cfg.use_lagrange:
            log_alpha = self.log_alpha[0]
            alpha = log_alpha.detach().exp()
            alpha_loss = -log_alpha * (raw.detach() - self.cfg.target_divergence)
            penalty = alpha * raw
        else:
            alpha = torch.tensor(self.cfg.alpha, device=obs.device)
            alpha_loss = torch.zeros((), device=obs.device)
            penalty = self.cfg.alpha * (self.cfg.alpha * raw)  # the official double alpha
        q = aggregate(self.critic(obs, (base + refinement).clamp(-1.0, 1.0), frozen=True), "mean")
        q_loss = normalized_q_loss(q, self.cfg.normalize_q_loss, eps=None)
        loss = flow_loss + penalty + q_loss + alpha_loss
        info = {
            "actor_loss": loss.detach(),
            "flow_loss": flow_loss.detach(),
            "distill_loss": raw.detach(),
            "q_loss": q_loss.detach(),
            "q": q.detach().mean(),
            "alpha": alpha.detach(),
        }
        if diagnostics:
            with torch.no_grad():
                info["mse"] = (self.policy(obs) - act).pow(2).mean()
        return loss, info
