"""``drol cost``: the grid's device-hours per column from hand-made ``drol bench --json`` files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from drol.cli import main
from drol.report.cost import evaluations

# two families (K* 16 and 4), one task each, two seeds, 1000 steps; FQL, DROL(16), DROL* and a
# K sweep over K = 1, 16 on the cube task; on CPU (train.seeds_per_job auto: 1 seed per job)
CONFIG = """
ogbench: {families: [cube-single-play, antsoccer-arena-navigate], tasks: [1], steps: 1000}
d4rl: {tasks: []}
seeds: [0, 1]
methods: {bc: false, iql: false, rebrac: false, fawac: false, fbrac: false, ifql: false,
          deflow: false, sorl: false, drol_static: false, fql: true, drol16: true, drol_star: true}
ksweep: {Ks: [1, 16], tasks: [cube-single-play-singletask-task1-v0]}
train: {eval_every: 500, eval_episodes: 3, device: cpu, gpu: 0}
"""


def bench(method: str, K: int, seeds: int, rate: float, **extra) -> dict:
    """A ``drol bench --json`` result with ``rate`` seed-steps/s (paper sizes, CPU)."""
    return {
        "method": method, "K": K, "device": "cpu", "cpu_model": "Test CPU", "threads": 1,
        "hidden": 512, "batch_size": 256, "train_steps_per_s": rate / seeds, "seeds": seeds,
        "seed_steps_per_s": rate, **extra,
    }  # fmt: skip


ENTRIES = [
    bench("fql", 16, 1, 10.0),
    bench("drol", 16, 1, 5.0),
    bench("drol", 4, 1, 8.0),
    bench("drol", 1, 1, 20.0),
    bench("fql", 16, 2, 16.0),
    bench("drol", 16, 2, 12.0),
    bench("drol", 1, 2, 40.0),
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    lines = tmp_path / "bench.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in ENTRIES) + "\n")
    return config, lines


def cost_json(capsys, *argv: str) -> dict:
    assert main(["cost", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def rows_by_column(result: dict) -> dict[str, dict]:
    return {r["column"]: r for r in result["rows"]}


def test_hours_per_column_one_seed_per_job(files, capsys):
    config, lines = files
    result = cost_json(capsys, str(lines), "--configfile", str(config))
    rows = rows_by_column(result)
    assert list(rows) == ["FQL", "DROL(16)", "DROL*", "K-sweep", "total"]
    assert rows["FQL"]["runs"] == 4 and rows["FQL"]["steps_per_run"] == "1k"
    assert rows["FQL"]["train_hours"] == pytest.approx(4 * 1000 / 10 / 3600)
    assert rows["DROL(16)"]["train_hours"] == pytest.approx(4 * 1000 / 5 / 3600)
    # DROL* on the cube task (K* = 16) is DROL(16)'s runs: only antsoccer's K = 4 runs are new
    assert (rows["DROL*"]["runs"], rows["DROL*"]["shared"]) == (4, 2)
    assert rows["DROL*"]["train_hours"] == pytest.approx(2 * 1000 / 8 / 3600)
    assert rows["DROL*"]["seed_steps_per_s"] == pytest.approx(8.0)
    # the sweep's K = 16 runs are DROL(16)'s too
    assert (rows["K-sweep"]["runs"], rows["K-sweep"]["shared"]) == (4, 2)
    assert rows["K-sweep"]["train_hours"] == pytest.approx(2 * 1000 / 20 / 3600)
    total = rows["total"]
    assert total["runs"] == 12
    assert total["hours"] == pytest.approx((400 + 800 + 250 + 100) / 3600)
    assert total["eval_hours"] is None
    assert "training only (evaluation time excluded)" in result["note"]
    assert rows["FQL"]["device"] == "Test CPU (1 threads)" and rows["FQL"]["basis"] == "exact"


def test_seeds_per_job_uses_the_batched_rate_or_says_it_fell_back(files, capsys):
    config, lines = files
    argv = [str(lines), "--configfile", str(config), "--seeds-per-job", "2"]
    rows = rows_by_column(cost_json(capsys, *argv))
    assert rows["FQL"]["train_hours"] == pytest.approx(4 * 1000 / 16 / 3600)
    assert rows["DROL(16)"]["train_hours"] == pytest.approx(4 * 1000 / 12 / 3600)
    # no S=2 bench of DROL K=4: priced at its S=1 rate, and the basis says so
    assert rows["DROL*"]["train_hours"] == pytest.approx(2 * 1000 / 8 / 3600)
    assert rows["DROL*"]["basis"] == "S=1 bench (2 runs)"
    assert rows["FQL"]["basis"] == "exact"


def test_evaluation_hours_from_a_measured_rate(files, capsys):
    config, lines = files
    argv = [str(lines), "--configfile", str(config), "--eval-episodes-per-s", "0.5"]
    rows = rows_by_column(cost_json(capsys, *argv))
    per_run = 3 * 3 / 0.5  # evaluations at steps 1, 500, 1000; 3 episodes each
    assert rows["FQL"]["eval_hours"] == pytest.approx(4 * per_run / 3600)
    assert rows["FQL"]["hours"] == pytest.approx((400 + 4 * per_run) / 3600)
    assert rows["total"]["eval_hours"] == pytest.approx(12 * per_run / 3600)


def test_markdown_and_csv(files, tmp_path, capsys):
    config, lines = files
    assert main(["cost", str(lines), "--configfile", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| column | runs | shared |")
    assert "| **total** | 12 |" in out
    assert "training only (evaluation time excluded)" in out
    csv = tmp_path / "cost.csv"
    assert main(["cost", str(lines), "--configfile", str(config), "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    assert list(table["column"]) == ["FQL", "DROL(16)", "DROL*", "K-sweep", "total"]
    assert table.set_index("column").loc["total", "runs"] == 12


def test_a_directory_of_json_files(files, tmp_path, capsys):
    config, _ = files
    folder = tmp_path / "bench"
    folder.mkdir()
    for i, entry in enumerate(ENTRIES):
        (folder / f"{i}.json").write_text(json.dumps(entry, indent=2))
    rows = rows_by_column(cost_json(capsys, str(folder), "--configfile", str(config)))
    assert rows["total"]["hours"] == pytest.approx(1550 / 3600)


def test_old_bench_json_without_seeds_counts_as_one_seed(files, tmp_path, capsys):
    config, _ = files
    old = tmp_path / "old.jsonl"
    entries = [{k: v for k, v in e.items() if k not in ("seeds", "seed_steps_per_s")}
               for e in ENTRIES if e["seeds"] == 1]  # fmt: skip
    old.write_text("\n".join(json.dumps(e) for e in entries))
    rows = rows_by_column(cost_json(capsys, str(old), "--configfile", str(config)))
    assert rows["total"]["hours"] == pytest.approx(1550 / 3600)


def test_a_column_without_a_bench_entry_names_the_command(files, tmp_path, capsys):
    config, _ = files
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(json.dumps(e) for e in ENTRIES if e["K"] != 4))
    assert main(["cost", str(partial), "--configfile", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "column DROL*: no bench entry for drol K=4 at 512x256" in err
    assert "drol bench --method drol --K 4 --hidden 512 --batch-size 256 --seeds 1 --json" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"method": "fql"\n', "line 1: not JSON"),
        ('{"method": "fql"}\n', "not a drol bench --json result (no K, train_steps_per_s"),
        ("[1, 2]\n", "not a drol bench --json object"),
    ],
)
def test_garbled_bench_file(files, tmp_path, capsys, content, message):
    config, _ = files
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["cost", str(bad), "--configfile", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(bad) in err


def test_missing_bench_file_and_config(files, tmp_path, capsys):
    config, lines = files
    assert main(["cost", str(tmp_path / "nope.json"), "--configfile", str(config)]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["cost", str(lines), "--configfile", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_bench_entries_of_two_devices_are_refused(files, tmp_path, capsys):
    config, _ = files
    mixed = tmp_path / "mixed.jsonl"
    gpu = {**ENTRIES[0], "device": "NVIDIA H100"}
    mixed.write_text("\n".join(json.dumps(e) for e in [*ENTRIES, gpu]))
    assert main(["cost", str(mixed), "--configfile", str(config)]) == 2
    assert "come from several devices" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("steps", "every", "n"), [(1000, 500, 3), (1000, 300, 5), (1, 100, 1), (100, 1, 100)]
)
def test_evaluations_follow_the_training_loop(steps, every, n):
    assert evaluations(steps, every) == n


def test_another_size_is_priced_on_the_safe_side():
    from drol.report.cost import BenchIndex, entry_of

    index = BenchIndex(
        [
            entry_of(bench("bc", 16, 1, 400.0, hidden=128), "a"),
            entry_of(bench("bc", 16, 1, 50.0, hidden=512), "b"),
            entry_of(bench("bc", 16, 1, 20.0, hidden=1024), "c"),
        ]
    )
    price = index.price("bc", 1, 1, hidden=256, batch_size=256)
    assert price.seed_steps_per_s == 50.0 and price.notes == ("bench at 512x256",)
    assert index.price("bc", 1, 1, hidden=2048, batch_size=256).seed_steps_per_s == 20.0
    assert index.price("bc", 1, 1, hidden=128, batch_size=256).notes == ()
    assert index.price("fql", 1, 1, hidden=128, batch_size=256) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]\n", "not a mapping of keys to values"),
        ("seeds: [0\n", "not YAML"),
        ("seeds: zero\n", "invalid config at 'seeds'"),
        ("methods: {nope: true}\n", "invalid config at 'methods'"),
    ],
)
def test_a_bad_config_is_one_line(files, tmp_path, capsys, content, message):
    _, lines = files
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    assert main(["cost", str(lines), "--configfile", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


@pytest.mark.parametrize(
    ("train", "per_job"),
    [
        ("device: cpu, gpu: 0", 1),  # auto on CPU: seed by seed
        ("gpu: 1", 2),  # auto on a GPU: every seed of a cell (2 here)
        ("device: cuda, gpu: 0", 2),
        ("device: cpu, gpu: 0, seeds_per_job: 2", 2),
    ],
)
def test_seeds_per_job_defaults_to_the_configs(files, tmp_path, capsys, train, per_job):
    _, lines = files
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.replace("device: cpu, gpu: 0", train))
    result = cost_json(capsys, str(lines), "--configfile", str(config))
    assert result["seeds_per_job"] == per_job
    fql = rows_by_column(result)["FQL"]
    assert fql["train_hours"] == pytest.approx(4 * 1000 / (10.0 if per_job == 1 else 16.0) / 3600)
