"""``drol train``: train and evaluate one agent on one task; resumable."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from drol.agents import method_names
from drol.errors import UserError
from drol.tasks import default_steps, parse_task
from drol.trainer import RunSettings, Trainer, TrainingError, split_overrides

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train and evaluate one agent on one task (resumes from RUN_DIR/checkpoint.pt)",
        description="Train DROL, its static-routing ablation or FQL offline on one task; evaluate "
        "in the real environment; write config.json, train.csv, eval.csv, score.json and "
        "checkpoint.pt into RUN_DIR. Re-running the same command resumes; a finished run exits at once.",
    )
    p.add_argument(
        "--task",
        required=True,
        help="e.g. cube-single-play-singletask-task2-v0 or antmaze-large-play-v2",
    )
    p.add_argument("--method", required=True, choices=method_names())
    p.add_argument(
        "--K", type=int, default=16, help="number of latent candidates (DROL); recorded for FQL"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="gradient steps (default: the paper's 1M for OGBench, 500k for D4RL)",
    )
    p.add_argument("--eval-every", type=int, default=100_000)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument(
        "--data-dir",
        default="data",
        help="dataset root (OGBench's ~/.ogbench/data is searched too)",
    )
    p.add_argument("--out", required=True, type=Path, help="RUN_DIR")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hyperparameter (bc_coef, alpha, discount, q_agg, hidden, batch_size, lr, ...) "
        "or a run setting (log_every, checkpoint_every, num_probe_states, probe_neighbors); repeatable",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda, but torch sees no CUDA device")
    try:
        run_keys, agent_keys = split_overrides(args.overrides)
        settings = RunSettings(
            task=args.task,
            method=args.method,
            K=args.K,
            seed=args.seed,
            steps=args.steps if args.steps is not None else default_steps(parse_task(args.task)),
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            data_dir=args.data_dir,
            device=device,
            threads=args.threads,
            overrides=agent_keys,
            **{k: int(v) for k, v in run_keys.items()},
        )
        Trainer(settings, args.out).run()
    except (TrainingError, ValueError) as err:
        raise UserError(str(err)) from None
    return 0
