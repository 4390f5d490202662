"""The Snakemake workflow: config validation, DAG shape of the paper grid, lint/format, and
(slow) the tiny configuration end to end through all_tables and all_figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from drol.agents.registry import get_method, methods
from drol.d4rl.install import find_python
from drol.errors import EnvUnavailableError
from drol.grid import column_keys, column_labels, table3_kstar
from drol.tasks import parse_task

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")

pytestmark = pytest.mark.workflow
D4RL_ENV_VARS = ("DROL_D4RL_VENV", "DROL_D4RL_VENV_PYTHON")


def d4rl_available() -> bool:
    """Whether `drol d4rl setup` has built the D4RL venv (CI builds it before the tests)."""
    try:
        find_python(os.environ.get("DROL_D4RL_VENV_PYTHON"))
    except EnvUnavailableError:
        return False
    return True


def _snakemake(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(Path.home())}
    env |= {k: os.environ[k] for k in D4RL_ENV_VARS if k in os.environ}  # where the venv is
    if "PYTHONPATH" in os.environ:  # a checkout run beside an installed drol tests its own code
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def job_stats(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of `snakemake -n --quiet rules`."""
    stats: dict[str, int] = {}
    block = output.split("Job stats:", 1)[1]
    for line in block.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        stats[m[1]] = int(m[2])
    return stats


def load_config(path: Path) -> dict:
    """A workflow config with the schema's defaults filled in, as the workflow sees it."""
    cfg = yaml.safe_load(path.read_text()) or {}
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def expected_runs(cfg: dict) -> set[tuple[str, str, int, int]]:
    """The grid's arithmetic, from the config alone (Table 3 K*): DROL at K=16 and K*, every
    other registered method once (candidate methods at static_k, the others at baseline_k);
    DROL(16) on D4RL antmaze-large-play/-diverse as the official script runs it (its own
    method, drol+script: config/paper_discrepancies.yaml's default)."""
    tasks = [
        f"{f}-singletask-task{i}-v0"
        for f in cfg["ogbench"]["families"]
        for i in cfg["ogbench"]["tasks"]
    ] + cfg["d4rl"]["tasks"]
    runs = set()
    for t in tasks:
        script = t in ("antmaze-large-play-v2", "antmaze-large-diverse-v2")
        for s in cfg["seeds"]:
            runs |= {(t, "drol+script" if script else "drol", 16, s)}
            runs |= {(t, "drol", table3_kstar(t), s)}
            for name, cls in methods().items():
                if name != "drol" and cls.base_method is None:
                    k = cfg["static_k"] if cls.uses_candidates else cfg["baseline_k"]
                    runs.add((t, name, k, s))
    reps = [t for t in tasks if parse_task(t).representative]
    runs |= {(t, "drol", k, s) for t in reps for k in cfg["ksweep"]["Ks"] for s in cfg["seeds"]}
    return runs


