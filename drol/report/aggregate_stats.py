"""Aggregate statistics over all reproduced runs, with ``rliable`` (Agarwal et al., 2021).

Seeds are the runs and tasks the strata: each table column (:func:`drol.grid.column_labels`)
becomes a ``runs x tasks`` matrix of normalised scores (success rate in [0, 1]), and rliable's
stratified bootstrap gives 95% confidence intervals of

* IQM, mean, median and optimality gap (:data:`METRICS`), reported ×100 like the tables;
* the probability of improvement of DROL(16) and DROL* over every other reproduced column,
  on the tasks both have with different runs: a pair that shares its runs on every common
  task (DROL(16) and DROL* when K* = 16) is omitted with a note (:func:`improvement_pairs`),
  never reported as a column beating itself half the time;
* the performance profile (fraction of runs with a score above tau).

A column whose tasks have unequal seed counts is cut to the smallest count per task (the
bootstrap needs a rectangular matrix); ``n_runs`` says how many were used.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rliable import library as rly
from rliable import metrics

from drol.errors import UserError
from drol.grid import LABEL_DROL16, LABEL_DROL_STAR, column_labels
from drol.io import atomic_write_text, ensure_writable_dir
from drol.report.aggregate import explode_labels

log = logging.getLogger(__name__)

SCALE = 100.0  # scores are success rates x100; rliable works on [0, 1]
METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "IQM": metrics.aggregate_iqm,
    "Mean": metrics.aggregate_mean,
    "Median": metrics.aggregate_median,
    "Optimality gap": metrics.aggregate_optimality_gap,  # 1 - mean(min(score, 1)): lower is better
}
IMPROVEMENT = "P(X > Y)"
CHALLENGERS = (LABEL_DROL16, LABEL_DROL_STAR)
DEFAULT_REPS = 2000
TAUS = np.linspace(0.0, 1.0, 41)
COLUMNS = ["statistic", "method", "estimate", "ci_low", "ci_high", "n_runs", "n_tasks"]


@dataclass
class ColumnScores:
    """One table column's done runs: per task, the normalised scores in seed order and the
    runs they come from (``(method, K, seed)``; two columns may share runs)."""

    label: str
    by_task: dict[str, np.ndarray]
    runs: dict[str, frozenset[tuple[str, int, int]]] = field(default_factory=dict)

    def shares_runs(self, other: ColumnScores, task: str) -> bool:
        """Whether this column and ``other`` have a run in common on ``task``."""
        return bool(self.runs.get(task, frozenset()) & other.runs.get(task, frozenset()))

    def matrix(self, tasks: list[str] | None = None) -> np.ndarray:
        """``runs x tasks``, each task cut to the smallest seed count among ``tasks``."""
        tasks = list(self.by_task) if tasks is None else tasks
        n = min(len(self.by_task[t]) for t in tasks)
        return np.stack([self.by_task[t][:n] for t in tasks], axis=1)


def column_scores(runs: pd.DataFrame) -> dict[str, ColumnScores]:
    """The done runs of every table column that has any, in the tables' column order."""
    df = explode_labels(runs)
    df = df[(df["status"] == "done") & df["label"].isin(column_labels())]
    out = {}
    for label in column_labels():
        part = df[df["label"] == label].sort_values(["task", "seed"])
        if part.empty:
            continue
        by_task, run_ids = {}, {}
        for task, g in part.groupby("task", sort=True):
            by_task[task] = g["score"].astype(float).to_numpy() / SCALE
            run_ids[task] = frozenset(
                zip(g["method"], g["K"].astype(int), g["seed"].astype(int), strict=True)
            )
        counts = {len(v) for v in by_task.values()}
        if len(counts) > 1:
            log.warning(
                "%s: tasks have %s seeds; the statistics use %d per task",
                label,
                sorted(counts),
                min(counts),
            )
        out[label] = ColumnScores(label, by_task, run_ids)
    return out


