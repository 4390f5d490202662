"""Flow matching shared by the flow methods: the velocity field, its BC loss, Euler sampling,
and the Euler-sampling flow policy of FAWAC and FBRAC (:class:`FlowPolicy`).

Official ``ActorVectorField`` over ``concat(s, x, t)`` (``t`` a raw scalar column, no
embedding); the linear path ``x_t = (1 - t) x_0 + t a`` with target velocity ``a - x_0``;
``steps`` Euler steps from ``t = 0`` and one clip to [-1, 1] at the end.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from drol.nn.networks import MLP
from drol.nn.sampling import sample_gaussian, sample_uniform


class VectorField(MLP):
    """``v(s, x, t)``: an MLP over ``concat(s, x, t)`` without LayerNorm."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...]):
        super().__init__(obs_dim + action_dim + 1, hidden, action_dim, layer_norm=False)

    def forward(self, obs: Tensor, x: Tensor, t: Tensor) -> Tensor:  # type: ignore[override]
        return self.body(self.hidden[0](torch.cat([obs, x, t], dim=-1)))


def flow_matching_loss(
    field: VectorField, obs: Tensor, actions: Tensor, generator: torch.Generator
) -> Tensor:
    """BC flow-matching loss with fresh ``x_0 ~ N(0, I)`` then ``t ~ U[0, 1)`` (this order)."""
    B, A = actions.shape
    x0 = sample_gaussian((B, A), generator=generator, device=actions.device)
    t = sample_uniform((B, 1), generator=generator, device=actions.device)
    x_t = (1 - t) * x0 + t * actions
    return (field(obs, x_t, t) - (actions - x0)).pow(2).mean()


def flow_matching_errors(
    field: VectorField, obs: Tensor, actions: Tensor, generator: torch.Generator
) -> Tensor:
    """Per-sample flow-matching errors ``(B,)`` (mean over the action dimensions), same draws
    as :func:`flow_matching_loss`; for weighted losses (FAWAC)."""
    B, A = actions.shape
    x0 = sample_gaussian((B, A), generator=generator, device=actions.device)
    t = sample_uniform((B, 1), generator=generator, device=actions.device)
    x_t = (1 - t) * x0 + t * actions
    return (field(obs, x_t, t) - (actions - x0)).pow(2).mean(dim=-1)


def integrate(field: VectorField, obs: Tensor, z: Tensor, steps: int) -> Tensor:
    """``steps`` Euler steps of the flow from ``z``, unclipped and differentiable (FBRAC
    backpropagates through them)."""
    x = z
    for i in range(steps):
        t = torch.full((*z.shape[:-1], 1), i / steps, device=z.device, dtype=z.dtype)
        x = x + field(obs, x, t) / steps
    return x


@torch.no_grad()
def euler_actions(field: VectorField, obs: Tensor, z: Tensor, steps: int) -> Tensor:
    """Integrate the flow from ``z`` (any leading shape matching ``obs``); clipped at the end."""
    x = z
    t = torch.empty(*z.shape[:-1], 1, device=z.device, dtype=z.dtype)
    for i in range(steps):
        x = x + field(obs, x, t.fill_(i / steps)) / steps
    return x.clamp(-1.0, 1.0)


class FlowPolicy:
    """A flow-matching actor ``actor_flow`` that acts by ``flow_steps`` Euler steps from
    Gaussian noise, clipped (the FQL paper's flow baselines FAWAC and FBRAC)."""

    obs_dim: int
    action_dim: int
    cfg: Any  # an AgentConfig with hidden_dims and flow_steps
    generator: torch.Generator
    device_: torch.device

    def build_actor(self) -> None:
        self.actor_flow = VectorField(self.obs_dim, self.action_dim, self.cfg.hidden_dims)

    def noise(self, n: int) -> Tensor:
        """``x_0 ~ N(0, I)`` for ``n`` actions, from the agent's generator."""
        return sample_gaussian((n, self.action_dim), self.generator, self.device_)

    @torch.no_grad()
    def policy(self, obs: Tensor) -> Tensor:
        return euler_actions(self.actor_flow, obs, self.noise(obs.shape[0]), self.cfg.flow_steps)