def test_paper_grid_dag_matches_arithmetic():
    from drol.workflow_config import bench_methods

    cfg = load_config(ROOT / "config" / "config.yaml")
    res = _snakemake("-n", "--quiet", "rules", "--forceall", "--configfile", "config/config.yaml")
    assert res.returncode == 0, res.stderr[-2000:]
    stats = job_stats(res.stdout + res.stderr)
    runs = expected_runs(cfg)
    # 68 tasks x 8 seeds x {DROL(16), every other method} + 42 tasks with K* != 16
    # + 2 D4RL tasks where DROL(16) and DROL train separately + 59 sweep-only (task, K) pairs
    others = sum(1 for cls in methods().values() if cls.base_method is None) - 1
    # BC, IQL, ReBRAC, FAWAC, FBRAC, IFQL, DeFlow, SORL, FQL (Table 4's columns) + DROL-static
    assert others == 10
    assert len(runs) == 68 * 8 * (1 + others) + 42 * 8 + 2 * 8 + 59 * 8 == 6808
    # on a GPU (train.gpu > 0) seeds_per_job auto: the 8 seeds of a cell in one job; SORL
    # (its own two-step update) seed by seed
    n_tasks = len(cfg["ogbench"]["families"]) * len(cfg["ogbench"]["tasks"]) + 18
    assert stats["train"] == n_tasks * 8  # SORL
    assert stats["train_seeds0"] * 8 + stats["train"] == len(runs)
    n_datasets = len(cfg["ogbench"]["families"])  # one dataset per OGBench family, all fetched
    assert stats["fetch_data"] == n_datasets and "generate_data" not in stats
    # every D4RL train job waits on its official hdf5 (fetched), no "needs D4RL" stop
    assert stats["fetch_d4rl"] == len(cfg["d4rl"]["tasks"]) == 18
    # one bench job (drol bench --pairs): candidate methods once per K, the others once
    assert stats["bench"] == 1
    res = _snakemake("-n", "-p", "--forceall", "bench", "--configfile", "config/config.yaml")
    pairs = re.search(r"drol bench --pairs (\S+)", res.stdout + res.stderr)[1].split(",")
    assert len(pairs) == sum(
        len(cfg["bench"]["Ks"]) if get_method(m).uses_candidates else 1 for m in bench_methods(cfg)
    )
    for rule in ("manifest", "aggregate", "tables", "all", "fig2_voronoi", "fig3_metrics"):
        assert stats[rule] == 1, rule
    for rule in ("fig3_runtime", "fig4_ksweep", "learning_curves", "fig_aggregate"):
        assert stats[rule] == 1, rule
    assert stats["aggregate_stats"] == 1
    assert "select_k" not in stats  # k_selection: table3


def test_quick_grid_dag_before_k_selection():
    res = _snakemake("-n", "--quiet", "rules", "--forceall")
    assert res.returncode == 0, res.stderr[-2000:]
    stats = job_stats(res.stdout + res.stderr)
    cfg = load_config(ROOT / "config" / "quick.yaml")
    reps = [
        t
        for t in (
            f"{f}-singletask-task{i}-v0"
            for f in cfg["ogbench"]["families"]
            for i in cfg["ogbench"]["tasks"]
        )
        if parse_task(t).representative
    ]
    # before the select_k checkpoints only the K sweeps are known
    assert stats["select_k"] == len(reps) == 2
    # both seeds of a cell in one job (train.seeds_per_job: 2)
    assert cfg["train"]["seeds_per_job"] == len(cfg["seeds"]) == 2
    assert stats["train_seeds0"] == len(reps) * len(cfg["ksweep"]["Ks"])
    assert "train" not in stats
    assert stats["generate_data"] == len(cfg["data"]["generate"])


def test_quick_config_trains_bc_and_the_paper_grid_every_baseline():
    from drol.workflow_config import trained_methods

    quick = trained_methods(load_config(ROOT / "config" / "quick.yaml"))
    flow_baselines = {"fawac", "fbrac", "deflow", "sorl"}
    assert "bc" in quick and {"iql", "rebrac", "ifql", *flow_baselines}.isdisjoint(quick)
    paper = trained_methods(load_config(ROOT / "config" / "config.yaml"))
    assert {"bc", "iql", "rebrac", "ifql", "fql", "drol", *flow_baselines} <= set(paper)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("bogus=1", "bogus"),
        ("seeds=3", "seeds"),
        ("k_selection=best", "k_selection"),
    ],
)
def test_bad_config_is_one_line_error(override, needle):
    res = _snakemake("-n", "--config", override)
    assert res.returncode != 0
    line = next(
        ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("invalid config")
    )
    assert needle in line


def test_lint_and_format():
    res = _snakemake("--lint")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    fmt = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "workflow"], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stderr[-2000:]


