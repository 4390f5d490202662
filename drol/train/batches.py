"""Uniform batch indices (with replacement, as the official ``Dataset.sample``) for the loop.

On CPU the indices come from a numpy ``Generator`` seeded by the run's seed: the stream of
every run so far (sync-free by nature on CPU). On CUDA they are drawn by a ``torch.Generator``
on the device, so the hot loop has no host-side RNG and no host-to-device copy per step.
The state goes into the checkpoint either way, so a resumed run continues the same stream.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from torch import Tensor


class IndexSampler:
    """``sampler()`` -> ``(batch_size,)`` int64 indices in ``[0, n)`` on ``device``."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        device: torch.device,
        on_device: bool | None = None,
    ):
        self.n, self.batch_size, self.device = n, batch_size, torch.device(device)
        self.on_device = self.device.type != "cpu" if on_device is None else on_device
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __call__(self) -> Tensor:
        if self.on_device:
            return torch.randint(
                0, self.n, (self.batch_size,), generator=self.generator, device=self.device
            )
        return torch.as_tensor(
            self.rng.integers(0, self.n, size=self.batch_size), device=self.device
        )

    def state(self) -> dict[str, Any]:
        """Plain values and tensors only (the checkpoint loads with ``weights_only``)."""
        if self.on_device:
            return {"index_rng": self.generator.get_state()}
        return {"numpy_rng": json.dumps(self.rng.bit_generator.state)}

    def load_state(self, blob: dict[str, Any]) -> None:
        if self.on_device:
            self.generator.set_state(blob["index_rng"].cpu())
        else:
            self.rng.bit_generator.state = json.loads(blob["numpy_rng"])
