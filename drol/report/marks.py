"""Bold and underline of the tables' cells: the paper's rule, and the paper's own marks.

The paper bolds a cell whose mean is at least 0.95x the best of its row and underlines a bold
cell of a *one-step* method (its Table 1 groups; the agent classes' ``paper_group``).

* Reported cells show the paper's printed marks exactly (the ``bold``/``underline`` columns of
  ``config/table4_reported.csv`` and ``config/table1_reported.csv``); a reported file without
  them gets the rule applied over the reported cells alone (what the paper would print).
* Reproduced cells are bold by the rule against the best of the whole row (reported and
  reproduced cells), and underlined when bold and their method is one of the paper's
  one-step methods (the registry's ``paper_group``; not an ablation of ours).
* A cell that is not comparable with its row (a Table 1 family mean over k < N tasks) is
  neither marked nor counted in the row's best: the caller passes ``comparable``.

Means are compared as printed (:func:`drol.report.numbers.printed`: integers at 10 or more,
one decimal below), as the paper does: 65 vs 0.95 x 68 = 64.6; 2.5 vs 0.95 x 2.6 = 2.47.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drol.agents.registry import get_method
from drol.grid import columns
from drol.report.numbers import printed

BOLD_FRACTION = 0.95
ONE_STEP = "one-step"  # the registry's paper_group of the paper's one-step methods


def one_step_labels() -> tuple[str, ...]:
    """The columns whose method is one of the paper's one-step methods, in display order:
    the paper's columns of that name (reported cells) and ours (reproduced cells)."""
    return tuple(c.label for c in columns() if get_method(c.method).paper_group == ONE_STEP)


def _rule(df: pd.DataFrame, row_key: list[str], among: pd.Series) -> pd.Series:
    """Bold by the 0.95x rule against the best printed mean of the rows in ``among``."""
    shown = df["mean"].astype(float).map(printed)
    best = shown.where(among).groupby([df[k] for k in row_key], sort=False).transform("max")
    return shown.notna() & best.notna() & (shown >= BOLD_FRACTION * best - 1e-9)


def mark_best(
    df: pd.DataFrame,
    row_key: list[str],
    reported: str = "reported",
    reproduced: str = "reproduced",
    comparable: pd.Series | None = None,
) -> pd.DataFrame:
    """``df`` (a long table) with ``bold`` and ``underline`` (0/1) per row of ``row_key``.

    ``comparable`` (default: every cell) marks the cells that may be ranked against their
    row; the others get no mark and do not count towards the row's best."""
    df = df.copy()
    ok = np.ones(len(df), bool) if comparable is None else comparable.to_numpy(bool)
    is_reported = (df["source"] == reported).to_numpy()
    ours = (df["source"] == reproduced).to_numpy() & ok
    nan = pd.Series(np.nan, index=df.index)
    printed_bold = pd.to_numeric(df.get("bold", nan), errors="coerce")
    printed_under = pd.to_numeric(df.get("underline", nan), errors="coerce")
    has_printed = is_reported & printed_bold.notna().to_numpy() & printed_under.notna().to_numpy()

    paper_rule = _rule(df, row_key, pd.Series(is_reported, index=df.index)).to_numpy()
    one_step = df["method"].isin(one_step_labels()).to_numpy()
    paper_under = paper_rule & one_step
    whole_row = _rule(df, row_key, pd.Series(ok, index=df.index)).to_numpy()
    ours_under = whole_row & one_step

    bold = np.where(has_printed, printed_bold.fillna(0).to_numpy() == 1, paper_rule)
    under = np.where(has_printed, printed_under.fillna(0).to_numpy() == 1, paper_under)
    df["bold"] = np.where(is_reported, bold, whole_row & ours).astype(int)
    df["underline"] = np.where(is_reported, under, ours_under & ours).astype(int)
    return df
