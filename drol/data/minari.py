"""Minari dataset directories -> the same transition arrays as :func:`drol.data.d4rl.load_d4rl_hdf5`.

Read with h5py (no ``minari`` package). Layout: ``<dir>/data/main_data.hdf5`` with groups
``episode_<k>`` holding ``observations`` (T+1), ``actions``, ``rewards``, ``terminations``,
``truncations`` (T). Dict observations (AntMaze) become ``[achieved_goal, observation]``,
D4RL's 29-D antmaze layout; ``desired_goal`` is dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from drol.data.d4rl import fql_transitions
from drol.data.paths import MissingDatasetError, data_root
from drol.errors import UserError


def minari_hdf5(path: str | os.PathLike) -> Path:
    """Accept the dataset dir, its ``data/`` dir, or ``main_data.hdf5`` itself."""
    path = Path(path)
    for candidate in (path / "data" / "main_data.hdf5", path / "main_data.hdf5", path):
        if candidate.is_file():
            return candidate
    raise MissingDatasetError(
        f"Minari dataset not found at {path} (expected {path / 'data' / 'main_data.hdf5'}); "
        "download it with `minari download <dataset id>` (stored under $MINARI_DATASETS_PATH, "
        "default ~/.minari/datasets/<namespace>/<env>/<name-vN>)"
    )


def _observations(group) -> np.ndarray:
    obs = group["observations"]
    if hasattr(obs, "keys"):  # dict observation space
        parts = [obs[k][()] for k in ("achieved_goal", "observation") if k in obs]
        if not parts:
            parts = [obs[k][()] for k in sorted(obs.keys())]
        return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=-1)
    return obs[()]


def load_minari_dir(
    path: str | os.PathLike, task_name: str, drop_truncated_last: bool = True
) -> dict[str, np.ndarray]:
    """Load a Minari dataset into FQL's transition arrays (float32).

    D4RL cannot store the next observation of a time-limit step, so FQL never sees it; with
    ``drop_truncated_last`` (default) the last transition of a truncated, non-terminated episode
    is dropped likewise, so a Minari copy of a D4RL dataset gives the same arrays.
    """
    import h5py

    file = minari_hdf5(path)
    obs_l, act_l, next_l, rew_l, done_l, end_l = [], [], [], [], [], []
    try:
        with h5py.File(file, "r") as f:
            names = sorted(
                (k for k in f if k.startswith("episode_")), key=lambda k: int(k.split("_")[1])
            )
            if not names:
                raise UserError(f"{file}: no episode_<k> groups")
            for name in names:
                ep = f[name]
                obs = _observations(ep)
                actions = ep["actions"][()]
                t = len(actions)
                if len(obs) != t + 1:
                    raise UserError(
                        f"{file}: {name}/observations: {len(obs)} rows, expected {t + 1}"
                    )
                terms = ep["terminations"][()].astype(bool)
                truncs = ep["truncations"][()].astype(bool)
                keep = t - 1 if drop_truncated_last and truncs[-1] and not terms[-1] else t
                if keep <= 0:
                    continue
                obs_l.append(obs[:keep])
                next_l.append(obs[1 : keep + 1])
                act_l.append(actions[:keep])
                rew_l.append(ep["rewards"][()][:keep])
                done_l.append(terms[:keep])
                end = np.zeros(keep, dtype=bool)
                end[-1] = True
                end_l.append(end)
    except OSError as err:
        raise UserError(f"{file}: not a readable hdf5 file ({err})") from err
    cat = np.concatenate
    return fql_transitions(
        cat(obs_l),
        cat(act_l),
        cat(next_l),
        cat(rew_l),
        cat(done_l),
        task_name,
        episode_ends=cat(end_l),
    )


# D4RL tasks whose Minari copy replays the D4RL episodes: Adroit only.
# observations and actions are D4RL's; rewards were recomputed by gymnasium-robotics (pen's is
# unaffected, door/hammer/relocate's may carry 1.4.2's sign flip of the hand-to-object term).
# antmaze's Minari data is re-collected in another simulator: never used for D4RL tasks.
MINARI_ADROIT = ("pen", "door", "hammer", "relocate")


def minari_d4rl_id(task_name: str) -> str | None:
    """``D4RL/<env>/<dataset>-v2`` for an Adroit task (``pen-human-v1``), else None."""
    env, _, rest = task_name.partition("-")
    kind = rest.removesuffix("-v1")
    if env in MINARI_ADROIT and kind in ("human", "cloned", "expert"):
        return f"D4RL/{env}/{kind}-v2"
    return None


def find_minari_d4rl(task_name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The Minari directory of ``task_name`` under the data root (``data_dir``, else
    ``$DROL_DATA_DIR``, else ``data/``) or ``$MINARI_DATASETS_PATH`` (default
    ``~/.minari/datasets``), or None."""
    ds_id = minari_d4rl_id(task_name)
    if ds_id is None:
        return None
    roots = [data_root(data_dir)]
    roots.append(Path(os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets")).expanduser())
    for root in roots:
        if (root / ds_id / "data" / "main_data.hdf5").is_file():
            return root / ds_id
    return None
