"""Seed-batched training: S agents of one method and config updated as one batched step.

Every parameter, buffer and Adam moment gets a leading seed axis; the losses of the S seeds are
one ``torch.func.vmap`` of the agent's own loss code over those stacks
(``torch.func.functional_call``), and one fused Adam steps all stacks (Adam is element-wise,
so a stacked parameter's update is each seed's update). Each seed keeps its own batch indices
(the caller's per-seed samplers) and its own latent/noise stream: the draws a step needs are
recorded once (kinds and shapes), then drawn every step from each seed's own generator in
that order, exactly the calls a single-seed step makes, and fed to the vmapped losses.

Equality with S single-seed runs: the draws and batch indices are identical (bit for bit);
losses and parameters agree to float32 rounding, not bit for bit, because a batched matmul
over seeds (``bmm``) blocks its reductions differently from the single-seed ``mm``.

``compile=True`` compiles the forward and backward of the vmapped losses (``torch.compile``;
Adam and the target EMA stay eager, as in :class:`drol.speed.step.TrainStep`), falling back to
eager once if compiling fails; compiled and eager agree to float32 rounding.

Supported: every registered method but SORL: the shared update (critic + actor loss, one Adam step,
the target critic's EMA: DROL and its variants, FQL, IFQL), BC's (actor loss alone), IQL's
(the shared update after its optional cosine actor rate) and ReBRAC's (critic every step,
actor and both targets every ``actor_freq``). Another update (SORL's: a per-batch number of
shortcut steps drawn on each seed's host stream, so seeds would run graphs of different depth)
raises a one-line :class:`~drol.errors.UserError`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from drol.agents.base import Batch, OfflineAgent
from drol.agents.bc import BCAgent
from drol.agents.iql import IQLAgent, cosine_lr
from drol.agents.rebrac import ReBRACAgent
from drol.agents.registry import get_method
from drol.errors import UserError
from drol.nn.sampling import draws_from
from drol.speed.step import failure_reason

log = logging.getLogger(__name__)

TARGET = "target_"


def batched_update(cls: type[OfflineAgent]) -> str | None:
    """How :class:`SeedBatch` steps agents of class ``cls``: 'shared' (the base update),
    'actor' (BC: actor loss alone), 'iql' (the base update after the actor's cosine rate,
    when scheduled), 'rebrac' (critic every step, actor and targets every ``actor_freq``);
    None for an update of its own (SORL's two steps per batch)."""
    kinds = {
        OfflineAgent.update: "shared",
        BCAgent.update: "actor",
        IQLAgent.update: "iql",
        ReBRACAgent.update: "rebrac",
    }
    return kinds.get(cls.update)


def seed_batchable(method: str) -> bool:
    """Whether ``drol train --seeds`` can train ``method`` (a registered method name)."""
    return batched_update(get_method(method)) is not None


def update_kind(agent: OfflineAgent) -> str:
    """:func:`batched_update` of ``agent``'s class; a one-line error for an update of its own."""
    kind = batched_update(type(agent))
    if kind is not None:
        return kind
    raise UserError(
        f"--seeds: method {agent.name!r} has its own update schedule, not seed-batched yet; "
        "train its seeds one by one (--seed)"
    )


class _Losses(nn.Module):
    """The summed loss and logged info of one agent's update, as a module for functional_call."""

    def __init__(self, agent: OfflineAgent, kind: str):
        super().__init__()
        self.agent, self.kind = agent, kind

    def forward(
        self, batch: Batch, diagnostics: bool, full: bool
    ) -> tuple[Tensor, dict[str, Tensor]]:
        agent = self.agent
        if self.kind == "actor":
            loss, info = agent.actor_loss(batch, diagnostics)
        else:
            loss, info = agent.critic_loss(batch)
            if full:  # ReBRAC's critic-only updates: full=False
                actor_loss, actor_info = agent.actor_loss(batch, diagnostics)
                info.update(actor_info)
                loss = loss + actor_loss
        info["loss"] = loss.detach()
        return loss, info


class SeedBatch:
    """``step(batches)`` updates the S ``agents`` (same method, config, shapes) at once;
    :meth:`write_back` copies the stacks into the agents (weights, Adam state) for logging,
    evaluation and checkpoints in today's per-seed format."""

    def __init__(self, agents: list[OfflineAgent], compile: bool = False):
        if not agents:
            raise UserError("--seeds: no seed given")
        self.agents, first = agents, agents[0]
        self.kind = update_kind(first)
        self.losses = _Losses(first, self.kind)
        per_agent = [dict(a.named_parameters()) for a in agents]
        self.params: dict[str, Tensor] = {}
        for name in per_agent[0]:
            stacked = torch.stack([d[name].detach() for d in per_agent]).clone()
            self.params[name] = stacked.requires_grad_(not name.startswith(TARGET))
        self.buffers = {
            name: torch.stack([dict(a.named_buffers())[name] for a in agents]).clone()
            for name, _ in first.named_buffers()
        }
        # the base update moves the target critic only; ReBRAC also its target actor
        moved = TARGET if self.kind == "rebrac" else f"{TARGET}critic."
        self.targets = [n for n in self.params if n.startswith(moved)]
        self.host_updates = getattr(first, "host_updates", 0)  # IQL's, ReBRAC's host count
        self.sources = [n[len(TARGET) :] for n in self.targets]
        names = {id(p): n for n, p in first.named_parameters()}
        groups = []
        for group in first.optimizer.param_groups:
            opts = {
                k: v.clone() if isinstance(v, Tensor) else v
                for k, v in group.items()
                if k != "params"
            }
            groups.append({**opts, "params": [self.params[names[id(p)]] for p in group["params"]]})
        self.optimizer = torch.optim.Adam(groups)
        self._stack_adam_state(names)
        self.plans: dict[tuple[bool, bool], list[tuple[str, tuple[int, ...]]]] = {}
        self.eager = vmap(self._loss, in_dims=(0, 0, 0, 0, None, None), randomness="error")
        # forward and backward of the vmapped losses compiled; Adam and the EMA stay eager
        self.batched = torch.compile(self.eager) if compile else self.eager
        self.compile_seconds = 0.0
        self.fallback: str | None = None  # why the losses fell back to eager, if they did
        self._warm = False

    @property
    def compiled(self) -> bool:
        """Whether the losses run compiled (False when not asked, or after a fallback)."""
        return self.batched is not self.eager

    @torch.no_grad()
    def _stack_adam_state(self, names: dict[int, str]) -> None:
        """Start from the agents' Adam moments and step (a resumed or regrouped run)."""
        own = [dict(a.named_parameters()) for a in self.agents]
        for p in self.agents[0].optimizer.state:
            name = names[id(p)]
            per_seed = [a.optimizer.state[o[name]] for a, o in zip(self.agents, own, strict=True)]
            self.optimizer.state[self.params[name]] = {
                "step": per_seed[0]["step"].clone(),
                "exp_avg": torch.stack([st["exp_avg"] for st in per_seed]),
                "exp_avg_sq": torch.stack([st["exp_avg_sq"] for st in per_seed]),
            }

    # ------------------------------------------------------------------ draws
    def _plan(
        self, batch: Batch, diagnostics: bool, full: bool
    ) -> list[tuple[str, tuple[int, ...]]]:
        """The (kind, shape) of every draw of one update, found once by running seed 0's loss
        on its batch with a scratch generator (the seeds' streams are not touched)."""
        if (diagnostics, full) not in self.plans:
            plan: list[tuple[str, tuple[int, ...]]] = []
            scratch = torch.Generator(device=self.agents[0].device_).manual_seed(0)

            def record(kind: str, shape: tuple[int, ...], generator: Any, device: Any) -> Tensor:
                plan.append((kind, shape))
                draw = torch.randn if kind == "normal" else torch.rand
                return draw(shape, generator=scratch, device=device)

            one = {k: v[0] for k, v in batch.items()}
            with draws_from(record), torch.no_grad():
                self.losses(one, diagnostics, full)
            self.plans[diagnostics, full] = plan
        return self.plans[diagnostics, full]

    def _draws(self, plan: list[tuple[str, tuple[int, ...]]]) -> list[Tensor]:
        """Each planned draw from each seed's generator, in the single-seed order: (S, *shape)."""
        per_seed = []
        for agent in self.agents:
            gen, dev = agent.generator, agent.device_
            per_seed.append(
                [
                    (torch.randn if kind == "normal" else torch.rand)(
                        shape, generator=gen, device=dev
                    )
                    for kind, shape in plan
                ]
            )
        return [torch.stack(column) for column in zip(*per_seed, strict=True)] if plan else []

    # ------------------------------------------------------------------ step
    def _loss(
        self,
        params: dict[str, Tensor],
        buffers: dict[str, Tensor],
        batch: Batch,
        draws: list[Tensor],
        diagnostics: bool,
        full: bool,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        queue = list(draws)

        def replay(kind: str, shape: tuple[int, ...], generator: Any, device: Any) -> Tensor:
            return queue.pop(0)

        state = {f"agent.{k}": v for k, v in {**params, **buffers}.items()}
        with draws_from(replay):
            return functional_call(self.losses, state, (batch, diagnostics, full))

    def step(self, batch: Batch, diagnostics: bool = False) -> dict[str, Tensor]:
        """One update of every seed on ``batch`` (each value stacked over seeds, ``(S, B, ...)``);
        returns the info of :meth:`OfflineAgent.update` with a leading seed axis."""
        full, cfg = True, self.agents[0].cfg
        if self.kind == "iql" and getattr(cfg, "actor_lr_decay_steps", 0):
            rate = cosine_lr(cfg.lr, self.host_updates, cfg.actor_lr_decay_steps)
            self.optimizer.param_groups[0]["lr"].fill_(rate)  # the actor's group
            self.host_updates += 1
            self.buffers["updates"].add_(1)
        if self.kind == "rebrac":
            self.host_updates += 1
            full = self.host_updates % cfg.actor_freq == 0
            self.buffers["updates"].add_(1)
        plan = self._plan(batch, diagnostics, full)
        if self.compiled and not diagnostics:  # the logging step runs eager, as TrainStep's
            loss, info = self._compiled_call(batch, plan, diagnostics, full)
        else:
            draws = self._draws(plan)
            loss, info = self.eager(self.params, self.buffers, batch, draws, diagnostics, full)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # the seeds share no parameter: each slice gets its own gradient
        if self.kind == "rebrac":  # zero, not absent: Adam steps every parameter
            for group in self.optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
        after = self.kind != "rebrac" and getattr(cfg, "target_after_step", False)
        if self.targets and full and not after:
            self._soft_update()
        self.optimizer.step()
        if self.targets and after:
            self._soft_update()
        return info

    def _compiled_call(
        self, batch: Batch, plan: list[tuple[str, tuple[int, ...]]], diagnostics: bool, full: bool
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The compiled losses; eager from now on if compiling (the first call, or a new
        variant such as ReBRAC's actor update) fails: the draws again from the same generator
        states, so the step is the one eager would have made."""
        states = [a.generator.get_state() for a in self.agents]
        t = time.perf_counter()
        try:
            out = self.batched(
                self.params, self.buffers, batch, self._draws(plan), diagnostics, full
            )
        except Exception as err:  # noqa: BLE001 - any compiler failure: fall back, once
            self.fallback = failure_reason(err)
            log.warning(
                "torch.compile of the seed-batched step failed (%s); running eager", self.fallback
            )
            self.batched = self.eager
            for agent, state in zip(self.agents, states, strict=True):
                agent.generator.set_state(state)
            out = self.batched(
                self.params, self.buffers, batch, self._draws(plan), diagnostics, full
            )
        if not self._warm:
            self.compile_seconds = time.perf_counter() - t
            self._warm = True
        return out

    @torch.no_grad()
    def _soft_update(self) -> None:
        tau = self.agents[0].cfg.tau
        torch._foreach_lerp_(
            [self.params[n] for n in self.targets], [self.params[n] for n in self.sources], tau
        )

    # ------------------------------------------------------------------ per seed
    @torch.no_grad()
    def write_back(self) -> None:
        """Copy seed s's slice of every stack into ``agents[s]`` (parameters, buffers, Adam
        moments and step), so each agent is what its single-seed run would hold."""
        stacked_state = self.optimizer.state
        for s, agent in enumerate(self.agents):
            if hasattr(agent, "host_updates"):
                agent.host_updates = self.host_updates
            for mine, group in zip(
                agent.optimizer.param_groups, self.optimizer.param_groups, strict=True
            ):
                if isinstance(mine["lr"], Tensor):
                    mine["lr"].copy_(group["lr"])
                else:
                    mine["lr"] = group["lr"]
            own = dict(agent.named_parameters())
            for name, stacked in self.params.items():
                own[name].copy_(stacked[s])
            bufs = dict(agent.named_buffers())
            for name, stacked in self.buffers.items():
                bufs[name].copy_(stacked[s])
            for name, stacked in self.params.items():
                if stacked not in stacked_state:
                    continue
                src, dst = stacked_state[stacked], agent.optimizer.state[own[name]]
                dst["step"] = src["step"].clone()
                dst["exp_avg"] = src["exp_avg"][s].clone()
                dst["exp_avg_sq"] = src["exp_avg_sq"][s].clone()


__all__ = ["SeedBatch", "batched_update", "seed_batchable", "update_kind"]
