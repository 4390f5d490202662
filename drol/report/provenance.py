"""Where a reproduced cell's settings come from, for the tables.

* ``unverified_settings``: the settings of the cell's (method, task) whose value is
  ``unverified`` (``drol hparams``; ``;``-separated; empty when every value has a source).
  A family cell (Table 1) lists those of any of its tasks.
* ``unmatched``: why the cell's settings cannot be those that made the paper's number (the
  D4RL BC/IQL/ReBRAC cells: differences from CORL's recorded settings,
  :func:`drol.agents.corl_settings.differences`); such a cell gets no verdict.

Both come from the resolved defaults of the column's method on the task (with the default
choices of config/paper_discrepancies.yaml included), not from a run's ``--set`` overrides.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from drol.agents.corl_settings import differences
from drol.agents.discrepancies import Choices
from drol.agents.settings import unverified_keys
from drol.errors import UserError
from drol.grid import columns
from drol.tasks import D4RL_FAMILIES, parse_task

MARK = "†"  # a cell whose settings include an unverified value
UNMATCHED_MARK = "‡"  # a cell whose settings differ from those behind the paper's number
FOOTNOTE = (
    f"{MARK}: the settings of this reproduced cell include a value not traced to a primary "
    f"source (docs/hyperparameters.md, `drol hparams`). {UNMATCHED_MARK}: its settings differ "
    "from those that made the paper's number (column unmatched_settings of the CSV); no "
    "verdict. Where the paper disagrees with itself or with its code, "
    "docs/paper_discrepancies.md gives the option the grid follows."
)


def marks(unverified: str, unmatched_reason: str) -> str:
    """The note of a reproduced cell: † and/or ‡."""
    return (MARK if unverified else "") + (UNMATCHED_MARK if unmatched_reason else "")


@lru_cache(maxsize=4096)
def column_method(label: str, task: str) -> str | None:
    """The method a column trains on ``task`` (None for a label that is no column)."""
    for column in columns():
        if column.label == label:
            return Choices.of().column_method(column.key, task, column.method)
    return None


def _tasks(key: str, by: str) -> list[str]:
    if by == "task":
        return [key]
    if key in D4RL_FAMILIES:
        return list(D4RL_FAMILIES[key])
    return [f"{key}-singletask-task{i}-v0" for i in range(1, 6)]


@lru_cache(maxsize=4096)
def unverified_settings(label: str, key: str, by: str = "task") -> str:
    """The unverified setting names of a cell (``by``: 'task' or 'family')."""
    out: list[str] = []
    for task in _tasks(key, by):
        method = column_method(label, task)
        if method is None:
            return ""
        try:
            parse_task(task)
            names = unverified_keys(method, task)
        except (UserError, KeyError):
            return ""
        out += [n for n in names if n not in out]
    return ";".join(out)


@lru_cache(maxsize=4096)
def unmatched(label: str, key: str, by: str = "task") -> str:
    """Why the cell's settings differ from those that made the paper's number ('' if not)."""
    for task in _tasks(key, by):
        method = column_method(label, task)
        if method is None:
            return ""
        found = differences(method, task)
        if found:
            return f"{task}: " + "; ".join(found)
    return ""


def annotate(df: pd.DataFrame, by: str, reproduced: str) -> pd.DataFrame:
    """Add ``unverified_settings`` and ``unmatched_settings`` to a long table's rows
    (reproduced rows only) and clear the verdict of cells whose settings cannot be matched."""
    df = df.copy()
    rows = list(zip(df["method"], df[by], df["source"] == reproduced, strict=True))
    df["unverified_settings"] = [unverified_settings(m, k, by) if r else "" for m, k, r in rows]
    df["unmatched_settings"] = [unmatched(m, k, by) if r else "" for m, k, r in rows]
    cut = (df["unmatched_settings"] != "").tolist()
    if "verdict" in df:
        df.loc[cut, "verdict"] = ""
        df.loc[cut, "p_value"] = float("nan")
    return df