@pytest.mark.slow
def test_tiny_config_end_to_end(tmp_path):
    """`.test/config/config.yaml` through all_tables and all_figures, then check the outputs."""
    (tmp_path / "config").mkdir()
    for reported in ("table4_reported.csv", "table1_reported.csv"):
        shutil.copy(ROOT / "config" / reported, tmp_path / "config")
    args = [
        "--snakefile",
        str(ROOT / "workflow" / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / ".test" / "config" / "config.yaml"),
        "--cores",
        "2",
        "--scheduler",
        "greedy",
        "--show-failed-logs",
    ]
    with_d4rl = d4rl_available()
    if not with_d4rl:  # without `drol d4rl setup` the pipeline runs its OGBench part only
        args = ["--config", "d4rl={tasks: []}", *args]  # --config takes all words up to a flag
    res = _snakemake(*args, "all_tables", "all_figures", timeout=1200)
    assert res.returncode == 0, res.stderr[-4000:]
    runs = pd.read_csv(tmp_path / "results" / "tables" / "runs.csv")
    assert (runs["status"] == "done").all(), runs[runs["status"] != "done"]
    t4 = pd.read_csv(tmp_path / "results" / "tables" / "table4.csv")
    ours = t4[t4["source"] == "reproduced"]
    assert set(ours["method"]) == set(column_labels())  # every column, the baselines too
    # the tables hold the runs' numbers: FQL on each task = mean of its seeds' score.json
    for task, g in runs[runs["method"] == "fql"].groupby("task"):
        cell = ours[(ours["task"] == task) & (ours["method"] == "FQL")]
        assert cell["mean"].iloc[0] == pytest.approx(g["score"].mean(), abs=1e-3)
    for name in ("table1", "table4", "aggregate"):
        for ext in ("csv", "tex", "md", "html"):
            assert (tmp_path / "results" / "tables" / f"{name}.{ext}").stat().st_size > 0
    stats = pd.read_csv(tmp_path / "results" / "tables" / "aggregate.csv")
    assert {"IQM", "P(X > Y)"} <= set(stats["statistic"])
    figs = ("fig2_voronoi", "fig3_metrics", "fig3_runtime", "fig4_ksweep", "learning_curves")
    for fig in (*figs, "fig_aggregate"):
        for ext in ("pdf", "png"):
            assert (tmp_path / "paper_figs" / f"{fig}.{ext}").stat().st_size > 1000
    kstar = list((tmp_path / "results" / "kstar").glob("*.json"))
    # cube-single, pointmaze and, with the D4RL venv, pen (in the real d4rl env)
    assert len(kstar) == (3 if with_d4rl else 2)
    assert ("pen-human-v1" in set(runs["task"])) == with_d4rl
    # a second invocation has nothing to do
    res = _snakemake(*args, "all_tables", "all_figures", "-n")
    assert "Nothing to be done" in res.stdout + res.stderr


def _write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


POINTMAZE_TASK = "pointmaze-medium-navigate-singletask-task1-v0"
TINY_POINTMAZE = {
    "ogbench": {"families": ["pointmaze-medium-navigate"], "tasks": [1], "steps": 20},
    "d4rl": {"tasks": []},
    "seeds": [0],
    "methods": {"drol_star": False, "fql": False, "drol_static": False},
    "ksweep": {"Ks": [16]},
    "train": {
        "eval_every": 20,
        "eval_episodes": 1,
        "threads": 1,
        "device": "cpu",
        "set": {"hidden": 16, "batch_size": 16, "log_every": 10, "checkpoint_every": 10},
        "gpu": 0,
    },
    "data": {"generate": {"pointmaze-medium-navigate-v0": {"episodes": 1, "seed": 0}}, "jobs": 1},
    "figures": {"fig2": {"task": POINTMAZE_TASK}},
    "tables": {
        "reported": str(ROOT / "config" / "table4_reported.csv"),
        "reported_table1": str(ROOT / "config" / "table1_reported.csv"),
    },
}


