"""How the reports compute and print a cell's ``mean ± std``: one definition everywhere.

* **±** is the *sample* standard deviation over seeds (``ddof = 1``): :func:`seed_std`. It is
  undefined for one seed (NaN in the CSVs, no ± printed). The tables, Fig. 4, the learning
  curves' bands and the Welch test (:mod:`drol.report.verdict`) all use it, and the paper's
  printed ± (over its 8 seeds) is read as the same kind of number.
* A mean prints with no decimal at 10 or more (or within 0.05 of an integer), else with one
  (:func:`decimals`); its ± prints with the *mean's* decimals; a value that prints as zero
  never prints as ``-0``.
* The bold rule compares values *as printed* (:func:`printed`), so a mark always agrees with
  the numbers a reader sees. The CSVs keep full precision (:func:`csv_text`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

STD_DDOF = 1
STD_RULE = "± = sample standard deviation over seeds (ddof 1; none with one seed)"


def seed_std(values: Iterable[float]) -> float:
    """The sample std (``ddof = 1``) of ``values``; NaN for fewer than two."""
    arr = np.asarray(list(values), dtype=float)
    return float(np.std(arr, ddof=STD_DDOF)) if len(arr) > STD_DDOF else math.nan


def decimals(mean: float) -> int:
    """Decimals a mean prints with: 0 at |mean| >= 10 or near an integer, else 1."""
    return 0 if abs(mean) >= 10 or abs(mean - round(mean)) < 0.05 else 1


def fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals, never ``-0`` (nor ``-0.0``)."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def number_text(mean: float) -> str:
    """A mean as the tables print it."""
    return fixed(mean, decimals(mean))


def spread_text(mean: float, std: float) -> str:
    """A ± at its mean's precision; '' when there is none (NaN: one seed or not reported)."""
    return "" if std is None or math.isnan(std) else fixed(std, decimals(mean))


def printed(mean: float) -> float:
    """The value a reader sees for ``mean`` (NaN stays NaN): what the bold rule compares."""
    return math.nan if mean is None or math.isnan(mean) else float(number_text(mean))


def csv_float(value: float) -> str:
    """A float at full precision (the shortest text that reads back as the same float),
    without a trailing ``.0``: 24.504, 48, 0.30000000000000004."""
    return repr(float(value)).removesuffix(".0")


def csv_text(df: pd.DataFrame) -> str:
    """``df`` as CSV with every float at full precision (:func:`csv_float`)."""
    return df.to_csv(index=False, float_format=csv_float)
