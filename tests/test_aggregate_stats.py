"""rliable aggregate statistics on synthetic runs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_runs import make_run

from drol.report.aggregate import collect_runs
from drol.report.aggregate_stats import (
    IMPROVEMENT,
    aggregate_table,
    column_scores,
    performance_profiles,
    write_aggregate,
)

TASKS = [f"cube-single-play-singletask-task{i}-v0" for i in (1, 2, 3)]
BASE = {0: 10.0, 1: 20.0, 2: 30.0, 3: 40.0}  # FQL's score per seed, on every task
SHIFT = 50.0  # DROL(16) = FQL + 50 everywhere: every DROL run beats every FQL run
REPS = 200


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("runs")
    for i, task in enumerate(TASKS):
        for seed, score in BASE.items():
            make_run(root, task, "fql", 1, seed, score=score + i)
            make_run(root, task, "drol", 16, seed, score=score + i + SHIFT)
    return collect_runs(root)


def _stat(table: pd.DataFrame, statistic: str, method: str) -> pd.Series:
    return table[(table["statistic"] == statistic) & (table["method"] == method)].iloc[0]


def test_iqm_difference_and_intervals(runs):
    table = aggregate_table(runs, reps=REPS)
    fql, drol = _stat(table, "IQM", "FQL"), _stat(table, "IQM", "DROL(16)")
    assert drol["estimate"] - fql["estimate"] == pytest.approx(SHIFT)
    # IQM of {10,20,30,40}+{0,1,2} over 12 runs: the middle 6 values
    middle = sorted(s + i for s in BASE.values() for i in range(3))[3:9]
    assert fql["estimate"] == pytest.approx(np.mean(middle))
    for _, r in table.iterrows():
        assert r["ci_low"] - 1e-9 <= r["estimate"] <= r["ci_high"] + 1e-9, r.to_dict()
    assert _stat(table, "Mean", "FQL")["estimate"] == pytest.approx(26.0)
    assert _stat(table, "Optimality gap", "DROL(16)")["estimate"] == pytest.approx(100 - 76.0)
    assert fql["n_runs"] == 12 and fql["n_tasks"] == 3 and fql["seeds_per_task"] == "4"


def test_probability_of_improvement(runs):
    table = aggregate_table(runs, reps=REPS)
    assert _stat(table, IMPROVEMENT, "DROL(16) > FQL")["estimate"] == 1.0
    assert _stat(table, IMPROVEMENT, "DROL* > FQL")["estimate"] == 1.0
    # DROL* shares DROL(16)'s runs (K* = 16 on cube-single): not compared with itself
    assert not table["method"].isin(["DROL(16) > DROL*", "DROL* > DROL(16)"]).any()
    assert not (table["method"] == "FQL > DROL(16)").any()  # only DROL columns challenge


def test_deterministic_and_independent_of_other_columns(runs):
    a = aggregate_table(runs, reps=REPS, seed=3)
    b = aggregate_table(runs, reps=REPS, seed=3)
    pd.testing.assert_frame_equal(a, b)
    alone = aggregate_table(runs[runs["method"] == "fql"], reps=REPS, seed=3)
    pd.testing.assert_frame_equal(
        alone[alone["method"] == "FQL"].reset_index(drop=True),
        a[(a["method"] == "FQL")].reset_index(drop=True),
    )


def test_unequal_seed_counts_use_every_run(runs):
    """Issue 33: no column is cut to its smallest seed count (it was, to a 3 x 3 matrix)."""
    fewer = runs[~((runs["method"] == "fql") & (runs["task"] == TASKS[0]) & (runs["seed"] == 3))]
    scores = column_scores(fewer)
    assert [len(x) for x in scores["FQL"].per_task()] == [3, 4, 4]
    assert [len(x) for x in scores["DROL(16)"].per_task()] == [4, 4, 4]
    iqm = _stat(aggregate_table(fewer, reps=REPS), "IQM", "FQL")
    assert iqm["n_runs"] == 11 and iqm["seeds_per_task"] == "3-4"


def test_performance_profile_is_a_score_distribution(runs):
    prof = performance_profiles(column_scores(runs), reps=REPS)
    fql = prof[prof["method"] == "FQL"].set_index("tau")["fraction"]
    assert fql.loc[0.0] == 1.0 and fql.loc[100.0] == 0.0
    assert fql.loc[25.0] == pytest.approx(6 / 12)  # 30, 31, 32, 40, 41, 42 are above 25
    assert fql.is_monotonic_decreasing


def test_no_runs_still_writes_every_file(tmp_path):
    written = write_aggregate(collect_runs(tmp_path), tmp_path / "out", reps=REPS)
    assert sorted(written) == [f"aggregate.{e}" for e in ("csv", "html", "md", "tex")]
    assert "No finished runs" in written["aggregate.md"].read_text()


def test_cli_stats_and_fig_aggregate(runs, tmp_path):
    from drol.cli import main

    root = str(runs["run_dir"].iloc[0]).split("/cube-single")[0]
    out = tmp_path / "tables"
    assert main(["stats", "--runs", root, "--out", str(out), "--reps", str(REPS)]) == 0
    md = (out / "aggregate.md").read_text()
    assert "| DROL(16) (ours) |" in md and "DROL(16) > FQL | 1.00 [1.00, 1.00]" in md
    assert r"\toprule" in (out / "aggregate.tex").read_text()
    prefix = tmp_path / "fig_aggregate"
    args = ["figures", "fig_aggregate", "--runs", root, "--out", str(prefix)]
    assert main([*args, "--reps", str(REPS)]) == 0
    assert prefix.with_suffix(".png").stat().st_size > 1000
    assert main([*args, "--reps", "5"]) == 2  # too few replicates: a one-line error


def test_fig_aggregate_reuses_drol_stats(runs, tmp_path, monkeypatch):
    """With --aggregate the figure draws drol stats' intervals instead of bootstrapping again;
    a file from other runs, or none, is a one-line error."""
    import drol.report.aggregate_stats as stats
    from drol.cli import main

    root = str(runs["run_dir"].iloc[0]).split("/cube-single")[0]
    out = tmp_path / "tables"
    assert main(["stats", "--runs", root, "--out", str(out), "--reps", str(REPS)]) == 0

    def no_second_bootstrap(*args, **kwargs):
        raise AssertionError("bootstrapped again")

    monkeypatch.setattr(stats, "interval_estimates", no_second_bootstrap)
    monkeypatch.setattr(stats, "improvement_probabilities", no_second_bootstrap)
    reused = tmp_path / "fig_reused"
    agg = ["--aggregate", str(out / "aggregate.csv"), "--reps", str(REPS)]
    assert main(["figures", "fig_aggregate", "--runs", root, "--out", str(reused), *agg]) == 0
    assert reused.with_suffix(".png").stat().st_size > 1000
    stale = tmp_path / "stale.csv"
    table = pd.read_csv(out / "aggregate.csv")
    table[table["method"] != "FQL"].to_csv(stale, index=False)
    bad = ["--aggregate", str(stale), "--reps", str(REPS)]
    assert main(["figures", "fig_aggregate", "--runs", root, "--out", str(reused), *bad]) == 2
    assert (
        main(
            [
                "figures",
                "fig_aggregate",
                "--runs",
                root,
                "--out",
                str(reused),
                "--aggregate",
                str(tmp_path / "none.csv"),
            ]
        )
        == 2
    )
