"""Environments and datasets for a task, through OGBench's own loader (and D4RL files)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drol.data.paths import find_ogbench_dataset
from drol.data.transitions import ACTION_CLIP
from drol.errors import EnvUnavailableError, UserError
from drol.rundir import DatasetFingerprint
from drol.tasks import D4RL, OGBENCH, Task

log = logging.getLogger(__name__)

DATA_KEYS = ("observations", "actions", "next_observations", "rewards", "masks", "terminals")


@dataclass
class TaskData:
    env: Any  # gymnasium environment used for evaluation
    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray] | None
    dataset_path: str


def _prepare(ds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {k: np.asarray(ds[k], dtype=np.float32) for k in DATA_KEYS}
    out["actions"] = np.clip(out["actions"], -ACTION_CLIP, ACTION_CLIP)
    return out


def check_dataset(task: Task, data_dir: str | os.PathLike | None) -> DatasetFingerprint:
    """Find and validate the task's dataset before anything is trained (keys, dtypes, shapes,
    lengths, finite values, terminals, dimensions vs the task); return its fingerprint.

    Raises a one-line :class:`~drol.errors.UserError` naming the file and the field.
    """
    if data_dir is not None and Path(data_dir).is_dir():
        try:
            os.listdir(data_dir)
        except OSError as err:
            raise UserError(f"--data-dir {data_dir}: cannot read it ({err.strerror})") from None
    if task.suite == OGBENCH:
        from drol.data.check import read_arrays, required_keys, validate_arrays
        from drol.data.npzfile import val_path_for
        from drol.data.registry import get_spec

        path = find_ogbench_dataset(task.dataset, data_dir)
        spec = get_spec(task.dataset)
        arrays = {}
        for p in (val_path_for(path), path):  # train last: its arrays are fingerprinted
            arrays = read_arrays(p, required_keys(spec))
            validate_arrays(p, spec, arrays)
        return DatasetFingerprint.of(path.name, arrays)
    if task.suite == D4RL:
        from drol.data import d4rl as d4rl_data

        path = d4rl_data.find_d4rl_dataset(task.name, data_dir)
        arrays = d4rl_data.load_d4rl_hdf5(path, task.name)
        for key in ("observations", "actions"):
            if not np.isfinite(arrays[key]).all():
                raise UserError(f"{path}: {key}: non-finite values (NaN/inf) in the dataset")
        return DatasetFingerprint.of(Path(path).name, arrays)
    raise EnvUnavailableError(f"unsupported suite {task.suite!r}")


def load_task(task: Task, data_dir: str | os.PathLike | None) -> TaskData:
    """Environment (``success_timing='post'``, as ogbench 1.1.0) and clipped datasets."""
    if task.suite == OGBENCH:
        os.environ.setdefault("MUJOCO_GL", "egl")
        import ogbench

        path = find_ogbench_dataset(task.dataset, data_dir)
        env, train, val = ogbench.make_env_and_datasets(
            task.name, dataset_path=str(path), compact_dataset=False, success_timing="post"
        )
        return TaskData(env, _prepare(train), _prepare(val), str(path))
    if task.suite == D4RL:
        return _load_d4rl(task, data_dir)
    raise EnvUnavailableError(f"unsupported suite {task.suite!r}")


def _load_d4rl(task: Task, data_dir: str | os.PathLike | None) -> TaskData:
    from drol.data import d4rl as d4rl_data

    path = d4rl_data.find_d4rl_dataset(task.name, data_dir)
    train = d4rl_data.load_d4rl_hdf5(path, task.name)
    try:
        import d4rl  # noqa: F401
        import gym
    except ImportError as err:
        raise EnvUnavailableError(
            f"task {task.name} needs the D4RL environments: dataset {path} was found, but "
            f"importing them failed ({err}); install d4rl with MuJoCo 2.1 (see README, 'D4RL')"
        ) from None
    env = _D4RLEnv(gym.make(task.name))
    return TaskData(env, _prepare(train), None, str(path))


class _D4RLEnv:
    """gym (old API) -> gymnasium-style reset/step, with the normalised score in info."""

    def __init__(self, env: Any):
        self.env = env
        self.action_space = env.action_space
        self.ret = 0.0

    def reset(self, seed: int | None = None, options: Any = None):
        if seed is not None:
            self.env.seed(seed)
        self.ret = 0.0
        return self.env.reset(), {}

    def step(self, action):
        ob, r, done, info = self.env.step(action)
        self.ret += r
        info = dict(info)
        info["normalized_return"] = 100.0 * self.env.get_normalized_score(self.ret)
        truncated = bool(info.get("TimeLimit.truncated", False))
        return ob, r, done and not truncated, truncated, info
