"""Is a reproduced number consistent with the paper's? A Welch test per table cell.

For a cell with a reported ``mean ± std`` and at least two of our seeds, Welch's two-sample
t-test (unequal variances) is computed from the summary statistics alone: the paper's mean,
std and seed count against ours. At ``alpha`` (0.05) a significant difference makes the cell
``higher`` or ``lower``; otherwise it is ``consistent``.

* The paper follows FQL's protocol, whose paper (Park, Li & Levine, "Flow Q-Learning",
  ICML 2025, Sec. 5) reports state-based tasks over **8 seeds**: ``PAPER_SEEDS``.
* One kind of ± (:mod:`drol.report.numbers`): our std is the sample std over seeds (ddof 1),
  what the test takes, with no conversion; the paper's printed std over its 8 seeds is read
  as the same sample std (ddof 1), and as at least 0.5 (a printed 0 is a rounded value
  below 0.5).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PAPER_SEEDS = 8  # FQL paper, Sec. 5: 8 seeds per state-based task (DROL follows FQL's protocol)
ALPHA = 0.05
MIN_PAPER_STD = 0.5  # the paper prints integers: a "0" std is anything below 0.5
CONSISTENT, HIGHER, LOWER = "consistent", "higher", "lower"
VERDICTS = (CONSISTENT, HIGHER, LOWER)
SYMBOLS = {CONSISTENT: "≈", HIGHER: "↑", LOWER: "↓"}
RULE = (
    f"≈/↑/↓: our mean is consistent with / higher / lower than the paper's (Welch's t-test "
    f"from the summary statistics, both ± read as sample stds, α = {ALPHA}, the paper's "
    f"{PAPER_SEEDS} seeds as in FQL's protocol; cells with fewer than 2 of our seeds or no "
    "reported ± are not tested)"
)


def welch(
    mean: float,
    std: float,
    n: int,
    paper_mean: float,
    paper_std: float,
    paper_n: int = PAPER_SEEDS,
    alpha: float = ALPHA,
) -> tuple[str, float]:
    """``(verdict, p_value)`` of our ``mean ± std`` (sample std, ddof 1, over ``n`` seeds)
    against the paper's (its printed std read as a sample std over ``paper_n`` seeds);
    ``("", nan)`` where no test is possible (``n < 2``, a missing value or std)."""
    values = (mean, std, paper_mean, paper_std)
    if n < 2 or paper_n < 2 or any(v is None or math.isnan(v) for v in values):
        return "", math.nan
    from scipy import stats  # imported here: the CLI imports this module's constants

    paper_sd = max(paper_std, MIN_PAPER_STD)
    result = stats.ttest_ind_from_stats(
        mean, std, n, paper_mean, paper_sd, paper_n, equal_var=False
    )
    p = float(result.pvalue)
    if p >= alpha:
        return CONSISTENT, p
    return (HIGHER if mean > paper_mean else LOWER), p


def add_verdicts(
    df: pd.DataFrame,
    row_key: str,
    reported: str,
    reproduced: str,
    paper_n: int = PAPER_SEEDS,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Add ``verdict`` and ``p_value`` to the reproduced rows of a long table (``source`` =
    ``reproduced``).

    The paper's numbers are the row's own ``paper_mean``/``paper_std`` where ``df`` has those
    columns (Table 1's like-for-like reference, :mod:`drol.report.reference`; NaN: untested),
    else the reported row with the same ``row_key`` and method (Table 4)."""
    df = df.copy()
    paper = {
        (getattr(r, row_key), r.method): r
        for r in df[df["source"] == reported].itertuples(index=False)
    }
    own_reference = {"paper_mean", "paper_std"} <= set(df.columns)
    verdicts, pvalues = [], []
    for r in df.itertuples(index=False):
        ref = None
        if r.source == reproduced and not pd.isna(r.n_seeds):
            if own_reference:
                ref = (r.paper_mean, r.paper_std)
            elif (row := paper.get((getattr(r, row_key), r.method))) is not None:
                ref = (row.mean, row.std)
        if ref is None:
            verdicts.append("")
            pvalues.append(np.nan)
            continue
        v, p = welch(r.mean, r.std, int(r.n_seeds), ref[0], ref[1], paper_n, alpha)
        verdicts.append(v)
        pvalues.append(p)
    df["verdict"] = verdicts
    df["p_value"] = pvalues
    return df


def summary_line(df: pd.DataFrame, reproduced: str) -> str:
    """'Verdicts: 3 consistent, 1 higher, 5 lower (9 tested of 12 reproduced cells).'"""
    ours = df[(df["source"] == reproduced) & df["mean"].notna()]
    counts = ours["verdict"].value_counts()
    tested = int(sum(counts.get(v, 0) for v in VERDICTS))
    parts = ", ".join(f"{int(counts.get(v, 0))} {v} {SYMBOLS[v]}" for v in VERDICTS)
    return f"Verdicts: {parts} ({tested} tested of {len(ours)} reproduced cells)."
