"""``score.json``: a finished run's score under its task's evaluation protocol."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drol.io import atomic_write_json
from drol.tasks import Task
from drol.train.rundir import SCORE, RunIdentity
from drol.train.state import Progress

log = logging.getLogger(__name__)

SCORE_IDENTITY_KEYS = (*RunIdentity.PATH_KEYS, "steps")


def write_score(out: Path, progress: Progress, identity: RunIdentity, task: Task) -> dict[str, Any]:
    """100 × the mean success rate of the last evaluation (``last``) or the last three
    (``last3``), with the run's identity and speed; written atomically, and returned."""
    evals = pd.DataFrame(progress.eval_rows).groupby("step")["success_rate"].first().sort_index()
    used = evals.iloc[-3:] if task.eval_protocol == "last3" else evals.iloc[-1:]
    train_rows = progress.train_rows
    score = {
        **{k: getattr(identity, k) for k in SCORE_IDENTITY_KEYS},
        "identity": identity.digest(),
        "score": 100.0 * float(used.mean()),
        "protocol": task.eval_protocol,
        "physics": identity.physics,
        "eval_steps": [int(x) for x in used.index],
        "suite": task.suite,
        "family": task.family,
        "wall_clock_s": progress.elapsed,
        "train_steps_per_s": float(np.median([r["steps_per_s"] for r in train_rows]))
        if train_rows
        else None,
        "status": "done",
    }
    atomic_write_json(out / SCORE, score)
    log.info(
        "score %.1f (%s of evaluations at %s)",
        score["score"],
        score["protocol"],
        score["eval_steps"],
    )
    return score
