"""What identifies a dataset's content: the fingerprint a run records and resumes against."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

FINGERPRINT_KEYS = ("observations", "actions", "terminals")  # the arrays that define the data


@dataclass(frozen=True)
class DatasetFingerprint:
    """Name, row count and a content digest of a dataset's train arrays."""

    name: str
    rows: int
    digest: str

    @classmethod
    def of(cls, name: str, arrays: dict[str, np.ndarray]) -> DatasetFingerprint:
        """blake2b over the dtype, shape and bytes of :data:`FINGERPRINT_KEYS` (stable across
        re-saves of the same arrays, unlike the zip file's bytes)."""
        h = hashlib.blake2b(digest_size=12)
        for key in FINGERPRINT_KEYS:
            arr = np.ascontiguousarray(arrays[key])
            h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
            h.update(memoryview(arr).cast("B"))
        return cls(name, int(len(arrays["observations"])), h.hexdigest())
