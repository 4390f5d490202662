"""BC: Gaussian behavioural cloning, the FQL paper's BC baseline.

The FQL repository ships no BC agent: its BC is the official IQL agent's Gaussian actor
trained by maximum likelihood alone, i.e. IQL's AWR loss with ``alpha = 0`` (every weight
``exp(0) = 1``). So: the official ``Actor`` (constant unit std, output layer at scale 1e-2),
loss ``-mean log N(a | mu(s), I)``, and at evaluation the mean (the official evaluation
samples at temperature 0), clipped to [-1, 1]. No critic is trained.
``tests/test_golden.py`` compares it with the official IQL agent's actor at ``alpha = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from drol.agents.base import Batch, OfflineAgent
from drol.agents.config import AgentConfig
from drol.agents.registry import register
from drol.nn.networks import GaussianActor
from drol.nn.sampling import sample_gaussian
from drol.tasks import Task


@dataclass
class BCConfig(AgentConfig):
    """The official IQL defaults that BC uses (lr, batch, 4 x 512 actor); the critic keys
    (``layer_norm``, ``discount``, ``tau``, ``q_agg``) are unused."""


class GaussianPolicy:
    """The official Gaussian ``Actor`` as the policy (BC, IQL): ``N(mu(s), I)`` in training,
    the mean at evaluation (the official evaluation samples at temperature 0)."""

    obs_dim: int
    action_dim: int
    cfg: AgentConfig
    generator: torch.Generator
    device_: torch.device

    def build_actor(self) -> None:
        self.actor = GaussianActor(self.obs_dim, self.action_dim, self.cfg.hidden_dims)

    def policy(self, obs: Tensor) -> Tensor:
        """A sample of ``N(mu(s), I)`` (the official temperature 1), clipped."""
        noise = sample_gaussian((obs.shape[0], self.action_dim), self.generator, self.device_)
        return (self.actor(obs) + noise).clamp(-1.0, 1.0)

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """Evaluation: the mean (temperature 0), clipped."""
        return self.actor(obs).clamp(-1.0, 1.0)


@register
class BCAgent(GaussianPolicy, OfflineAgent):
    name = "bc"
    label = "BC"
    paper_group = "gaussian"
    Config = BCConfig

    @classmethod
    def task_defaults(cls, task: Task) -> dict[str, Any]:
        return {}  # nothing to tune

    def build_critic(self) -> None:
        """BC has no critic."""

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        log_prob = self.actor.log_prob(obs, act)
        loss = -log_prob.mean()
        info = {"actor_loss": loss.detach(), "bc_log_prob": log_prob.detach().mean()}
        if diagnostics:
            with torch.no_grad():
                info["mse"] = (self.actor(obs) - act).pow(2).mean()
        return loss, info

    def update(self, batch: Batch, diagnostics: bool = False) -> dict[str, Tensor]:
        loss, info = self.actor_loss(batch, diagnostics)
        info["loss"] = loss.detach()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return info

    @torch.no_grad()
    def validation_losses(self, batch: Batch) -> dict[str, Tensor]:
        loss, _ = self.actor_loss(batch, diagnostics=False)
        return {"val_actor_loss": loss}
