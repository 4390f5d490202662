"""What identifies a dataset's content: the fingerprint a run records and resumes against."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# Every array that can reach training, in a fixed order; those a dataset has are hashed.
# OGBench relabels rewards and masks from ``qpos`` (and ``button_states``), so those count;
# D4RL's transition arrays carry their own rewards, masks and next observations.
FINGERPRINT_KEYS = (
    "observations",
    "actions",
    "terminals",
    "qpos",
    "qvel",
    "button_states",
    "next_observations",
    "rewards",
    "masks",
)
FINGERPRINT_VERSION = 2  # 1: observations, actions, terminals only (before issue 20)


@dataclass(frozen=True)
class DatasetFingerprint:
    """Name, row count and a content digest of a dataset's train arrays."""

    name: str
    rows: int
    digest: str
    version: int = FINGERPRINT_VERSION
    physics: dict[str, str] | None = None  # the simulator versions it was recorded with

    @classmethod
    def of(
        cls, name: str, arrays: dict[str, np.ndarray], physics: dict[str, str] | None = None
    ) -> DatasetFingerprint:
        """blake2b over the name, dtype, shape and bytes of each of :data:`FINGERPRINT_KEYS`
        that ``arrays`` holds (stable across re-saves of the same arrays, unlike the zip
        file's bytes); ``physics``: the versions the file records (:mod:`drol.physics`)."""
        h = hashlib.blake2b(digest_size=12)
        for key in FINGERPRINT_KEYS:
            if key not in arrays:
                continue
            arr = np.ascontiguousarray(arrays[key])
            h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
            h.update(memoryview(arr).cast("B"))
        return cls(name, int(len(arrays["observations"])), h.hexdigest(), physics=physics)
