"""Render a finished run's policy in its real environment to MP4 and GIF.

The policy is the run's ``checkpoint.pt`` (its final one once ``score.json`` exists), built
from ``config.json`` exactly as training built it. The episodes are those of the run's last
evaluation: the same episode seeds and latent generator (:func:`evaluation_seeds`), so each
video episode's success matches its ``eval.csv`` row. Frames come from MuJoCo's offscreen
renderer (OGBench's ``env.render()``; ``MUJOCO_GL=egl`` by default, CPU-only machines too) after
every ``frame_every``-th step (a frame costs ~0.1-0.3 s on a CPU). The MP4 (H.264 via
imageio-ffmpeg) holds every frame; the GIF every :data:`GIF_EVERY`-th at half size. D4RL tasks (mujoco-py in the worker venv) are not rendered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

from drol.agents import make_agent, make_config
from drol.agents.base import OfflineAgent, use_generator
from drol.envs import make_ogbench_env, reset_episode
from drol.errors import EnvUnavailableError, UserError
from drol.progress import progress_bar
from drol.tasks import OGBENCH, Task, parse_task
from drol.train.evaluation import evaluate, evaluation_seeds
from drol.train.rundir import CHECKPOINT, CONFIG, SCORE, read_json

log = logging.getLogger(__name__)

VIDEO = "video.mp4"  # default names in the run directory
GIF_EVERY = 3  # GIF frame stride (the MP4 keeps every step)


@dataclass
class TrainedRun:
    """A run's checkpoint, read and checked against its ``config.json``."""

    run_dir: Path
    task: Task
    config: dict[str, Any]
    agent_state: dict[str, Any]
    step: int  # the training step of the checkpoint
    finished: bool  # score.json exists: the checkpoint is the final one

    def agent(self, obs_dim: int, action_dim: int, device: str = "cpu") -> OfflineAgent:
        """The trained agent, built from ``config.json`` as training built it."""
        c = self.config
        try:
            cfg = make_config(c["method"], c["agent"], task=self.task, K=int(c["K"]))
            agent = make_agent(
                c["method"], obs_dim, action_dim, cfg, device=device, seed=int(c["seed"]),
                num_data=int(c["num_transitions"]),
            )  # fmt: skip
            agent.load_training_state(self.agent_state)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"{self.run_dir / CHECKPOINT} does not fit {self.run_dir / CONFIG} ({first})"
            ) from None
        return agent


