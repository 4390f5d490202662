"""K* of a finished K sweep (``drol select-k``): the rule, and the runs it may trust.

Each sweep run is read through :func:`drol.train.rundir.finished_score`, the same check as
the tables: its path ``{task}/{method}/K{K}/seed{seed}`` must equal the identity in
``score.json`` and ``config.json``, the two identity digests must be there and agree, so must
the settings both record, and the score must be a finite float; runs of more than one task
(or method) in one call are refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from drol.errors import UserError
from drol.grid import KSTAR_RULE
from drol.train.rundir import finished_score, key_of_path


def choose_k(mean_by_k: Mapping[int, float], default_k: int = 16) -> int:
    """The K* rule: the highest mean score; ties go to ``default_k``, then to the smallest K.

    Every mean must be finite (a one-line :class:`UserError` otherwise)."""
    if not mean_by_k:
        raise UserError("select-k: no K to choose from")
    bad = {k: v for k, v in mean_by_k.items() if not math.isfinite(v)}
    if bad:
        raise UserError(f"select-k: non-finite mean score for K={sorted(bad)} ({bad})")
    best = max(mean_by_k.values())
    tied = sorted(k for k, v in mean_by_k.items() if v >= best - 1e-9)
    return default_k if default_k in tied else tied[0]


def select_k(run_dirs: Iterable[str | Path], default_k: int = 16) -> dict[str, Any]:
    """K* of a finished K sweep (its runs' checked ``score.json``), with the per-K means."""
    scores: dict[int, dict[int, float]] = {}
    tasks: set[str] = set()
    methods: set[str] = set()
    for d in run_dirs:
        path = Path(d)
        key = key_of_path(path)
        if key is None:
            raise UserError(
                f"{path}: not a run directory path RUNS/{{task}}/{{method}}/K{{K}}/seed{{seed}}"
            )
        if not (path / "score.json").is_file():
            raise UserError(
                f"{path / 'score.json'}: missing (the K sweep must finish before K* is chosen)"
            )
        score = finished_score(path, key)
        task, method, K, seed = key
        tasks.add(task)
        methods.add(method)
        if len(tasks) > 1 or len(methods) > 1:
            raise UserError(
                f"select-k: runs of several tasks/methods given ({sorted(tasks)}, "
                f"{sorted(methods)}); pass the K sweep of one task"
            )
        scores.setdefault(K, {})[seed] = score["score"]
    if not scores:
        raise UserError("select-k: no run directories given")
    means = {k: sum(v.values()) / len(v) for k, v in sorted(scores.items())}
    return {
        "task": tasks.pop(),
        "kstar": choose_k(means, default_k),
        "scores": {str(k): v for k, v in means.items()},
        "n_seeds": {str(k): len(v) for k, v in sorted(scores.items())},
        "rule": KSTAR_RULE,
    }
