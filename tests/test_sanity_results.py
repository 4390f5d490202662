"""The committed sanity results (docs/results/sanity/) are what the current table code makes
of the committed runs.csv, byte for byte, so they cannot drift from the code. The committed
runs.csv predates the ``physics`` column: it is read as runs of before that record.
``python -m drol.report.rebuild docs/results/sanity`` rewrites them the same way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from drol.report.rebuild import TABLE_FILES, read_runs, rebuild_tables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "sanity"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    rebuild_tables(read_runs(RESULTS), out)  # the workflow's defaults: 2000 replicates, seed 0
    return out


@pytest.mark.parametrize("name", TABLE_FILES)
def test_committed_sanity_tables_match_the_current_code(rebuilt, name):
    assert (rebuilt / name).read_text() == (RESULTS / name).read_text(), (
        f"docs/results/sanity/{name} differs from what the table code makes of runs.csv: "
        "rebuild it with `python -m drol.report.rebuild docs/results/sanity` (see "
        "docs/results/sanity/README.md)"
    )


def test_sanity_runs_are_complete():
    runs = pd.read_csv(RESULTS / "runs.csv")
    assert (runs["status"] == "done").all()
    assert runs.groupby(["method", "K"])["seed"].nunique().min() >= 3
