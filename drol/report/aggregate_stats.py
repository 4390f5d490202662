"""Aggregate statistics over all reproduced runs, with ``rliable`` (Agarwal et al., 2021).

Seeds are the runs and tasks the strata: each table column (:func:`drol.grid.column_labels`)
holds, per task, the normalised scores of its runs (success rate in [0, 1]), and a stratified
bootstrap (runs resampled within each task) gives 95% confidence intervals of

* IQM, mean, median and optimality gap (:data:`METRICS`), reported ×100 like the tables;
* the probability of improvement of DROL(16) and DROL* over every other reproduced column,
  on the tasks both have with different runs: a pair that shares its runs on every common
  task (DROL(16) and DROL* when K* = 16) is omitted with a note (:func:`improvement_pairs`),
  never reported as a column beating itself half the time;
* the performance profile (fraction of runs with a score above tau).

Every run is used. With the same seed count on every task the scores are a ``runs x tasks``
matrix and rliable computes everything. With unequal counts (ragged seeds) no run is cut:
:func:`within_task_bootstrap` resamples each task's own runs (numpy, seeded), and
:func:`ragged_metrics` are rliable's statistics read on ragged data (they equal rliable's on
a matrix): IQM = the 25% trimmed mean over all runs (a task with more seeds weighs more),
mean and median over the per-task means (as the tables), optimality gap = 1 - the mean over
tasks of the per-task mean of min(score, 1). ``n_runs`` counts the runs used and
``seeds_per_task`` gives their spread over tasks. An interval of zero width is marked
``degenerate`` (``note``): the runs are too few to show any uncertainty, not proof of none.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from rliable import library as rly
from rliable import metrics

from drol.data.seeding import global_numpy_seeded
from drol.errors import UserError
from drol.grid import LABEL_DROL16, LABEL_DROL_STAR, column_labels
from drol.io import atomic_write_text, ensure_writable_dir
from drol.report.aggregate import explode_labels, refuse_ambiguous_labels
from drol.report.numbers import STD_RULE, csv_text

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
CONFIDENCE = 0.95
TAUS = np.linspace(0.0, 1.0, 41)
COLUMNS = [
    "statistic",
    "method",
    "estimate",
    "ci_low",
    "ci_high",
    "n_runs",
    "n_tasks",
    "seeds_per_task",
    "note",
]
DEGENERATE = "degenerate: zero width"


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

    def per_task(self, tasks: Sequence[str] | None = None) -> list[np.ndarray]:
        """Every run's score, one array per task of ``tasks`` (default: all of them)."""
        return [self.by_task[t] for t in (list(self.by_task) if tasks is None else tasks)]


def seed_counts_text(per_task: Sequence[np.ndarray]) -> str:
    """'3' when every task has 3 runs, '1-5' when they range from 1 to 5."""
    counts = [len(x) for x in per_task]
    lo, hi = min(counts), max(counts)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def is_rectangular(*columns: Sequence[np.ndarray]) -> bool:
    """Whether each column has one seed count on all its tasks (a ``runs x tasks`` matrix)."""
    return all(len({len(x) for x in col}) == 1 for col in columns)


def degenerate(low: float, high: float) -> bool:
    """Whether a confidence interval has zero width."""
    return abs(high - low) <= 1e-9 * max(1.0, abs(high))


def column_scores(runs: pd.DataFrame) -> dict[str, ColumnScores]:
    """The done runs of every table column that has any, in the tables' column order; each
    column one (method, K) per task (:func:`~drol.report.aggregate.refuse_ambiguous_labels`)."""
    refuse_ambiguous_labels(runs)
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
        out[label] = ColumnScores(label, by_task, run_ids)
    return out


# ------------------------------------------------------------------ ragged seeds


def ragged_metrics(samples: Sequence[np.ndarray]) -> np.ndarray:
    """IQM, mean, median, optimality gap of ``samples`` (one ``(R, n_t)`` array per task: R
    replicates of the task's n_t runs) as ``(R, 4)``; rliable's values on equal n_t."""
    pooled = np.concatenate(samples, axis=1)
    task_means = np.stack([x.mean(axis=1) for x in samples], axis=1)
    clipped = np.stack([np.minimum(x, 1.0).mean(axis=1) for x in samples], axis=1)
    return np.stack(
        [
            scipy.stats.trim_mean(pooled, proportiontocut=0.25, axis=1),
            task_means.mean(axis=1),
            np.median(task_means, axis=1),
            1.0 - clipped.mean(axis=1),
        ],
        axis=1,
    )


