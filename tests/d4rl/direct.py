"""Drive a d4rl 1.1 env directly (no worker), for the worker-equality test and timing.

Run by the D4RL venv's Python: ``python direct.py TASK SEED ACTIONS.npy OUT.npz``.
Seeds as D4RL users must (the wrapper, the inner ant env of an antmaze, numpy's global RNG),
resets once, steps through the actions until the episode ends, and saves the reset
observation, observations, rewards, done flags and the stepping rate.
"""

import os
import sys
import time

import numpy as np

os.environ.setdefault("D4RL_SUPPRESS_IMPORT_ERROR", "1")
import d4rl  # noqa: E402,F401
import gym  # noqa: E402


def main(task, seed, actions_path, out_path):
    seed = int(seed)
    actions = np.load(actions_path, allow_pickle=False)
    env = gym.make(task)
    np.random.seed(seed)
    env.seed(seed)
    ant = getattr(env.unwrapped, "_wrapped_env", None)
    if ant is not None:
        ant.seed(seed)
    first = env.reset()
    obs, rewards, dones = [], [], []
    t = time.perf_counter()
    for a in actions:
        o, r, d, _ = env.step(a)
        obs.append(o)
        rewards.append(r)
        dones.append(d)
        if d:
            break
    rate = len(obs) / (time.perf_counter() - t)
    np.savez(out_path, first=first, obs=np.array(obs), rewards=np.array(rewards),
             dones=np.array(dones), rate=rate)  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:])
