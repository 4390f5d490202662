"""Collect run directories (docs/run_format.md) into tidy tables.

* :func:`collect_runs` walks ``results/runs/{task}/{method}/K{K}/seed{seed}/`` and, given a
  manifest of the runs the workflow expects, lists every expected run with its status
  (``done``, ``failed``, ``running``, ``missing``): nothing is dropped silently.
* :func:`task_summary` gives the per-task mean ± std over seeds of each table column
  (:func:`drol.grid.columns`, or ``DROL(K=k)`` for sweep-only runs), one row per
  (label, method, K).
* :func:`family_summary` gives the per-family mean over its tasks of a per-task table;
  :func:`family_seed_summary` the same from runs over one seed set, with the std over seeds
  of the family mean and the seeds it leaves out.

± is the sample std over seeds (:mod:`drol.report.numbers`: ddof 1, NaN for one seed).

A *manifest* is a CSV with columns ``label, task, method, K, seed`` (optionally ``run_dir``);
one run may carry several labels (DROL(16) and DROL* share the run when K* = 16). A table
column is one (method, K) per task: a label that resolves to more than one on a task (two K
of ``drol_static``, ``drol`` and ``drol+script`` both at K = 16 without a manifest) is refused
in one line by :func:`refuse_ambiguous_labels`; only the ``K-sweep`` spans several K.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from drol import physics
from drol.agents.registry import method_names
from drol.errors import UnknownTaskError, UserError
from drol.grid import DROL, KSWEEP_LABEL, columns, default_labels, discover_runs, run_dir
from drol.io import atomic_write_text
from drol.report.numbers import seed_std
from drol.tasks import parse_task
from drol.train.rundir import CONFIG, FAILED, SCORE, finished_score, path_mismatches, read_json

log = logging.getLogger(__name__)

RUN_COLUMNS = [
    "suite",
    "family",
    "task",
    "representative",
    "method",
    "K",
    "seed",
    "labels",
    "status",
    "score",
    "steps",
    "wall_clock_s",
    "train_steps_per_s",
    "protocol",
    "physics",
    "reason",
    "run_dir",
]


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest CSV (``label, task, method, K, seed``); every row is checked, and the
    first bad one is refused in one line naming its line number and the field."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise UserError(f"manifest {path}: unreadable ({err})") from None
    need = {"label", "task", "method", "K", "seed"}
    if missing := need - set(df.columns):
        raise UserError(f"manifest {path} lacks columns {sorted(missing)}")
    for i, r in enumerate(df.itertuples(index=False), start=2):  # line 1 is the header
        if problem := manifest_row_problem(r.label, r.method, r.K, r.seed):
            raise UserError(f"manifest {path} line {i}: {problem}")
    df["K"] = df["K"].astype(int)
    df["seed"] = df["seed"].astype(int)
    if clash := ambiguous_labels(df):
        raise UserError(
            f"manifest {path}: {clash}; a table column is one (method, K) per task: keep one"
        )
    return df


def manifest_row_problem(label: str, method: str, K: str, seed: str) -> str | None:
    """Why one manifest row cannot be a run of the grid (None when it can)."""
    if method not in method_names():
        return f"unknown method {method!r} (known: {', '.join(method_names())})"
    for name, value, lo in (("K", K, 1), ("seed", seed, 0)):
        text = str(value).strip()
        if not (text.isdigit() and int(text) >= lo):
            return f"{name}={value!r} is not an integer >= {lo}"
    owner = {c.label: c.method for c in columns()}
    if label in owner:
        if owner[label] != method:
            return f"label {label!r} is the column of method {owner[label]!r}, not {method!r}"
    elif not (label == KSWEEP_LABEL or _SWEEP_ONLY.fullmatch(label)) or method != DROL:
        known = ", ".join([*owner, KSWEEP_LABEL, "DROL(K=k)"])
        return f"unknown label {label!r} for method {method!r} (known: {known})"
    return None


_SWEEP_ONLY = re.compile(r"DROL\(K=\d+\)")


def write_manifest(rows: Iterable[dict], path: str | Path) -> None:
    """Write a manifest; ``rows`` are dicts with ``label, task, method, K, seed``."""
    df = pd.DataFrame(list(rows), columns=["label", "task", "method", "K", "seed"])
    df = df.drop_duplicates().sort_values(["task", "label", "method", "K", "seed"])
    atomic_write_text(path, df.to_csv(index=False))


def read_run(path: Path, key: tuple[str, str, int, int] | None = None) -> dict:
    """Status and score of one run directory (present or not).

    ``key`` is the run's ``(task, method, K, seed)`` as its path says. A finished run is
    counted only when :func:`~drol.train.rundir.finished_score` accepts it (files agree
    with the path and with each other, identity digests present, finite score); otherwise
    it is ``failed``, with the reason.
    """
    row: dict = {"status": "missing", "reason": "", "run_dir": str(path)}
    score_file, failed_file, config_file = path / SCORE, path / FAILED, path / CONFIG
    if score_file.is_file():
        try:
            score = finished_score(path, key)
        except UserError as err:
            row.update(status="failed", reason=str(err))
            return row
        row.update(
            status="done",
            score=score["score"],
            steps=score.get("steps"),
            wall_clock_s=score.get("wall_clock_s"),
            train_steps_per_s=score.get("train_steps_per_s"),
            protocol=score.get("protocol"),
            physics=physics.describe(score.get("physics")),
        )
        return row
    if config_file.is_file():
        try:
            recorded = read_json(config_file)
        except UserError as err:
            row.update(status="failed", reason=str(err))
            return row
        if key is not None and (bad := path_mismatches(recorded or {}, *key)):
            row.update(status="failed", reason=f"{config_file.name}: " + "; ".join(bad))
            return row
    if failed_file.is_file():
        lines = failed_file.read_text(errors="replace").strip().splitlines()
        row.update(status="failed", reason=lines[0] if lines else "FAILED")
    elif config_file.is_file():
        row.update(status="running", reason="no score.json yet")
    elif path.is_dir():
        row.update(status="missing", reason="empty run directory")
    else:
        row.update(reason="not run")
    return row


def collect_runs(runs_dir: str | Path, manifest: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per run: every run found under ``runs_dir`` plus every run the manifest expects."""
    root = Path(runs_dir)
    labels: dict[tuple[str, str, int, int], list[str]] = {}
    if manifest is not None:
        for r in manifest.itertuples(index=False):
            key = (r.task, r.method, int(r.K), int(r.seed))
            labels.setdefault(key, [])
            if r.label not in labels[key]:
                labels[key].append(r.label)
    discovered = discover_runs(root)
    for key in discovered:
        if key not in labels:
            labels[key] = [] if manifest is not None else default_labels(key[0], key[1], key[2])
    rows = []
    for (task, method, K, seed), labs in labels.items():
        try:
            t = parse_task(task)
            suite, family, rep = t.suite, t.family, t.representative
        except UnknownTaskError:
            suite, family, rep = "unknown", task, False
        row = {
            "suite": suite,
            "family": family,
            "task": task,
            "representative": rep,
            "method": method,
            "K": K,
            "seed": seed,
            "labels": ";".join(labs),
        }
        path = run_dir(root, task, method, K, seed)
        row.update(read_run(path, (task, method, K, seed)))
        if (outside := outside_root(path, root)) is not None:
            log.warning("%s: a link to %s, outside the runs root %s (counted)", path, outside, root)
            row["reason"] = "; ".join(
                filter(None, [row["reason"], f"links outside {root}: {outside}"])
            )
        rows.append(row)
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if not df.empty:
        df = df.sort_values(["suite", "family", "task", "method", "K", "seed"], kind="stable")
    refuse_mixed_physics(df)
    not_done = df[df["status"] != "done"]
    if len(not_done):
        log.warning("%d of %d runs are not done (missing/failed/running)", len(not_done), len(df))
    return df.reset_index(drop=True)


