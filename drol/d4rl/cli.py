"""``drol d4rl setup | check``: build the D4RL venv; create and step all 18 D4RL envs."""

from __future__ import annotations

import argparse
import time

import numpy as np

from drol.tasks import D4RL_FAMILIES

ALL_TASKS: tuple[str, ...] = tuple(t for tasks in D4RL_FAMILIES.values() for t in tasks)


def _setup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drol.d4rl.install import setup

    setup(python=args.python, venv=Path(args.venv) if args.venv else None)
    return 0


def check(tasks: tuple[str, ...], steps: int, python: str | None = None) -> list[dict]:
    """Create each env in a worker, step it ``steps`` times (random actions, one call per
    step as in evaluation); return rows of task, dims, horizon, steps/s."""
    from drol.d4rl.client import D4RLEnv

    rows = []
    for task in tasks:
        t0 = time.perf_counter()
        with D4RLEnv(task, python=python) as env:
            start = time.perf_counter() - t0
            rng = np.random.default_rng(0)
            env.reset(seed=0)
            t = time.perf_counter()
            for _ in range(steps):
                _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, env.act_dim))
                if term or trunc:
                    env.reset()
            rate = steps / (time.perf_counter() - t)
            row = {"task": task, "obs_dim": env.obs_dim, "act_dim": env.act_dim}
            rows.append({**row, "horizon": env.horizon, "steps_per_s": rate, "start_s": start})
    return rows


def _check(args: argparse.Namespace) -> int:
    tasks = tuple(args.tasks) if args.tasks else ALL_TASKS
    unknown = [t for t in tasks if t not in ALL_TASKS]
    if unknown:
        from drol.errors import UserError

        raise UserError(f"unknown D4RL task {unknown[0]!r}; known: {', '.join(ALL_TASKS)}")
    from drol.d4rl.install import d4rl_python

    python = d4rl_python(args.python)  # a missing venv is reported before the table starts
    print(f"{'task':28s} {'obs':>4s} {'act':>4s} {'horizon':>7s} {'steps/s':>8s} {'start s':>7s}")
    for r in check(tasks, args.steps, str(python)):
        print(
            f"{r['task']:28s} {r['obs_dim']:4d} {r['act_dim']:4d} {r['horizon']:7d} "
            f"{r['steps_per_s']:8.0f} {r['start_s']:7.1f}",
            flush=True,
        )
    return 0


def register(subparsers) -> None:
    """Add ``drol d4rl setup`` and ``drol d4rl check``."""
    p = subparsers.add_parser("d4rl", help="set up and check the D4RL 1.1 environments")
    sub = p.add_subparsers(dest="d4rl_command", required=True, metavar="SUBCOMMAND")
    s = sub.add_parser(
        "setup",
        help="build the D4RL venv (Python 3.10, d4rl 1.1, MuJoCo 2.1 via free-mujoco-py)",
        description="Needs apt packages libosmesa6-dev libglfw3 patchelf. Location: "
        "$DROL_D4RL_VENV or ~/.cache/drol/d4rl-venv.",
    )
    s.add_argument(
        "--python",
        metavar="PATH",
        help="Python 3.8-3.10 to build from (default: $DROL_D4RL_PYTHON, pyenv, PATH)",
    )
    s.add_argument("--venv", metavar="DIR", help="where to build it (default: see above)")
    s.set_defaults(func=_setup)
    c = sub.add_parser("check", help="create and step all 18 D4RL envs; print a table")
    c.add_argument("tasks", nargs="*", metavar="TASK", help="only these tasks")
    c.add_argument("--steps", type=int, default=1000, metavar="N", help="steps per env")
    c.add_argument(
        "--python",
        metavar="PATH",
        help="the D4RL venv's python (default: $DROL_D4RL_VENV_PYTHON, else the venv of "
        "$DROL_D4RL_VENV or ~/.cache/drol/d4rl-venv)",
    )
    c.set_defaults(func=_check)
