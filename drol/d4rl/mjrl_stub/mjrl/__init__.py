"""A small stand-in for ``mjrl`` (github.com/aravindr93/mjrl), which is not on PyPI.

It provides only what d4rl 1.1's ``hand_manipulation_suite`` imports:
``mjrl.envs.mujoco_env.MujocoEnv``. Written for drol; installed into the D4RL venv by
``drol d4rl setup``. Runs under Python 3.10 with gym 0.23 and mujoco-py.
"""

__version__ = "0.0.0+drol"
