"""The paper's numbers our cells are tested against, derived like for like from its Table 4.

Table 1's printed ± is not one kind of number: for the baselines it is the std of the family
mean, sqrt(sum of the per-task sigma^2) / N from Table 4, for DROL(16) and DROL* mostly the
*mean* of the per-task sigmas (about twice as large). Our family ± is the std over seeds of
the family mean. So a family cell of ours over the tasks ``T`` (the ``k`` tasks with runs) is
tested against the paper's Table 4 over the same tasks:

* mean = the mean over ``T`` of the paper's per-task means;
* ± = sqrt(sum over ``T`` of sigma_t^2) / k, the std of that mean over seeds when the tasks'
  seeds are independent: the same kind of number as ours.

A cell is untested (NaN reference) where Table 4 lacks a per-task mean or ± for any task of
``T`` (D4RL's BC, IQL and ReBRAC cells, copied from other papers without ±). Table 1 still
prints the paper's numbers as printed.

:func:`unexplained_drol_tasks` lists the tasks whose reported DROL* cell differs from DROL(16)
although the paper's Table 3 sets K* = 16 there (the two columns would be the same runs):
the tables' captions point to ``docs/paper_discrepancies.md`` for them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from drol.errors import UnknownTaskError, UserError
from drol.grid import LABEL_DROL16, LABEL_DROL_STAR, table3_kstar
from drol.tasks import parse_task

log = logging.getLogger(__name__)

DISCREPANCIES_DOC = "docs/paper_discrepancies.md"
DEFAULT_K = 16  # the K of the paper's DROL(16) column


def family_reference(
    table4: pd.DataFrame, method: str, tasks: Iterable[str]
) -> tuple[float, float]:
    """``(mean, std)`` of the paper's ``method`` over ``tasks`` from its Table 4 (the long
    frame of :func:`drol.report.tables.read_reported`); NaNs where a task lacks either."""
    tasks = list(tasks)
    rows = table4[table4["method"] == method].drop_duplicates("task").set_index("task")
    if not tasks or any(t not in rows.index for t in tasks):
        return math.nan, math.nan
    means = rows.loc[tasks, "mean"].astype(float).to_numpy()
    stds = rows.loc[tasks, "std"].astype(float).to_numpy()
    if np.isnan(means).any() or np.isnan(stds).any():
        return math.nan, math.nan
    k = len(tasks)
    return float(means.mean()), float(math.sqrt(float(np.sum(stds**2))) / k)


def attach_family_reference(families: pd.DataFrame, table4: pd.DataFrame) -> pd.DataFrame:
    """``families`` (rows with ``method`` and ``tasks``, our family cells) with the paper's
    like-for-like ``paper_mean`` and ``paper_std`` over each row's own tasks."""
    refs = [family_reference(table4, r.method, r.tasks) for r in families.itertuples(index=False)]
    out = families.copy()
    out["paper_mean"] = [m for m, _ in refs] if refs else pd.Series(dtype=float)
    out["paper_std"] = [s for _, s in refs] if refs else pd.Series(dtype=float)
    return out


def unexplained_drol_tasks(table4: pd.DataFrame) -> list[str]:
    """Tasks (in table order) where the paper's DROL* differs from its DROL(16) although its
    Table 3 gives K* = 16, i.e. DROL* should be the DROL(16) runs."""
    cells = table4.pivot_table(index="task", columns="method", values="mean", sort=False)
    if LABEL_DROL16 not in cells or LABEL_DROL_STAR not in cells:
        return []
    out = []
    for task, row in cells.iterrows():
        try:
            kstar = table3_kstar(str(task))
        except (UnknownTaskError, UserError, KeyError):
            continue
        a, b = row[LABEL_DROL16], row[LABEL_DROL_STAR]
        if kstar == DEFAULT_K and not (pd.isna(a) or pd.isna(b)) and a != b:
            out.append(str(task))
    return out


def discrepancy_note(tasks: list[str], per_family: bool) -> str:
    """The caption sentence for :func:`unexplained_drol_tasks` ('' when there are none)."""
    if not tasks:
        return ""
    families = list(dict.fromkeys(_family_name(t) for t in tasks))
    where = (
        f"in {len(families)} families ({', '.join(families)})"
        if per_family
        else f"on {len(tasks)} tasks (in {', '.join(families)})"
    )
    return (
        f" The paper's DROL* cells differ from its DROL(16) cells {where} although its "
        f"Table 3 sets K* = {DEFAULT_K} there, so they come from runs Table 3 does not "
        f"explain: see {DISCREPANCIES_DOC}."
    )


def _family_name(task: str) -> str:
    t = parse_task(task)
    if t.suite == "ogbench":
        return t.family.removesuffix("-navigate").removesuffix("-play")
    return f"D4RL {t.family}"
