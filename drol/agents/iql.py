"""IQL: expectile value, SARSA-style critic, AWR extraction (official ``agents/iql.py``).

Per update, one Adam step on ``value + critic + actor`` losses (one optimiser, as the
official code), then the target critic moves towards the pre-step critic:

- value: ``expectile_tau(min_j Qtarget_j(s, a) - V(s))``,
- critic: ``sum_j (Q_j(s, a) - r - gamma m V(s'))^2`` averaged over the batch (V frozen),
- actor (AWR): ``-mean(min(exp(alpha (min_j Q_j(s, a) - V(s))), 100) log pi(a | s))`` with
  the official Gaussian actor (constant unit std); evaluation takes its mean (temperature 0).

The critic is always aggregated with ``min`` (``q_agg`` is unused). Only the official
``actor_loss='awr'`` is provided: the FQL paper's IQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor

from drol.agents.base import Batch, OfflineAgent, UpdatePlan
from drol.agents.bc import GaussianPolicy, GaussianPolicyConfig, corl_d4rl_run
from drol.agents.config import need
from drol.agents.fql import ogbench_discount
from drol.agents.registry import register
from drol.agents.sources import (
    CORL_AT,
    FQL_E2,
    Sourced,
    corl,
    fql_code,
    official_off,
    table6_rows,
    table7_indirect,
    unverified,
)
from drol.nn.eager import eager
from drol.nn.networks import MLP
from drol.tasks import OGBENCH, Task

AWR_MAX_WEIGHT = 100.0


@dataclass
class IQLConfig(GaussianPolicyConfig):
    """The official ``agents/iql.py`` defaults."""

    expectile: float = 0.9
    alpha: float = 10.0  # AWR inverse temperature
    # the actor's learning rate cosine-annealed from lr to 0 over this many updates (CORL's
    # CosineAnnealingLR); 0 = constant (the official code)
    actor_lr_decay_steps: int = 0
    # CORL's IQL: the actor's advantage from the target critic (the official: the critic), and
    # the target critic moved after the Adam step (the official: towards the pre-step critic)
    adv_target_critic: bool = False
    target_after_step: bool = False

    def validate(self) -> None:
        super().validate()
        need(self, 0 < self.expectile < 1, "expectile", "must be in (0, 1)")
        need(self, self.alpha >= 0, "alpha", "must be >= 0")
        need(self, self.actor_lr_decay_steps >= 0, "actor_lr_decay_steps", "must be >= 0")


def cosine_lr(lr: float, step: int, total: int) -> float:
    """``lr`` annealed by a half cosine to 0 at ``total`` (torch's ``CosineAnnealingLR`` with
    ``T_max = total``, ``eta_min = 0``), the rate of update number ``step`` (from 0)."""
    return lr * 0.5 * (1.0 + math.cos(math.pi * step / total))


def expectile_loss(diff: Tensor, expectile: float) -> Tensor:
    """``|expectile - 1(diff < 0)| diff^2`` elementwise (the official weight: ``expectile``
    where ``diff >= 0``)."""
    weight = torch.where(diff >= 0, expectile, 1.0 - expectile)
    return weight * diff * diff


_NOT_IN_GRID = unverified("not in the FQL grid: the official default")

# IQL's AWR alpha per OGBench family: the FQL paper's Table 6 (IQL column; a family's five
# task rows agree), which the official README's humanoidmaze-medium and visual-cube commands
# also give. antsoccer: Table 6's rows could not be read; Table 7 (offline-to-online) gives 1.
IQL_OGBENCH_ALPHA: dict[str, Sourced[float]] = {
    **table6_rows(
        {
            "antmaze-large-navigate": 10.0,
            "antmaze-giant-navigate": 10.0,
            "humanoidmaze-medium-navigate": 10.0,
            "humanoidmaze-large-navigate": 10.0,
            "cube-single-play": 1.0,
            "cube-double-play": 0.3,
            "scene-play": 10.0,
            "puzzle-3x3-play": 10.0,
            "puzzle-4x4-play": 3.0,
        }
    ),
    "antsoccer-arena-navigate": Sourced(1.0, table7_indirect("antsoccer-arena-navigate")),
    "pointmaze-medium-navigate": Sourced(10.0, _NOT_IN_GRID),
    "pointmaze-large-navigate": Sourced(10.0, _NOT_IN_GRID),
}

# App. E.2: "IQL tends to overfit on state-based OGBench manipulation tasks, and thus [we] use
# smaller [256, 256, 256, 256]-sized MLPs for these state-based tasks".
IQL_SMALL_NETWORK_FAMILIES = frozenset(
    {"cube-single-play", "cube-double-play", "scene-play", "puzzle-3x3-play", "puzzle-4x4-play"}
)
IQL_SMALL_NETWORK = f"{FQL_E2} (IQL: 4 x 256 MLPs on state-based OGBench manipulation)"

CORL_IQL_CODE = f"{CORL_AT} algorithms/offline/iql.py"


def iql_corl_d4rl(task: Task) -> dict[str, Sourced[Any]]:
    """IQL on a D4RL dataset as CORL's config for it (the paper's D4RL IQL numbers are CORL's,
    Tarasov et al.): AntMaze (expectile 0.9, beta 10), Adroit (0.8, 3.0); 2 x 256 ReLU MLPs
    without LayerNorm, CORL's tanh-mean Gaussian policy with a learned std, states normalised,
    the actor's learning rate cosine-annealed to 0 over the 1M steps."""
    antmaze = task.family == "antmaze"
    path = partial(corl, "iql", task.name)
    return {
        "expectile": Sourced(0.9 if antmaze else 0.8, path("iql_tau")),
        "alpha": Sourced(10.0 if antmaze else 3.0, path("beta")),
        "lr": Sourced(3e-4, path("actor_lr")),
        "critic_lr": Sourced(3e-4, path("qf_lr, vf_lr")),
        "batch_size": Sourced(256, path("batch_size")),
        "hidden": Sourced(256, f"{CORL_IQL_CODE} hidden_dim"),
        "depth": Sourced(2, f"{CORL_IQL_CODE} n_hidden"),
        "activation": Sourced("relu", f"{CORL_IQL_CODE} MLP"),
        "layer_norm": Sourced(False, f"{CORL_IQL_CODE} MLP (no LayerNorm)"),
        "discount": Sourced(0.99, path("discount")),
        "tau": Sourced(0.005, path("tau")),
        "obs_norm": Sourced(True, path("normalize")),
        "actor_tanh_mean": Sourced(True, f"{CORL_IQL_CODE} GaussianPolicy"),
        "actor_learned_std": Sourced(True, f"{CORL_IQL_CODE} GaussianPolicy"),
        "actor_dropout": Sourced(
            0.0,
            path("actor_dropout")
            + (
                ""
                if antmaze
                else " is 0.1, but GaussianPolicy never passes it to its MLP "
                "(iql_deterministic: false): trained without dropout"
            ),
        ),
        "actor_lr_decay_steps": Sourced(
            1_000_000, f"{CORL_IQL_CODE} CosineAnnealingLR(actor_optimizer, max_timesteps)"
        ),
        "adv_target_critic": Sourced(True, f"{CORL_IQL_CODE} _update_v (adv = q_target - v)"),
        "target_after_step": Sourced(True, f"{CORL_IQL_CODE} _update_q (soft_update after step)"),
        # CORL's normalize_reward on AntMaze is r - 1, which drol.data.d4rl already applies
        "reward_scale": Sourced(1.0, path("normalize_reward") + " (antmaze: r - 1, as ours)"),
        "reward_bias": Sourced(0.0, path("normalize_reward") + " (antmaze: r - 1, as ours)"),
    }


