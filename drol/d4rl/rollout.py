"""``drol data rollout``: a D4RL-layout hdf5 from the real d4rl env, for tests only.

Random float32 actions (uniform in [-1, 1], seeded), stepped in the D4RL worker; rows are
written as d4rl writes them: ``observations``/``actions``/``rewards`` per step, ``terminals``
where the env terminated, ``timeouts`` where the time limit cut the episode. Such data has
nothing of the official datasets' behaviour: it exercises the D4RL pipeline end to end, it
gives no scores.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drol.d4rl.client import D4RLEnv
from drol.io import atomic_path
from drol.tasks import d4rl_url


@dataclass
class RolloutResult:
    path: Path
    episodes: int
    rows: int


def rollout(
    task: str,
    episodes: int,
    seed: int,
    out: str | os.PathLike,
    env: D4RLEnv | None = None,
) -> RolloutResult:
    """Write ``out/<D4RL file name of task>`` with ``episodes`` random-action episodes."""
    import h5py

    if episodes < 1:
        from drol.errors import UserError

        raise UserError(f"--episodes: must be at least 1, got {episodes}")
    path = Path(out) / d4rl_url(task).rsplit("/", 1)[-1]
    rng = np.random.default_rng(seed)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "rew", "term", "tout")}
    # our own worker is closed on success and killed on failure, which keeps its log
    with D4RLEnv(task) if env is None else contextlib.nullcontext(env) as env:
        for ep in range(episodes):
            ob, _ = env.reset(seed=seed * 1000 + ep)
            # float32, as a policy's actions and as the file stores them: stepped as written
            actions = rng.uniform(-1.0, 1.0, (env.horizon, env.act_dim)).astype(np.float32)
            res = env.steps(actions)
            n = len(res["rewards"])
            cols["obs"].append(np.concatenate([ob[None], res["obs"][:-1]]))
            cols["act"].append(actions[:n])
            cols["rew"].append(res["rewards"])
            cols["term"].append(res["terminated"])
            cols["tout"].append(res["truncated"])
    with atomic_path(path, suffix=".hdf5") as tmp, h5py.File(tmp, "w") as f:
        f["observations"] = np.concatenate(cols["obs"]).astype(np.float32)
        f["actions"] = np.concatenate(cols["act"]).astype(np.float32)
        f["rewards"] = np.concatenate(cols["rew"]).astype(np.float32)
        f["terminals"] = np.concatenate(cols["term"])
        f["timeouts"] = np.concatenate(cols["tout"])
        f.attrs["drol_rollout"] = f"random actions, seed {seed}: for testing, not for scores"
    return RolloutResult(path, episodes, int(sum(len(r) for r in cols["rew"])))
