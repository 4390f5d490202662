"""Evaluation episodes/s, sequential vs lockstep (drol.train.lockstep), on an OGBench task.

A random-init agent of a method whose policy draws nothing at evaluation (BC, IQL, ReBRAC)
runs ``--episodes`` episodes both ways from the same seeds; the rows are checked equal and the
two speeds printed as one JSON line. No dataset is needed (the env alone is built).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from drol.agents import make_agent, make_config
from drol.agents.base import use_generator
from drol.envs import make_ogbench_env
from drol.tasks import parse_task
from drol.train.evaluation import evaluate
from drol.train.lockstep import draws_at_evaluation, evaluate_lockstep, row_exact_linears


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="pointmaze-medium-navigate-singletask-task1-v0")
    p.add_argument("--method", default="iql")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--envs", type=int, default=50, help="lockstep env pool (drol train: eval_envs)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    task = parse_task(a.task)
    envs = [make_ogbench_env(task) for _ in range(min(a.envs, a.episodes))]
    obs_dim = envs[0].observation_space.shape[0]
    act_dim = envs[0].action_space.shape[0]
    cfg = make_config(a.method, {"hidden": str(a.hidden), "depth": str(a.depth)}, task=task, K=1)
    agent = make_agent(a.method, obs_dim, act_dim, cfg, seed=0)
    gen = torch.Generator().manual_seed(0)
    with use_generator(agent, gen):
        if draws_at_evaluation(agent.act, gen, torch.zeros(1, obs_dim)):
            raise SystemExit(f"{a.method}: its policy draws at evaluation; lockstep does not apply")
        t0 = time.perf_counter()
        want = evaluate(envs[0], agent.act, a.episodes, seed=1)
        t1 = time.perf_counter()
        with row_exact_linears(agent):
            got = evaluate_lockstep(envs, agent.act, a.episodes, seed=1)
        t2 = time.perf_counter()
    steps = sum(r["length"] for r in want)
    result = {
        "task": a.task,
        "method": a.method,
        "hidden": a.hidden,
        "depth": a.depth,
        "episodes": a.episodes,
        "envs": len(envs),
        "env_steps": steps,
        "rows_equal": got == want,
        "sequential_episodes_per_s": a.episodes / (t1 - t0),
        "lockstep_episodes_per_s": a.episodes / (t2 - t1),
        "speedup": (t1 - t0) / (t2 - t1),
        "threads": a.threads,
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result))
    return 0 if got == want else 1


if __name__ == "__main__":
    raise SystemExit(main())
