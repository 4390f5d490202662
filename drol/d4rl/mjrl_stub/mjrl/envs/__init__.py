"""``mjrl.envs``: only the MuJoCo base class (``mujoco_env``) is provided."""
