"""Manipulation "play" datasets (cube, scene, puzzle) by the official procedure."""

from __future__ import annotations

import logging

import gymnasium
import numpy as np

from drol.data.ogbench_spaces import use_cached_action_spaces
from drol.data.registry import DatasetSpec
from drol.data.seeding import seed_everything

log = logging.getLogger(__name__)

NOISE_SMOOTHING = 0.5
MAX_SCENE_ATTEMPTS = 100


def draw_p_stack(env_id: str) -> float:
    """Stacking probability of one episode (global ``np.random``, as the official script)."""
    if "single" in env_id:
        return 0.0
    if "double" in env_id:
        return float(np.random.uniform(0.0, 0.25))
    if "triple" in env_id:
        return float(np.random.uniform(0.05, 0.35))
    if "quadruple" in env_id:
        return float(np.random.uniform(0.1, 0.5))
    return 0.5


def scene_episode_healthy(qpos: np.ndarray) -> bool:
    """The official scene check: the block never leaves the table to the back or the left."""
    xyz = qpos[:, 14:17]
    if np.any(xyz[:, 1] >= 0.29):
        return False
    off_left = (xyz[:, 1] <= -0.3) & ((xyz[:, 2] < 0.06) | (xyz[:, 2] > 0.08))
    return not bool(np.any(off_left))


class ManipspaceCollector:
    """Holds one data-collection env and its plan oracles; collects seeded episodes."""

    def __init__(self, spec: DatasetSpec):
        import ogbench  # noqa: F401  (registers the envs)
        from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
        from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
        from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
        from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

        use_cached_action_spaces()  # no float64 Box (and gymnasium warning) per access

        self.spec = spec
        self.env = gymnasium.make(
            spec.env_id,
            terminate_at_goal=False,
            mode="data_collection",
            max_episode_steps=spec.max_steps,
        )
        kw = dict(env=self.env, noise=spec.noise, noise_smoothing=NOISE_SMOOTHING)
        if "cube" in spec.env_id:
            self.oracles = {"cube": CubePlanOracle(**kw)}
        elif "scene" in spec.env_id:
            self.oracles = {
                "cube": CubePlanOracle(**kw),
                "button": ButtonPlanOracle(**kw),
                "drawer": DrawerPlanOracle(**kw),
                "window": WindowPlanOracle(**kw),
            }
        elif "puzzle" in spec.env_id:
            self.oracles = {"button": ButtonPlanOracle(gripper_always_closed=True, **kw)}
        else:
            raise ValueError(f"not a manipspace env: {spec.env_id}")
        self.has_buttons = spec.button_dim is not None

    def collect(self, seed: int, split: int, index: int) -> tuple[dict[str, np.ndarray], int]:
        """One episode of ``max_steps`` rows; returns (arrays, health-check retries)."""
        for attempt in range(MAX_SCENE_ATTEMPTS):
            episode = self._rollout(seed, split, index, attempt)
            if "scene" not in self.spec.env_id or scene_episode_healthy(episode["qpos"]):
                return episode, attempt
            log.debug("scene episode %d/%d failed the health check; re-collecting", split, index)
        raise RuntimeError(f"scene episode {index}: {MAX_SCENE_ATTEMPTS} unhealthy attempts")

    def _rollout(self, seed: int, split: int, index: int, attempt: int) -> dict[str, np.ndarray]:
        env = self.env
        env_seed = seed_everything(env, seed, split, index, attempt)
        ob, info = env.reset(seed=env_seed)
        p_stack = draw_p_stack(self.spec.env_id)
        oracle = self.oracles[info["privileged/target_task"]]
        oracle.reset(ob, info)

        rows: dict[str, list] = {
            k: [] for k in ("observations", "actions", "terminals", "qpos", "qvel")
        }
        if self.has_buttons:
            rows["button_states"] = []
        done = False
        while not done:
            action = np.clip(np.asarray(oracle.select_action(ob, info)), -1.0, 1.0)
            next_ob, _, terminated, truncated, info = env.step(action)
            done = bool(terminated or truncated)
            if oracle.done:
                target_ob, target_info = env.unwrapped.set_new_target(p_stack=p_stack)
                oracle = self.oracles[target_info["privileged/target_task"]]
                oracle.reset(target_ob, target_info)
            rows["observations"].append(ob)
            rows["actions"].append(action)
            rows["terminals"].append(done)
            rows["qpos"].append(info["prev_qpos"])
            rows["qvel"].append(info["prev_qvel"])
            if self.has_buttons:
                rows["button_states"].append(info["prev_button_states"])
            ob = next_ob
        return to_arrays(rows)


def to_arrays(rows: dict[str, list]) -> dict[str, np.ndarray]:
    """The official dtypes: float32, bool terminals, int64 button states."""
    out = {}
    for key, values in rows.items():
        if key == "terminals":
            out[key] = np.asarray(values, dtype=bool)
        elif key == "button_states":
            out[key] = np.asarray(values, dtype=np.int64)
        else:
            out[key] = np.asarray(values, dtype=np.float32)
    return out