@contextmanager
def _seeded(seed: int) -> Iterator[np.random.RandomState]:
    """A seeded RandomState, and numpy's global one seeded too (rliable's independent
    bootstrap draws from it) and restored afterwards."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch: "random_state is deprecated" (rliable passes it)
            warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
            yield np.random.RandomState(seed)
    finally:
        np.random.set_state(saved)


def _bootstrap(
    data: dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]],
    func: Callable[..., np.ndarray],
    reps: int,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's point estimates and 95% CIs, each key with its own stream seeded by ``seed``
    (so a column's numbers do not depend on which other columns are present)."""
    points, cis = {}, {}
    for key, value in data.items():
        with _seeded(seed) as rs:
            p, c = rly.get_interval_estimates({key: value}, func, reps=reps, random_state=rs)
        points[key], cis[key] = p[key], c[key]
    return points, cis


def interval_estimates(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """IQM, mean, median, optimality gap per column with 95% stratified-bootstrap CIs (×100)."""
    if not scores:
        return pd.DataFrame(columns=COLUMNS)
    matrices = {label: s.matrix() for label, s in scores.items()}

    def all_metrics(x: np.ndarray) -> np.ndarray:
        return np.array([f(x) for f in METRICS.values()])

    points, cis = _bootstrap(matrices, all_metrics, reps, seed)
    rows = []
    for label, m in matrices.items():
        for i, name in enumerate(METRICS):
            rows.append(
                {
                    "statistic": name,
                    "method": label,
                    "estimate": SCALE * points[label][i],
                    "ci_low": SCALE * cis[label][0, i],
                    "ci_high": SCALE * cis[label][1, i],
                    "n_runs": m.shape[0],
                    "n_tasks": m.shape[1],
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def improvement_pairs(scores: dict[str, ColumnScores]) -> tuple[dict[str, list[str]], list[str]]:
    """The pairs ``"X > Y"`` (X in DROL(16), DROL*; Y every other column) with the common
    tasks on which they are different runs, and a note per pair left out or cut because the
    two columns share their runs there (comparing a column with itself says nothing)."""
    pairs: dict[str, list[str]] = {}
    notes: list[str] = []
    for x in CHALLENGERS:
        for y in scores:
            if x not in scores or y == x:
                continue
            common = sorted(set(scores[x].by_task) & set(scores[y].by_task))
            shared = [t for t in common if scores[x].shares_runs(scores[y], t)]
            kept = [t for t in common if t not in shared]
            name = f"{x} > {y}"
            if kept:
                pairs[name] = kept
            if shared and not kept:
                notes.append(f"{name} omitted, the same runs on every common task ({len(shared)})")
            elif shared:
                notes.append(
                    f"{name} on the {len(kept)} common tasks where they are different runs, "
                    f"not on the {len(shared)} where they are the same runs"
                )
    return pairs, notes


def improvement_probabilities(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """P(X > Y) of DROL(16) and DROL* (X) over every other column (Y), on their common tasks
    with different runs (:func:`improvement_pairs`)."""
    pairs = {
        name: (
            scores[name.split(" > ")[0]].matrix(tasks),
            scores[name.split(" > ")[1]].matrix(tasks),
        )
        for name, tasks in improvement_pairs(scores)[0].items()
    }
    if not pairs:
        return pd.DataFrame(columns=COLUMNS)
    points, cis = _bootstrap(pairs, metrics.probability_of_improvement, reps, seed)
    rows = [
        {
            "statistic": IMPROVEMENT,
            "method": name,
            "estimate": float(points[name]),
            "ci_low": float(np.ravel(cis[name])[0]),
            "ci_high": float(np.ravel(cis[name])[1]),
            "n_runs": min(a.shape[0], b.shape[0]),
            "n_tasks": a.shape[1],
        }
        for name, (a, b) in pairs.items()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def performance_profiles(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """Tidy score distributions: ``method, tau, fraction, ci_low, ci_high`` (tau ×100)."""
    cols = ["method", "tau", "fraction", "ci_low", "ci_high"]
    if not scores:
        return pd.DataFrame(columns=cols)
    matrices = {label: s.matrix() for label, s in scores.items()}

    def profile(x: np.ndarray) -> np.ndarray:
        return rly.score_distributions(x, TAUS)

    points, cis = _bootstrap(matrices, profile, reps, seed)
    frames = [
        pd.DataFrame(
            {
                "method": label,
                "tau": SCALE * TAUS,
                "fraction": points[label],
                "ci_low": cis[label][0],
                "ci_high": cis[label][1],
            }
        )
        for label in matrices
    ]
    return pd.concat(frames, ignore_index=True)[cols]


def aggregate_table(runs: pd.DataFrame, reps: int = DEFAULT_REPS, seed: int = 0) -> pd.DataFrame:
    """The tidy ``aggregate.csv``: interval estimates, then probabilities of improvement."""
    return scores_table(column_scores(runs), reps, seed)


def scores_table(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """:func:`aggregate_table` from the columns' scores (:func:`column_scores`)."""
    parts = [interval_estimates(scores, reps, seed), improvement_probabilities(scores, reps, seed)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def read_aggregate(path: str | Path, labels: list[str]) -> pd.DataFrame:
    """``aggregate.csv`` (written by ``drol stats``) for the columns ``labels`` of the runs.

    The figure reuses its bootstrap rather than drawing it again; a file that does not match
    the runs (another grid, an older ``drol stats``) is a one-line error.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"--aggregate {path}: no such file (make it with drol stats)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"--aggregate {path}: not a CSV ({err})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"--aggregate {path}: missing columns {missing}; rerun drol stats")
    est = table[table["statistic"] != IMPROVEMENT]
    have = set(est["method"])
    if set(labels) != have or set(est["statistic"]) != set(METRICS):
        raise UserError(
            f"--aggregate {path}: its columns {sorted(have)} are not the runs' {sorted(labels)}"
            "; rerun drol stats on the same runs"
        )
    return table


# ------------------------------------------------------------------------------ writing

AGGREGATE_CAPTION = (
    "Aggregate performance of each reproduced column over all its runs (success rate ×100): "
    "interquartile mean (IQM), mean, median and optimality gap (100 - mean of min(score, 100); "
    "lower is better), with 95% stratified-bootstrap confidence intervals (rliable; seeds are "
    "the runs, tasks the strata). Below: the probability that a run of X beats a run of Y on "
    "the same task (averaged over their common tasks, leaving out tasks on which X and Y are "
    "the same runs), with its 95% CI."
)


def _ci(estimate: float, low: float, high: float, digits: int) -> str:
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def aggregate_layout(table: pd.DataFrame, reps: int, notes: list[str] | None = None) -> dict:
    """Rows of the two tables (interval estimates; probabilities of improvement) as text;
    ``notes``: the pairs left out or cut (:func:`improvement_pairs`)."""
    est = table[table["statistic"] != IMPROVEMENT]
    rows = []
    for method, g in est.groupby("method", sort=False):
        g = g.set_index("statistic")
        rows.append(
            {
                "method": method,
                "cells": [
                    _ci(g.at[m, "estimate"], g.at[m, "ci_low"], g.at[m, "ci_high"], 1)
                    for m in METRICS
                ],
                "size": f"{int(g['n_runs'].iloc[0])} × {int(g['n_tasks'].iloc[0])}",
            }
        )
    poi = [
        {
            "pair": r.method,
            "cell": _ci(r.estimate, r.ci_low, r.ci_high, 2),
            "size": f"{int(r.n_runs)} × {int(r.n_tasks)}",
        }
        for r in table[table["statistic"] == IMPROVEMENT].itertuples(index=False)
    ]
    return {
        "title": "Aggregate statistics (rliable)",
        "caption": AGGREGATE_CAPTION + f" {reps} bootstrap replicates.",
        "metrics": list(METRICS),
        "rows": rows,
        "poi": poi,
        "notes": list(notes or []),
    }


def write_aggregate(
    runs: pd.DataFrame, out_dir: str | Path, reps: int = DEFAULT_REPS, seed: int = 0
) -> dict[str, Path]:
    """Write ``aggregate.{csv,md,tex,html}`` into ``out_dir``; return the paths."""
    from drol.report.tables import render  # the tables' jinja2 environment and filters

    out = ensure_writable_dir(out_dir, "--out")  # before the bootstrap, not after
    scores = column_scores(runs)
    table = scores_table(scores, reps, seed)
    written = {"aggregate.csv": out / "aggregate.csv"}
    atomic_write_text(written["aggregate.csv"], table.to_csv(index=False, float_format="%.4g"))
    lay = aggregate_layout(table, reps, improvement_pairs(scores)[1])
    for fmt in ("md", "tex", "html"):
        path = out / f"aggregate.{fmt}"
        atomic_write_text(path, render(lay, fmt, template="aggregate"))
        written[path.name] = path
    return written
