"""``MujocoEnv``: the gym (0.23) base class of d4rl's Adroit envs, over mujoco-py.

Behaviour d4rl's hand envs rely on:
- the constructor loads the XML (absolute path), keeps ``sim``/``model``/``data``, records
  ``init_qpos``/``init_qvel``, takes one zero-action ``step`` to size the observation space,
  sets the action space from the actuator control ranges and seeds ``np_random`` (unseeded);
- ``reset()`` resets the simulator, runs ``forward`` and returns ``reset_model()``;
- ``seed(s)`` replaces ``np_random`` with gym's seeded generator;
- ``do_simulation`` writes ``ctrl`` and calls ``sim.step()`` ``n_frames`` times;
- ``set_state`` keeps time, actuator state and user data and runs ``forward``.
Rendering is not provided (``render`` does nothing).
"""

import os

import gym
import mujoco_py
import numpy as np
from gym import spaces
from gym.utils import seeding


class MujocoEnv(gym.Env):
    """Superclass of d4rl's hand-manipulation envs."""

    def __init__(self, model_path=None, frame_skip=1, sim=None):
        if sim is None:
            if not os.path.isabs(model_path):
                raise OSError(f"mjrl stand-in: model path must be absolute, got {model_path!r}")
            if not os.path.exists(model_path):
                raise OSError(f"File {model_path} does not exist")
            sim = mujoco_py.MjSim(mujoco_py.load_model_from_path(model_path))
        self.sim = sim
        self.model = sim.model
        self.data = sim.data
        self.frame_skip = frame_skip
        self.metadata = {
            "render.modes": [],
            "video.frames_per_second": int(np.round(1.0 / self.dt)),
        }
        self.mujoco_render_frames = False
        self.init_qpos = self.data.qpos.ravel().copy()
        self.init_qvel = self.data.qvel.ravel().copy()
        observation, _reward, done, _info = self.step(np.zeros(self.model.nu))
        assert not done
        if isinstance(observation, tuple):
            self.obs_dim = int(sum(o.size for o in observation))
        else:
            self.obs_dim = observation.size
        ctrl = self.model.actuator_ctrlrange.copy()
        self.action_space = spaces.Box(ctrl[:, 0], ctrl[:, 1], dtype=np.float32)
        inf = np.inf * np.ones(self.obs_dim)
        self.observation_space = spaces.Box(-inf, inf, dtype=np.float32)
        self.seed()

    def seed(self, seed=None):
        self.np_random, seed = seeding.np_random(seed)
        return [seed]

    def reset_model(self):
        raise NotImplementedError

    def mj_viewer_setup(self):
        pass

    def viewer_setup(self):
        pass

    def evaluate_success(self, paths, logger=None):
        pass

    def reset(self):
        self.sim.reset()
        self.sim.forward()
        return self.reset_model()

    def set_state(self, qpos, qvel):
        assert qpos.shape == (self.model.nq,) and qvel.shape == (self.model.nv,)
        old = self.sim.get_state()
        self.sim.set_state(mujoco_py.MjSimState(old.time, qpos, qvel, old.act, old.udd_state))
        self.sim.forward()

    @property
    def dt(self):
        return self.model.opt.timestep * self.frame_skip

    def do_simulation(self, ctrl, n_frames):
        for i in range(self.model.nu):
            self.sim.data.ctrl[i] = ctrl[i]
        for _ in range(n_frames):
            self.sim.step()

    def render(self, *args, **kwargs):
        pass

    def state_vector(self):
        state = self.sim.get_state()
        return np.concatenate([state.qpos.flat, state.qvel.flat])
