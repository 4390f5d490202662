"""Per-episode seeds: a pure function of (seed, split, episode index, attempt)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

TRAIN, VAL = 0, 1  # split ids


def episode_seeds(seed: int, split: int, index: int, attempt: int = 0) -> tuple[int, int]:
    """Return (env seed, global ``np.random`` seed) for one episode.

    ``attempt`` counts re-collections (the scene health check), so retries stay deterministic.
    """
    state = np.random.SeedSequence([seed, split, index, attempt]).generate_state(2)
    return int(state[0]), int(state[1])


@contextmanager
def global_numpy_seeded(seed: int) -> Iterator[None]:
    """The global ``np.random`` seeded with ``seed`` inside the block, the caller's state
    restored after (code that draws from it, OGBench's maze resets or rliable's bootstrap,
    then depends on ``seed`` only)."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def seed_everything(env, seed: int, split: int, index: int, attempt: int = 0) -> int:
    """Seed the global ``np.random`` (oracles, p_stack, maze noise) and the action space.

    Returns the seed to pass to ``env.reset(seed=...)``.
    """
    env_seed, np_seed = episode_seeds(seed, split, index, attempt)
    np.random.seed(np_seed)
    env.action_space.seed(env_seed)
    return env_seed