def stale_runs(runs_csv: str | Path) -> list[str]:
    """Run directories that ``runs_csv`` counts as done whose ``score.json`` is gone or holds
    another score than the one counted (an unreadable or foreign runs.csv counts none: the
    workflow rebuilds it anyway)."""
    try:
        runs = pd.read_csv(runs_csv, usecols=["status", "run_dir", "score"])
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return []
    stale = []
    for row in runs[runs["status"] == "done"].itertuples(index=False):
        try:
            score = json.loads((Path(str(row.run_dir)) / SCORE).read_text())["score"]
            same = math.isclose(float(score), float(row.score), rel_tol=1e-9, abs_tol=1e-9)
        except (OSError, ValueError, TypeError, KeyError, OverflowError):
            same = False
        if not same:
            stale.append(str(row.run_dir))
    return stale


def refuse_mixed_physics(runs: pd.DataFrame) -> None:
    """One line naming the task when its finished runs were evaluated under different
    simulator versions (runs of before the record, ``unrecorded``, are not compared; so is a
    runs table without a ``physics`` column, e.g. a runs.csv written before it existed)."""
    if "physics" not in runs.columns:
        return
    done = runs[(runs["status"] == "done") & (runs["physics"] != physics.describe(None))]
    for task, group in done.groupby("task", sort=True):
        seen = group.drop_duplicates("physics")
        if len(seen) > 1:
            shown = "; ".join(f"{r.physics} ({r.run_dir})" for r in seen.itertuples())
            raise UserError(
                f"{task}: runs evaluated under different physics ({shown}) cannot be compared; "
                "retrain them under one simulator (docs/physics.md)"
            )


