"""Random draws of the agents: the uniform L2 ball of DROL, Gaussians, uniforms.

Every draw goes through :func:`normal`, :func:`uniform` or :func:`integers`, the primitives
(the official code's ``jax.random.normal``/``uniform``/``randint``); ``tests/test_golden.py``
replaces them to feed an agent the official agent's recorded draws.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

# (kind 'normal'|'uniform', shape, generator, device) -> the draw; None: draw here
DrawHook = Callable[[str, tuple[int, ...], "torch.Generator | None", object], Tensor]
_hook: DrawHook | None = None


@contextmanager
def draws_from(hook: DrawHook) -> Iterator[None]:
    """Route every draw of :func:`normal`/:func:`uniform` through ``hook`` for a while (the
    seed-batched step, :mod:`drol.speed.seed_batch`, records and replays them)."""
    global _hook
    saved, _hook = _hook, hook
    try:
        yield
    finally:
        _hook = saved


def normal(shape: tuple[int, ...], generator: torch.Generator | None = None, device=None) -> Tensor:
    """Standard normal samples."""
    if _hook is not None:
        return _hook("normal", tuple(shape), generator, device)
    return torch.randn(shape, generator=generator, device=device)


def uniform(
    shape: tuple[int, ...], generator: torch.Generator | None = None, device=None
) -> Tensor:
    """Uniform samples in [0, 1)."""
    if _hook is not None:
        return _hook("uniform", tuple(shape), generator, device)
    return torch.rand(shape, generator=generator, device=device)


def integers(
    high: Tensor | int,
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    device=None,
) -> Tensor:
    """Uniform integers in ``[0, high)`` (``high`` an int or a tensor broadcast to ``shape``),
    as float32 (``jax.random.randint(key, shape, 0, high)``)."""
    u = torch.rand(shape, generator=generator, device=device)
    return torch.minimum((u * high).floor(), torch.as_tensor(high, device=u.device) - 1.0)


def host_integer(high: int, rng: random.Random) -> int:
    """One uniform integer in ``[0, high)`` drawn on the host (a choice that decides the shape
    of the computation, e.g. SORL's number of Euler steps): no device sync."""
    return rng.randrange(high)


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