@pytest.mark.parametrize(
    ("train", "needle"),
    [
        ({"set": {"hiden": 64}}, "'hiden'"),  # a typo fails the DAG once, not every job
        ({"set_by_method": {"drol": {"bc_coef": "1; touch INJECTED"}}}, "bc_coef"),
        ({"set": {"q_agg": "$(touch INJECTED)"}}, "q_agg"),
        ({"set": {"log_every": "abc"}}, "log_every"),
        ({"set_by_method": {"nosuch": {"lr": 1}}}, "nosuch"),
        ({"set_by_method": {"drol": {"bc_coef": float("inf")}}}, "finite"),
        ({"set": {"batch_size": 10**9}}, "batch_size"),
    ],
)
def test_bad_train_set_fails_the_dry_run(tmp_path, train, needle):
    cfg = {**TINY_POINTMAZE, "train": {**TINY_POINTMAZE["train"], **train}}
    path = _write_config(tmp_path / "c.yaml", cfg)
    res = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path))
    assert res.returncode != 0
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "invalid config at" in ln]
    assert lines and needle in lines[0], (res.stdout + res.stderr)[-2000:]
    assert not (tmp_path / "INJECTED").exists()


@pytest.mark.parametrize(
    ("name", "needle"),
    [("no-such-dataset-v0", "unknown dataset"), ("antmaze-large-navigate-v0", "drol data fetch")],
)
def test_unknown_dataset_under_data_generate_fails_the_dry_run(tmp_path, name, needle):
    """Caught at DAG build, not later by fetch_data."""
    data = {"generate": {name: {"episodes": 2, "seed": 0}}, "jobs": 1}
    path = _write_config(tmp_path / "c.yaml", {**TINY_POINTMAZE, "data": data})
    res = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path))
    assert res.returncode != 0
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "invalid config at" in ln]
    assert lines and f"data.generate.{name}" in lines[0] and needle in lines[0], lines


def test_seeds_per_job_trains_each_group_as_one_batched_job(tmp_path):
    """seeds_per_job 2 on seeds 0-2: seeds 0,1 of each cell in one `drol train --seeds 0,1`
    job, seed 2 alone; SORL (its own update) seed by seed; auto on CPU: seed by seed."""
    cfg = {
        **TINY_POINTMAZE,
        "seeds": [0, 1, 2],
        "methods": {**TINY_POINTMAZE["methods"], "sorl": True},
        "train": {**TINY_POINTMAZE["train"], "seeds_per_job": 2},
    }
    path = _write_config(tmp_path / "c.yaml", cfg)
    res = _snakemake("-n", "-p", "--configfile", str(path), "--directory", str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    stats = job_stats(out)
    # DROL(16) and the other candidate-free columns on: drol K16, bc, iql, ..., sorl (all seeds)
    batched = [ln for ln in out.splitlines() if "drol train" in ln and "--seeds 0,1 " in ln]
    assert stats["train_seeds0"] == len(batched) > 0
    assert not any("--method sorl" in ln for ln in batched)
    assert all("/seed{seed}'" in ln for ln in batched)  # each seed in its own run directory
    single = [ln for ln in out.splitlines() if "drol train" in ln and "--seed " in ln]
    assert stats["train"] == len(single) == len(batched) + 3  # seed 2 of each, SORL's 0-2
    cfg["train"]["seeds_per_job"] = "auto"  # device cpu: one process per seed
    path = _write_config(tmp_path / "c.yaml", cfg)
    res = _snakemake(
        "-n", "--quiet", "rules", "--configfile", str(path), "--directory", str(tmp_path)
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "train_seeds0" not in job_stats(res.stdout + res.stderr)


@pytest.mark.slow
def test_a_seed_group_job_trains_each_seed_into_its_own_run_directory(tmp_path):
    """A real run of rule train_seeds0: DROL(16) on seeds 0 and 1 in one job."""
    cfg = {
        **TINY_POINTMAZE,
        "seeds": [0, 1],
        "methods": {k: k == "drol16" for k in column_keys()},
        "train": {**TINY_POINTMAZE["train"], "seeds_per_job": 2},
    }
    path = _write_config(tmp_path / "c.yaml", cfg)
    cell = tmp_path / "results" / "runs" / POINTMAZE_TASK / "drol" / "K16"
    targets = [str((cell / f"seed{s}" / "score.json").relative_to(tmp_path)) for s in (0, 1)]
    res = _snakemake(
        "--configfile", str(path), "--directory", str(tmp_path), "--cores", "2", *targets
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rule train_seeds0:" in res.stdout + res.stderr
    for s in (0, 1):
        config = json.loads((cell / f"seed{s}" / "config.json").read_text())
        assert config["seed"] == s
        assert (cell / f"seed{s}" / "eval.csv").exists()
    log = tmp_path / "results" / "logs" / "train" / POINTMAZE_TASK / "drol" / "K16" / "seeds0_1.log"
    assert "score" in log.read_text()


def test_unknown_column_fails_the_dry_run(tmp_path):
    path = _write_config(tmp_path / "c.yaml", {**TINY_POINTMAZE, "methods": {"drol17": True}})
    res = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path))
    assert res.returncode != 0 and "drol17" in res.stdout + res.stderr


@pytest.mark.parametrize(
    "choice, needle",
    [({"nosuch": "x"}, "unknown item"), ({"d4rl_tuned_k": "nosuch"}, "unknown option")],
)
def test_bad_discrepancy_switch_fails_the_dry_run(tmp_path, choice, needle):
    path = _write_config(tmp_path / "c.yaml", {**TINY_POINTMAZE, "discrepancies": choice})
    res = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path))
    assert res.returncode != 0
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "invalid config at" in ln]
    assert lines and needle in lines[0] and "discrepancies" in lines[0], lines


