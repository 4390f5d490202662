"""Which finished runs the reports count: :func:`counted_score`.

:func:`drol.train.rundir.finished_score` checks a run's ``score.json`` against its path and
its ``config.json``. The reports (``drol aggregate``/``tables``/``stats``/``figures`` and
``drol select-k``) add what it lets through:

* both files must carry an identity digest: two absent digests are not a match;
* the run settings both files record (``steps``, ...) must agree;
* a score that no float can hold (a 401-digit integer) is a failed run, not a traceback.

Each refusal is a one-line :class:`~drol.errors.UserError`: the run is listed as failed with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drol.errors import UserError
from drol.train.rundir import CONFIG, SCORE, RunSpec, finished_score, read_json

RERUN = "rerun drol train on that run directory (or delete it)"


def counted_score(run_dir: str | Path, key: tuple[str, str, int, int] | None) -> dict[str, Any]:
    """``score.json`` of a finished run that may be counted (``score`` a finite float); a
    one-line :class:`UserError` with the reason otherwise."""
    run_dir = Path(run_dir)
    score_file = run_dir / SCORE
    try:
        score = finished_score(run_dir, key)
    except OverflowError:
        raise UserError(
            f"{score_file}: 'score' is an integer too large for a float, not a finite number"
        ) from None
    problems = unconfirmed(read_json(score_file) or {}, read_json(run_dir / CONFIG) or {})
    if problems:
        raise UserError(f"{score_file}: " + "; ".join(problems) + f"; {RERUN}")
    return score


def unconfirmed(score: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Why ``score`` (a score.json) cannot be confirmed as the run of ``config``: a missing
    identity digest, or a run setting the two files record differently."""
    problems = [
        f"no identity digest in {name}"
        for name, recorded in ((SCORE, score), (CONFIG, config))
        if not recorded.get("identity")
    ]
    problems += [
        f"{k}={score[k]!r} in {SCORE} but {config[k]!r} in {CONFIG}"
        for k in RunSpec.spec_keys()
        if k in score and k in config and score[k] != config[k]
    ]
    return problems
