"""``drol train``: parse the arguments and call :class:`drol.train.trainer.Trainer` (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drol.agents import method_names
from drol.agents.config import add_set_option
from drol.data.paths import DATA_ROOT_HELP, SEARCH_PATHS_HELP, data_root
from drol.errors import UserError
from drol.train.rundir import TrainingError
from drol.train.seeds import parse_seeds, seed_out, train_seeds
from drol.train.settings import RunSettings, make_settings
from drol.train.trainer import Trainer


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train and evaluate one agent on one task (resumes from RUN_DIR/checkpoint.pt)",
        description="Train one method (--method: any registered one) offline on one task; evaluate "
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
    p.add_argument("--seed", type=int, default=None, help="the run's seed (default 0)")
    p.add_argument(
        "--seeds",
        default=None,
        metavar="LIST",
        help="train these seeds (0,1,2 or 0-7) in one process as one seed-batched step, each "
        "in its own RUN_DIR: --out must contain {seed} (e.g. results/runs/T/drol/K16/seed{seed}); "
        "every method but SORL, fp32 (compiled as --set compile says), at most 64 seeds; a "
        "diverged seed is marked "
        "FAILED, the others go on",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="gradient steps (default: the method's on the task, `drol hparams`: the paper's 1M "
        "for OGBench, 500k for D4RL; CORL's 1M for BC/IQL/ReBRAC on D4RL)",
    )
    p.add_argument("--eval-every", type=int, default=100_000)
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="episodes per evaluation (default: the method's on the task, `drol hparams`: 50; "
        "CORL's 100 on AntMaze, 10 on Adroit for BC/IQL/ReBRAC on D4RL)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help=f"dataset root (default: {DATA_ROOT_HELP}, as for `drol data`); {SEARCH_PATHS_HELP}",
    )
    p.add_argument("--out", required=True, type=Path, help="RUN_DIR")
    add_set_option(
        p,
        "override a hyperparameter (bc_coef, alpha, discount, q_agg, hidden, batch_size, lr, ...) "
        "or a run setting (log_every, checkpoint_every, num_probe_states, probe_neighbors, "
        "precision=fp32|bf16, compile=auto|on|off, logger=tensorboard|wandb|none); repeatable",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.seeds is not None:
        if args.seed is not None:
            raise UserError(
                f"--seed {args.seed} and --seeds {args.seeds} together: give one of them "
                "(--seeds trains the listed seeds)"
            )
        return run_seeds(args)
    Trainer(settings_of(args, 0 if args.seed is None else args.seed), args.out).run()
    return 0


def run_seeds(args: argparse.Namespace) -> int:
    """``--seeds``: every seed's settings checked first, then one seed-batched run."""
    seeds = parse_seeds(args.seeds)
    if len(seeds) == 1:  # nothing to batch: the single-seed run (compile, bf16 as usual)
        Trainer(settings_of(args, seeds[0]), seed_out(args.out, seeds[0])).run()
        return 0
    trainers = [Trainer(settings_of(args, seed), seed_out(args.out, seed)) for seed in seeds]
    scores = train_seeds(trainers)
    failed = [s for s in seeds if s not in scores]
    if failed:
        raise TrainingError(
            f"--seeds: seed(s) {failed} failed (see FAILED in their RUN_DIRs); "
            f"{len(seeds) - len(failed)} of {len(seeds)} finished"
        )
    return 0


def settings_of(args: argparse.Namespace, seed: int) -> RunSettings:
    """The validated settings of seed ``seed`` from the command line."""
    return make_settings(
        task=args.task,
        method=args.method,
        K=args.K,
        seed=seed,
        steps=args.steps,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        data_dir=str(data_root(args.data_dir)),
        device=args.device,
        threads=args.threads,
        overrides=args.overrides,
    )