def test_paper_grid_d4rl_baseline_jobs_carry_corl_settings():
    """The dry run's commands: IQL on pen-human as CORL (1M steps, 10 episodes, the actor
    schedule over the run; hyperparameters resolved by drol train from the agent's table),
    DROL(16) on antmaze-large-play as the official script's own run, DROL* Table 3's."""
    runs = "results/runs"
    targets = [
        f"{runs}/pen-human-v1/iql/K1/seed0/score.json",
        f"{runs}/antmaze-large-play-v2/drol+script/K16/seed0/score.json",
        f"{runs}/antmaze-large-play-v2/drol/K16/seed0/score.json",
    ]
    res = _snakemake("-n", "-p", "--forceall", *targets, "--configfile", "config/config.yaml")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-2000:]
    iql = next(ln for ln in out.splitlines() if "--method iql" in ln and "drol train" in ln)
    assert "--steps 1000000" in iql and "--eval-episodes 10" in iql
    assert "--set actor_lr_decay_steps=1000000" in iql
    assert "--method drol+script" in out and "--method drol " in out


@pytest.mark.slow
def test_paths_with_spaces_and_shell_syntax_are_quoted(tmp_path):
    """A data_dir / results_dir with spaces and `$(...)` works and never runs as a command."""
    marker = tmp_path / "INJECTED"
    cfg = {
        **TINY_POINTMAZE,
        "data_dir": f"my data $(touch {marker})",
        "results_dir": "my results; touch INJECTED2",
        "figures_dir": "my figs",
    }
    path = _write_config(tmp_path / "c.yaml", cfg)
    score = (
        "my results; touch INJECTED2/runs/pointmaze-medium-navigate-singletask-task1-v0/"
        "drol/K16/seed0/score.json"
    )
    res = _snakemake(
        "--configfile",
        str(path),
        "--directory",
        str(tmp_path),
        "--cores",
        "2",
        score,
        timeout=600,
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert (tmp_path / score).is_file()
    assert (tmp_path / f"my data $(touch {marker})" / "pointmaze-medium-navigate-v0.npz").is_file()
    assert not marker.exists() and not (tmp_path / "INJECTED2").exists()


TOY_PLUGIN = '''
"""A toy method registered from outside the package: BC-like actor, DROL-free."""
from dataclasses import dataclass

from drol.agents.config import AgentConfig
from drol.agents.fql import FQLAgent
from drol.agents.registry import register


@dataclass
class ToyConfig(AgentConfig):
    alpha: float = 10.0
    flow_steps: int = 2
    normalize_q_loss: bool = False


@register
class ToyAgent(FQLAgent):
    name = "toy"
    label = "Toy"
    Config = ToyConfig
'''


def _install_toy_plugin(root: Path) -> dict[str, str]:
    """A `toy_drol` package with a `drol.agents` entry point, importable via PYTHONPATH."""
    (root / "toy_drol").mkdir(parents=True)
    (root / "toy_drol" / "__init__.py").write_text(TOY_PLUGIN)
    dist = root / "toy_drol-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-drol\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[drol.agents]\ntoy = toy_drol\n")
    # after a checkout other than the installed one (a worktree), if one is on PYTHONPATH
    paths = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


