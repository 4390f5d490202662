"""Figures from fabricated run directories: every figure is written as PDF and PNG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from synthetic_runs import make_bench, make_run

from drol.report import figures
from drol.report.aggregate import collect_runs

CUBE2 = "cube-single-play-singletask-task2-v0"
PM = "pointmaze-medium-navigate-singletask-task1-v0"


def _written(prefix: Path) -> None:
    for ext in ("pdf", "png"):
        path = prefix.with_name(prefix.name + f".{ext}")
        assert path.is_file() and path.stat().st_size > 1000, path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("runs")
    for task in (CUBE2, PM):
        for K, score in ((1, 20.0), (4, 70.0), (16, 50.0)):
            for seed in (0, 1):
                make_run(
                    root,
                    task,
                    "drol",
                    K,
                    seed,
                    score=score + seed,
                    action_dim=5 if task == CUBE2 else 2,
                )
        for seed in (0, 1):
            make_run(root, task, "fql", 1, seed, score=30.0)
    return root, collect_runs(root)


def test_ksweep_best_k(runs, tmp_path):
    _, df = runs
    summ = figures.ksweep_summary(df)
    assert set(summ["task"]) == {CUBE2, PM}
    assert figures.best_k(summ) == {CUBE2: 4, PM: 4}
    figures.fig4_ksweep(df, tmp_path / "fig4")
    _written(tmp_path / "fig4")


def test_fig3_metrics(runs, tmp_path):
    _, df = runs
    figures.fig3_metrics(df, tmp_path / "fig3m")
    _written(tmp_path / "fig3m")


def test_fig3_runtime(tmp_path):
    files = [make_bench(tmp_path / "fql.json", "fql", 1, 3.0, 0.3)]
    files += [
        make_bench(tmp_path / f"d{k}.json", "drol", k, 3.0 + k / 4, 0.3) for k in (1, 4, 8, 16)
    ]
    bench = figures.read_bench(files)
    assert len(bench) == 5
    figures.fig3_runtime(bench, tmp_path / "fig3r")
    _written(tmp_path / "fig3r")


@pytest.mark.parametrize("task", [PM, CUBE2])  # 2-D actions drawn directly; 5-D projected
def test_fig2_voronoi(runs, tmp_path, task):
    root, _ = runs
    figures.fig2_voronoi(root / task / "drol" / "K4" / "seed0" / "probes.npz", tmp_path / "fig2")
    _written(tmp_path / "fig2")


def test_learning_curves(runs, tmp_path):
    _, df = runs
    figures.learning_curves(df, tmp_path / "curves")
    _written(tmp_path / "curves")


def test_empty_inputs_still_write_a_figure(tmp_path):
    empty = collect_runs(tmp_path / "none")
    figures.fig4_ksweep(empty, tmp_path / "empty4")
    _written(tmp_path / "empty4")
    figures.fig2_voronoi(tmp_path / "missing.npz", tmp_path / "empty2")
    _written(tmp_path / "empty2")


def test_cli_figures(runs, tmp_path):
    from drol.cli import main

    root, _ = runs
    out = tmp_path / "cli_fig4"
    assert main(["figures", "fig4_ksweep", "--runs", str(root), "--out", str(out)]) == 0
    _written(out)
    assert main(["figures", "fig3_runtime", "--out", str(out)]) == 2  # needs --bench
