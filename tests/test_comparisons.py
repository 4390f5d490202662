"""Comparisons a reviewer can trust (issue 22): like-for-like references in Table 1, no
verdict against other tasks, the paper's marks, one row per K, one seed set, no column
compared with itself, and the captions' pointer to the paper's unexplained DROL cells."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drol.report.aggregate import RUN_COLUMNS, family_seed_summary, task_summary
from drol.report.aggregate_stats import (
    IMPROVEMENT,
    aggregate_table,
    column_scores,
    improvement_pairs,
    write_aggregate,
)
from drol.report.reference import (
    DISCREPANCIES_DOC,
    family_reference,
    unexplained_drol_tasks,
)
from drol.report.tables import read_reported, write_tables
from drol.report.verdict import CONSISTENT, LOWER
from drol.tasks import parse_task

ROOT = Path(__file__).resolve().parents[1]
REPORTED = ROOT / "config" / "table4_reported.csv"
sys.path.insert(0, str(ROOT / "tools"))

LARGE = "antmaze-large-navigate-singletask-task{}-v0"
HM_MEDIUM2 = "humanoidmaze-medium-navigate-singletask-task2-v0"
SOCCER1 = "antsoccer-arena-navigate-singletask-task1-v0"
CUBE2 = "cube-single-play-singletask-task2-v0"


def runs_frame(rows: list[tuple[str, str, int, int, float, str]]) -> pd.DataFrame:
    """A runs table (as ``drol aggregate`` writes it) of done runs:
    ``(task, method, K, seed, score, labels)`` each."""
    out = []
    for task, method, K, seed, score, labels in rows:
        t = parse_task(task)
        out.append(
            {
                "suite": t.suite,
                "family": t.family,
                "task": task,
                "representative": t.representative,
                "method": method,
                "K": K,
                "seed": seed,
                "labels": labels,
                "status": "done",
                "score": score,
                "reason": "",
                "run_dir": f"/runs/{task}/{method}/K{K}/seed{seed}",
            }
        )
    return pd.DataFrame(out, columns=RUN_COLUMNS)


def paper(task: str, method: str) -> tuple[float, float]:
    raw = pd.read_csv(REPORTED)
    row = raw[(raw["task"] == task) & (raw["method"] == method)].iloc[0]
    return float(row["mean"]), float(row["std"])


def cell(table: pd.DataFrame, key: str, value: str, method: str, source: str) -> pd.Series:
    rows = table[(table[key] == value) & (table["method"] == method) & (table["source"] == source)]
    assert len(rows) == 1, (value, method, source)
    return rows.iloc[0]


# ------------------------------------------------------------------ 1: like-for-like ±


def test_table1_tests_against_table4s_std_of_the_family_mean(tmp_path):
    """antmaze-large DROL*: the paper prints 89 ± 6 (the mean of its per-task σ 2, 6, 5, 14,
    3); the std of its family mean is √(Σσ²)/5 = 3.3. Ours, 4 below over 8 seeds with a
    family-mean std of 1, is 'consistent' against ± 6 but 'lower' against like for like."""
    tasks = [LARGE.format(i) for i in range(1, 6)]
    stats = [paper(t, "DROL*") for t in tasks]
    offsets = [-1.0, 1.0] * 4  # per-seed family means: paper - 4 ± 1
    rows = [
        (t, "drol", 16, seed, m - 4.0 + offsets[seed], "DROL*")
        for t, (m, _) in zip(tasks, stats, strict=True)
        for seed in range(8)
    ]
    write_tables(runs_frame(rows), REPORTED, tmp_path)
    t1 = pd.read_csv(tmp_path / "table1.csv")
    ours = cell(t1, "family", "antmaze-large-navigate", "DROL*", "reproduced")
    # table1.csv prints 4 significant digits
    assert ours["paper_mean"] == pytest.approx(np.mean([m for m, _ in stats]), rel=1e-3)
    assert ours["paper_std"] == pytest.approx(math.sqrt(sum(s**2 for _, s in stats)) / 5, rel=1e-3)
    assert ours["paper_std"] < 4 and ours["std"] == pytest.approx(np.std(offsets, ddof=1))
    assert ours["verdict"] == LOWER
    printed = cell(t1, "family", "antmaze-large-navigate", "DROL*", "reported")
    assert (printed["mean"], printed["std"]) == (89, 6)  # still printed as the paper prints it
    md = (tmp_path / "table1.md").read_text()
    assert "√(Σσ²)/k" in md  # the caption says how the reference is built
    tex = (tmp_path / "table1.tex").read_text()
    assert r"$\surd$($\Sigma$$\sigma$$^2$)/k" in tex and "√" not in tex  # escaped for LaTeX


def test_no_verdict_where_table4_has_no_per_task_spread():
    """D4RL BC/IQL/ReBRAC cells were copied from other papers without ±: untested."""
    t4 = read_reported(REPORTED)
    assert all(math.isnan(v) for v in family_reference(t4, "BC", ["antmaze-umaze-v2"]))
    assert not math.isnan(family_reference(t4, "FQL", ["antmaze-umaze-v2"])[1])
    assert all(math.isnan(v) for v in family_reference(t4, "FQL", ["no-such-task"]))


# ------------------------------------------------------------------ 2: k of N tasks


def test_partial_family_is_compared_with_the_same_tasks(tmp_path):
    """FQL on humanoidmaze-medium task2 only, at the paper's own 94 ± 3 there: consistent
    with the paper's task2, not 'higher' than its five-task 58."""
    m, s = paper(HM_MEDIUM2, "FQL")
    scores = m + s * np.array([-1.0, 1.0] * 4)  # mean m, std s over 8 seeds
    rows = [(HM_MEDIUM2, "fql", 1, i, float(v), "FQL") for i, v in enumerate(scores)]
    write_tables(runs_frame(rows), REPORTED, tmp_path)
    t1 = pd.read_csv(tmp_path / "table1.csv")
    ours = cell(t1, "family", "humanoidmaze-medium-navigate", "FQL", "reproduced")
    assert (ours["paper_mean"], ours["paper_std"]) == (m, s)
    assert ours["n_tasks"] == 1 and ours["verdict"] == CONSISTENT
    assert "1/5 tasks" in (tmp_path / "table1.md").read_text()