def outside_root(path: Path, root: Path) -> Path | None:
    """Where ``path`` resolves when a symlink takes it outside ``root`` (None otherwise).

    Such a run is counted (its files pass the same identity checks as any other), with a
    warning and a note in its ``reason``: a linked run is a choice, but never a silent one."""
    if not path.exists():
        return None
    real, base = path.resolve(), root.resolve()
    return None if real.is_relative_to(base) else real


def explode_labels(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (label, run): a run shared by DROL(16) and DROL* appears under both."""
    df = runs.copy()
    df["label"] = df["labels"].fillna("").astype(str).str.split(";")
    df = df.explode("label")
    return df[df["label"] != ""].reset_index(drop=True)


CELL_KEYS = ["label", "task"]  # a table cell; it must resolve to one (method, K)
MAX_NAMED = 3  # cells named in a refusal; the count says how many more


def ambiguous_labels(labelled: pd.DataFrame) -> str:
    """'' when every (label, task) of ``labelled`` (rows with ``label, task, method, K``) is
    one (method, K), the ``K-sweep`` aside; else a phrase naming the cells that are not."""
    df = labelled[labelled["label"] != KSWEEP_LABEL]
    if df.empty:
        return ""
    pairs = pd.Series(list(zip(df["method"].astype(str), df["K"].astype(int), strict=True)))
    per_cell = pairs.groupby([df[k].to_numpy() for k in CELL_KEYS], sort=True).agg(
        lambda c: sorted(set(c))
    )
    clashes = per_cell[per_cell.map(len) > 1]
    if clashes.empty:
        return ""
    named = [
        f"{lab} on {task} is " + " and ".join(f"{m}/K{k}" for m, k in c)
        for (lab, task), c in clashes.items()
    ]
    more = len(named) - MAX_NAMED
    return "; ".join(named[:MAX_NAMED]) + (f" (and {more} more cells)" if more > 0 else "")


def refuse_ambiguous_labels(runs: pd.DataFrame) -> None:
    """One line naming the table cells (label, task) whose runs are more than one
    (method, K): their scores are never pooled into one cell, nor split between outputs."""
    clash = ambiguous_labels(explode_labels(runs))
    if clash:
        raise UserError(
            f"{clash}: one table cell must be one (method, K); pass --manifest (the "
            "workflow's results/tables/manifest.csv) to say which runs fill the column, "
            "or move the other runs out of --runs"
        )


def not_done(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are missing, failed or unfinished, for the tables' footnotes."""
    cols = ["task", "method", "K", "seed", "labels", "status", "reason", "run_dir"]
    return runs.loc[runs["status"] != "done", cols].reset_index(drop=True)


def task_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (label, task, method, K): mean and sample std (ddof 1, NaN for one seed) over
    done seeds, ``n_seeds``, ``n_expected``. The ``K-sweep`` gets one row per (method, K);
    any other label must be one (method, K) per task (:func:`refuse_ambiguous_labels`)."""
    refuse_ambiguous_labels(runs)
    df = explode_labels(runs)
    cols = ["suite", "family", "task", "representative", "label", "method", "K"]
    out = []
    for key, g in df.groupby(cols, sort=False):
        done = g[g["status"] == "done"]
        scores = done["score"].astype(float).to_numpy()
        out.append(
            dict(
                zip(cols, key, strict=True),
                K=int(key[-1]),
                mean=float(np.mean(scores)) if len(scores) else np.nan,
                std=seed_std(scores),
                n_seeds=len(scores),
                n_expected=len(g),
            )
        )
    return pd.DataFrame(out, columns=cols + ["mean", "std", "n_seeds", "n_expected"]).reset_index(
        drop=True
    )


def family_summary(tasks: pd.DataFrame, family_size: dict[str, int] | None = None) -> pd.DataFrame:
    """Per (label, family): mean of task means, mean of task stds, min seeds, tasks counted."""
    out = []
    for (suite, family, label), g in tasks.groupby(["suite", "family", "label"], sort=False):
        ok = g.dropna(subset=["mean"])
        out.append(
            {
                "suite": suite,
                "family": family,
                "label": label,
                "mean": float(ok["mean"].mean()) if len(ok) else np.nan,
                "std": float(ok["std"].mean()) if len(ok) else np.nan,
                "n_seeds": float(ok["n_seeds"].min()) if len(ok) else 0.0,
                "n_tasks": len(ok),
                "n_tasks_expected": (family_size or {}).get(family, len(g)),
            }
        )
    return pd.DataFrame(out)


def family_seed_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (label, family) of our runs, over one seed set: the ``n_seeds`` seeds with a done
    run on every counted task (``n_tasks`` tasks with a done run, named in ``tasks``).
    ``mean`` = the mean over those seeds of the per-seed family mean (= the mean of the task
    means over them, the paper's family number); ``std`` = its sample std (ddof 1) over those
    seeds. ``seeds_left_out`` maps each other seed to the counted tasks it has no run on (the
    tables footnote them). Tasks with no seed in common leave the cell empty (``n_seeds`` 0).
    Each label is one (method, K) per task (:func:`refuse_ambiguous_labels`)."""
    refuse_ambiguous_labels(runs)
    df = explode_labels(runs)
    out = []
    for (suite, family, label), g in df.groupby(["suite", "family", "label"], sort=False):
        done = g[g["status"] == "done"]
        scores = done.pivot_table(index="seed", columns="task", values="score", aggfunc="mean")
        per_seed = scores.dropna().mean(axis=1)  # seeds present in every task
        left_out = seeds_left_out(scores)
        if left_out:
            log.info(
                "%s %s: %d of %d seeds have a run on every task; the family cell uses those",
                label,
                family,
                len(per_seed),
                len(scores),
            )
        out.append(
            {
                "suite": suite,
                "family": family,
                "label": label,
                "mean": float(per_seed.mean()) if len(per_seed) else np.nan,
                "std": seed_std(per_seed),
                "n_seeds": len(per_seed),
                "n_tasks": scores.shape[1],
                "tasks": tuple(scores.columns),
                "seeds_left_out": left_out,
            }
        )
    cols = [
        "suite",
        "family",
        "label",
        "mean",
        "std",
        "n_seeds",
        "n_tasks",
        "tasks",
        "seeds_left_out",
    ]
    return pd.DataFrame(out, columns=cols)


def seeds_left_out(scores: pd.DataFrame) -> dict[int, tuple[str, ...]]:
    """Seeds of a ``seed x task`` score pivot that lack a run on some task, with those tasks."""
    missing = scores.isna()
    return {
        int(seed): tuple(str(t) for t in scores.columns[row.to_numpy()])
        for seed, row in missing.iterrows()
        if row.any()
    }


EVAL_NEED = ("step", "success")


def read_eval(path: Path) -> pd.DataFrame:
    """``step, success`` of a run's eval.csv: a one-line :class:`UserError` naming the file
    when it is not a readable CSV with those columns; a warning naming it when rows are
    incomplete (a file cut mid-row: its last, unterminated row is dropped) or non-numeric."""
    try:
        raw = path.read_bytes()
        ev = pd.read_csv(path) if raw.strip() else pd.DataFrame(columns=list(EVAL_NEED))
    except (UnicodeDecodeError, ValueError) as err:
        reason = " ".join(str(err).split())[:120]
        raise UserError(f"{path}: not a readable eval.csv ({reason})") from None
    missing = [c for c in EVAL_NEED if c not in ev.columns]
    if missing:
        raise UserError(f"{path}: no {missing} column (not a drol eval.csv)")
    dropped = 0
    if raw and not raw.endswith(b"\n") and len(ev):
        ev, dropped = ev.iloc[:-1], 1
    num = ev[list(EVAL_NEED)].apply(pd.to_numeric, errors="coerce")
    bad = num.isna().any(axis=1) | ev.isna().any(axis=1)
    dropped += int(bad.sum())
    if dropped:
        log.warning(
            "%s: %d incomplete or non-numeric row(s) ignored (a truncated file?)", path, dropped
        )
    return num[~bad].reset_index(drop=True)


def learning_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Tidy eval curves: ``task, label, method, K, seed, step, success`` (×100) of every run."""
    frames = []
    for r in explode_labels(runs).itertuples(index=False):
        path = Path(r.run_dir) / "eval.csv"
        if not path.is_file():
            if r.status == "done":  # the tables count it: its curve must not vanish silently
                raise UserError(
                    f"{path}: missing, but the run is counted as done (its score.json is "
                    "there); restore eval.csv, or move the run away and train it again"
                )
            continue
        ev = read_eval(path)
        if ev.empty:
            continue
        per_eval = ev.groupby("step", as_index=False)["success"].mean()
        per_eval["success"] *= 100.0
        per_eval = per_eval.assign(task=r.task, label=r.label, method=r.method, K=r.K, seed=r.seed)
        frames.append(per_eval)
    cols = ["task", "label", "method", "K", "seed", "step", "success"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def train_metric_summary(
    runs: pd.DataFrame, metrics: Iterable[str], last_frac: float = 0.2
) -> pd.DataFrame:
    """Per done drol run: the mean of each train.csv metric over the last ``last_frac`` of logs."""
    metrics = list(metrics)
    rows = []
    for r in runs[(runs["status"] == "done") & (runs["method"] == "drol")].itertuples(index=False):
        path = Path(r.run_dir) / "train.csv"
        if not path.is_file():
            continue
        try:
            tr = pd.read_csv(path)
        except (UnicodeDecodeError, ValueError) as err:  # ParserError is a ValueError
            reason = " ".join(str(err).split())[:120]
            raise UserError(f"{path}: not a readable train.csv ({reason})") from None
        if tr.empty:
            continue
        tail = tr.iloc[-max(1, int(np.ceil(len(tr) * last_frac))) :]
        row = {"task": r.task, "family": r.family, "K": r.K, "seed": r.seed}
        for m in metrics:
            row[m] = float(pd.to_numeric(tail[m], errors="coerce").mean()) if m in tail else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["task", "family", "K", "seed", *metrics])
