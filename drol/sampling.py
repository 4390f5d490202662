"""Latent priors: the uniform L2 ball of DROL and the Gaussian of FQL."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def sample_ball(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    """Uniform samples in the L2 ball of radius ``sqrt(d)``, ``d = shape[-1]`` (official DROL).

    direction = g / (sqrt(|g|^2 + 1e-6) + 1e-8), radius = sqrt(d) * u^(1/(d + 1e-8)).
    """
    d = shape[-1]
    g = torch.randn(shape, generator=generator, device=device)
    norm = torch.sqrt((g * g).sum(-1, keepdim=True) + 1e-6)
    u = torch.rand((*shape[:-1], 1), generator=generator, device=device)
    radius = math.sqrt(d) * u.pow(1.0 / (d + 1e-8))
    return radius * g / (norm + 1e-8)


def sample_gaussian(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    return torch.randn(shape, generator=generator, device=device)
