"""A maze evaluation depends only on its seeds, not on the process that runs it (issue 30).

OGBench's maze envs draw their start noise from the global ``np.random``, which
``env.reset(seed=...)`` does not seed; :func:`drol.envs.reset_episode` seeds it per episode.
Each check runs in fresh processes whose global NumPy state starts from OS entropy (as any
new process's does), so a start that leaks from that state differs between them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_train import train_args

MAZES = (
    "pointmaze-medium-navigate-singletask-task1-v0",
    "antmaze-large-navigate-singletask-task1-v0",
)

# A deterministic policy (fixed weights), 2 episodes of 60 steps, sequential and lockstep, and
# a digest of the observations it was shown (eval.csv's rows alone may not show a start);
# the process's global NumPy state is then drawn from OS entropy and advanced.
EVALUATE = """
import hashlib, json, sys, numpy as np, torch, gymnasium
from drol.envs import make_ogbench_env
from drol.tasks import parse_task
from drol.train.evaluation import evaluate
from drol.train.lockstep import evaluate_lockstep

task = parse_task(sys.argv[1])
envs = [
    gymnasium.wrappers.TimeLimit(make_ogbench_env(task), max_episode_steps=60) for _ in range(2)
]
np.random.seed(None); np.random.rand(int(np.random.randint(1, 100)))  # (env creation seeds it)
act_dim = envs[0].action_space.shape[0]
obs_dim = envs[0].observation_space.shape[0]
weight = torch.linspace(-1.0, 1.0, obs_dim * act_dim).reshape(obs_dim, act_dim)
seen = hashlib.sha256()  # every observation the policy is shown, in order


def act(obs):
    seen.update(obs.numpy().tobytes())
    return torch.tanh(obs @ weight)


rows = evaluate(envs[0], act, episodes=2, seed=3)
sequential = seen.hexdigest()
rows += evaluate_lockstep(envs, act, 2, seed=3)
print(json.dumps({"rows": rows, "observations": sequential}, sort_keys=True))
"""


def _evaluate_in_a_new_process(task: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", EVALUATE, task],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MUJOCO_GL": "egl"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("task", MAZES)
def test_maze_evaluation_is_the_same_in_two_processes(task):
    first, second = _evaluate_in_a_new_process(task), _evaluate_in_a_new_process(task)
    assert first == second, f"{task}: the episodes depend on the process, not only the seed"
    rows = json.loads(first)["rows"]
    assert rows[:2] == rows[2:], "lockstep and sequential evaluation differ"


@pytest.mark.slow
def test_two_training_processes_write_identical_maze_eval_csv(tiny_pointmaze, tmp_path):
    """Two ``drol train`` processes of one pointmaze run write byte-identical eval.csv (end to
    end; the starts themselves are checked by the test above, whose digest sees them)."""
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        args = train_args(tiny_pointmaze.parent, out, steps=30, extra=("--eval-episodes", "2"))
        done = subprocess.run(
            [sys.executable, "-m", "drol", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    first, second = ((out / "eval.csv").read_bytes() for out in outs)
    assert first == second
