"""FBRAC: a flow policy trained like BRAC/Diffusion-QL -- its BC flow-matching loss plus Q
maximisation backpropagated through all ``flow_steps`` Euler steps (the FQL paper's flow
baseline "flow BRAC"; Park et al. 2025, Sec. 5 and App. E).

No official code is public: seohongpark/fql ships FQL, IFQL, IQL, ReBRAC and SAC only, and
no other public repository implementing FBRAC was found. This module follows the FQL paper's
description: actor loss ``alpha * L_flow - Q(s, clip(a_pi))`` (Q the mean of the two frozen
critics, optionally divided by ``stopgrad(mean |Q|)`` as in the official FQL code), ``a_pi``
the Euler-integrated flow from ``z ~ N(0, I)`` with the gradient through every step; the
critic is the shared TD loss with next actions from the flow. Values the paper's tables give
and this code could not read are marked ``unverified`` in their source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from drol.agents.base import Batch, OfflineAgent, aggregate, normalized_q_loss
from drol.agents.config import AgentConfig, need
from drol.agents.flow import FlowPolicy, flow_matching_loss, integrate
from drol.agents.fql import ogbench_discount
from drol.agents.registry import register
from drol.agents.sources import FQL_PAPER, Sourced, official_off, unverified
from drol.tasks import OGBENCH, Task

NO_CODE = "no public code (FQL paper's description; see drol/agents/fbrac.py)"


@dataclass
class FBRACConfig(AgentConfig):
    """FBRAC's keys on top of the shared ones."""

    alpha: float = 1.0  # BC (flow-matching) coefficient
    flow_steps: int = 10
    normalize_q_loss: bool = False

    def validate(self) -> None:
        super().validate()
        need(self, self.alpha >= 0, "alpha", "must be >= 0")
        need(self, 1 <= self.flow_steps <= 1000, "flow_steps", "must be in [1, 1000]")


@register
class FBRACAgent(FlowPolicy, OfflineAgent):
    name = "fbrac"
    label = "FBRAC"
    paper_group = "multi-step"
    Config = FBRACConfig
    cfg: FBRACConfig
    default_source = f"{FQL_PAPER}: shared flow-baseline settings; {NO_CODE}"
    default_sources = official_off(NO_CODE) | {
        "alpha": unverified(f"FBRAC's BC coefficient: the FQL paper's table not read; {NO_CODE}"),
        "flow_steps": f"{FQL_PAPER} (10 flow steps for every flow method)",
        "normalize_q_loss": unverified(f"off as in the official FQL default; {NO_CODE}"),
    }

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite == OGBENCH:
            return {"discount": ogbench_discount(task)}
        return {}

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        flow_loss = flow_matching_loss(self.actor_flow, obs, act, self.generator)
        actions = integrate(self.actor_flow, obs, self.noise(obs.shape[0]), self.cfg.flow_steps)
        q = aggregate(self.critic(obs, actions.clamp(-1.0, 1.0), frozen=True), "mean")
        q_loss = normalized_q_loss(q, self.cfg.normalize_q_loss, eps=None)
        loss = self.cfg.alpha * flow_loss + q_loss
        info = {
            "actor_loss": loss.detach(),
            "flow_loss": flow_loss.detach(),
            "q_loss": q_loss.detach(),
            "q": q.detach().mean(),
        }
        if diagnostics:
            info["mse"] = (actions.detach().clamp(-1.0, 1.0) - act).pow(2).mean()
        return loss, info