def test_a_registered_toy_method_reaches_the_dry_run_and_the_tables(tmp_path):
    env = _install_toy_plugin(tmp_path / "plugin")
    cfg = {**TINY_POINTMAZE, "methods": {"toy": True}}
    path = _write_config(tmp_path / "c.yaml", cfg)
    res = subprocess.run(
        [
            SNAKEMAKE,
            "-n",
            "-p",
            "--forceall",
            "--configfile",
            str(path),
            "--directory",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(Path.home()), **env},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "--method toy" in res.stdout
    # the table code picks the column up from the registry too (in a fresh interpreter)
    script = (
        "from drol.grid import column_labels; from drol.agents import method_names;"
        "print(column_labels(), method_names())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**env}, check=True
    ).stdout
    assert "'Toy'" in out and "'toy'" in out
    # the paper's grid (no methods: key) trains it; the small configs name what they train
    script = (
        "from drol.workflow_config import load_config, trained_methods;"
        "from drol.report.figures import method_colors;"
        "print([('toy' in trained_methods(load_config(f))) for f in "
        "('config/config.yaml', 'config/quick.yaml', 'config/sanity.yaml', "
        "'.test/config/slurm.yaml')], len(set(method_colors().values())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**env},
        check=True,
        cwd=ROOT,
    ).stdout
    assert out.split() == ["[True,", "False,", "False,", "False]", str(len(column_labels()) + 1)]


@pytest.mark.parametrize(
    ("switches", "listed"),
    [
        ({}, None),
        ({"iql": False, "sorl": False}, [k for k in column_keys() if k not in ("iql", "sorl")]),
        ({k: k in ("fql", "drol16") for k in column_keys()}, ["drol16", "fql"]),
    ],
)
def test_methods_as_a_list_means_what_the_switches_mean(tmp_path, switches, listed):
    """`methods:` lists the columns to train, or switches columns off from every column."""
    from drol.grid import Grid
    from drol.workflow_config import load_config as load_checked

    grids = []
    for methods_value in (switches, listed):
        cfg = {**TINY_POINTMAZE, "methods": methods_value}
        if methods_value is None:
            del cfg["methods"]
        grids.append(Grid.from_config(load_checked(_write_config(tmp_path / "c.yaml", cfg))))
    assert grids[0].enabled == grids[1].enabled
    assert grids[0].runs() == grids[1].runs()


def test_methods_list_with_an_unknown_column_is_a_one_line_error(tmp_path):
    from drol.errors import ConfigError
    from drol.workflow_config import load_config as load_checked

    path = _write_config(tmp_path / "c.yaml", {**TINY_POINTMAZE, "methods": ["fql", "drol17"]})
    with pytest.raises(ConfigError, match="unknown column 'drol17'"):
        load_checked(path)


def test_manifest_is_rebuilt_when_the_grid_changes(tmp_path):
    manifest = "results/tables/manifest.csv"
    path = _write_config(tmp_path / "c.yaml", TINY_POINTMAZE)
    base = ("--configfile", str(path), "--directory", str(tmp_path), "--cores", "1")
    res = _snakemake(*base, manifest)
    assert res.returncode == 0, res.stderr[-2000:]
    assert set(pd.read_csv(tmp_path / manifest)["seed"]) == {0}
    _write_config(path, {**TINY_POINTMAZE, "seeds": [0, 1]})
    res = _snakemake(*base, manifest)
    assert res.returncode == 0, res.stderr[-2000:]
    assert set(pd.read_csv(tmp_path / manifest)["seed"]) == {0, 1}


def test_method_order_does_not_depend_on_import_order():
    """Table columns follow AGENT_MODULES, whichever agent module a process imported first."""
    script = "import drol.agents.drol; from drol.grid import column_labels; print(column_labels())"
    first_drol = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    script = "from drol.grid import column_labels; print(column_labels())"
    plain = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert first_drol == plain
    assert plain.index("'FQL'") < plain.index("'DROL(16)'")


@pytest.mark.parametrize(
    ("require_all_runs", "change"),
    [(True, "delete"), (False, "delete"), (False, "rescore")],
)
def test_a_lost_or_changed_score_json_outdates_every_table_target(
    tmp_path, require_all_runs, change
):
    """Snakemake does not rerun a job whose output exists when one of its inputs is deleted
    (nor, with recorded checksums, when an output is merely older); the tables must not go
    on counting a run whose score.json is gone or holds another score (issue 35)."""
    cfg = {
        **TINY_POINTMAZE,
        "seeds": [0, 1],
        "methods": {k: k == "drol16" for k in column_keys()},
        "train": {**TINY_POINTMAZE["train"], "seeds_per_job": 2},
        "tables": {"require_all_runs": require_all_runs},
    }
    path = _write_config(tmp_path / "c.yaml", cfg)
    shutil.copytree(ROOT / "config", tmp_path / "config")  # the paper's reported tables
    base = ["--configfile", str(path), "--directory", str(tmp_path), "--cores", "1"]
    res = _snakemake(*base, "--summary", "all_tables")
    assert res.returncode == 0, res.stderr[-2000:]
    files = [line.split("\t")[0] for line in res.stdout.splitlines()[1:] if "\t" in line]
    cell = f"results/runs/{POINTMAZE_TASK}/drol/K16"
    scores = [f"{cell}/seed{s}/score.json" for s in (0, 1)]
    order = ("data/", "/runs/", "kstar", "manifest", "tables/runs.csv", "task_summary", "tables/")
    # outputs newer than the workflow's code, else Snakemake's "code changed" trigger fires for
    # a script rule (manifest) in a fresh clone, whose files are all only minutes old
    newest_code = max(p.stat().st_mtime for p in (ROOT / "workflow").rglob("*") if p.is_file())
    stamp = max(time.time() - 1000, newest_code + 1)
    for f in sorted({*files, *scores},
                    key=lambda f: next((i for i, k in enumerate(order) if k in f), 99)):  # fmt: skip
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text(json.dumps({"score": 12.5}) if f in scores else "x")
        if f.endswith("tables/runs.csv"):  # what drol aggregate writes, in short
            rows = "".join(f"done,{cell}/seed{s},12.5\n" for s in (0, 1))
            (tmp_path / f).write_text(f"status,run_dir,score\n{rows}")
        stamp += 1
        os.utime(tmp_path / f, (stamp, stamp))  # in the order the workflow makes them
    runs_csv = tmp_path / "results" / "tables" / "runs.csv"
    assert "Nothing to be done" in _snakemake(*base, "-n", "all_tables").stdout
    seed1 = tmp_path / scores[1]
    if change == "delete":
        seed1.unlink()
    else:  # another score, its mtime kept (a copy that preserves it)
        before = seed1.stat().st_mtime
        seed1.write_text(json.dumps({"score": 40.0}))
        os.utime(seed1, (before, before))
    res = _snakemake(*base, "-n", "all_tables")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "score.json is gone or changed" in res.stderr and not runs_csv.exists()
    stats = job_stats(res.stdout + res.stderr)
    assert stats.get("aggregate") == 1 and stats.get("tables") == 1
    assert stats.get("train_seeds0", 0) == (1 if change == "delete" and require_all_runs else 0)


def job_requests(output: str) -> dict[str, list[dict[str, str]]]:
    """rule -> each job's resources (and `threads`: drol train/bench --threads) of `snakemake -n`."""
    out: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \S+:\n)", output):
        m = re.match(r"(local)?rule (\S+):", block)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if not m or not res:
            continue
        job = dict(item.split("=", 1) for item in res[1].split(", "))
        threads = re.search(r"--threads (\S+)", block)
        job["threads"] = threads[1] if threads else ""
        out.setdefault(m[2], []).append(job)
    return out


