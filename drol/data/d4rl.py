"""D4RL hdf5 files -> the transition arrays FQL builds. No env needed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from drol.data.paths import MissingDatasetError, data_root
from drol.data.transitions import ACTION_CLIP
from drol.tasks import d4rl_url  # the task -> file vocabulary (also imported from here)

OBS_GAP_TOL = 1e-6

# D4RL time limits, used only when a file has no `timeouts` key (as qlearning_dataset does)
_MAX_EPISODE_STEPS = {"antmaze-umaze": 700, "antmaze": 1000, "pen": 100}


def d4rl_dataset_dir() -> Path:
    """D4RL's cache: ``$D4RL_DATASET_DIR`` or ``~/.d4rl/datasets``."""
    return Path(os.environ.get("D4RL_DATASET_DIR", "~/.d4rl/datasets")).expanduser()


def find_d4rl_dataset(task_name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The hdf5 for ``task_name`` in the data root (``data_dir``, else ``$DROL_DATA_DIR``, else
    ``data/``), then ``<root>/d4rl``, then D4RL's cache (:func:`d4rl_dataset_dir`)."""
    name = d4rl_url(task_name).rsplit("/", 1)[-1]
    root = data_root(data_dir)
    dirs = [root, root / "d4rl", d4rl_dataset_dir()]
    for d in dirs:
        if (d / name).is_file():
            return d / name
    raise _missing(task_name, [d / name for d in dirs])


def _missing(task_name: str, candidates: list[Path]) -> MissingDatasetError:
    return MissingDatasetError(
        f"D4RL dataset for {task_name} not found (looked for {' or '.join(map(str, candidates))}); "
        f"download {d4rl_url(task_name)} and place it in {d4rl_dataset_dir()} "
        "(or $D4RL_DATASET_DIR, or the data root)"
    )


def _max_episode_steps(task_name: str) -> int:
    for prefix, steps in _MAX_EPISODE_STEPS.items():
        if task_name.startswith(prefix):
            return steps
    return 200  # door, hammer, relocate


def qlearning_rows(
    terminals: np.ndarray, timeouts: np.ndarray | None, max_steps: int
) -> np.ndarray:
    """Row indices ``d4rl.qlearning_dataset`` keeps (``terminate_on_end=False``).

    Row ``i`` pairs with ``i + 1`` as next observation; the last row and every timeout row
    (episode cut by the time limit, whose next row starts a new episode) are dropped.
    """
    n = len(terminals)
    if timeouts is not None:
        keep = ~timeouts[: n - 1].astype(bool)
        return np.flatnonzero(keep)
    keep, step = [], 0
    for i in range(n - 1):
        if step == max_steps - 1:  # final time step of an episode without a timeouts key
            step = 0
            continue
        keep.append(i)
        step = (
            1 if terminals[i] else step + 1
        )  # D4RL resets to 0 on a terminal, then counts the row
    return np.asarray(keep, dtype=np.int64)


def fql_transitions(
    observations: np.ndarray,
    actions: np.ndarray,
    next_observations: np.ndarray,
    rewards: np.ndarray,
    dones: np.ndarray,
    task_name: str,
    episode_ends: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """FQL's D4RL post-processing (``fql/envs/d4rl_utils.py``), as float32 arrays.

    - ``terminals`` (episode boundaries): 1 where the next row's observation is not this
      row's next observation (gap > 1e-6), plus, except for antmaze, where the env terminated;
      the last row is always 1. ``episode_ends`` marks boundaries known explicitly (Minari).
    - ``masks = 1 - dones`` (the environment's terminal flag).
    - antmaze rewards are shifted by -1 (0 at the goal, -1 elsewhere).
    - actions are clipped to [-1 + 1e-5, 1 - 1e-5].
    """
    observations = observations.astype(np.float32)
    next_observations = next_observations.astype(np.float32)
    dones = dones.astype(np.float32)
    n = len(observations)
    terminals = np.zeros(n, dtype=np.float32)
    if n > 1:
        gap = np.linalg.norm(observations[1:] - next_observations[:-1], axis=-1) > OBS_GAP_TOL
        terminals[:-1] = gap
    if episode_ends is not None:
        terminals = np.maximum(terminals, episode_ends.astype(np.float32))
    antmaze = "antmaze" in task_name
    if not antmaze:
        terminals = np.maximum(terminals, (dones == 1.0).astype(np.float32))
    if n:
        terminals[-1] = 1.0
    rewards = rewards.astype(np.float32)
    if antmaze:
        rewards = rewards - 1.0
    return {
        "observations": observations,
        "actions": np.clip(actions, -ACTION_CLIP, ACTION_CLIP).astype(np.float32),
        "next_observations": next_observations,
        "rewards": rewards,
        "masks": 1.0 - dones,
        "terminals": terminals,
    }


def load_d4rl_hdf5(path: str | os.PathLike | None, task_name: str) -> dict[str, np.ndarray]:
    """Load a D4RL-layout hdf5 file into FQL's transition arrays.

    Keys: observations, actions, next_observations, rewards, masks, terminals (all float32).
    ``path=None`` looks the file up in D4RL's cache.
    """
    import h5py

    from drol.errors import UserError

    path = find_d4rl_dataset(task_name) if path is None else Path(path)
    if not path.is_file():
        raise _missing(task_name, [path])
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("observations", "actions", "rewards", "terminals") if k not in f]
            if missing:
                raise UserError(
                    f"{path}: {missing[0]}: missing (D4RL layout needs observations, actions, rewards, terminals)"
                )
            obs = f["observations"][()]
            actions = f["actions"][()]
            rewards = np.asarray(f["rewards"][()]).reshape(-1)
            dones = np.asarray(f["terminals"][()]).reshape(-1)
            timeouts = np.asarray(f["timeouts"][()]).reshape(-1) if "timeouts" in f else None
    except OSError as err:
        raise UserError(f"{path}: not a readable hdf5 file ({err})") from err
    n = len(obs)
    for key, arr in (
        ("actions", actions),
        ("rewards", rewards),
        ("terminals", dones),
        ("timeouts", timeouts),
    ):
        if arr is not None and len(arr) != n:
            raise UserError(f"{path}: {key}: {len(arr)} rows, observations has {n}")
    rows = qlearning_rows(dones, timeouts, _max_episode_steps(task_name))
    return fql_transitions(
        obs[rows], actions[rows], obs[rows + 1], rewards[rows], dones[rows], task_name
    )
