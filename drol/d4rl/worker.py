"""The D4RL env worker: run by the D4RL venv's Python (3.10, numpy < 2, gym 0.23, no torch).

``python worker.py``: requests on stdin, replies on the original stdout (``protocol``);
anything the env libraries print goes to stderr (the worker's log). Requests:

- ``{"cmd": "make", "task": T}`` -> dims, horizon, reference scores, ``versions`` (python,
  d4rl, gym, mujoco_py, numpy);
- ``{"cmd": "reset", "seed": S}`` -> ``obs`` (and antmaze's ``target_goal``); seeds the env, the inner ant env of an antmaze
  (d4rl's NormalizedBoxEnv is not a gym wrapper, so ``env.seed`` does not reach it) and
  numpy's global RNG (antmaze draws its goal from it);
- ``{"cmd": "step"}`` with ``action`` -> ``obs``, reward, terminated, truncated, info;
- ``{"cmd": "steps"}`` with ``actions`` (T, act_dim) -> stepped until the episode ends or the
  actions run out: ``obs`` (n, obs_dim), ``rewards``, ``terminated``, ``truncated`` (n,);
- ``{"cmd": "close"}`` -> exits.
Errors are answered ``{"ok": false, "error": ...}``; the worker stays up.
"""

import os
import platform
import sys
import traceback

if __package__:
    from drol.d4rl import protocol
else:  # run as a script in the D4RL venv
    import protocol

import numpy as np


class Session:
    def __init__(self):
        self.env = None
        self.task = None

    def make(self, req, _arrays):
        os.environ.setdefault("D4RL_SUPPRESS_IMPORT_ERROR", "1")
        import d4rl  # noqa: F401  (registers the envs)
        import gym

        self.task = req["task"]
        self.env = gym.make(self.task)
        inner = self.env.unwrapped
        return {
            "obs_dim": int(np.prod(self.env.observation_space.shape)),
            "act_dim": int(np.prod(self.env.action_space.shape)),
            "horizon": int(self.env.spec.max_episode_steps),
            "ref_min_score": float(inner.ref_min_score),
            "ref_max_score": float(inner.ref_max_score),
            "versions": versions(),
        }, {}

    def reset(self, req, _arrays):
        seed = req.get("seed")
        if seed is not None:
            seed = int(seed)
            np.random.seed(seed)
            self.env.seed(seed)
            inner = getattr(self.env.unwrapped, "_wrapped_env", None)
            if inner is not None and hasattr(inner, "seed"):
                inner.seed(seed)
            self.env.action_space.seed(seed)
        obs = self.env.reset()
        header = {}
        goal = getattr(self.env.unwrapped, "target_goal", None)  # antmaze: drawn at reset
        if goal is not None:
            header["target_goal"] = [float(g) for g in np.ravel(goal)]
        return header, {"obs": np.asarray(obs, dtype=np.float64)}

    def _step(self, action):
        obs, reward, done, info = self.env.step(action)
        truncated = bool(info.get("TimeLimit.truncated", False))
        return obs, float(reward), bool(done) and not truncated, truncated, info

    def step(self, _req, arrays):
        obs, reward, terminated, truncated, info = self._step(arrays["action"])
        info = {k: _plain(v) for k, v in info.items() if _plain(v) is not None}
        header = {"reward": reward, "terminated": terminated, "truncated": truncated, "info": info}
        return header, {"obs": np.asarray(obs, dtype=np.float64)}

    def steps(self, _req, arrays):
        obs, rewards, term, trunc = [], [], [], []
        for action in arrays["actions"]:
            o, r, te, tr, _info = self._step(action)
            obs.append(o)
            rewards.append(r)
            term.append(te)
            trunc.append(tr)
            if te or tr:
                break
        out = {
            "obs": np.asarray(obs, dtype=np.float64).reshape(len(obs), -1),
            "rewards": np.asarray(rewards, dtype=np.float64),
            "terminated": np.asarray(term, dtype=bool),
            "truncated": np.asarray(trunc, dtype=bool),
        }
        return {}, out


# module -> its distributions (free-mujoco-py installs mujoco_py)
DISTRIBUTIONS = {
    "d4rl": ("d4rl",),
    "gym": ("gym",),
    "mujoco_py": ("free-mujoco-py", "mujoco-py"),
    "numpy": ("numpy",),
}


def versions():
    """This interpreter's and the env packages' versions ("missing" where not installed)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for module, dists in DISTRIBUTIONS.items():
        out[module] = "missing"
        for dist in dists:
            try:
                out[module] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def _plain(v):
    """A JSON-safe scalar or None."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return None


def main():
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # library prints go to the log, not into the protocol stream
    sys.stdout = sys.stderr
    session = Session()
    handlers = {"make": session.make, "reset": session.reset, "step": session.step}
    handlers["steps"] = session.steps
    protocol.write(replies, {"ok": True, "ready": True, "python": sys.version.split()[0]})
    while True:
        try:
            req, arrays = protocol.read(requests)
        except protocol.ProtocolError:
            return 0  # parent went away
        cmd = req.get("cmd")
        if cmd == "close":
            if session.env is not None:
                session.env.close()
            protocol.write(replies, {"ok": True})
            return 0
        try:
            if cmd not in handlers:
                raise ValueError(f"unknown command {cmd!r}")
            if cmd != "make" and session.env is None:
                raise ValueError("no env: send 'make' first")
            header, out = handlers[cmd](req, arrays)
            protocol.write(replies, dict(header, ok=True), out)
        except Exception:  # noqa: BLE001 - reported to the parent, the worker stays up
            traceback.print_exc()
            protocol.write(replies, {"ok": False, "error": traceback.format_exc(limit=5)})


if __name__ == "__main__":
    sys.exit(main())