def ragged_improvement(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> np.ndarray:
    """P(X > Y) per replicate as ``(R, 1)``: per task the share of (x, y) run pairs with
    x > y (ties count half, rliable's Mann-Whitney form), averaged over tasks."""
    per_task = [
        (x[:, :, None] > y[:, None, :]).mean(axis=(1, 2))
        + 0.5 * (x[:, :, None] == y[:, None, :]).mean(axis=(1, 2))
        for x, y in zip(xs, ys, strict=True)
    ]
    return np.stack(per_task, axis=1).mean(axis=1, keepdims=True)


def ragged_profile(samples: Sequence[np.ndarray]) -> np.ndarray:
    """Fraction of all runs with a score above each of :data:`TAUS`, as ``(R, len(TAUS))``."""
    pooled = np.concatenate(samples, axis=1)
    return (pooled[:, :, None] > TAUS[None, None, :]).mean(axis=1)


def within_task_bootstrap(
    columns: Sequence[Sequence[np.ndarray]],
    stat: Callable[..., np.ndarray],
    reps: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Point estimate ``(k,)`` and percentile 95% CI ``(2, k)`` of ``stat`` when every task's
    runs are resampled with replacement within the task, each column independently (the
    stratified bootstrap of rliable, for any seed counts). ``columns``: one list of per-task
    score arrays per argument of ``stat``, which maps lists of ``(R, n_t)`` arrays to
    ``(R, k)``."""
    rng = np.random.default_rng(seed)
    point = stat(*[[x[None, :] for x in col] for col in columns])[0]
    draws = [[x[rng.integers(0, len(x), size=(reps, len(x)))] for x in col] for col in columns]
    tail = 100.0 * (1.0 - CONFIDENCE) / 2.0
    ci = np.percentile(stat(*draws), [tail, 100.0 - tail], axis=0)
    return point, ci


@contextmanager
def _seeded(seed: int) -> Iterator[np.random.RandomState]:
    """A seeded RandomState, and numpy's global one seeded too (rliable's independent
    bootstrap draws from it) and restored afterwards."""
    with global_numpy_seeded(seed), warnings.catch_warnings():
        # arch: "random_state is deprecated" (rliable passes it)
        warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
        yield np.random.RandomState(seed)


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


def _all_metrics(x: np.ndarray) -> np.ndarray:
    """rliable's :data:`METRICS` of a ``runs x tasks`` matrix."""
    return np.array([f(x) for f in METRICS.values()])


def column_estimates(
    column: ColumnScores, reps: int = DEFAULT_REPS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """:data:`METRICS` of one column (``(4,)``) and their 95% CIs (``(2, 4)``) on [0, 1], from
    every run: rliable on a matrix, :func:`within_task_bootstrap` on ragged seeds."""
    per_task = column.per_task()
    if is_rectangular(per_task):
        points, cis = _bootstrap(
            {column.label: np.stack(per_task, axis=1)}, _all_metrics, reps, seed
        )
        return np.asarray(points[column.label]), np.asarray(cis[column.label])
    return within_task_bootstrap([per_task], ragged_metrics, reps, seed)


def _row(statistic: str, method: str, point: float, low: float, high: float, **size) -> dict:
    """One row of ``aggregate.csv`` (×100 unless a probability), zero width marked."""
    scale = 1.0 if statistic == IMPROVEMENT else SCALE
    return {
        "statistic": statistic,
        "method": method,
        "estimate": scale * float(point),
        "ci_low": scale * float(low),
        "ci_high": scale * float(high),
        **size,
        "note": DEGENERATE if degenerate(low, high) else "",
    }


def interval_estimates(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """IQM, mean, median, optimality gap per column with 95% stratified-bootstrap CIs (×100),
    over every run of the column."""
    rows = []
    for label, column in scores.items():
        points, cis = column_estimates(column, reps, seed)
        per_task = column.per_task()
        size = {
            "n_runs": sum(len(x) for x in per_task),
            "n_tasks": len(per_task),
            "seeds_per_task": seed_counts_text(per_task),
        }
        for i, name in enumerate(METRICS):
            rows.append(_row(name, label, points[i], cis[0, i], cis[1, i], **size))
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


def improvement(
    xs: list[np.ndarray], ys: list[np.ndarray], reps: int, seed: int
) -> tuple[float, np.ndarray]:
    """P(X > Y) over the tasks of ``xs``/``ys`` (per-task scores) and its 95% CI, from every
    run: rliable's independent stratified bootstrap on matrices, else within tasks."""
    if is_rectangular(xs, ys):
        pair = (np.stack(xs, axis=1), np.stack(ys, axis=1))
        points, cis = _bootstrap({"pair": pair}, metrics.probability_of_improvement, reps, seed)
        return float(points["pair"]), np.ravel(cis["pair"])
    point, ci = within_task_bootstrap([xs, ys], ragged_improvement, reps, seed)
    return float(point[0]), np.ravel(ci)


def improvement_probabilities(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """P(X > Y) of DROL(16) and DROL* (X) over every other column (Y), on their common tasks
    with different runs (:func:`improvement_pairs`), from every run there."""
    rows = []
    for name, tasks in improvement_pairs(scores)[0].items():
        x, y = name.split(" > ")
        xs, ys = scores[x].per_task(tasks), scores[y].per_task(tasks)
        point, ci = improvement(xs, ys, reps, seed)
        size = {
            "n_runs": sum(len(a) for a in xs) + sum(len(b) for b in ys),
            "n_tasks": len(tasks),
            "seeds_per_task": f"{seed_counts_text(xs)} vs {seed_counts_text(ys)}",
        }
        rows.append(_row(IMPROVEMENT, name, point, ci[0], ci[1], **size))
    return pd.DataFrame(rows, columns=COLUMNS)


def performance_profiles(
    scores: dict[str, ColumnScores], reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """Tidy score distributions: ``method, tau, fraction, ci_low, ci_high`` (tau ×100), over
    every run of each column."""
    cols = ["method", "tau", "fraction", "ci_low", "ci_high"]
    if not scores:
        return pd.DataFrame(columns=cols)

    def profile(x: np.ndarray) -> np.ndarray:
        return rly.score_distributions(x, TAUS)

    frames = []
    for label, column in scores.items():
        per_task = column.per_task()
        if is_rectangular(per_task):
            points, cis = _bootstrap({label: np.stack(per_task, axis=1)}, profile, reps, seed)
            point, ci = points[label], cis[label]
        else:
            point, ci = within_task_bootstrap([per_task], ragged_profile, reps, seed)
        frames.append(
            pd.DataFrame(
                {
                    "method": label,
                    "tau": SCALE * TAUS,
                    "fraction": point,
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                }
            )
        )
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
    "the runs, tasks the strata). Every run is used: where tasks have unequal seed counts, "
    "each task's runs are resampled within the task, the IQM is over all runs (a task with "
    "more seeds weighs more) and the mean, median and optimality gap are over the per-task "
    "means, as in the tables. Below: the probability that a run of X beats a run of Y on the "
    "same task (averaged over their common tasks, leaving out tasks on which X and Y are the "
    "same runs), with its 95% CI. runs (tasks; seeds per task): the runs used. "
    f"({DEGENERATE}) marks an interval of zero width: every bootstrap resample gives the same "
    "value (e.g. every X run beats every Y run with 3 seeds each), so the runs are too few to "
    "show any uncertainty, not evidence of none. These are confidence intervals; in the "
    f"tables, {STD_RULE}."
)


def _ci(estimate: float, low: float, high: float, digits: int) -> str:
    """'1.00 [1.00, 1.00] (degenerate: zero width)' / '26.9 [20.0, 34.0]'."""
    text = f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return text + (f" ({DEGENERATE})" if degenerate(low, high) else "")


def _size(r) -> str:
    """'6 (2; 1-5)': the runs used, the tasks and the seeds per task."""
    return f"{int(r.n_runs)} ({int(r.n_tasks)}; {r.seeds_per_task})"


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
                "size": _size(next(g.itertuples())),
            }
        )
    poi = [
        {
            "pair": r.method,
            "cell": _ci(r.estimate, r.ci_low, r.ci_high, 2),
            "size": _size(r),
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
    atomic_write_text(written["aggregate.csv"], csv_text(table))  # full precision
    lay = aggregate_layout(table, reps, improvement_pairs(scores)[1])
    for fmt in ("md", "tex", "html"):
        path = out / f"aggregate.{fmt}"
        atomic_write_text(path, render(lay, fmt, template="aggregate"))
        written[path.name] = path
    return written
