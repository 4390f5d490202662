"""``drol bench --json`` prints one JSON object with the documented fields."""

from __future__ import annotations

import json

import pytest
import torch

from drol.cli import main

FIELDS = {
    "method",
    "K",
    "device",
    "train_steps_per_s",
    "train_step_ms",
    "inference_ms",
    "torch",
    "threads",
    "repeats",
    "impl",
    "precision",
    "compile",
    "compiled",
    "compile_s",
    "gomp_spincount",
    "cpu_model",
    "other_busy_cpus",  # drol.speed.load: the load the benchmark saw
    "machine_cpus",
    "usable_cpus",
    "load_1min_before",
    "load_1min_after",
    "seeds",  # --seeds S: agents one timed step updates
    "seed_steps_per_s",
}


@pytest.mark.parametrize("method", ["drol", "drol_static", "fql"])
def test_bench_json(method, capsys):
    argv = ["bench", "--method", method, "--K", "4", "--obs-dim", "6", "--action-dim", "2", "--hidden", "16",
            "--batch-size", "8", "--repeats", "2", "--steps", "2", "--warmup", "1", "--json",
            "--set", "compile=off"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert result.keys() >= FIELDS
    assert result["method"] == method and result["K"] == 4 and result["device"] == "cpu"
    assert result["train_steps_per_s"] > 0 and result["inference_ms"] > 0
    assert len(result["train_steps_per_s_repeats"]) == 2
    assert result["compile"] == "off" and not result["compiled"]


@pytest.mark.slow
def test_bench_compiles_by_default(capsys):
    argv = ["bench", "--method", "drol", "--K", "4", "--obs-dim", "6", "--action-dim", "2", "--hidden", "16",
            "--batch-size", "8", "--repeats", "1", "--steps", "2", "--warmup", "1", "--json",
            "--set", "precision=bf16"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip())
    assert result["compile"] == "on" and result["compiled"] and result["compile_s"] > 0
    assert result["precision"] == "bf16"


def test_bench_rejects_bad_k(capsys):
    assert main(["bench", "--method", "drol", "--K", "0", "--json"]) == 2
    assert "--K must be >= 1" in capsys.readouterr().err


TOY = ["--obs-dim", "6", "--action-dim", "2", "--hidden", "16", "--batch-size", "8",
       "--repeats", "2", "--steps", "2", "--warmup", "1", "--json"]  # fmt: skip


def test_bench_one_seed_reports_its_seed_steps(capsys):
    assert main(["bench", "--method", "fql", *TOY, "--set", "compile=off"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == 1
    assert result["seed_steps_per_s"] == result["train_steps_per_s"]


@pytest.mark.parametrize("method", ["drol", "rebrac"])
def test_bench_seed_batched_step(method, capsys):
    """--seeds 2 times one seed-batched update of two agents (here eager: compile=off)."""
    argv = ["bench", "--method", method, "--K", "4", *TOY, "--seeds", "2", "--set", "compile=off"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result.keys() >= FIELDS | {"seeds", "seed_steps_per_s"}
    assert result["seeds"] == 2
    assert result["seed_steps_per_s"] == pytest.approx(2 * result["train_steps_per_s"])
    assert result["compile"] == "off" and not result["compiled"] and result["precision"] == "fp32"


def test_seed_batched_step_updates_every_seed(monkeypatch):
    """The timed step is SeedBatch's: both seeds' stacked weights move, each its own way."""
    from drol.speed import benchmark as bench
    from drol.speed.seed_batch import SeedBatch

    seen: list[SeedBatch] = []
    real = SeedBatch.__init__

    def keep(self, agents, compile=False):
        real(self, agents, compile)
        seen.append(self)

    monkeypatch.setattr(SeedBatch, "__init__", keep)
    settings = bench.BenchSettings(
        method="fql", obs_dim=6, action_dim=2, hidden=16, batch_size=8, repeats=1, steps=1,
        warmup=1, seeds=2, overrides=["compile=off"],
    )  # fmt: skip
    bench.benchmark(settings)
    (stack,) = seen
    name = next(n for n in stack.params if not n.startswith("target_"))
    before = torch.stack([dict(a.named_parameters())[name].detach() for a in stack.agents])
    after = stack.params[name].detach()
    assert not torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])
    assert not torch.equal(after[0] - before[0], after[1] - before[1])


def test_bench_seeds_refuses_bf16(capsys):
    argv = ["bench", "--method", "fql", *TOY, "--seeds", "2", "--set", "precision=bf16"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--seeds 2: the seed-batched step runs in fp32 only" in err


@pytest.mark.slow
def test_bench_seeds_compiled(capsys):
    """compile=on (and 'auto', a benchmark's steady state) compiles the seed-batched losses."""
    argv = ["bench", "--method", "fql", *TOY, "--seeds", "2", "--set", "compile=on"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["compiled"] and result["compile_s"] > 0 and result["seeds"] == 2


def test_bench_rejects_zero_seeds(capsys):
    assert main(["bench", "--method", "fql", *TOY, "--seeds", "0"]) == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err


def test_bench_pairs_write_one_json_per_pair_equal_in_kind_to_single_runs(tmp_path, capsys):
    """The workflow's one bench job: every (method, K) in one process, each to its file."""
    out = tmp_path / "bench"
    toy = [a for a in TOY if a != "--json"]
    assert main(["bench", "--pairs", "bc:1,drol:4", "--out-dir", str(out), *toy,
                 "--set", "compile=off"]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["bc_K1.json", "drol_K4.json"]
    drol = json.loads((out / "drol_K4.json").read_text())
    assert (drol["method"], drol["K"], drol["hidden"]) == ("drol", 4, 16)
    assert main(["bench", "--method", "drol", "--K", "4", *TOY, "--set", "compile=off"]) == 0
    assert json.loads(capsys.readouterr().out).keys() == drol.keys()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--pairs", "bc:1,nosuch:4", "--out-dir", "x"], "bad --pairs item 'nosuch:4'"),
        (["--pairs", "drol:0", "--out-dir", "x"], "bad --pairs item 'drol:0'"),
        (["--pairs", "bc:1"], "--pairs needs --out-dir"),
        (["--method", "bc", "--out-dir", "x"], "--out-dir goes with --pairs"),
        ([], "give --method METHOD"),
    ],
)
def test_bench_pairs_bad_input_is_one_line(tmp_path, capsys, argv, needle):
    argv = [a.replace("x", str(tmp_path / "x")) if a == "x" else a for a in argv]
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # nothing timed, nothing written
