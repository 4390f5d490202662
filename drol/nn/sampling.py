"""Random draws of the agents: the uniform L2 ball of DROL, Gaussians, uniforms.

Every draw goes through :func:`normal` or :func:`uniform`, the two primitives (the
official code's ``jax.random.normal``/``uniform``); ``tests/test_golden.py`` replaces them
to feed an agent the official agent's recorded draws.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def normal(shape: tuple[int, ...], generator: torch.Generator | None = None, device=None) -> Tensor:
    """Standard normal samples."""
    return torch.randn(shape, generator=generator, device=device)


def uniform(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    """Uniform samples in [0, 1)."""
    return torch.rand(shape, generator=generator, device=device)


def sample_ball(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    """Uniform samples in the L2 ball of radius ``sqrt(d)``, ``d = shape[-1]`` (official DROL).

    direction = g / (sqrt(|g|^2 + 1e-6) + 1e-8), radius = sqrt(d) * u^(1/(d + 1e-8)).
    """
    d = shape[-1]
    g = normal(shape, generator, device)
    norm = torch.sqrt((g * g).sum(-1, keepdim=True) + 1e-6)
    u = uniform((*shape[:-1], 1), generator, device)
    radius = math.sqrt(d) * u.pow(1.0 / (d + 1e-8))
    return radius * g / (norm + 1e-8)


def sample_gaussian(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    return normal(shape, generator, device)


def sample_uniform(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    return uniform(shape, generator, device)
