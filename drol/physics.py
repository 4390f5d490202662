"""Which physics a dataset was recorded in and a run was evaluated in: the simulator versions.

MuJoCo releases change OGBench's dynamics (from 3.5.0 on, the UR5e arm of the manipulation
envs and the ant's contacts step differently; ``docs/physics.md``), so a result means what the
paper's does only under the simulator the official code ran on, and a run or a dataset carries
the versions it was made with. One home for that record: what it holds, how a dataset file
stores it, how two records are compared and shown.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from drol.tasks import D4RL, OGBENCH

# The MuJoCo releases whose OGBench physics equal the official code's (ogbench 1.1.0 with
# MuJoCo 3.2-3.3 in 2025): 3.2.0 through 3.4.0 agree to <= 3e-9 over 20 steps; 3.5.0 differs.
OFFICIAL_MUJOCO_MIN = (3, 2, 0)
OFFICIAL_MUJOCO_BELOW = (3, 5, 0)

# An OGBench dataset file's member holding its record (a one-element unicode array of JSON; read
# without pickle; OGBench's own loader reads named keys only, so it ignores it).
DATASET_KEY = "physics"

# The D4RL worker's simulator stack, fixed by drol/d4rl/install.py's pins.
D4RL_PHYSICS = {"mujoco": "2.1.0 (free-mujoco-py 2.1.6)", "d4rl": "1.1"}

Physics = dict[str, str]


def ogbench_physics() -> Physics:
    """The versions of this process's OGBench simulator: MuJoCo and ogbench."""
    return {name: metadata.version(name) for name in ("mujoco", "ogbench")}


def physics_of_suite(suite: str) -> Physics:
    """The physics a run of ``suite`` is evaluated in (D4RL: the worker's pinned stack)."""
    if suite == OGBENCH:
        return ogbench_physics()
    if suite == D4RL:
        return dict(D4RL_PHYSICS)
    return {}


def describe(physics: Physics | None) -> str:
    """``mujoco 3.3.0, ogbench 1.2.2`` (``unrecorded`` for none)."""
    if not physics:
        return "unrecorded"
    return ", ".join(f"{k} {v}" for k, v in sorted(physics.items()))


def version_tuple(version: str) -> tuple[int, ...]:
    """``"3.3.0"`` -> ``(3, 3, 0)`` (a suffix such as ``rc1`` or ``.dev0`` is dropped)."""
    out = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        out.append(int(digits.group()))
    return tuple(out)


def is_official_mujoco(version: str) -> bool:
    """Whether MuJoCo ``version`` gives the official code's OGBench physics."""
    return OFFICIAL_MUJOCO_MIN <= version_tuple(version) < OFFICIAL_MUJOCO_BELOW


def encode(physics: Physics) -> np.ndarray:
    """The dataset member that records ``physics``."""
    return np.array(json.dumps(physics, sort_keys=True))


def decode(value: Any) -> Physics | None:
    """The record of a dataset member (``None`` when it is not a JSON object of strings)."""
    arr = np.asarray(value).reshape(-1)  # written 0-d, stored 1-d (np.ascontiguousarray)
    try:
        record = json.loads(str(arr[0])) if arr.size == 1 else None
    except (ValueError, TypeError):
        return None
    if not isinstance(record, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in record.items()
    ):
        return None
    return record


def dataset_physics(path: str | Path) -> Physics | None:
    """The physics an ``.npz`` dataset records (``None``: made elsewhere or before the record
    existed, e.g. OGBench's published files)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if DATASET_KEY not in archive.files:
                return None
            return decode(archive[DATASET_KEY])
    except (OSError, ValueError):
        return None


def differs(recorded: Physics | None, current: Physics) -> bool:
    """Whether a record names other versions than ``current`` for the same simulators (no
    record, or no common simulator, is not a difference: there is nothing to compare)."""
    if not recorded:
        return False
    return any(recorded[k] != v for k, v in current.items() if k in recorded)
