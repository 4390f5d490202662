"""Record seeded OGBench rollouts, to compare one install's physics with another's, step by step.

Standalone (numpy, gymnasium, ogbench, mujoco and the standard library; no drol, no torch), so
that it runs in the official code's pins too (tests/physics/official-requirements.txt:
ogbench 1.1.0, gymnasium 0.29.1, numpy 1.26.4, MuJoCo 3.3.0)::

    python tests/physics/record_rollouts.py --out rollouts.npz

writes, for each task of TASKS and each episode seed ``s`` of SEEDS, under ``{task}/seed{s}/``:
``reset_observation``, ``observations`` (one row per step), ``rewards``, ``terminated``,
``truncated``, ``success`` (``info['success']``) and the final ``qpos``/``qvel``; and under
``versions`` the installed ogbench/mujoco/gymnasium/numpy versions as a JSON string.

An episode: the global NumPy RNG and the env are both seeded with ``s`` at reset (OGBench's maze
envs draw their start noise from the global ``np.random``), then STEPS float32 actions drawn
uniformly in [-1, 1] from ``np.random.default_rng(ACTION_SEED_OFFSET + s)``.

tests/test_physics.py imports :func:`record` and passes the project's env factory and reset
(``drol.envs``) instead of this script's raw OGBench ones, so both sides run the same loop.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable
from importlib.metadata import version
from typing import Any

import numpy as np

TASKS = (
    "cube-single-play-singletask-task2-v0",  # manipulation
    "antmaze-large-navigate-singletask-task1-v0",  # locomotion; start noise from np.random
)
SEEDS = (0, 1, 2)
# 25 steps: MuJoCo 4.0.0 differs from the first step (~1e-1 on cube), while 3.2.0-3.4.0 agree
# to < 1e-12 here; beyond ~29 steps a cube seed reaches a contact near-tie (the wrist at its
# joint limit) where a 1e-15 nudge changes the outcome, which no cross-build test can hold.
STEPS = 25
ACTION_SEED_OFFSET = 1000
VERSIONS_KEY = "versions"
PACKAGES = ("ogbench", "mujoco", "gymnasium", "numpy")


def installed_versions() -> dict[str, str]:
    return {name: version(name) for name in PACKAGES}


def episode_actions(seed: int, action_dim: int, steps: int = STEPS) -> np.ndarray:
    rng = np.random.default_rng(ACTION_SEED_OFFSET + seed)
    return rng.uniform(-1, 1, size=(steps, action_dim)).astype(np.float32)


def record(
    make_env: Callable[[str], Any],
    reset: Callable[[Any, int], tuple[Any, dict[str, Any]]],
    tasks: Iterable[str] = TASKS,
    seeds: Iterable[int] = SEEDS,
    steps: int = STEPS,
) -> dict[str, np.ndarray]:
    """The rollouts of ``tasks`` x ``seeds``: ``make_env(task)`` builds an env,
    ``reset(env, seed)`` resets it (seeding the global NumPy RNG with ``seed`` too)."""
    out: dict[str, np.ndarray] = {}
    for task in tasks:
        env = make_env(task)
        try:
            action_dim = int(env.action_space.shape[0])
            for seed in seeds:
                ob, _ = reset(env, seed)
                obs, rewards, terminated, truncated, success = [], [], [], [], []
                for action in episode_actions(seed, action_dim, steps):
                    ob_t, reward, term, trunc, info = env.step(action)
                    obs.append(np.asarray(ob_t))
                    rewards.append(float(reward))
                    terminated.append(bool(term))
                    truncated.append(bool(trunc))
                    success.append(bool(info["success"]))
                data = env.unwrapped.data
                prefix = f"{task}/seed{seed}/"
                out[prefix + "reset_observation"] = np.array(ob)
                out[prefix + "observations"] = np.stack(obs)
                out[prefix + "rewards"] = np.array(rewards, dtype=np.float64)
                out[prefix + "terminated"] = np.array(terminated, dtype=bool)
                out[prefix + "truncated"] = np.array(truncated, dtype=bool)
                out[prefix + "success"] = np.array(success, dtype=bool)
                out[prefix + "qpos"] = np.array(data.qpos)
                out[prefix + "qvel"] = np.array(data.qvel)
        finally:
            env.close()
    return out


def _ogbench_env_id(task: str) -> str:
    """The gymnasium id that ``ogbench.make_env_and_datasets`` makes for a single-task name
    (the dataset type removed: cube-single-play-singletask-task2-v0 -> cube-single-singletask-task2-v0)."""
    splits = task.split("-")
    pos = splits.index("singletask")
    return "-".join(splits[: pos - 1] + splits[pos:])


def accepts_success_timing(task: str) -> bool:
    """Whether the installed ogbench's env for ``task`` takes ``success_timing``: ogbench 1.2
    registers its single-task envs with ``success_timing='pre'`` (its new default there);
    ogbench 1.1.0 has no such argument and always computes success and reward after the step,
    as ``success_timing='post'`` does."""
    import gymnasium
    import ogbench  # noqa: F401  (registers its envs)

    return "success_timing" in gymnasium.spec(_ogbench_env_id(task)).kwargs


def make_official_env(task: str) -> Any:
    """``task``'s env straight from OGBench, with 1.1.0's success timing on either version."""
    os.environ.setdefault("MUJOCO_GL", "egl")  # as drol.envs; stepping renders nothing
    import ogbench

    kwargs = {"success_timing": "post"} if accepts_success_timing(task) else {}
    return ogbench.make_env_and_datasets(task, env_only=True, **kwargs)


def reset_with_global_seed(env: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    np.random.seed(seed)
    return env.reset(seed=seed)


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """A compressed .npz (np.load reads it) whose bytes depend only on ``arrays``: fixed entry
    timestamps and order, unlike np.savez_compressed's current time."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def read_npz(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The rollout arrays of a file :func:`main` wrote, and its versions."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    versions = json.loads(str(arrays.pop(VERSIONS_KEY)[()]))
    return arrays, versions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the .npz to write")
    args = parser.parse_args(argv)
    arrays = record(make_official_env, reset_with_global_seed)
    arrays[VERSIONS_KEY] = np.array(json.dumps(installed_versions(), sort_keys=True))
    write_npz(args.out, arrays)


if __name__ == "__main__":
    main()
