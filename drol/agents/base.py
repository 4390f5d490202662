"""What every agent shares: the twin critic, its EMA target, one Adam, and the update step."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from drol.agents.config import AgentConfig, build_config
from drol.agents.sources import (
    D4RL_PROTOCOL,
    DROL_TABLE2,
    OGBENCH_PROTOCOL,
    Sourced,
    plain,
    unverified,
)
from drol.nn.networks import CriticEnsemble, soft_update_
from drol.tasks import OGBENCH, default_steps

if TYPE_CHECKING:
    from drol.tasks import Task

Batch = dict[str, Tensor]

# parts of the losses logged on held-out data when a method's loss info reports them
# (``val_<part>``); IQL's ``critic_loss`` part is its Q loss alone, without the value loss
VALIDATION_PARTS = ("critic_loss", "bc_loss", "flow_loss", "distill_loss", "value_loss")


def aggregate(qs: Tensor, how: str) -> Tensor:
    """Reduce the ensemble axis (0) by 'min' or 'mean'."""
    return qs.min(dim=0).values if how == "min" else qs.mean(dim=0)


def normalized_q_loss(q: Tensor, normalize: bool, eps: float | None) -> Tensor:
    """``-mean(q)``, optionally divided by ``stopgrad(mean|q|)`` (floored at ``eps`` if given)."""
    loss = -q.mean()
    if normalize:
        scale = q.detach().abs().mean()
        if eps is not None:
            scale = scale.clamp_min(eps)
        loss = loss / scale
    return loss


@dataclass(frozen=True)
class UpdatePlan:
    """What one update does, decided on the host before it runs. The single-seed step
    (:meth:`OfflineAgent.update`) and the seed-batched one (:class:`drol.speed.seed_batch.SeedBatch`)
    both run it, so a method's update schedule lives in one place: its
    :meth:`~OfflineAgent.begin_update`."""

    critic: bool = True  # the critic's loss is in the summed loss
    actor: bool = True  # the actor's loss is
    targets: tuple[str, ...] = ("critic",)  # modules whose ``target_<name>`` EMA moves
    targets_after_step: bool = False  # towards the post-step parameters (CORL's IQL)
    zero_missing_grads: bool = False  # a zero gradient, not none: Adam steps every parameter


SHARED_UPDATE = UpdatePlan()  # the official update: critic + actor, target critic pre-step
POST_STEP_TARGET_UPDATE = UpdatePlan(targets_after_step=True)


def apply_update(
    optimizer: torch.optim.Optimizer,
    loss: Tensor,
    plan: UpdatePlan,
    move_targets: Callable[[tuple[str, ...]], None],
) -> None:
    """The optimiser side of one update, the same for one seed and a seed batch: gradients
    of ``loss``, the targets ``move_targets(plan.targets)`` before (or after) the Adam step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if plan.zero_missing_grads:
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
    if plan.targets and not plan.targets_after_step:
        move_targets(plan.targets)  # towards the pre-step parameters (a one-step lag)
    optimizer.step()
    if plan.targets and plan.targets_after_step:
        move_targets(plan.targets)


