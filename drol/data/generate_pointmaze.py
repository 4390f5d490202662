"""Pointmaze "navigate" datasets by the official procedure (point: no expert net)."""

from __future__ import annotations

import gymnasium
import numpy as np

from drol.data.generate_manipspace import to_arrays
from drol.data.registry import DatasetSpec
from drol.data.seeding import seed_everything


def maze_cells(maze_map: np.ndarray) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(all free cells, vertex cells = free cells that are not straight hallway cells)."""
    free = maze_map == 0
    all_cells, vertex_cells = [], []
    for i in range(maze_map.shape[0]):
        for j in range(maze_map.shape[1]):
            if not free[i, j]:
                continue
            all_cells.append((i, j))
            horizontal = (
                free[i, j - 1] and free[i, j + 1] and not free[i - 1, j] and not free[i + 1, j]
            )
            vertical = (
                free[i - 1, j] and free[i + 1, j] and not free[i, j - 1] and not free[i, j + 1]
            )
            if not (horizontal or vertical):
                vertex_cells.append((i, j))
    return all_cells, vertex_cells


class PointmazeCollector:
    """The point "expert" is the unit direction to the BFS oracle subgoal, plus Gaussian noise."""

    def __init__(self, spec: DatasetSpec):
        import ogbench  # noqa: F401  (registers the envs)

        self.spec = spec
        self.env = gymnasium.make(
            spec.env_id, terminate_at_goal=False, max_episode_steps=spec.max_steps
        )
        self.all_cells, self.vertex_cells = maze_cells(np.asarray(self.env.unwrapped.maze_map))

    def _random_cell(self, cells: list[tuple[int, int]]) -> tuple[int, int]:
        return cells[np.random.randint(len(cells))]

    def collect(self, seed: int, split: int, index: int) -> tuple[dict[str, np.ndarray], int]:
        env, maze = self.env, self.env.unwrapped
        env_seed = seed_everything(env, seed, split, index)
        init_ij = self._random_cell(self.all_cells)
        goal_ij = self._random_cell(self.vertex_cells)
        ob, _ = env.reset(
            seed=env_seed, options=dict(task_info=dict(init_ij=init_ij, goal_ij=goal_ij))
        )

        rows: dict[str, list] = {
            k: [] for k in ("observations", "actions", "terminals", "qpos", "qvel")
        }
        done = False
        while not done:
            xy = maze.get_xy()
            subgoal_xy, _ = maze.get_oracle_subgoal(xy, maze.cur_goal_xy)
            direction = subgoal_xy - xy
            direction = direction / (np.linalg.norm(direction) + 1e-6)
            action = direction + np.random.normal(0.0, self.spec.noise, size=direction.shape)
            action = np.clip(action, -1.0, 1.0)
            next_ob, _, terminated, truncated, info = env.step(action)
            done = bool(terminated or truncated)
            if info["success"]:
                maze.set_goal(self._random_cell(self.vertex_cells))
            rows["observations"].append(ob)
            rows["actions"].append(action)
            rows["terminals"].append(done)
            rows["qpos"].append(info["prev_qpos"])
            rows["qvel"].append(info["prev_qvel"])
            ob = next_ob
        return to_arrays(rows), 0