class IQLCritic(OfflineAgent):
    """IQL's value network, expectile value loss and V-bootstrapped twin critic (shared by
    IQL and IFQL; the official ``value_loss``/``critic_loss`` are the same in both)."""

    cfg: IQLConfig

    def build_critic(self) -> None:
        super().build_critic()
        self.value = MLP(
            self.obs_dim,
            self.cfg.hidden_dims,
            1,
            layer_norm=self.cfg.layer_norm,
            activation=self.cfg.activation,
        )

    def v(self, obs: Tensor) -> Tensor:
        return self.value(obs).squeeze(-1)

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """``value_loss + critic_loss`` (the base update adds the actor loss)."""
        obs, act = batch["observations"], batch["actions"]
        with torch.no_grad():
            q_target = self.target_critic(obs, act).min(dim=0).values
            next_v = self.v(batch["next_observations"])
            target = batch["rewards"] + self.cfg.discount * batch["masks"] * next_v
        v = self.v(obs)
        value_loss = expectile_loss(q_target - v, self.cfg.expectile).mean()
        q = self.critic(obs, act)
        critic_loss = (q - target).pow(2).sum(dim=0).mean()
        info = {
            "value_loss": value_loss.detach(),
            "v_mean": v.detach().mean(),
            "critic_loss": critic_loss.detach(),
            "q_mean": target.mean(),  # the official logs the TD target's mean here
        }
        return value_loss + critic_loss, info


