"""What software made a run: package versions and the git commit, recorded in ``config.json``."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

import drol

REPO_ROOT = Path(drol.__file__).resolve().parent.parent  # a git checkout, when installed -e


def versions(d4rl_worker: dict[str, str] | None = None) -> dict[str, Any]:
    """Python, torch, numpy, drol and the environment packages ("missing" where absent); for
    a D4RL run also ``d4rl_worker``: the worker's python, d4rl, gym, mujoco_py and numpy."""
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "drol": drol.__version__,
    }
    for name in ("ogbench", "mujoco", "gymnasium"):
        try:  # the distribution's version: ogbench has no __version__
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    if d4rl_worker:
        out["d4rl_worker"] = dict(d4rl_worker)
    return out


def git_commit() -> str:
    """The checkout's HEAD commit, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except Exception:  # noqa: BLE001 - not a git checkout
        return "unknown"
