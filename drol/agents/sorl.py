"""SORL (Espinosa-Dice et al. 2025, "Scaling Offline RL via Efficient and Expressive Shortcut
Models"): one shortcut flow policy trained by flow matching, self-consistency and Q through
its k-step samples.

Faithful to the official ``agents/sorl.py`` (nico-espinosadice/SORL@cc060ac):

- actor ``v(s, x, t, d)``: an MLP over ``concat(s, x, t, d)``, ``d = log2(k)`` the step-size
  level; a k-step sample integrates ``x += v(s, x, i/k, log2 k) / k`` from ``x ~ N(0, I)``
  and is clipped once at the end; critic ``Q(s, a, k)``: the twin critic over
  ``concat(s, a, k)``.
- critic step: ``k`` drawn uniformly from ``{1, 2, 4, .., max_k_backprop}`` per batch; TD
  target from the target critic at the actor's k-step next action, *not* detached: as in
  the official code the TD loss's gradient also reaches the actor through that sample.
- actor step: ``bc_flow_loss_coef * L_fm + alpha * L_consistency + q_loss_coef * L_q`` with
  ``t_epsilon``-shifted linear paths; the self-consistency targets come from the target actor
  at twice the step size; ``L_q = -mean Q / stopgrad(mean|Q|)`` at a k-step sample (new k).
  The actor step sees the pre-step critic and target actor (the official ``self.network``).
- two Adam steps per update (critic, then actor) on one Adam state over every parameter,
  each after ``clip_by_global_norm(grad_clip_norm)``; parameters without a gradient still
  step (zero gradient, as optax). Targets: ``target <- tau * pre-update + (1 - tau) target``.
- acting: ``num_samples`` k-step samples (``k = inference_steps``), the best under the
  critic's ``q_agg`` at ``Q(s, a, k)`` when more than one (the official main.py reports
  k = 1, n = 1 as its ``evaluation/`` metric).
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from drol.agents.base import Batch, OfflineAgent, aggregate, normalized_q_loss
from drol.agents.config import AgentConfig, need
from drol.agents.fql import FQL_D4RL, FQL_OGBENCH
from drol.agents.registry import register
from drol.agents.sources import Sourced, official_off, unverified
from drol.nn import sampling
from drol.nn.eager import eager
from drol.nn.networks import MLP
from drol.tasks import OGBENCH, Task, d4rl_row

SORL_COMMIT = "cc060ac"
SORL_CODE = f"nico-espinosadice/SORL@{SORL_COMMIT} agents/sorl.py get_config()"
SORL_README = f"nico-espinosadice/SORL@{SORL_COMMIT} README.md command"
SORL_FQL_RULE = f"{SORL_README} (q_agg and discount as FQL's)"
SORL_MAIN = f"nico-espinosadice/SORL@{SORL_COMMIT} main.py (evaluation/: k=1, n=1)"


@dataclass
class SORLConfig(AgentConfig):
    """The official ``agents/sorl.py`` defaults (``lr`` 1e-4, not the shared 3e-4)."""

    lr: float = 1e-4
    grad_clip_norm: float = 1.0  # 0: no clipping
    alpha: float = 10.0  # self-consistency coefficient
    bc_flow_loss_coef: float = 10.0
    q_loss_coef: float = 100.0
    normalize_q_loss: bool = True
    t_epsilon: float = 1e-5
    denoise_timesteps: int = 8  # M: finest step size 1/M
    max_k_backprop: int = 8  # k in {1, 2, 4, ..} <= this for the critic and Q loss samples
    actor_updates_per_batch: int = 1
    inference_steps: int = 1  # k at evaluation
    num_samples: int = 1  # best-of-N at evaluation (N = 1: no critic)

    def validate(self) -> None:
        super().validate()
        pow2 = "must be a power of 2 in [1, 1024]"
        for key in ("denoise_timesteps", "max_k_backprop", "inference_steps"):
            value = getattr(self, key)
            need(self, 1 <= value <= 1024 and value & (value - 1) == 0, key, pow2)
        need(self, self.denoise_timesteps >= 2, "denoise_timesteps", "must be >= 2")
        need(self, self.grad_clip_norm >= 0, "grad_clip_norm", "must be >= 0 (0: off)")
        for key in ("alpha", "bc_flow_loss_coef", "q_loss_coef"):
            need(self, getattr(self, key) >= 0, key, "must be >= 0")
        need(self, 0 <= self.t_epsilon < 1, "t_epsilon", "must be in [0, 1)")
        need(self, 1 <= self.actor_updates_per_batch <= 100, "actor_updates_per_batch", "1..100")
        need(self, 1 <= self.num_samples <= 4096, "num_samples", "must be in [1, 4096]")


_NOT_LISTED = unverified("not in SORL's README list: the official default q_loss_coef")

# OGBench family -> q_loss_coef (the README's commands; discount and q_agg: FQL's)
SORL_OGBENCH: dict[str, Sourced[float]] = {
    "antmaze-large-navigate": Sourced(500.0, SORL_README),
    "antmaze-giant-navigate": Sourced(500.0, SORL_README),
    "humanoidmaze-medium-navigate": Sourced(100.0, SORL_README),
    "humanoidmaze-large-navigate": Sourced(500.0, SORL_README),
    "antsoccer-arena-navigate": Sourced(500.0, SORL_README),
    "cube-single-play": Sourced(10.0, SORL_README),
    "cube-double-play": Sourced(50.0, SORL_README),
    "scene-play": Sourced(100.0, SORL_README),
}


def _tuples(state: Any) -> Any:
    """A ``random.Random`` state back from a checkpoint (lists -> tuples)."""
    return tuple(_tuples(x) for x in state) if isinstance(state, list | tuple) else state


def ema_(target: torch.nn.Module, source: list[Tensor], tau: float) -> None:
    """``target <- tau * source + (1 - tau) * target`` from saved parameter values."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), source, tau)


