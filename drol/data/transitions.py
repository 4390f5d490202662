"""Conventions shared by every loader of offline transitions (FQL's processing)."""

from __future__ import annotations

# dataset actions are clipped into the open interval, as FQL does before training
ACTION_CLIP = 1 - 1e-5
