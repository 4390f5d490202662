"""FBRAC: a flow policy trained like BRAC/Diffusion-QL -- its BC flow-matching loss plus Q
maximisation backpropagated through all ``flow_steps`` Euler steps (the FQL paper's flow
baseline "flow BRAC"; Park et al. 2025, Sec. 5 and App. E).

The FQL paper's own FBRAC code is not public (seohongpark/fql ships FQL, IFQL, IQL, ReBRAC
and SAC). This module follows the paper's description (its Eq. 6), and matches term by term
the public FBRAC of chongyi-zheng/value-flows (``agents/fbrac.py`` at 1374676, whose README
reuses the FQL paper's FBRAC numbers): actor loss ``alpha * L_flow - Q(s, clip(a_pi))``, Q the
mean of the two frozen critics (optionally divided by ``stopgrad(mean |Q|)``, off:
``normalize_q_loss=False`` in both and in the paper's App. B), ``a_pi`` the Euler-integrated
flow from ``z ~ N(0, I)`` with the gradient through all ``flow_steps`` steps and clipped at the
end; the critic is the shared TD loss with next actions from the flow (clipped) and
``q_agg`` over the target critics. alpha per task: the FQL paper's Table 6 (value-flows'
default, 10, is not used: the paper's table is); ``q_agg``: FQL's (App. E.2, Table 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from drol.agents.base import Batch, OfflineAgent, aggregate, normalized_q_loss
from drol.agents.config import AgentConfig, need
from drol.agents.flow import FlowPolicy, flow_matching_loss, integrate
from drol.agents.fql import fql_q_agg, ogbench_discount
from drol.agents.registry import register
from drol.agents.sources import FQL_PAPER, Sourced, official_off, table6_rows, unverified
from drol.tasks import OGBENCH, Task, task_row

NO_CODE = "the paper's code is not public (see drol/agents/fbrac.py)"
VALUE_FLOWS = "chongyi-zheng/value-flows@1374676 agents/fbrac.py"

# The BC coefficient alpha of the FQL paper's Table 6 (FBRAC column), per OGBench family (its
# five task rows agree) and per D4RL dataset (antmaze: per group). antsoccer: Table 6's rows
# could not be read and no other source gives FBRAC's.
FBRAC_ALPHA: dict[str, Sourced[float]] = {
    **table6_rows(
        {
            "antmaze-large-navigate": 3.0,
            "antmaze-giant-navigate": 10.0,
            "humanoidmaze-medium-navigate": 30.0,
            "humanoidmaze-large-navigate": 30.0,
            "cube-single-play": 100.0,
            "cube-double-play": 100.0,
            "scene-play": 100.0,
            "puzzle-3x3-play": 100.0,
            "puzzle-4x4-play": 300.0,
            "antmaze-umaze": 10.0,
            "antmaze-umaze-diverse": 10.0,
            "antmaze-medium-play": 10.0,
            "antmaze-medium-diverse": 10.0,
            "antmaze-large-play": 1.0,
            "antmaze-large-diverse": 1.0,
            "pen-human-v1": 30000.0,
            "pen-cloned-v1": 10000.0,
            "pen-expert-v1": 30000.0,
            "door-human-v1": 30000.0,
            "door-cloned-v1": 10000.0,
            "door-expert-v1": 30000.0,
            "hammer-human-v1": 30000.0,
            "hammer-cloned-v1": 10000.0,
            "hammer-expert-v1": 30000.0,
            "relocate-human-v1": 30000.0,
            "relocate-cloned-v1": 3000.0,
            "relocate-expert-v1": 30000.0,
        }
    ),
    "antsoccer-arena-navigate": Sourced(
        10.0,
        unverified(
            "Table 6's antsoccer rows unreadable, no other source; value-flows' default 10 "
            f"({VALUE_FLOWS} get_config)"
        ),
    ),
    "pointmaze-medium-navigate": Sourced(10.0, unverified("not in the FQL grid: untuned")),
    "pointmaze-large-navigate": Sourced(10.0, unverified("not in the FQL grid: untuned")),
}


@dataclass
class FBRACConfig(AgentConfig):
    """FBRAC's keys on top of the shared ones."""

    alpha: float = 10.0  # BC (flow-matching) coefficient (value-flows' default)
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
    colour = "#9467bd"  # tab:purple
    paper_group = "multi-step"
    Config = FBRACConfig
    cfg: FBRACConfig
    default_source = f"{FQL_PAPER}: shared flow-baseline settings; {NO_CODE}"
    default_sources = official_off(NO_CODE) | {
        "alpha": f"{VALUE_FLOWS} get_config() (used outside the paper's grid only; on it: Table 6)",
        "flow_steps": f"{FQL_PAPER} (10 flow steps for every flow method); {VALUE_FLOWS}",
        "normalize_q_loss": (
            "FQL paper App. B (no Q-loss normalisation in the experiments); "
            f"{VALUE_FLOWS} get_config()"
        ),
    }

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        alpha = {"alpha": task_row(FBRAC_ALPHA, task), "q_agg": fql_q_agg(task)}
        if task.suite == OGBENCH:
            return {**alpha, "discount": ogbench_discount(task)}
        return alpha

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
