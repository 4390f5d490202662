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

The schedule is the agent's own: each step asks the first agent's
:meth:`~drol.agents.base.OfflineAgent.begin_update` for its
:class:`~drol.agents.base.UpdatePlan` (acting on the stacked optimiser and update counter),
runs that plan's losses (:meth:`~drol.agents.base.OfflineAgent.update_loss`) vmapped, and
finishes with the same :func:`~drol.agents.base.apply_update` as a single-seed step. So every
method that keeps the base ``update`` is seed-batchable with no code here; one that overrides
``update`` (SORL's: a per-batch number of shortcut steps drawn on each seed's host stream, so
seeds would run graphs of different depth) raises a one-line :class:`~drol.errors.UserError`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from drol.agents.base import Batch, OfflineAgent, UpdatePlan, apply_update
from drol.agents.registry import get_method
from drol.errors import UserError
from drol.nn.sampling import draws_from
from drol.speed.step import failure_reason

log = logging.getLogger(__name__)

TARGET = "target_"


def batchable(cls: type[OfflineAgent]) -> bool:
    """Whether agents of ``cls`` can be seed-batched: they keep the base ``update`` (their
    schedule is their :meth:`~drol.agents.base.OfflineAgent.begin_update`)."""
    return cls.update is OfflineAgent.update


def seed_batchable(method: str) -> bool:
    """Whether ``drol train --seeds`` can train ``method`` (a registered method name)."""
    return batchable(get_method(method))


def check_batchable(agent: OfflineAgent) -> None:
    """A one-line error for a method with an update of its own."""
    if not batchable(type(agent)):
        raise UserError(
            f"--seeds: method {agent.name!r} has its own update schedule (its own update, "
            "not an update plan), not seed-batched; train its seeds one by one (--seed)"
        )


