"""A method added from outside the package -- docs/adding_a_method/ (TD3+BC), registered
through the ``drol.agents`` entry point as an installed plugin would be -- is trained,
seed-batched, benched and reported with no edit anywhere else (issue 32).

The plugin is made visible only to subprocesses (a ``*.dist-info`` with its entry point on
their ``PYTHONPATH``): registered in this process, it would join every other test's grid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "adding_a_method"
BIN = Path(sys.executable).parent
TASK = "pointmaze-medium-navigate-singletask-task1-v0"


def plugin_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that has the example installed: its package and a
    dist-info naming its entry point (what ``pip install`` would write)."""
    meta = tmp_path / "site" / "drol_td3bc-0.1.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: drol-td3bc\nVersion: 0.1.0\n")
    (meta / "entry_points.txt").write_text("[drol.agents]\ntd3bc = drol_td3bc\n")
    path = [str(tmp_path / "site"), str(EXAMPLE), os.environ.get("PYTHONPATH", "")]
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(Path.home()),
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
    }


def run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_entry_point_registers_a_seed_batchable_column(tmp_path):
    """Installed, the plugin is a method, a column with its label and colour, seed-batchable,
    benched by default and has every setting sourced; its single-seed and seed-batched
    updates agree (the schedule is its begin_update, run by both)."""
    res = run_python(
        """
        import torch
        from drol.agents.registry import get_method, make_agent, make_config, method_names
        from drol.grid import columns
        from drol.speed.seed_batch import SeedBatch, seed_batchable
        from drol.workflow_config import bench_methods

        assert method_names()[-1] == "td3bc"
        column = [c for c in columns() if c.key == "td3bc"][0]
        assert (column.label, column.colour) == ("TD3+BC", "#8c564b")
        assert seed_batchable("td3bc") and "td3bc" in bench_methods({"bench": {}})
        cls = get_method("td3bc")
        assert all(not s.startswith("unverified") for s in cls.config_sources().values())

        cfg = make_config("td3bc", {"hidden": 16, "batch_size": 8})
        single = [make_agent("td3bc", 3, 2, cfg, seed=s) for s in (0, 1)]
        batched = [make_agent("td3bc", 3, 2, cfg, seed=s) for s in (0, 1)]
        step = SeedBatch(batched)
        gen = torch.Generator().manual_seed(0)
        for _ in range(4):  # two critic-only and two full updates
            b = {"observations": torch.randn(2, 8, 3, generator=gen),
                 "actions": torch.rand(2, 8, 2, generator=gen) * 2 - 1,
                 "next_observations": torch.randn(2, 8, 3, generator=gen),
                 "rewards": torch.randn(2, 8, generator=gen), "masks": torch.ones(2, 8)}
            for s, agent in enumerate(single):
                agent.update({k: v[s] for k, v in b.items()})
            step(b)
        step.write_back()
        for a, b in zip(single, batched):
            assert a.host_updates == b.host_updates == 4
            for p, q in zip(a.parameters(), b.parameters()):
                torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
        print("ok")
        """,
        plugin_env(tmp_path),
        ROOT,
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.workflow
def test_a_plugin_method_goes_through_the_whole_workflow(tmp_path):
    """Named in a config's ``methods:``, the plugin's column is trained by the workflow as one
    seed-batched job, benched, and reported in Table 4, Table 1 and the figures."""
    env = plugin_env(tmp_path)
    shutil.copytree(ROOT / "config", tmp_path / "config")
    cfg = {
        "ogbench": {"families": ["pointmaze-medium-navigate"], "tasks": [1], "steps": 20},
        "d4rl": {"tasks": []},
        "seeds": [0, 1],
        "methods": ["drol16", "td3bc"],  # DROL for the figures that plot DROL alone
        "ksweep": {"Ks": [16]},
        "train": {
            "eval_every": 20, "eval_episodes": 1, "threads": 1, "device": "cpu", "gpu": 0,
            "seeds_per_job": 2,
            "set": {"hidden": 16, "batch_size": 16, "log_every": 10, "checkpoint_every": 10},
        },
        "data": {"generate": {"pointmaze-medium-navigate-v0": {"episodes": 1, "seed": 0}}},
        "bench": {"Ks": [16], "device": "cpu", "repeats": 1, "steps": 2, "hidden": 16,
                  "batch_size": 16, "threads": 1, "compile": "off"},
        "figures": {"fig2": {"task": TASK}},
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run(
        [str(BIN / "snakemake"), "--configfile", str(tmp_path / "c.yaml"), "--directory",
         str(tmp_path), "--cores", "2", "all_tables", "all_figures"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-4000:]
    runs = tmp_path / "results" / "runs" / TASK / "td3bc" / "K1"
    for seed in (0, 1):
        assert json.loads((runs / f"seed{seed}" / "score.json").read_text())["steps"] == 20
    logs = tmp_path / "results" / "logs" / "train" / TASK / "td3bc" / "K1"
    assert [p.name for p in logs.iterdir()] == ["seeds0_1.log"]  # one seed-batched job
    bench = json.loads((tmp_path / "results" / "bench" / "td3bc_K1.json").read_text())
    assert bench["method"] == "td3bc" and bench["train_steps_per_s"] > 0
    tables = tmp_path / "results" / "tables"
    t4, t1 = pd.read_csv(tables / "table4.csv"), pd.read_csv(tables / "table1.csv")
    assert (t4.query("method == 'TD3+BC'")["source"] == "reproduced").all()
    assert len(t4.query("method == 'TD3+BC'")) == 1 and "TD3+BC" in set(t1["method"])
    for fig in ("learning_curves", "fig3_runtime", "fig_aggregate"):
        assert (tmp_path / "paper_figs" / f"{fig}.png").stat().st_size > 1000
    # the figures' inputs hold the new column (PDF text is not searchable): its curve, its
    # bench row, its colour
    res = run_python(
        """
        import glob
        import pandas as pd
        from drol.report.figures import curve_frame, method_colors, read_bench
        runs = pd.read_csv("results/tables/runs.csv")
        curves = curve_frame(runs[runs["status"] == "done"])
        assert "TD3+BC" in set(curves["label"]), set(curves["label"])
        assert "td3bc" in set(read_bench(sorted(glob.glob("results/bench/*.json")))["method"])
        assert "TD3+BC" in method_colors()
        print("ok")
        """,
        env,
        tmp_path,
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-3000:]
