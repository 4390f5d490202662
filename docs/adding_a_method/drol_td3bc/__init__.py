"""TD3+BC (Fujimoto & Gu, "A Minimalist Approach to Offline Reinforcement Learning",
NeurIPS 2021, arXiv 2106.06860) as a drol method from outside the package: this module is
all of it. ``pip install -e docs/adding_a_method`` registers it through the ``drol.agents``
entry point (its ``pyproject.toml``); docs/adding_a_method.md walks through it.

TD3 with a behaviour-cloning term: the critic trains every update on a clipped double-Q
target with target-policy smoothing; every ``actor_freq``-th update the deterministic actor
maximises ``lambda * Q1(s, pi(s)) - (pi(s) - a)^2`` with ``lambda = alpha / mean|Q1|`` and
both targets move. Its schedule is its :meth:`TD3BCAgent.begin_update`, so it trains one seed
or seed-batched with no other code.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from drol.agents.base import Batch, OfflineAgent, UpdatePlan
from drol.agents.config import AgentConfig, need
from drol.agents.registry import register
from drol.agents.sources import Sourced
from drol.nn.eager import eager
from drol.nn.networks import GaussianActor
from drol.nn.sampling import sample_gaussian
from drol.tasks import Task

PAPER = "TD3+BC paper (arXiv 2106.06860), App. C hyperparameters; author code sfujim/TD3_BC"


@dataclass
class TD3BCConfig(AgentConfig):
    """TD3+BC's hyperparameters (the paper's App. C, one setting for every D4RL task)."""

    alpha: float = 2.5  # weight of the Q term against behaviour cloning
    actor_freq: int = 2  # policy delay: the actor and the targets move every 2nd update
    actor_noise: float = 0.2  # target-policy smoothing noise
    actor_noise_clip: float = 0.5
    hidden: int = 256
    depth: int = 2
    layer_norm: bool = False
    activation: str = "relu"
    obs_norm: bool = True  # states standardised by the dataset's mean and std

    def validate(self) -> None:
        super().validate()
        need(self, self.alpha > 0, "alpha", "must be > 0")
        need(self, self.actor_freq >= 1, "actor_freq", "must be >= 1")
        need(self, self.actor_noise >= 0, "actor_noise", "must be >= 0")
        need(self, self.actor_noise_clip >= 0, "actor_noise_clip", "must be >= 0")


# TD3's two updates: the critic alone, or the critic, the actor and both targets (TD3 keeps
# one optimiser per network: a critic-only update does not step the actor's Adam)
CRITIC_UPDATE = UpdatePlan(actor=False, targets=())
FULL_UPDATE = UpdatePlan(targets=("critic", "actor"))


@register
class TD3BCAgent(OfflineAgent):
    name = "td3bc"
    label = "TD3+BC"
    colour = "#8c564b"  # tab:brown
    paper_group = "gaussian"  # a one-step Gaussian (deterministic) policy
    Config = TD3BCConfig
    cfg: TD3BCConfig
    default_source = PAPER
    default_sources = {
        "q_agg": "unused (TD3 aggregates with min)",
        "lr": PAPER,
        "batch_size": PAPER,
    }

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        return {}  # one setting for every task (the paper's App. C)

    def build_actor(self) -> None:
        self.actor = GaussianActor(
            self.obs_dim,
            self.action_dim,
            self.cfg.hidden_dims,
            final_scale=1.0,
            tanh_squash=True,  # max_action * tanh(...), actions in [-1, 1]
            activation=self.cfg.activation,
        )
        self.target_actor = copy.deepcopy(self.actor)
        self.target_actor.requires_grad_(False)
        # the update count: a buffer (in checkpoints) and its host copy (the schedule reads it)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.host_updates = 0

    def load_training_state(self, state: dict[str, Any]) -> None:
        super().load_training_state(state)
        self.host_updates = int(self.updates)  # a resumed run goes on with its schedule

    def policy(self, obs: Tensor) -> Tensor:
        return self.actor.mode(obs).clamp(-1.0, 1.0)

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            next_obs = batch["next_observations"]
            next_a = self.target_actor.mode(next_obs)
            c = self.cfg.actor_noise_clip
            noise = sample_gaussian(next_a.shape, self.generator, self.device_)
            next_a = (next_a + (noise * self.cfg.actor_noise).clamp(-c, c)).clamp(-1.0, 1.0)
            next_q = self.target_critic(next_obs, next_a).min(dim=0).values
            target = batch["rewards"] + self.cfg.discount * batch["masks"] * next_q
        q = self.critic(batch["observations"], batch["actions"])
        loss = (q - target).pow(2).mean(dim=1).sum()  # MSE(Q1) + MSE(Q2)
        return loss, {"critic_loss": loss.detach(), "q_mean": q.detach().mean()}

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        pi = self.actor.mode(obs)
        q = self.critic(obs, pi, frozen=True)[0]  # Q1, as TD3+BC
        lmbda = self.cfg.alpha / q.detach().abs().mean()
        bc = (pi - act).pow(2).mean()
        loss = -lmbda * q.mean() + bc
        return loss, {"actor_loss": loss.detach(), "bc_loss": bc.detach(), "lambda": lmbda}

    @eager
    def begin_update(self, optimizer: torch.optim.Optimizer, counter: Tensor | None) -> UpdatePlan:
        """The critic every update; the actor and both targets every ``actor_freq``-th."""
        self.host_updates += 1
        if counter is not None:
            counter.add_(1)
        return FULL_UPDATE if self.host_updates % self.cfg.actor_freq == 0 else CRITIC_UPDATE
