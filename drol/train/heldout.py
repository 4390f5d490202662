"""Losses on batches of the ``-val`` dataset, logged beside the training losses (diagnostic
only, as in the official logs)."""

from __future__ import annotations

import numpy as np
import torch

from drol.agents.base import OfflineAgent, use_generator


class Validation:
    """Draws one validation batch per logging step, seeded by (seed, step) so a resumed run
    logs the same numbers; :meth:`of` returns None when the task has no validation split."""

    def __init__(
        self, tensors: dict[str, torch.Tensor], seed: int, batch_size: int, device: torch.device
    ):
        self.tensors, self.seed, self.batch_size, self.device = tensors, seed, batch_size, device

    @classmethod
    def of(
        cls,
        val: dict[str, np.ndarray] | None,
        keys: list[str],
        seed: int,
        batch_size: int,
        device: torch.device,
    ) -> Validation | None:
        if val is None or not len(val["observations"]):
            return None
        tensors = {k: torch.as_tensor(val[k], device=device) for k in keys}
        return cls(tensors, seed, batch_size, device)

    def __call__(self, agent: OfflineAgent, step: int) -> dict[str, float]:
        idx = np.random.default_rng([self.seed, step, 31]).integers(
            0, len(self.tensors["observations"]), size=self.batch_size
        )
        batch = {k: v[torch.as_tensor(idx, device=self.device)] for k, v in self.tensors.items()}
        gen = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_033 + step)
        with use_generator(agent, gen):
            return {k: float(v) for k, v in agent.validation_losses(batch).items()}