# ------------------------------------------------------------------ 3, 4: marks


@pytest.fixture()
def top_of_the_row(tmp_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four reproduced columns at 100 on every antsoccer task, above every reported cell (all
    five tasks: a family cell over fewer is not ranked in Table 1)."""
    rows = [
        (SOCCER1.replace("task1", f"task{i}"), method, K, seed, 100.0, label)
        for i in range(1, 6)
        for method, K, label in [
            ("fql", 1, "FQL"),
            ("ifql", 1, "IFQL"),
            ("drol_static", 16, "DROL-static"),
            ("drol", 4, "DROL(16)"),  # any K: the label decides the column
        ]
        for seed in range(3)
    ]
    write_tables(runs_frame(rows), REPORTED, tmp_path)
    return pd.read_csv(tmp_path / "table4.csv"), pd.read_csv(tmp_path / "table1.csv")


def test_only_one_step_methods_are_underlined(top_of_the_row):
    t4, t1 = top_of_the_row
    for table, key, value in ((t4, "task", SOCCER1), (t1, "family", "antsoccer-arena-navigate")):
        for method, underlined in [
            ("FQL", 1),
            ("DROL(16)", 1),
            ("IFQL", 0),  # a multi-step method in the paper
            ("DROL-static", 0),  # an ablation, not one of the paper's one-step methods
        ]:
            ours = cell(table, key, value, method, "reproduced")
            assert ours["bold"] == 1 and ours["underline"] == underlined, (key, method)


def test_reported_cells_keep_the_papers_printed_marks(top_of_the_row):
    t4, t1 = top_of_the_row
    raw = pd.read_csv(REPORTED)
    raw = raw[raw["task"] == SOCCER1].set_index("method")
    for method, r in raw.iterrows():
        got = cell(t4, "task", SOCCER1, method, "reported")
        assert (got["bold"], got["underline"]) == (r["bold"], r["underline"]), method
    assert raw.loc["SORL", "bold"] == 1  # 93 < 0.95 x 100, still bold as printed
    printed = pd.read_csv(ROOT / "config" / "table1_reported.csv")
    printed = printed[printed["family"] == "antsoccer-arena-navigate"].set_index("method")
    for method, r in printed.iterrows():
        got = cell(t1, "family", "antsoccer-arena-navigate", method, "reported")
        assert (got["bold"], got["underline"]) == (r["bold"], r["underline"]), method
    assert printed.loc[["DeFlow", "SORL"], "bold"].tolist() == [1, 1]


def test_reproduced_cells_are_bold_against_the_whole_row(tmp_path):
    """cube-single task2: the paper's best is 99; ours at 95 is bold (>= 94.05), at 90 not."""
    rows = [(CUBE2, "fql", 1, s, 95.0, "FQL") for s in range(2)]
    rows += [(CUBE2, "drol_static", 16, s, 90.0, "DROL-static") for s in range(2)]
    write_tables(runs_frame(rows), REPORTED, tmp_path)
    t4 = pd.read_csv(tmp_path / "table4.csv")
    assert cell(t4, "task", CUBE2, "FQL", "reproduced")["bold"] == 1
    assert cell(t4, "task", CUBE2, "DROL-static", "reproduced")["bold"] == 0


def test_parser_reads_the_papers_bold_and_underline():
    from parse_paper_table1 import parse_cells

    row = "𝟗𝟎¯\\underline{\\mathbf{90}} ±2\\pm 2 𝟖𝟗\\mathbf{89} ±6\\pm 6 1111 ±1\\pm 1 - 0 ±0\\pm 0"
    cells = parse_cells(row)
    assert [c[2:] for c in cells] == [(1, 1), (1, 0), (0, 0), (0, 0), (0, 0)]
    assert [c[0] for c in cells[:3]] == [90, 89, 11]


# ------------------------------------------------------------------ 5: one row per K, one seed set


def test_task_summary_keeps_each_k_apart():
    rows = [(CUBE2, "drol", 1, s, 10.0 + s, "K-sweep") for s in range(3)]
    rows += [(CUBE2, "drol", 16, s, 40.0 + s, "K-sweep;DROL(16)") for s in range(3)]
    ts = task_summary(runs_frame(rows))
    sweep = ts[ts["label"] == "K-sweep"].set_index("K")
    assert sorted(sweep.index) == [1, 16]
    assert sweep.loc[1, "mean"] == 11.0 and sweep.loc[16, "mean"] == 41.0
    assert (sweep["n_seeds"] == 3).all()


def test_family_mean_std_and_n_share_one_seed_set(tmp_path):
    """task1 has seeds 0-2, task2 seeds 0-3: seed 3 (score 100) is in none of the three."""
    t1, t2 = (f"cube-single-play-singletask-task{i}-v0" for i in (1, 2))
    rows = [(t1, "fql", 1, s, 10.0 * (s + 1), "FQL") for s in range(3)]
    rows += [(t2, "fql", 1, s, 10.0 * (s + 1), "FQL") for s in range(3)]
    rows.append((t2, "fql", 1, 3, 100.0, "FQL"))
    fam = family_seed_summary(runs_frame(rows)).set_index("label").loc["FQL"]
    assert fam["mean"] == pytest.approx(20.0)
    assert fam["std"] == pytest.approx(np.std([10, 20, 30], ddof=1))  # the sample std
    assert fam["n_seeds"] == 3 and set(fam["tasks"]) == {t1, t2}


# ------------------------------------------------------------------ 6: a column against itself


def _shared_runs(partly: bool) -> pd.DataFrame:
    """DROL(16) and DROL* are the same runs on task1 and task2 (K* = 16); with ``partly``,
    DROL* is other runs (K = 4) on task3."""
    tasks = [f"cube-single-play-singletask-task{i}-v0" for i in (1, 2, 3)]
    rows = []
    for i, t in enumerate(tasks):
        for s in range(3):
            rows.append((t, "fql", 1, s, 10.0 + s, "FQL"))
            if partly and i == 2:
                rows.append((t, "drol", 16, s, 50.0 + s, "DROL(16)"))
                rows.append((t, "drol", 4, s, 60.0 + s, "DROL*"))
            else:
                rows.append((t, "drol", 16, s, 50.0 + s, "DROL(16);DROL*"))
    return runs_frame(rows)


def test_pairs_that_share_their_runs_are_omitted_with_a_note(tmp_path):
    runs = _shared_runs(partly=False)
    table = aggregate_table(runs, reps=50)
    poi = table[table["statistic"] == IMPROVEMENT]
    assert set(poi["method"]) == {"DROL(16) > FQL", "DROL* > FQL"}
    write_aggregate(runs, tmp_path, reps=50)
    md = (tmp_path / "aggregate.md").read_text()
    assert "DROL(16) > DROL* omitted" in md and "DROL* > DROL(16) omitted" in md
    assert "DROL(16) > DROL* |" not in md


def test_partly_shared_pairs_are_compared_where_runs_differ():
    pairs, notes = improvement_pairs(column_scores(_shared_runs(partly=True)))
    assert pairs["DROL* > DROL(16)"] == ["cube-single-play-singletask-task3-v0"]
    assert len(pairs["DROL* > FQL"]) == 3
    table = aggregate_table(_shared_runs(partly=True), reps=50)
    row = table[table["method"] == "DROL* > DROL(16)"].iloc[0]
    assert row["estimate"] == 1.0 and row["n_tasks"] == 1  # 60+ beats 50+ on task3
    assert any("not on the 2 where they are the same runs" in n for n in notes)


def test_fig_aggregate_draws_no_pair_that_shares_its_runs(tmp_path, monkeypatch):
    import drol.report.figures as figures

    drawn = {}

    def keep(fig, prefix):
        drawn["fig"] = fig
        return []

    monkeypatch.setattr(figures, "save", keep)
    runs = _shared_runs(partly=False)
    figures.fig_aggregate(runs, tmp_path / "fig", reps=50)
    fig = drawn["fig"]
    ticks = {t.get_text() for ax in fig.axes for t in ax.get_yticklabels()}
    assert "DROL(16) > FQL" in ticks and "DROL(16) > DROL*" not in ticks
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "DROL(16) > DROL* omitted" in texts


# ------------------------------------------------------------------ 7: unexplained DROL cells


def test_unexplained_drol_cells_are_listed_and_the_captions_point_to_the_doc(tmp_path):
    t4 = pd.DataFrame(
        [
            (LARGE.format(2), "DROL(16)", 86.0),  # K* = 16, yet DROL* differs: listed
            (LARGE.format(2), "DROL*", 84.0),
            (LARGE.format(1), "DROL(16)", 98.0),  # K* = 16, the same: fine
            (LARGE.format(1), "DROL*", 98.0),
            ("antmaze-giant-navigate-singletask-task1-v0", "DROL(16)", 3.0),  # K* = 1
            ("antmaze-giant-navigate-singletask-task1-v0", "DROL*", 40.0),
        ],
        columns=["task", "method", "mean"],
    )
    assert unexplained_drol_tasks(t4) == [LARGE.format(2)]
    write_tables(runs_frame([]), REPORTED, tmp_path)
    for name in ("table1.md", "table4.md"):
        text = (tmp_path / name).read_text()
        assert DISCREPANCIES_DOC in text and "antmaze-large" in text, name


def test_a_printed_mark_that_is_not_0_or_1_is_a_one_line_error(tmp_path, capsys):
    from drol.cli import main

    bad = tmp_path / "t1.csv"
    rows = pd.read_csv(ROOT / "config" / "table1_reported.csv")
    rows.astype({"bold": object}).assign(bold="yes").to_csv(bad, index=False)
    args = ["tables", "--runs", str(tmp_path), "--reported", str(REPORTED)]
    assert main([*args, "--out", str(tmp_path / "t"), "--reported-table1", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bold" in err[0] and "not 0 or 1" in err[0]
