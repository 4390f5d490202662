"""FQL: flow-matching BC teacher + one-step student distilled with ``alpha``.

Faithful to the official ``agents/fql.py`` (spec/algorithms.md §2.3): 10 Euler steps, the
teacher under ``no_grad`` and clipped only at the end, distillation on the *unclipped*
student output, Q (mean of the 2 critics) on the clipped student action.
"""

from __future__ import annotations

import torch
from torch import Tensor

from drol.agents.base import Batch, OfflineAgent, aggregate, normalized_q_loss
from drol.networks import MLP, LatentActor
from drol.sampling import sample_gaussian


class FQLAgent(OfflineAgent):
    method = "fql"

    def build_actor(self) -> None:
        A, hidden = self.action_dim, self.cfg.hidden_dims
        self.actor_bc_flow = MLP(self.obs_dim + A + 1, hidden, A, layer_norm=False)
        self.actor = LatentActor(self.obs_dim, A, hidden)  # one-step student

    def noise(self, n: int) -> Tensor:
        return sample_gaussian((n, self.action_dim), generator=self.generator, device=self.device_)

    def policy(self, obs: Tensor) -> Tensor:
        return self.actor(obs, self.noise(obs.shape[0])).clamp(-1.0, 1.0)

    def velocity(self, obs: Tensor, x: Tensor, t: Tensor) -> Tensor:
        return self.actor_bc_flow(torch.cat([obs, x, t], dim=-1))

    @torch.no_grad()
    def teacher_actions(self, obs: Tensor, z: Tensor) -> Tensor:
        """Euler integration of the BC flow from ``z``; clipped once at the end."""
        steps = self.cfg.flow_steps
        x = z
        t = torch.empty(obs.shape[0], 1, device=obs.device)
        for i in range(steps):
            x = x + self.velocity(obs, x, t.fill_(i / steps)) / steps
        return x.clamp(-1.0, 1.0)

    def actor_loss(self, batch: Batch, diagnostics: bool) -> tuple[Tensor, dict[str, Tensor]]:
        obs, act = batch["observations"], batch["actions"]
        B = obs.shape[0]
        # BC flow matching
        x0 = self.noise(B)
        t = torch.rand(B, 1, generator=self.generator, device=self.device_)
        x_t = (1 - t) * x0 + t * act
        flow_loss = (self.velocity(obs, x_t, t) - (act - x0)).pow(2).mean()
        # distillation towards the (detached) teacher from the same noise
        z = self.noise(B)
        target = self.teacher_actions(obs, z)
        student = self.actor(obs, z)
        distill_loss = (student - target).pow(2).mean()
        # Q on the clipped student action, critic frozen
        q = aggregate(self.critic(obs, student.clamp(-1.0, 1.0), frozen=True), "mean")
        q_loss = normalized_q_loss(q, self.cfg.normalize_q_loss, eps=None)
        loss = flow_loss + self.cfg.alpha * distill_loss + q_loss
        info = {
            "actor_loss": loss.detach(),
            "flow_loss": flow_loss.detach(),
            "distill_loss": distill_loss.detach(),
            "q_loss": q_loss.detach(),
            "q": q.detach().mean(),
        }
        if diagnostics:
            with torch.no_grad():
                info["mse"] = (self.policy(obs) - act).pow(2).mean()
        return loss, info
