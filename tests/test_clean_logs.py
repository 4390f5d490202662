"""Clean job logs: no gymnasium cast warning per action-space access (the cause is fixed, not
filtered) and no carriage-return progress bars when stderr is a file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import drol.progress as progress
from drol.data.ogbench_spaces import ORIGINAL
from drol.envs import load_task
from drol.errors import UserError
from drol.tasks import parse_task
from drol.train.evaluation import evaluate

CUBE = "cube-single-play-singletask-task2-v0"


def test_manipspace_action_space_is_one_float32_box_and_evaluation_warns_nothing(
    tiny_cube_single,
):
    data = load_task(parse_task(CUBE), tiny_cube_single.parent)
    env = data.env
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        space = env.action_space
        assert env.action_space is space and env.unwrapped.action_space is space
        assert space.dtype == np.float32 and space.low.dtype == np.float32
        rng = torch.Generator().manual_seed(0)
        episodes = evaluate(env, lambda o: torch.rand(1, 5, generator=rng) * 2 - 1, 1, seed=3)
        assert episodes[0]["length"] > 1
        env.reset(seed=1)
    assert not [w for w in caught if "precision lowered" in str(w.message)]
    # OGBench's own property: the same bounds, but a float64 cast (and a warning) per access
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        theirs = ORIGINAL["ManipSpaceEnv"].fget(env.unwrapped)
    assert [w for w in caught if "precision lowered" in str(w.message)]
    assert theirs.shape == space.shape and theirs.dtype == space.dtype
    np.testing.assert_array_equal(theirs.low, space.low)
    np.testing.assert_array_equal(theirs.high, space.high)


def test_log_progress_prints_rate_and_eta_every_n_seconds(monkeypatch, caplog):
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    monkeypatch.setenv(progress.EVERY_ENV, "5")
    bar = progress.progress_bar(100, desc="run", unit="step", initial=10)
    assert isinstance(bar, progress.LogProgress)  # pytest's stderr is not a terminal
    with caplog.at_level(logging.INFO, logger="drol.progress"), bar:
        for _ in range(40):  # 40 steps over 8 s: one line (at 5 s)
            clock[0] += 0.2
            bar.update(1)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["run: 35/100 step (35%), 5.0 step/s, ETA 0:00:13"]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_progress_interval_is_a_one_line_error(monkeypatch, value):
    monkeypatch.setenv(progress.EVERY_ENV, value)
    with pytest.raises(UserError, match=progress.EVERY_ENV):
        progress.progress_bar(10, desc="x", unit="step")


@pytest.mark.slow
def test_training_log_has_no_carriage_return_and_no_repeated_warning(tiny_cube_single, tmp_path):
    log_file = tmp_path / "train.log"
    cmd = [
        sys.executable, "-m", "drol", "train", "--task", CUBE, "--method", "fql", "--K", "4",
        "--steps", "40", "--eval-every", "10", "--eval-episodes", "1",
        "--data-dir", str(tiny_cube_single.parent), "--out", str(tmp_path / "run"),
        "--threads", "1", "--set", "log_every=10", "--set", "hidden=32", "--set", "batch_size=32",
    ]  # fmt: skip
    env = {**os.environ, progress.EVERY_ENV: "0.01"}
    with log_file.open("w") as fh:
        proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=600)
    text = log_file.read_text()
    assert proc.returncode == 0, text
    assert "\r" not in text
    assert "precision lowered" not in text
    warned = [line for line in text.splitlines() if "warn" in line.lower()]
    assert len(warned) == len(set(warned)), warned
    assert "step/s, ETA" in text
    assert text.count("success") == 5  # evaluations at 1, 10, 20, 30, 40