@register
class IQLAgent(GaussianPolicy, IQLCritic):
    name = "iql"
    label = "IQL"
    colour = "#ff7f0e"  # tab:orange
    paper_group = "gaussian"
    Config = IQLConfig
    cfg: IQLConfig
    default_source = fql_code("iql")
    default_sources = official_off(fql_code("iql")) | {"q_agg": "unused (IQL aggregates with min)"}

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite == OGBENCH:
            out = {"alpha": IQL_OGBENCH_ALPHA[task.family], "discount": ogbench_discount(task)}
            if task.family in IQL_SMALL_NETWORK_FAMILIES:
                out["hidden"] = Sourced(256, IQL_SMALL_NETWORK)
            return out
        return iql_corl_d4rl(task)

    @classmethod
    def run_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite == OGBENCH:
            return super().run_settings(task)
        return corl_d4rl_run("iql", task, "n_episodes")

    def build_actor(self) -> None:
        super().build_actor()
        self.host_updates = 0  # updates so far, for the actor's learning-rate schedule
        if self.cfg.actor_lr_decay_steps:
            self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def param_groups(self) -> list[dict[str, Any]]:
        """With an actor schedule, the actor's group holds its rate as a tensor, changed in
        place each update (a compiled step does not recompile for a new rate)."""
        groups = super().param_groups()
        if self.cfg.actor_lr_decay_steps:
            if len(groups) == 1:  # split off the actor: the critic keeps the constant lr
                groups = [
                    {"params": [p for n, p in self.named_parameters() if n.startswith("actor.")]},
                    {
                        "params": [
                            p
                            for n, p in self.named_parameters()
                            if not n.startswith(("actor.", "target_"))
                        ],
                        "lr": self.cfg.lr,
                    },
                ]
            groups[0]["lr"] = torch.tensor(self.cfg.lr, device=self.device_)
        return groups

    @eager
    def begin_update(self, optimizer: torch.optim.Optimizer, counter: Tensor | None) -> UpdatePlan:
        """With an actor schedule: set the actor group's rate on ``optimizer`` for this
        update (cosine schedule), counting it on the host and in ``counter``."""
        if self.cfg.actor_lr_decay_steps:
            rate = cosine_lr(self.cfg.lr, self.host_updates, self.cfg.actor_lr_decay_steps)
            optimizer.param_groups[0]["lr"].fill_(rate)
            self.host_updates += 1
            if counter is not None:
                counter.add_(1)
        return super().begin_update(optimizer, counter)

    def load_training_state(self, state: dict[str, Any]) -> None:
        super().load_training_state(state)
        if self.cfg.actor_lr_decay_steps:
            self.host_updates = int(self.updates)  # once, at resume

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        with torch.no_grad():
            critic = self.target_critic if self.cfg.adv_target_critic else self.critic
            adv = critic(obs, act).min(dim=0).values - self.v(obs)
            weight = torch.exp(adv * self.cfg.alpha).clamp_max(AWR_MAX_WEIGHT)
        log_prob = self.actor.log_prob(obs, act)
        loss = -(weight * log_prob).mean()
        info = {
            "actor_loss": loss.detach(),
            "adv": adv.mean(),
            "bc_log_prob": log_prob.detach().mean(),
        }
        if diagnostics:
            with torch.no_grad():
                info["mse"] = (self.actor(obs) - act).pow(2).mean()
        return loss, info
