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

from drol.agents.base import Batch, OfflineAgent, UpdatePlan
from drol.agents.config import AgentConfig, need
from drol.agents.registry import register
from drol.agents.sources import (
    CORL_AT,
    D4RL_PROTOCOL,
    Sourced,
    corl,
    fql_code,
    official_off,
)
from drol.nn.networks import GaussianActor
from drol.nn.sampling import sample_gaussian
from drol.tasks import D4RL, Task


@dataclass
class GaussianPolicyConfig(AgentConfig):
    """The Gaussian actor's options (BC, IQL); the defaults are the official fql ``Actor``."""

    actor_dropout: float = 0.0  # dropout after each hidden activation, training only
    actor_tanh_mean: bool = False  # mean = tanh(MLP) (CORL's policies)
    actor_learned_std: bool = False  # a learned state-independent log std (CORL's IQL)

    def validate(self) -> None:
        super().validate()
        need(self, 0 <= self.actor_dropout < 1, "actor_dropout", "must be in [0, 1)")


@dataclass
class BCConfig(GaussianPolicyConfig):
    """The official IQL defaults that BC uses (lr, batch, 4 x 512 actor); the critic keys
    (``layer_norm``, ``discount``, ``tau``, ``q_agg``, ``critic_lr``) are unused."""


def corl_d4rl_run(method: str, task: Task, episodes_key: str) -> dict[str, Sourced[Any]]:
    """The run-level settings of a CORL config on a D4RL dataset: 1M steps (``max_timesteps``,
    or ReBRAC's ``num_epochs x num_updates_on_epoch``), its evaluation episodes, and the
    score CORL's README prints (the last evaluation)."""
    steps_key = "num_epochs*num_updates_on_epoch" if method == "rebrac" else "max_timesteps"
    return {
        "steps": Sourced(1_000_000, corl(method, task.name, steps_key)),
        "eval_every": Sourced(100_000, "ours: CORL evaluates more often; the score is the last"),
        "eval_episodes": Sourced(
            100 if task.family == "antmaze" else 10, corl(method, task.name, episodes_key)
        ),
        "eval_protocol": Sourced(
            "final", f"{D4RL_PROTOCOL}; {CORL_AT} README 'Last Scores' (the printed numbers)"
        ),
    }


class GaussianPolicy:
    """The official Gaussian ``Actor`` as the policy (BC, IQL): ``N(mu(s), I)`` in training,
    the mean at evaluation (the official evaluation samples at temperature 0)."""

    obs_dim: int
    action_dim: int
    cfg: AgentConfig
    generator: torch.Generator
    device_: torch.device

    def build_actor(self) -> None:
        cfg = self.cfg
        assert isinstance(cfg, GaussianPolicyConfig)
        self.actor = GaussianActor(
            self.obs_dim,
            self.action_dim,
            cfg.hidden_dims,
            activation=cfg.activation,
            dropout=cfg.actor_dropout,
            tanh_mean=cfg.actor_tanh_mean,
            learned_std=cfg.actor_learned_std,
        )

    def policy(self, obs: Tensor) -> Tensor:
        """A sample of ``N(mu(s), std^2)`` (the official temperature 1), clipped."""
        noise = sample_gaussian((obs.shape[0], self.action_dim), self.generator, self.device_)
        std = self.actor.std()
        if std is not None:
            noise = noise * std
        return (self.actor(obs) + noise).clamp(-1.0, 1.0)

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """Evaluation: the mean (temperature 0), clipped; dropout off."""
        was_training = self.actor.training
        self.actor.eval()
        try:
            return self.actor(obs).clamp(-1.0, 1.0)
        finally:
            self.actor.train(was_training)


ACTOR_ONLY_UPDATE = UpdatePlan(critic=False, targets=())  # BC: no critic, no target


@register
class BCAgent(GaussianPolicy, OfflineAgent):
    name = "bc"
    label = "BC"
    colour = "#1f77b4"  # tab:blue
    paper_group = "gaussian"
    Config = BCConfig
    default_source = (
        f"{fql_code('iql')} (the FQL paper's BC: the official IQL actor trained at alpha 0)"
    )
    default_sources = official_off(fql_code("iql")) | {
        "actor_dropout": fql_code("iql"),
        "actor_tanh_mean": fql_code("iql"),
        "actor_learned_std": fql_code("iql"),
    }

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        """Nothing to tune on OGBench; on D4RL, CORL's ``any_percent_bc`` config (the printed
        numbers are CORL's): a 2 x 256 ReLU MLP with a tanh output, states normalised."""
        if task.suite != D4RL:
            return {}
        code = f"{CORL_AT} algorithms/offline/any_percent_bc.py Actor"
        return {
            "hidden": Sourced(256, code),
            "depth": Sourced(2, code),
            "activation": Sourced("relu", code),
            "actor_tanh_mean": Sourced(True, code),
            "lr": Sourced(3e-4, f"{CORL_AT} algorithms/offline/any_percent_bc.py Adam lr"),
            "batch_size": Sourced(256, corl("bc", task.name, "batch_size")),
            "obs_norm": Sourced(True, corl("bc", task.name, "normalize")),
        }

    @classmethod
    def run_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite != D4RL:
            return super().run_settings(task)
        return corl_d4rl_run("bc", task, "n_episodes")

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

    def begin_update(self, optimizer: torch.optim.Optimizer, counter: Tensor | None) -> UpdatePlan:
        """The actor's loss alone; no target."""
        return ACTOR_ONLY_UPDATE

    @torch.no_grad()
    def validation_losses(self, batch: Batch) -> dict[str, Tensor]:
        loss, _ = self.actor_loss(batch, diagnostics=False)
        return {"val_actor_loss": loss}
