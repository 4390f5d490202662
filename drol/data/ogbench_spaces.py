"""One float32 action space per OGBench manipulation env.

OGBench 1.2.2's ``ManipSpaceEnv.action_space`` is a property that builds a new
``Box(low=-np.ones(5), high=np.ones(5), dtype=np.float32)`` on every access; its float64
bounds make gymnasium warn "Box low's precision lowered by casting to float32" (and "high's")
each time a wrapper, a reset or an evaluation reads it. :func:`use_cached_action_spaces` gives
each env instance one Box with the same bounds, shape and dtype, built from float32 values, so
nothing is cast and nothing warns; seeding it (``env.action_space.seed``) now also sticks.
"""

from __future__ import annotations

import gymnasium
import numpy as np

ACTION_DIM = 5  # the manipspace arm: x, y, z, yaw, gripper, each in [-1, 1]
_CACHE = "_drol_action_space"
ORIGINAL: dict[str, property] = {}  # OGBench's own property, kept for the tests to compare


def _cached_action_space(self) -> gymnasium.spaces.Box:
    space = self.__dict__.get(_CACHE)
    if space is None:
        space = gymnasium.spaces.Box(low=-1.0, high=1.0, shape=(ACTION_DIM,), dtype=np.float32)
        self.__dict__[_CACHE] = space
    return space


def use_cached_action_spaces() -> None:
    """Give OGBench's manipulation envs one cached float32 action space each (idempotent)."""
    from ogbench.manipspace.envs.manipspace_env import ManipSpaceEnv

    current = ManipSpaceEnv.__dict__["action_space"]
    if current.fget is not _cached_action_space:
        ORIGINAL.setdefault("ManipSpaceEnv", current)
        ManipSpaceEnv.action_space = property(_cached_action_space)


__all__ = ["ACTION_DIM", "ORIGINAL", "use_cached_action_spaces"]