SLURM_KEYS = ("gpu", "cpus_per_task", "mem_mb", "runtime", "threads", "slurm_extra")


def slurm_dry_run(*extra: str) -> dict[str, list[dict[str, str]]]:
    # --cores: a dry run caps threads at --cores 1; a SLURM run leaves them unconstrained
    res = _snakemake(
        "all_tables", "bench", "-n", "--forceall", "--cores", "1024",
        "--profile", "profiles/slurm", "--configfile", "config/config.yaml", *extra,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Using profile profiles/slurm" in res.stdout + res.stderr
    return job_requests(res.stdout + res.stderr)


def test_paper_grid_under_the_slurm_profile_asks_one_policy_for_every_training_job():
    """Issue 34: every training job of the paper grid (rule train and the seed-batched
    train_seeds0) asks SLURM for the same GPU, CPUs (= drol train --threads), memory and a
    runtime within the 24 h cap, one value per rule (an array job takes its first task's);
    the bench job asks for a GPU (bench.device cuda)."""
    jobs = slurm_dry_run()
    train = {rule: js for rule, js in jobs.items() if re.fullmatch(r"train(_seeds\d+)?", rule)}
    assert {r: len(js) for r, js in train.items()} == {"train": 544, "train_seeds0": 783}
    assert sum(len(js) for js in train.values()) == 1327
    asked = {
        rule: {tuple((k, j.get(k)) for k in SLURM_KEYS) for j in js} for rule, js in train.items()
    }
    assert all(len(a) == 1 for a in asked.values()), asked  # uniform within a rule
    train_req = dict(next(iter(asked["train"])))
    batched_req = dict(next(iter(asked["train_seeds0"])))
    # the schema's defaults: 1 GPU, 4 CPUs and 4 threads, 16 GB; no bench given (unmeasured):
    # train.runtime_min x seeds over the cap -> the cap, resumed across attempts
    assert train_req == batched_req == {
        "gpu": "1", "cpus_per_task": "4", "mem_mb": "16000", "runtime": "1440",
        "threads": "4", "slurm_extra": None,
    }  # fmt: skip
    (bench,) = jobs["bench"]
    assert (bench["gpu"], bench["cpus_per_task"], bench["threads"]) == ("1", "4", "4")
    assert bench["slurm_extra"] == "--exclusive" and int(bench["runtime"]) <= 1440


def test_slurm_profile_site_group_overrides_every_training_rule_at_once(tmp_path):
    """A site's `set-resources: training:` changes every training rule and its cap; threads
    follow the CPUs asked for; the bench takes the site's partition; a rule name still wins."""
    jobs = slurm_dry_run(
        "--set-resources", "training:cpus_per_task=8", "training:runtime_cap=600",
        "training:slurm_partition='gpu'", "train:mem_mb=9000",
    )  # fmt: skip
    for rule in ("train", "train_seeds0"):
        reqs = {(j["cpus_per_task"], j["threads"], j["runtime"], j["gpu"]) for j in jobs[rule]}
        assert reqs == {("8", "8", "600", "1")}, rule
        assert {j["slurm_partition"] for j in jobs[rule]} == {"gpu"}
    assert {j["mem_mb"] for j in jobs["train"]} == {"9000"}
    assert {j["mem_mb"] for j in jobs["train_seeds0"]} == {"16000"}
    (bench,) = jobs["bench"]
    assert bench["slurm_partition"] == "gpu" and bench["cpus_per_task"] == "4"
    assert int(bench["runtime"]) <= 600