class OfflineAgent(nn.Module):
    """Base class: critic + target + actor modules defined by subclasses, one Adam over all.

    The official JAX code sums the critic and actor losses and takes one Adam step over
    all parameters; the target critic then moves towards the critic parameters *before*
    that step (``target <- tau * theta_old + (1 - tau) * target``), a one-step lag.
    """

    # identity, read by the registry (drol/agents/registry.py) and everything that asks it
    name: ClassVar[str] = ""  # the method's name on the command line and in run paths
    label: ClassVar[str] = ""  # its column in the tables ("(ours)" is added there)
    uses_candidates: ClassVar[bool] = False  # K latent candidates: K is a hyperparameter, probes
    # its group in the paper's Table 1: "gaussian", "multi-step" (multi-step / iterative
    # policies) or "one-step" (the tables underline bold one-step methods); "" = not in it
    paper_group: ClassVar[str] = ""
    colour: ClassVar[str] = ""  # its line/bar colour in the figures (matplotlib); "" = any free one
    needs_next_actions: ClassVar[bool] = False  # batches carry 'next_actions' (ReBRAC)
    Config: ClassVar[type[AgentConfig]] = AgentConfig  # its hyperparameters and defaults
    base_method: ClassVar[str | None] = None  # a variant's method (same column, other settings)
    # where ``Config``'s defaults come from: one source for every key, then per-key sources
    default_source: ClassVar[str] = ""
    default_sources: ClassVar[dict[str, str]] = {}
    # modules trained by the critic learning rate (``critic_lr``) instead of ``lr``
    critic_modules: ClassVar[tuple[str, ...]] = ("critic", "value")
    # inputs of the critic beyond (s, a): SORL's Q(s, a, k) has one (the step count k)
    critic_extra_inputs: ClassVar[int] = 0

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        """Per-family (or per-dataset) overrides of ``Config``'s defaults, each with its
        source (the papers' tables, the official commands, CORL's configs)."""
        return {}

    @classmethod
    def task_defaults(cls, task: Task) -> dict[str, Any]:
        """The values of :meth:`task_settings`."""
        return plain(cls.task_settings(task))

    @classmethod
    def config_sources(cls) -> dict[str, str]:
        """The source of each ``Config`` default."""
        names = [f.name for f in dataclasses.fields(cls.Config)]
        missing = unverified(f"no source given for {cls.__name__}.Config's default")
        return {k: cls.default_sources.get(k, cls.default_source) or missing for k in names}

    @classmethod
    def run_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        """The run-level settings of ``task`` (steps, evaluation), each with its source."""
        return {
            "steps": Sourced(default_steps(task), DROL_TABLE2),
            "eval_every": Sourced(100_000, DROL_TABLE2),
            "eval_episodes": Sourced(50, DROL_TABLE2),
            "eval_protocol": Sourced(
                task.eval_protocol, OGBENCH_PROTOCOL if task.suite == OGBENCH else D4RL_PROTOCOL
            ),
        }

    @classmethod
    def make_config(cls, *overrides: dict[str, Any]) -> AgentConfig:
        """A validated :attr:`Config` from its defaults plus successive override dicts."""
        return build_config(cls.Config, *overrides)

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        cfg: AgentConfig,
        device: torch.device | str = "cpu",
        seed: int = 0,
        num_data: int | None = None,
    ):
        super().__init__()
        self.obs_dim, self.action_dim, self.cfg = obs_dim, action_dim, cfg
        self.device_ = torch.device(device)
        self.build_critic()
        self.build_actor()
        self.to(self.device_)
        self.generator = torch.Generator(device=self.device_)
        self.generator.manual_seed(seed)
        self.optimizer = torch.optim.Adam(
            self.param_groups(), lr=cfg.lr, eps=1e-8, fused=True
        )  # one kernel: ~7x faster on CPU

    def param_groups(self) -> list[dict[str, Any]]:
        """One Adam group over every trained parameter (the official single optimiser); with
        ``critic_lr`` > 0 the critic/value networks form a second group at that rate (Adam is
        per parameter, so this equals separate optimisers, as CORL has)."""
        named = [(n, p) for n, p in self.named_parameters() if not n.startswith("target_")]
        if not self.cfg.critic_lr:
            return [{"params": [p for _, p in named]}]
        critic = [p for n, p in named if n.split(".")[0] in self.critic_modules]
        actor = [p for n, p in named if n.split(".")[0] not in self.critic_modules]
        return [{"params": actor}, {"params": critic, "lr": self.cfg.critic_lr}]

    # ------------------------------------------------------------------ subclass API
    def build_critic(self) -> None:
        """The twin critic and its EMA target (``target_*`` modules get no optimiser)."""
        self.critic = CriticEnsemble(
            self.obs_dim,
            self.action_dim + self.critic_extra_inputs,
            self.cfg.hidden_dims,
            n=2,
            layer_norm=self.cfg.layer_norm,
            activation=self.cfg.activation,
        )
        self.target_critic = copy.deepcopy(self.critic)
        self.target_critic.requires_grad_(False)

    def build_actor(self) -> None:
        raise NotImplementedError

    def policy(self, obs: Tensor) -> Tensor:
        """One stochastic action per state, clipped to [-1, 1] (no gradient needed)."""
        raise NotImplementedError

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            next_actions = self.policy(batch["next_observations"])
            next_q = aggregate(
                self.target_critic(batch["next_observations"], next_actions), self.cfg.q_agg
            )
            target_q = batch["rewards"] + self.cfg.discount * batch["masks"] * next_q
        q = self.critic(batch["observations"], batch["actions"])
        loss = (q - target_q).pow(2).mean()
        return loss, {"critic_loss": loss.detach(), "q_mean": q.detach().mean()}

    # ------------------------------------------------------------------ the update
    def begin_update(self, optimizer: torch.optim.Optimizer, counter: Tensor | None) -> UpdatePlan:
        """The host side of the next update, and its :class:`UpdatePlan`.

        A method with a schedule overrides this (marked ``@eager``, so a compiled step sees
        only the plan): it advances its host counters, sets rates on ``optimizer`` (the
        agent's own, or the seed batch's stacked one) and counts the update in ``counter``
        (the ``updates`` buffer a checkpoint carries, where the method has one). Plans are
        shared constants: a compiled step keeps one graph per plan.
        """
        if getattr(self.cfg, "target_after_step", False):  # CORL's IQL: post-step critic
            return POST_STEP_TARGET_UPDATE
        return SHARED_UPDATE

    def update_loss(
        self, batch: Batch, diagnostics: bool, plan: UpdatePlan
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The summed loss of the update ``plan`` and its detached metrics (``loss`` too)."""
        loss, info = None, {}
        if plan.critic:
            loss, info = self.critic_loss(batch)
        if plan.actor:
            actor_loss, actor_info = self.actor_loss(batch, diagnostics)
            info.update(actor_info)
            loss = actor_loss if loss is None else loss + actor_loss
        assert loss is not None, "an update plan trains the critic, the actor or both"
        info["loss"] = loss.detach()
        return loss, info

    def move_targets(self, targets: tuple[str, ...]) -> None:
        """``target_<m> <- tau * m + (1 - tau) * target_<m>`` for each module ``m``."""
        for name in targets:
            soft_update_(getattr(self, f"target_{name}"), getattr(self, name), self.cfg.tau)

    def update(self, batch: Batch, diagnostics: bool = False) -> dict[str, Tensor]:
        """One gradient step as :meth:`begin_update` plans it; returns detached metrics.

        A method whose update does not fit a plan (SORL's several optimiser steps per
        batch) overrides this; it is then trained one seed at a time."""
        plan = self.begin_update(self.optimizer, getattr(self, "updates", None))
        loss, info = self.update_loss(batch, diagnostics, plan)
        apply_update(self.optimizer, loss, plan, self.move_targets)
        return info

    @torch.no_grad()
    def validation_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Critic and actor losses on held-out data, without an update (logging only)."""
        critic_loss, critic_info = self.critic_loss(batch)
        actor_loss, actor_info = self.actor_loss(batch, diagnostics=False)
        out = {"val_critic_loss": critic_loss, "val_actor_loss": actor_loss}
        info = {**critic_info, **actor_info}  # a loss's own parts, where it reports them
        out.update({f"val_{k}": info[k] for k in VALIDATION_PARTS if k in info})
        return out

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        return self.policy(obs)

    # ------------------------------------------------------------------ checkpoint
    def training_state(self) -> dict[str, Any]:
        return {
            "model": self.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])


@contextmanager
def use_generator(agent: OfflineAgent, generator: torch.Generator) -> Iterator[OfflineAgent]:
    """Sample the agent's latents from ``generator`` for a while (e.g. evaluation),
    leaving the training random stream untouched."""
    saved, agent.generator = agent.generator, generator
    try:
        yield agent
    finally:
        agent.generator = saved
