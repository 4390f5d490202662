"""``drol train`` end to end: outputs, errors, determinism, kill-and-resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from drol.cli import main

POINTMAZE = "pointmaze-medium-navigate-singletask-task1-v0"
TINY = [
    "--set",
    "hidden=32",
    "--set",
    "depth=2",
    "--set",
    "batch_size=32",
    "--set",
    "num_probe_states=3",
    "--set",
    "probe_neighbors=8",
]


def train_args(data_dir: Path, out: Path, *, task=POINTMAZE, method="drol", steps=60, extra=()):
    return [
        "train", "--task", task, "--method", method, "--K", "4", "--seed", "0", "--steps", str(steps),
        "--eval-every", "30", "--eval-episodes", "1", "--data-dir", str(data_dir), "--out", str(out),
        "--threads", "1", "--set", "log_every=20", "--set", "checkpoint_every=20", *TINY, *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_real_train_on_generated_cube_single_writes_every_output(tiny_cube_single, tmp_path):
    out = tmp_path / "run"
    args = train_args(
        tiny_cube_single.parent, out, task="cube-single-play-singletask-task2-v0", steps=300
    )
    assert main(args) == 0
    for name in (
        "config.json",
        "train.csv",
        "eval.csv",
        "score.json",
        "checkpoint.pt",
        "probes.npz",
    ):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["agent"]["bc_coef"] == 10.0  # cube-single family default (Table 3)
    assert config["versions"]["torch"] == torch.__version__
    assert "d4rl_worker" not in config["versions"]  # D4RL runs only
    train = pd.read_csv(out / "train.csv")
    assert list(train["step"]) == [20 * i for i in range(1, 16)]
    for col in (
        "bc_loss",
        "q",
        "candidate_pairwise_dist",
        "candidate_divergence",
        "routing_entropy",
        "probe_flip_rate",
        "probe_winner_dist",
    ):
        assert col in train, col
    evals = pd.read_csv(out / "eval.csv")
    assert sorted(evals["step"].unique()) == [1, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300]
    assert "normalized_score" not in evals and evals["success"].isin([0.0, 1.0]).all()  # OGBench
    score = json.loads((out / "score.json").read_text())
    last3 = evals.groupby("step")["success_rate"].first().iloc[-3:].mean() * 100
    assert score["score"] == pytest.approx(last3)
    assert score["eval_steps"] == [240, 270, 300]
    probes = np.load(out / "probes.npz")
    assert probes["candidates"].shape == (15, 3, 4, 5)
    assert probes["owners"].shape == (15, 3, 8)


BASELINES = ["bc", "iql", "rebrac", "ifql"]


@pytest.mark.slow
@pytest.mark.parametrize("method", BASELINES)
def test_baselines_train_on_generated_cube_single_and_write_every_output(
    tiny_cube_single, tmp_path, method
):
    out = tmp_path / method
    task = "cube-single-play-singletask-task2-v0"
    assert main(train_args(tiny_cube_single.parent, out, task=task, method=method, steps=60)) == 0
    for name in ("config.json", "train.csv", "eval.csv", "score.json", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert not (out / "probes.npz").exists()  # probes are for candidate methods
    config = json.loads((out / "config.json").read_text())
    family = {  # the FQL paper's cube-single settings (drol/agents/<method>.py)
        "bc": {},
        "iql": {"alpha": 1.0},
        "rebrac": {"alpha_actor": 1.0, "alpha_critic": 0.0},
        "ifql": {"num_samples": 32},
    }[method]
    for key, value in family.items():
        assert config["agent"][key] == value, key
    train = pd.read_csv(out / "train.csv")
    assert list(train["step"]) == [20, 40, 60]
    assert np.isfinite(train["loss"]).all() and "val_actor_loss" in train
    score = json.loads((out / "score.json").read_text())
    assert 0.0 <= score["score"] <= 100.0


@pytest.mark.parametrize("method", ["drol", "drol_static", "fql", *BASELINES])
def test_train_is_deterministic_on_cpu(tiny_pointmaze, tmp_path, method):
    runs = []
    for name in ("a", "b"):
        assert main(train_args(tiny_pointmaze.parent, tmp_path / name, method=method)) == 0
        runs.append(torch.load(tmp_path / name / "checkpoint.pt", weights_only=True))
    for key, value in runs[0]["agent"]["model"].items():
        assert torch.equal(value, runs[1]["agent"]["model"][key]), key


def test_finished_run_exits_at_once(tiny_pointmaze, tmp_path):
    out = tmp_path / "run"
    assert main(train_args(tiny_pointmaze.parent, out, steps=20)) == 0
    mtime = (out / "checkpoint.pt").stat().st_mtime_ns
    t = time.perf_counter()
    assert main(train_args(tiny_pointmaze.parent, out, steps=20)) == 0
    assert time.perf_counter() - t < 2.0
    assert (out / "checkpoint.pt").stat().st_mtime_ns == mtime


def test_kill_and_resume_equals_uninterrupted_run(tiny_pointmaze, tmp_path):
    args = train_args(tiny_pointmaze.parent, tmp_path / "full", steps=200)
    assert main(args) == 0
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "drol", *train_args(tiny_pointmaze.parent, killed, steps=200)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while (
        not (killed / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None
    ):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "score.json").exists(), "the run finished before it could be killed"
    step_at_kill = json.loads(torch.load(killed / "checkpoint.pt")["progress"])["step"]
    assert 0 < step_at_kill < 200
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from step" in resumed.stderr
    full = json.loads((tmp_path / "full" / "score.json").read_text())
    again = json.loads((killed / "score.json").read_text())
    assert again["score"] == full["score"]
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(killed / "checkpoint.pt", weights_only=True)
    for key, value in a["agent"]["model"].items():
        assert torch.equal(value, b["agent"]["model"][key]), key
    for key, value in a["agent"]["optimizer"]["state"].items():
        assert torch.equal(value["exp_avg"], b["agent"]["optimizer"]["state"][key]["exp_avg"])
    ea = pd.read_csv(tmp_path / "full" / "eval.csv")
    eb = pd.read_csv(killed / "eval.csv")
    pd.testing.assert_frame_equal(ea, eb)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--task", "nonexistent-task-v0"], "unknown task"),
        (["--K", "0"], "K must be >= 1"),
        (["--set", "bc_coef=-1"], "bc_coef"),
        (["--set", "alpha=-3"], "alpha"),
        (["--set", "no_such_key=1"], "unknown hyperparameter"),
        (["--set", "q_agg=max"], "q_agg"),
    ],
)
def test_bad_input_is_a_one_line_error(tiny_pointmaze, tmp_path, capsys, change, message):
    args = train_args(tiny_pointmaze.parent, tmp_path / "run")
    for i in range(0, len(change), 2):
        if change[i] in args and change[i] != "--set":
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i : i + 2]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "run" / "score.json").exists()


def test_missing_dataset_names_file_and_command(tmp_path, capsys):
    assert (
        main(
            train_args(tmp_path / "empty", tmp_path / "run", task="scene-play-singletask-task2-v0")
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "scene-play-v0.npz" in err and "drol data generate scene-play-v0" in err


def test_nonfinite_loss_stops_and_writes_reason(tiny_pointmaze, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            train_args(
                tiny_pointmaze.parent, out, extra=["--set", "lr=1e30", "--set", "bc_coef=1e30"]
            )
        )
        == 2
    )
    reason = (out / "FAILED").read_text()
    assert "non-finite" in reason
    assert "non-finite" in capsys.readouterr().err
    assert not (out / "score.json").exists()


def test_speed_settings_in_config_and_resume_keeps_precision(tiny_pointmaze, tmp_path, capsys):
    """config.json records the speed settings (compile 'auto' is off for a short run); a
    checkpoint trained in bf16 is not resumed in fp32 (bf16 changes the result)."""
    out = tmp_path / "run"
    bf16 = ["--set", "precision=bf16"]
    assert main(train_args(tiny_pointmaze.parent, out, steps=20, extra=bf16)) == 0
    speed = json.loads((out / "config.json").read_text())["speed"]
    assert speed["precision"] == "bf16" and speed["compile"] == "off"
    assert speed["openmp_wait"]  # why that GOMP_SPINCOUNT (drol.speed.openmp)
    (out / "score.json").unlink()  # pretend the run was killed after its checkpoint
    assert main(train_args(tiny_pointmaze.parent, out, steps=20)) == 2
    assert "precision=bf16" in capsys.readouterr().err
