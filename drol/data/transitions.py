"""Conventions shared by every loader of offline transitions (FQL's processing)."""

from __future__ import annotations

import numpy as np

# dataset actions are clipped into the open interval, as FQL does before training
ACTION_CLIP = 1 - 1e-5


def next_actions(actions: np.ndarray) -> np.ndarray:
    """The next row's action for every row, the last row repeating its own: FQL's
    ``Dataset.sample`` with ``return_next_actions`` (``actions[min(i + 1, n - 1)]``, across
    episode boundaries too; ReBRAC's critic penalty reads it)."""
    if len(actions) == 0:
        return actions.copy()
    return np.concatenate([actions[1:], actions[-1:]], axis=0)
