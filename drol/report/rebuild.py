"""Rebuild a committed results directory from its own CSVs, with the current report code.

    python -m drol.report.rebuild docs/results/sanity

reads ``DIR/runs.csv`` (one row per run, as ``drol aggregate`` writes it; a file without the
``physics`` column is read as runs of before that record) and ``DIR/learning_curves.csv``,
and rewrites in ``DIR`` the :data:`TABLE_FILES` (made exactly as ``tests/test_sanity_results.py``
makes them and compares them byte for byte: :func:`~drol.report.tables.write_tables` and
:func:`~drol.report.aggregate_stats.write_aggregate` with their defaults), ``task_summary.csv``
and the figures ``learning_curves.png``, ``fig4_ksweep.png`` and ``fig_aggregate.png``. The run
directories themselves are not needed.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from drol.errors import UserError
from drol.io import atomic_write_text

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
REPORTED = ROOT / "config" / "table4_reported.csv"
TABLE_FILES = (
    "table4.md",
    "table4.csv",
    "table1.md",
    "table1.csv",
    "missing_runs.csv",
    "aggregate.md",
    "aggregate.csv",
)
FIGURES = ("learning_curves", "fig4_ksweep", "fig_aggregate")


def read_runs(results: Path) -> pd.DataFrame:
    """``results/runs.csv``; a one-line :class:`UserError` when it is not there."""
    path = results / "runs.csv"
    if not path.is_file():
        raise UserError(f"{path}: no such file (the runs table drol aggregate writes)")
    return pd.read_csv(path)


def rebuild_tables(runs: pd.DataFrame, results: Path, reported: Path = REPORTED) -> list[Path]:
    """Rewrite :data:`TABLE_FILES` and ``task_summary.csv`` in ``results`` from ``runs``."""
    from drol.report.aggregate import task_summary
    from drol.report.aggregate_stats import write_aggregate
    from drol.report.numbers import csv_text
    from drol.report.tables import write_tables

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        write_tables(runs, reported, tmp)
        write_aggregate(runs, tmp)  # the workflow's defaults: 2000 replicates, seed 0
        for name in TABLE_FILES:
            shutil.copyfile(Path(tmp) / name, results / name)
            written.append(results / name)
    summary = results / "task_summary.csv"
    atomic_write_text(summary, csv_text(task_summary(runs)))
    return [*written, summary]


def rebuild_figures(runs: pd.DataFrame, results: Path) -> list[Path]:
    """Redraw :data:`FIGURES` as PNGs in ``results`` (the learning curves from
    ``learning_curves.csv``, Fig. 4 and the aggregate figure from ``runs``)."""
    from drol.report import figures

    curves_csv = results / "learning_curves.csv"
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        prefix = {name: Path(tmp) / name for name in FIGURES}
        if curves_csv.is_file():
            figures.plot_learning_curves(pd.read_csv(curves_csv), prefix["learning_curves"])
        else:
            log.warning("%s: not there; learning_curves.png left as it is", curves_csv)
        figures.fig4_ksweep(runs, prefix["fig4_ksweep"])
        figures.fig_aggregate(runs, prefix["fig_aggregate"], aggregate=results / "aggregate.csv")
        for pre in prefix.values():
            png = pre.with_name(pre.name + ".png")
            if png.is_file():
                shutil.copyfile(png, results / png.name)
                written.append(results / png.name)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m drol.report.rebuild DIR [--no-figures]``."""
    parser = argparse.ArgumentParser(prog="python -m drol.report.rebuild", description=__doc__)
    parser.add_argument("results", type=Path, help="directory holding runs.csv")
    parser.add_argument("--reported", type=Path, default=REPORTED, help="the paper's Table 4")
    parser.add_argument("--no-figures", action="store_true", help="tables and statistics only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)  # rliable's line per column
    try:
        runs = read_runs(args.results)
        written = rebuild_tables(runs, args.results, args.reported)
        if not args.no_figures:
            written += rebuild_figures(runs, args.results)
    except UserError as err:
        log.error("%s", err)
        return 2
    log.info("rewrote %s", ", ".join(p.name for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