class _Losses(nn.Module):
    """The summed loss and logged info of one agent's planned update, as a module for
    functional_call."""

    def __init__(self, agent: OfflineAgent):
        super().__init__()
        self.agent = agent

    def forward(
        self, batch: Batch, diagnostics: bool, plan: UpdatePlan
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return self.agent.update_loss(batch, diagnostics, plan)


class SeedBatch:
    """``step(batches)`` updates the S ``agents`` (same method, config, shapes) at once;
    :meth:`write_back` copies the stacks into the agents (weights, Adam state) for logging,
    evaluation and checkpoints in today's per-seed format."""

    def __init__(self, agents: list[OfflineAgent], compile: bool = False):
        if not agents:
            raise UserError("--seeds: no seed given")
        self.agents, first = agents, agents[0]
        check_batchable(first)
        self.losses = _Losses(first)
        per_agent = [dict(a.named_parameters()) for a in agents]
        self.params: dict[str, Tensor] = {}
        for name in per_agent[0]:
            stacked = torch.stack([d[name].detach() for d in per_agent]).clone()
            self.params[name] = stacked.requires_grad_(not name.startswith(TARGET))
        self.buffers = {
            name: torch.stack([dict(a.named_buffers())[name] for a in agents]).clone()
            for name, _ in first.named_buffers()
        }
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
        self.draw_plans: dict[tuple[bool, UpdatePlan], list[tuple[str, tuple[int, ...]]]] = {}
        self.target_pairs: dict[tuple[str, ...], tuple[list[Tensor], list[Tensor]]] = {}
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
    def _draw_plan(
        self, batch: Batch, diagnostics: bool, plan: UpdatePlan
    ) -> list[tuple[str, tuple[int, ...]]]:
        """The (kind, shape) of every draw of one update, found once per update plan by
        running seed 0's loss on its batch with a scratch generator (the seeds' streams are
        not touched)."""
        if (diagnostics, plan) not in self.draw_plans:
            draws: list[tuple[str, tuple[int, ...]]] = []
            scratch = torch.Generator(device=self.agents[0].device_).manual_seed(0)

            def record(kind: str, shape: tuple[int, ...], generator: Any, device: Any) -> Tensor:
                draws.append((kind, shape))
                draw = torch.randn if kind == "normal" else torch.rand
                return draw(shape, generator=scratch, device=device)

            one = {k: v[0] for k, v in batch.items()}
            with draws_from(record), torch.no_grad():
                self.losses(one, diagnostics, plan)
            self.draw_plans[diagnostics, plan] = draws
        return self.draw_plans[diagnostics, plan]

    def _draws(self, draw_plan: list[tuple[str, tuple[int, ...]]]) -> list[Tensor]:
        """Each planned draw from each seed's generator, in the single-seed order: (S, *shape)."""
        per_seed = []
        for agent in self.agents:
            gen, dev = agent.generator, agent.device_
            per_seed.append(
                [
                    (torch.randn if kind == "normal" else torch.rand)(
                        shape, generator=gen, device=dev
                    )
                    for kind, shape in draw_plan
                ]
            )
        return [torch.stack(col) for col in zip(*per_seed, strict=True)] if draw_plan else []

    # ------------------------------------------------------------------ step
    def _loss(
        self,
        params: dict[str, Tensor],
        buffers: dict[str, Tensor],
        batch: Batch,
        draws: list[Tensor],
        diagnostics: bool,
        plan: UpdatePlan,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        queue = list(draws)

        def replay(kind: str, shape: tuple[int, ...], generator: Any, device: Any) -> Tensor:
            return queue.pop(0)

        state = {f"agent.{k}": v for k, v in {**params, **buffers}.items()}
        with draws_from(replay):
            return functional_call(self.losses, state, (batch, diagnostics, plan))

    def step(self, batch: Batch, diagnostics: bool = False) -> dict[str, Tensor]:
        """One update of every seed on ``batch`` (each value stacked over seeds, ``(S, B, ...)``);
        returns the info of :meth:`OfflineAgent.update` with a leading seed axis.

        The first agent's schedule plans it (one schedule: the seeds are at the same step),
        acting on the stacked optimiser and ``updates`` counter."""
        plan = self.agents[0].begin_update(self.optimizer, self.buffers.get("updates"))
        draw_plan = self._draw_plan(batch, diagnostics, plan)
        if self.compiled and not diagnostics:  # the logging step runs eager, as TrainStep's
            loss, info = self._compiled_call(batch, draw_plan, diagnostics, plan)
        else:
            draws = self._draws(draw_plan)
            loss, info = self.eager(self.params, self.buffers, batch, draws, diagnostics, plan)
        # the seeds share no parameter: each slice of the summed loss gets its own gradient
        apply_update(self.optimizer, loss.sum(), plan, self._move_targets)
        return info

    def __call__(self, batch: Batch, diagnostics: bool = False) -> dict[str, Tensor]:
        """:meth:`step` (a :class:`drol.train.loop.Step`)."""
        return self.step(batch, diagnostics)

    def _compiled_call(
        self,
        batch: Batch,
        draw_plan: list[tuple[str, tuple[int, ...]]],
        diagnostics: bool,
        plan: UpdatePlan,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The compiled losses; eager from now on if compiling (the first call, or a new
        plan such as ReBRAC's actor update) fails: the draws again from the same generator
        states, so the step is the one eager would have made."""
        states = [a.generator.get_state() for a in self.agents]
        t = time.perf_counter()
        args = (self.params, self.buffers, batch)
        try:
            out = self.batched(*args, self._draws(draw_plan), diagnostics, plan)
        except Exception as err:  # noqa: BLE001 - any compiler failure: fall back, once
            self.fallback = failure_reason(err)
            log.warning(
                "torch.compile of the seed-batched step failed (%s); running eager", self.fallback
            )
            self.batched = self.eager
            for agent, state in zip(self.agents, states, strict=True):
                agent.generator.set_state(state)
            out = self.batched(*args, self._draws(draw_plan), diagnostics, plan)
        if not self._warm:
            self.compile_seconds = time.perf_counter() - t
            self._warm = True
        return out

    @torch.no_grad()
    def _move_targets(self, modules: tuple[str, ...]) -> None:
        """The stacked ``target_<m>`` towards the stacked ``m``, for each module ``m``."""
        if modules not in self.target_pairs:  # once per plan, not at every step
            prefixes = tuple(f"{TARGET}{m}." for m in modules)
            names = [n for n in self.params if n.startswith(prefixes)]
            self.target_pairs[modules] = (
                [self.params[n] for n in names],
                [self.params[n[len(TARGET) :]] for n in names],
            )
        targets, sources = self.target_pairs[modules]
        torch._foreach_lerp_(targets, sources, self.agents[0].cfg.tau)

    # ------------------------------------------------------------------ per seed
    @torch.no_grad()
    def write_back(self) -> None:
        """Copy seed s's slice of every stack into ``agents[s]`` (parameters, buffers, Adam
        moments and step), so each agent is what its single-seed run would hold."""
        stacked_state = self.optimizer.state
        host_count = getattr(self.agents[0], "host_updates", None)  # the schedule's count
        for s, agent in enumerate(self.agents):
            if host_count is not None:
                agent.host_updates = host_count
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


__all__ = ["SeedBatch", "batchable", "check_batchable", "seed_batchable"]
