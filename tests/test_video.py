"""``drol video``: a trained run's policy rendered in its real environment to MP4 and GIF."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pandas as pd
import pytest
from test_train import train_args

from drol.cli import main


@pytest.fixture(scope="module")
def pointmaze_run(tiny_pointmaze, tmp_path_factory):
    out = tmp_path_factory.mktemp("video") / "run"
    assert main(train_args(tiny_pointmaze.parent, out, steps=20)) == 0
    return out


def drol_video(*args: str) -> None:
    """``drol video`` in its own process, as a user runs it (MuJoCo picks its GL backend when
    first imported: here the data fixtures imported it before ``MUJOCO_GL`` was set)."""
    res = subprocess.run(
        [sys.executable, "-m", "drol", "video", *args], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-2000:]


def frames_of(path, most: int = 5000) -> np.ndarray:
    frames = []
    with imageio.get_reader(path) as reader:
        for frame in reader:
            frames.append(frame)
            assert len(frames) <= most, f"{path}: more than {most} frames"
    return np.stack(frames)


def test_video_frames_are_rendered_not_blank_and_change(pointmaze_run, tmp_path):
    out = tmp_path / "clip.mp4"
    size = ["--width", "96", "--height", "96"]
    drol_video(
        str(pointmaze_run), "--max-steps", "41", "--frame-every", "2", *size, "--out", str(out)
    )
    frames = frames_of(out)
    assert frames.shape == (22, 96, 96, 3)  # the reset, steps 2, 4, ..., 40, and the last (41)
    assert all(f.std() > 10 for f in frames)  # a maze, not a blank or one-colour frame
    assert np.abs(frames[-1].astype(float) - frames[0]).mean() > 0.05  # the agent moved
    gif = frames_of(out.with_suffix(".gif"))
    assert gif.shape[0] == 8 and gif.shape[1:3] == (48, 48)  # every 3rd frame, half size
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left


@pytest.mark.slow
def test_video_replays_the_last_evaluation_episode(pointmaze_run, tmp_path):
    out = tmp_path / "full.gif"
    drol_video(str(pointmaze_run), "--width", "32", "--height", "32", "--out", str(out))
    ev = pd.read_csv(pointmaze_run / "eval.csv")
    last = ev[(ev["step"] == ev["step"].max()) & (ev["episode"] == 0)].iloc[0]
    frames = frames_of(out.with_suffix(".mp4"))
    assert len(frames) == int(last["length"]) + 1  # the same episode, step for step


def test_video_errors_are_one_line(pointmaze_run, tmp_path, capsys):
    assert main(["video", str(tmp_path / "nothing")]) == 2
    assert "config.json: missing" in capsys.readouterr().err
    assert main(["video", str(pointmaze_run), "--out", str(tmp_path / "v.avi")]) == 2
    assert "must end in .mp4 or .gif" in capsys.readouterr().err
    assert main(["video", str(pointmaze_run), "--episodes", "0"]) == 2
    assert "--episodes" in capsys.readouterr().err
    d4rl = tmp_path / "d4rl"
    shutil.copytree(pointmaze_run, d4rl)
    config = json.loads((d4rl / "config.json").read_text())
    (d4rl / "config.json").write_text(json.dumps({**config, "task": "pen-human-v1"}))
    assert main(["video", str(d4rl)]) == 2
    err = capsys.readouterr().err.strip()
    assert "D4RL tasks are not supported" in err and "\n" not in err
    assert not list(d4rl.glob("video.*"))


@pytest.mark.workflow
def test_videos_target_makes_one_per_task_and_column(tmp_path):
    from test_workflow import TINY_POINTMAZE, _snakemake, _write_config, job_stats

    from drol.grid import column_keys

    cfg = {
        **TINY_POINTMAZE,
        "ogbench": {**TINY_POINTMAZE["ogbench"], "tasks": [1, 2]},
        "seeds": [0, 1],
        "methods": {key: key in ("drol16", "fql") for key in column_keys()},
        "k_selection": "table3",
    }
    path = _write_config(tmp_path / "c.yaml", cfg)
    res = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path), "videos")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-2000:]
    stats = job_stats(out)
    assert stats["video"] == 2 * 2  # 2 tasks x 2 columns (DROL(16), FQL), first seed only
    videos = set(re.findall(r"results/videos/(\S+)\.gif", out))
    assert len(videos) == 4 and all(v.endswith("/seed0") for v in videos), videos