class ShortcutField(MLP):
    """``v(s, x, t, d)``: an MLP over ``concat(s, x, t, d)`` without LayerNorm."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...]):
        super().__init__(obs_dim + action_dim + 2, hidden, action_dim, layer_norm=False)

    def forward(self, obs: Tensor, x: Tensor, t: Tensor, d: Tensor) -> Tensor:  # type: ignore[override]
        return self.body(self.hidden[0](torch.cat([obs, x, t, d], dim=-1)))


@register
class SORLAgent(OfflineAgent):
    name = "sorl"
    label = "SORL"
    colour = "#7f7f7f"  # tab:gray
    paper_group = "multi-step"
    Config = SORLConfig
    cfg: SORLConfig
    default_source = SORL_CODE
    default_sources = official_off(SORL_CODE) | {
        "inference_steps": SORL_MAIN,
        "num_samples": SORL_MAIN,
    }

    @classmethod
    def task_settings(cls, task: Task) -> dict[str, Sourced[Any]]:
        if task.suite == OGBENCH:
            _, discount, q_agg = FQL_OGBENCH[task.family].value
            coef = SORL_OGBENCH.get(task.family, Sourced(100.0, _NOT_LISTED))
            return {
                "q_loss_coef": coef,
                "discount": Sourced(discount, SORL_FQL_RULE),
                "q_agg": Sourced(q_agg, SORL_FQL_RULE),
            }
        _, q_agg = d4rl_row(FQL_D4RL, task.name).value
        return {
            "q_loss_coef": Sourced(100.0, _NOT_LISTED),
            "q_agg": Sourced(q_agg, SORL_FQL_RULE),
        }

    # ------------------------------------------------------------------ networks
    critic_extra_inputs = 1  # Q(s, a, k): the twin critic over concat(s, a, k)

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any):
        super().__init__(*args, seed=seed, **kwargs)
        self.k_rng = random.Random(seed)  # the per-batch k draws (host side)

    def build_actor(self) -> None:
        self.actor = ShortcutField(self.obs_dim, self.action_dim, self.cfg.hidden_dims)
        self.target_actor = copy.deepcopy(self.actor)
        self.target_actor.requires_grad_(False)
        k, ks = 1, []
        while k <= self.cfg.max_k_backprop:
            ks.append(k)
            k *= 2
        self.k_values = tuple(ks)

    def column(self, n: int, value: float, device: torch.device) -> Tensor:
        return torch.full((n, 1), float(value), device=device)

    def q(self, obs: Tensor, actions: Tensor, k: Tensor, *, params=None, target=False) -> Tensor:
        """``Q_j(s, a, k)``, ``(2, B)``; ``params``: the critic's parameters to use (frozen)."""
        inputs = (obs, torch.cat([actions, k], dim=-1))
        if target:
            return self.target_critic(*inputs)
        if params is not None:
            return functional_call(self.critic, params, inputs)
        return self.critic(*inputs, frozen=True)

    def sample(self, obs: Tensor, k: int, grad: bool) -> Tensor:
        """A k-step sample per state from fresh ``N(0, I)`` noise, clipped at the end."""
        x = sampling.normal((*obs.shape[:-1], self.action_dim), self.generator, self.device_)
        d = torch.full((*obs.shape[:-1], 1), float(math.log2(k)), device=obs.device)
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            for i in range(k):
                t = torch.full_like(d, i / k)
                x = x + self.actor(obs, x, t, d) * (1.0 / k)
        return x.clamp(-1.0, 1.0)

    def draw_k(self, device: torch.device) -> tuple[int, int]:
        """The index and value of ``k`` drawn uniformly from ``k_values`` (on the host: it
        decides how many steps to unroll, so drawing it on the device would sync)."""
        idx = sampling.host_integer(len(self.k_values), self.k_rng)
        return idx, self.k_values[idx]

    def training_state(self) -> dict[str, Any]:
        return {**super().training_state(), "k_rng": self.k_rng.getstate()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        super().load_training_state(state)
        self.k_rng.setstate(_tuples(state["k_rng"]))

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def policy(self, obs: Tensor) -> Tensor:
        k, N = self.cfg.inference_steps, self.cfg.num_samples
        if N == 1:
            return self.sample(obs, k, grad=False)
        B = obs.shape[0]
        cands = torch.stack([self.sample(obs, k, grad=False) for _ in range(N)])  # (N, B, A)
        flat_obs = obs.unsqueeze(0).expand(N, *obs.shape).reshape(N * B, -1)
        qs = self.q(flat_obs, cands.reshape(N * B, -1), self.column(N * B, k, obs.device))
        best = aggregate(qs, self.cfg.q_agg).reshape(N, B).argmax(dim=0)
        return cands[best, torch.arange(B, device=obs.device)]

    # ------------------------------------------------------------------ losses
    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        obs, next_obs = batch["observations"], batch["next_observations"]
        idx, k = self.draw_k(obs.device)
        kcol = self.column(obs.shape[0], 2**idx, obs.device)
        next_actions = self.sample(next_obs, k, grad=True)  # not detached (official)
        next_q = aggregate(self.q(next_obs, next_actions, kcol, target=True), self.cfg.q_agg)
        target_q = batch["rewards"] + self.cfg.discount * batch["masks"] * next_q
        q = self.critic(obs, torch.cat([batch["actions"], kcol], dim=-1))
        loss = (q - target_q).pow(2).mean()
        return loss, {"critic_loss": loss.detach(), "q_mean": q.detach().mean()}

    def consistency_loss(self, obs: Tensor, act: Tensor, target_params=None) -> Tensor:
        B = act.shape[0]
        levels = int(math.log2(self.cfg.denoise_timesteps))
        d = torch.arange(levels - 1, -1, -1, device=act.device, dtype=torch.float32)
        d = d.repeat_interleave(B // levels)
        d = torch.cat([d, torch.zeros(B - d.shape[0], device=act.device)])
        sections = torch.pow(2.0, d)
        dt = 1.0 / sections
        t = sampling.integers(sections, (B,), self.generator, self.device_) / sections
        x0 = sampling.normal(act.shape, self.generator, self.device_)
        eps = self.cfg.t_epsilon
        t_, d_, dt_ = t[:, None], d[:, None], dt[:, None]
        x_t = (1 - (1 - eps) * t_) * x0 + t_ * act
        pred = self.actor(obs, x_t, t_, d_)
        with torch.no_grad():
            target = self.target_actor

            def field(x: Tensor, tt: Tensor) -> Tensor:
                args = (obs, x, tt, d_ + 1)
                if target_params is None:
                    return target(*args)
                return functional_call(target, target_params, args)

            v1 = field(x_t, t_)
            v2 = field(x_t + dt_ / 2 * v1, t_ + dt_ / 2)
            v = (v1 + v2) / 2
        return (pred - v).pow(2).mean()

    def fm_loss(self, obs: Tensor, act: Tensor) -> Tensor:
        B, M = act.shape[0], self.cfg.denoise_timesteps
        t = (sampling.integers(M, (B,), self.generator, self.device_) / M)[:, None]
        x0 = sampling.normal(act.shape, self.generator, self.device_)
        eps = self.cfg.t_epsilon
        x_t = (1 - (1 - eps) * t) * x0 + t * act
        d = torch.full_like(t, float(math.log2(M)))
        return (self.actor(obs, x_t, t, d) - (act - (1 - eps) * x0)).pow(2).mean()

    def actor_loss(
        self, batch: Batch, diagnostics: bool, critic_params=None, target_params=None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        consistency = self.consistency_loss(obs, act, target_params)
        fm = self.fm_loss(obs, act)
        idx, k = self.draw_k(obs.device)
        actions = self.sample(obs, k, grad=True)
        kcol = self.column(obs.shape[0], 2**idx, obs.device)
        q = self.q(obs, actions, kcol, params=critic_params).mean(dim=0)
        q_loss = normalized_q_loss(q, self.cfg.normalize_q_loss, eps=None)
        loss = (
            self.cfg.bc_flow_loss_coef * fm
            + self.cfg.alpha * consistency
            + self.cfg.q_loss_coef * q_loss
        )
        info = {
            "actor_loss": loss.detach(),
            "flow_loss": fm.detach(),
            "consistency_loss": consistency.detach(),
            "q_loss": q_loss.detach(),
            "q": q.detach().mean(),
        }
        if diagnostics:
            info["mse"] = (actions.detach() - act).pow(2).mean()
        return loss, info

    # ------------------------------------------------------------------ update
    def step(self, loss: Tensor) -> None:
        """One Adam step on every parameter (zero gradient where none), after clipping the
        global gradient norm at ``grad_clip_norm`` (``optax.clip_by_global_norm``)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        if self.cfg.grad_clip_norm > 0:
            norm = torch.sqrt(torch.stack([g.pow(2).sum() for g in grads]).sum())
            scale = torch.where(
                norm < self.cfg.grad_clip_norm,
                torch.ones_like(norm),
                self.cfg.grad_clip_norm / norm,
            )
            torch._foreach_mul_(grads, scale)
        self.optimizer.step()

    # eager even under ``--set compile=on``: the per-batch k (a host-side draw that picks how
    # many Euler steps to unroll) would recompile the graph for every k value
    @eager
    def update(self, batch: Batch, diagnostics: bool = False) -> dict[str, Tensor]:
        def snapshot(module: torch.nn.Module) -> dict[str, Tensor]:
            return {n: p.detach().clone() for n, p in module.named_parameters()}

        critic_old, target_actor_old = snapshot(self.critic), snapshot(self.target_actor)
        actor_old = [p.detach().clone() for p in self.actor.parameters()]  # for the target EMA
        critic_loss, info = self.critic_loss(batch)
        self.step(critic_loss)
        ema_(self.target_critic, list(critic_old.values()), self.cfg.tau)  # pre-step critic
        for _ in range(self.cfg.actor_updates_per_batch):
            actor_loss, actor_info = self.actor_loss(
                batch, diagnostics, critic_params=critic_old, target_params=target_actor_old
            )
            self.step(actor_loss)
        ema_(self.target_actor, actor_old, self.cfg.tau)
        info.update(actor_info)
        info["loss"] = (critic_loss + actor_loss).detach()
        return info