def read_run(run_dir: Path) -> TrainedRun:
    """``config.json`` and ``checkpoint.pt`` of ``run_dir``; a one-line error naming the file."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / CONFIG)
    if config is None:
        raise UserError(f"{run_dir / CONFIG}: missing; is {run_dir} a drol train run directory?")
    if not (run_dir / CHECKPOINT).is_file():
        raise UserError(f"{run_dir / CHECKPOINT}: missing; train the run first (drol train)")
    try:
        task = parse_task(str(config["task"]))
        for key in ("method", "K", "seed", "agent", "num_transitions", "identity"):
            config[key]  # noqa: B018 - present
    except KeyError as err:
        raise UserError(f"{run_dir / CONFIG}: no {err} key; rerun drol train") from None
    try:
        blob = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
        identity, state = blob.get("identity"), blob["agent"]
        step = int(json.loads(blob["progress"])["step"])
    except Exception as err:  # noqa: BLE001 - any unreadable checkpoint
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot read {run_dir / CHECKPOINT} ({first})") from None
    if identity != config["identity"]:
        raise UserError(f"{run_dir / CHECKPOINT} belongs to another run than {run_dir / CONFIG}")
    return TrainedRun(run_dir, task, config, state, step, (run_dir / SCORE).is_file())


class FrameRecorder(gymnasium.Wrapper):
    """Passes a rendered frame to ``sink`` after each reset and every ``every``-th step (and
    an episode's last); ends an episode after ``max_steps`` steps when given (a short video)."""

    def __init__(
        self,
        env: Any,
        sink: Callable[[np.ndarray], None],
        max_steps: int | None,
        every: int = 1,
    ):
        super().__init__(env)
        self.sink, self.max_steps, self.every, self.t = sink, max_steps, every, 0

    def reset(self, **kwargs: Any):
        out = self.env.reset(**kwargs)
        self.t = 0
        self.sink(np.asarray(self.env.render()))
        return out

    def step(self, action: Any):
        ob, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.max_steps is not None and self.t >= self.max_steps:
            truncated = True
        if self.t % self.every == 0 or terminated or truncated:
            self.sink(np.asarray(self.env.render()))
        return ob, reward, terminated, truncated, info


@dataclass
class VideoResult:
    mp4: Path
    gif: Path
    frames: int
    step: int
    episodes: list[dict[str, float]] = field(default_factory=list)


def output_paths(run_dir: Path, out: Path | None) -> tuple[Path, Path]:
    """(MP4, GIF) paths: ``RUN_DIR/video.mp4`` by default; ``--out`` ends in .mp4 or .gif."""
    out = Path(out) if out is not None else Path(run_dir) / VIDEO
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise UserError(f"--out {out}: must end in .mp4 or .gif (both files are written)")
    return out.with_suffix(".mp4"), out.with_suffix(".gif")


# MUJOCO_GL values MuJoCo's Python bindings accept for an offscreen context
GL_BACKENDS = ("egl", "osmesa", "glfw")
GL_HELP = (
    "on a machine without a display use MUJOCO_GL=egl with Mesa's EGL "
    "(apt-get install -y libegl1 libegl-mesa0), or osmesa with libosmesa6; glfw needs a display"
)


def open_renderer(task: Task, width: int, height: int) -> Any:
    """The task's env with an offscreen renderer that has drawn one frame; a one-line
    :class:`UserError` naming ``MUJOCO_GL`` when the chosen backend cannot render here."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    backend = os.environ["MUJOCO_GL"]
    if backend.lower() not in GL_BACKENDS:
        raise UserError(
            f"MUJOCO_GL={backend}: not an offscreen backend MuJoCo has "
            f"({', '.join(GL_BACKENDS)}); {GL_HELP}"
        )
    env = None
    try:
        env = make_ogbench_env(task, width=width, height=height)
        reset_episode(env, 0)
        env.render()
    except Exception as err:  # noqa: BLE001 - any failure of the GL stack is the backend's
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()
        raise UserError(
            f"MUJOCO_GL={backend}: MuJoCo's renderer failed here ({_reason(err)}); {GL_HELP}"
        ) from None
    return env


def _reason(err: BaseException) -> str:
    try:
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    except Exception:  # noqa: BLE001 - some GL errors cannot even print themselves
        text = ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def render_run(
    run_dir: Path,
    *,
    episodes: int = 1,
    out: Path | None = None,
    width: int = 256,
    height: int = 256,
    fps: int = 30,
    max_steps: int | None = None,
    frame_every: int = 1,
    device: str = "cpu",
) -> VideoResult:
    """Render ``episodes`` evaluation episodes of the run's policy; write the MP4 and GIF."""
    import imageio.v2 as imageio

    mp4, gif = output_paths(run_dir, out)
    run = read_run(Path(run_dir))
    if run.task.suite != OGBENCH:
        raise EnvUnavailableError(
            f"{run.task.name}: videos of D4RL tasks are not supported (their envs run under "
            "mujoco-py in the D4RL worker, which renders nothing here); OGBench tasks only"
        )
    if not run.finished:
        log.warning("%s: unfinished run; rendering its checkpoint at step %d", run_dir, run.step)
    base_env = open_renderer(run.task, width, height)
    obs_dim = int(np.prod(base_env.observation_space.shape))
    agent = run.agent(obs_dim, int(np.prod(base_env.action_space.shape)), device)
    mp4.parent.mkdir(parents=True, exist_ok=True)
    tmp_mp4 = mp4.with_name(f".{mp4.stem}.{os.getpid()}.tmp.mp4")
    tmp_gif = gif.with_name(f".{gif.stem}.{os.getpid()}.tmp.gif")
    gif_frames: list[np.ndarray] = []
    count = [0]
    writer = imageio.get_writer(
        tmp_mp4, fps=fps, codec="libx264", quality=7, macro_block_size=1, ffmpeg_log_level="error"
    )

    horizon = getattr(base_env.spec, "max_episode_steps", None) or 1000
    steps = min(horizon, max_steps or horizon) // frame_every + 2
    bar = progress_bar(episodes * steps, desc=f"video {run.task.name}", unit="frame")

    def sink(frame: np.ndarray) -> None:
        writer.append_data(frame)
        if count[0] % GIF_EVERY == 0:
            gif_frames.append(frame[::2, ::2])
        count[0] += 1
        bar.update(1)

    try:
        env = FrameRecorder(base_env, sink, max_steps, frame_every)
        env_seed, latent_seed = evaluation_seeds(int(run.config["seed"]), run.step)
        gen = torch.Generator(device=device).manual_seed(latent_seed)
        with torch.no_grad(), use_generator(agent, gen):
            results = evaluate(env, agent.act, episodes, seed=env_seed, device=device)
        writer.close()
        imageio.mimsave(tmp_gif, gif_frames, duration=1000 * GIF_EVERY / fps, loop=0)
        os.replace(tmp_mp4, mp4)
        os.replace(tmp_gif, gif)
    finally:
        bar.close()
        writer.close()
        base_env.close()
        tmp_mp4.unlink(missing_ok=True)
        tmp_gif.unlink(missing_ok=True)
    for e in results:
        log.info(
            "episode %d: success %.2f, return %.1f, %d steps",
            e["episode"], e["success"], e["return"], e["length"],
        )  # fmt: skip
    log.info("wrote %s and %s (%d frames, policy at step %d)", mp4, gif, count[0], run.step)
    return VideoResult(mp4, gif, count[0], run.step, results)


__all__ = ["FrameRecorder", "TrainedRun", "VideoResult", "output_paths", "read_run", "render_run"]
