"""Environments and datasets for a task, through OGBench's own loader (and D4RL files)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drol import physics
from drol.data.fingerprint import DatasetFingerprint
from drol.data.paths import find_ogbench_dataset
from drol.data.seeding import global_numpy_seeded
from drol.data.transitions import ACTION_CLIP
from drol.errors import EnvUnavailableError, MissingDatasetError, UserError
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
            for problem in validate_arrays(p, spec, arrays).problems:
                log.warning("%s", problem)
        recorded = physics.dataset_physics(path)
        current = physics.ogbench_physics()
        if physics.differs(recorded, current):
            raise UserError(
                f"{path} was recorded under {physics.describe(recorded)}, but this environment "
                f"evaluates under {physics.describe(current)}: regenerate it here "
                f"(drol data generate {task.dataset}) or install the pinned simulator "
                "(docs/physics.md)"
            )
        return DatasetFingerprint.of(path.name, arrays, physics=recorded)
    if task.suite == D4RL:
        path, arrays = _d4rl_arrays(task, data_dir)
        for key in ("observations", "actions"):
            if not np.isfinite(arrays[key]).all():
                raise UserError(f"{path}: {key}: non-finite values (NaN/inf) in the dataset")
        return DatasetFingerprint.of(Path(path).name, arrays)
    raise EnvUnavailableError(f"unsupported suite {task.suite!r}")


def check_env(task: Task) -> None:
    """Fail fast (before a run directory is touched) when the task's environment cannot be
    built here: for D4RL, a missing D4RL venv raises :class:`EnvUnavailableError` naming
    ``drol d4rl setup``. OGBench's env comes with the project's own dependencies."""
    if task.suite == D4RL:
        from drol.d4rl.install import d4rl_python

        d4rl_python()


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of episode ``episode`` of an evaluation whose base seed is ``seed``."""
    return int(seed * 1000 + episode) % (2**31)


def reset_episode(env: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    """``env.reset(seed=seed)`` with the global NumPy RNG seeded from ``seed`` during the reset
    and the caller's state restored after: OGBench's maze envs (pointmaze, antmaze,
    humanoidmaze, antsoccer) draw their start noise from the global ``np.random``, which
    ``reset(seed=...)`` does not seed, so without this an episode's start depends on the
    process's history."""
    with global_numpy_seeded(seed):
        return env.reset(seed=seed)


@contextlib.contextmanager
def closing_env(env: Any) -> Iterator[Any]:
    """Close ``env`` after the block. When the block raised, an env with ``kill`` (the D4RL
    worker) is killed instead, which keeps its log beside the run's ``FAILED``."""
    try:
        yield env
    except BaseException:
        with contextlib.suppress(Exception):
            getattr(env, "kill", env.close)()
        raise
    env.close()


def load_task(
    task: Task, data_dir: str | os.PathLike | None, log_dir: str | os.PathLike | None = None
) -> TaskData:
    """Environment (``success_timing='post'``, as ogbench 1.1.0) and clipped datasets.

    ``log_dir``: where a D4RL worker writes its log (``d4rl-worker.log``; default a temporary
    file); the log is removed when the env closes cleanly, kept when anything failed.
    """
    if task.suite == OGBENCH:
        os.environ.setdefault("MUJOCO_GL", "egl")
        import ogbench

        from drol.data.ogbench_spaces import use_cached_action_spaces

        use_cached_action_spaces()  # no float64 Box (and gymnasium warning) per access
        path = find_ogbench_dataset(task.dataset, data_dir)
        env, train, val = ogbench.make_env_and_datasets(
            task.name, dataset_path=str(path), compact_dataset=False, success_timing="post"
        )
        return TaskData(env, _prepare(train), _prepare(val), str(path))
    if task.suite == D4RL:
        return _load_d4rl(task, data_dir, log_dir)
    raise EnvUnavailableError(f"unsupported suite {task.suite!r}")


def make_ogbench_env(task: Task, **env_kwargs: Any) -> Any:
    """The evaluation environment of an OGBench task alone (as :func:`load_task` makes it),
    with ``env_kwargs`` (e.g. ``width``/``height`` of its offscreen renderer)."""
    if task.suite != OGBENCH:
        raise EnvUnavailableError(f"{task.name}: not an OGBench task")
    os.environ.setdefault("MUJOCO_GL", "egl")
    import ogbench

    from drol.data.ogbench_spaces import use_cached_action_spaces

    use_cached_action_spaces()
    return ogbench.make_env_and_datasets(
        task.name, env_only=True, success_timing="post", **env_kwargs
    )


def _d4rl_arrays(
    task: Task, data_dir: str | os.PathLike | None
) -> tuple[str | os.PathLike, dict[str, np.ndarray]]:
    """The D4RL hdf5 of ``task`` (FQL's processing), else its Minari copy (Adroit only)."""
    from drol.data import d4rl as d4rl_data
    from drol.data import minari

    try:
        path = d4rl_data.find_d4rl_dataset(task.name, data_dir)
        return path, d4rl_data.load_d4rl_hdf5(path, task.name)
    except MissingDatasetError:
        path = minari.find_minari_d4rl(task.name, data_dir)  # Adroit only, when present
        if path is None:
            raise
        log.warning("%s: no D4RL hdf5, using the Minari copy %s", task.name, path)
        return path, minari.load_minari_dir(path, task.name)


def _load_d4rl(
    task: Task, data_dir: str | os.PathLike | None, log_dir: str | os.PathLike | None
) -> TaskData:
    """D4RL data (FQL's processing) and d4rl 1.1's own env, in a worker in the D4RL venv."""
    from drol.d4rl.client import LOG_NAME, D4RLEnv

    path, train = _d4rl_arrays(task, data_dir)
    log_path = Path(log_dir) / LOG_NAME if log_dir is not None else None
    # EnvUnavailableError naming `drol d4rl setup` when not built
    env = D4RLEnv(task.name, log_path=log_path)
    return TaskData(env, _prepare(train), None, str(path))
