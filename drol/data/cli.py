"""``drol data generate | fetch | check``."""

from __future__ import annotations

import argparse
import logging
import sys

from drol.data.paths import DATA_ROOT_HELP, SEARCH_PATHS_HELP, data_root

log = logging.getLogger(__name__)


def _generate(args: argparse.Namespace) -> int:
    from drol.data.generate import generate

    result = generate(
        args.dataset,
        out=data_root(args.out),
        episodes=args.episodes,
        seed=args.seed,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    print(
        f"{result.train_path} ({result.train_episodes} episodes) and {result.val_path} "
        f"({result.val_episodes}): {result.rows:,} rows in {result.seconds:.1f} s, "
        f"{result.transitions_per_s:.0f} transitions/s"
    )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from drol.data.fetch import fetch, fetch_d4rl
    from drol.tasks import D4RL, UnknownTaskError, parse_task

    try:
        is_d4rl = parse_task(args.dataset).suite == D4RL
    except UnknownTaskError:
        is_d4rl = False
    out = data_root(args.out)
    if is_d4rl:
        print(fetch_d4rl(args.dataset, out))
        return 0
    train, val = fetch(args.dataset, out)
    print(f"{train} and {val}")
    return 0


def _rollout(args: argparse.Namespace) -> int:
    from drol.d4rl.cli import ALL_TASKS
    from drol.d4rl.rollout import rollout
    from drol.errors import UserError

    if args.task not in ALL_TASKS:
        raise UserError(f"unknown D4RL task {args.task!r}; known: {', '.join(ALL_TASKS)}")
    res = rollout(args.task, args.episodes, args.seed, data_root(args.out))
    print(
        f"{res.path}: {res.episodes} episodes, {res.rows:,} rows (random actions: for testing, not for scores)"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    import warnings

    from drol.data.check import check_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = check_dataset(args.path, relabel=not args.no_relabel)
    print(summary.format())
    if summary.problems:
        from drol.errors import UserError

        raise UserError(
            f"{summary.problems[0]}" + (" (and more above)" if len(summary.problems) > 1 else "")
        )
    return 0


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help=f"output directory (default: the data root, {DATA_ROOT_HELP}, where `drol train` "
        "looks)",
    )


def register(subparsers) -> None:
    """Add ``drol data`` with its sub-commands to the top-level parser."""
    data = subparsers.add_parser(
        "data",
        help="generate, fetch and check offline datasets",
        description=f"Datasets go to the data root ({DATA_ROOT_HELP}), where `drol train` "
        f"looks for them. {SEARCH_PATHS_HELP}.",
    )
    sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    gen = sub.add_parser(
        "generate",
        help="regenerate an OGBench dataset by the official procedure (seeded, sharded)",
        description="Write OUT/DATASET.npz and OUT/DATASET-val.npz (episodes // 10 val episodes, at least 1).",
    )
    gen.add_argument("dataset", metavar="DATASET", help="e.g. cube-single-play-v0")
    gen.add_argument(
        "--episodes",
        type=int,
        default=None,
        metavar="N",
        help="train episodes (default: the official count, 1000)",
    )
    gen.add_argument("--seed", type=int, default=0, metavar="S", help="base seed (default 0)")
    _add_out(gen)
    gen.add_argument(
        "--jobs", type=int, default=None, metavar="J", help="worker processes (default: all cores)"
    )
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=_generate)

    fetch = sub.add_parser(
        "fetch", help="download the official OGBench files or D4RL hdf5 (needs network)"
    )
    fetch.add_argument("dataset", metavar="DATASET", help="an OGBench dataset or a D4RL task id")
    _add_out(fetch)
    fetch.set_defaults(func=_fetch)

    roll = sub.add_parser(
        "rollout",
        help="write a D4RL-layout hdf5 from the real d4rl env (random actions; for tests, not scores)",
        description="Needs `drol d4rl setup`. Writes OUT/<D4RL file name of TASK>.",
    )
    roll.add_argument("task", metavar="TASK", help="a D4RL task id, e.g. antmaze-umaze-v2")
    roll.add_argument("--episodes", type=int, default=10, metavar="N", help="episodes (default 10)")
    roll.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    _add_out(roll)
    roll.set_defaults(func=_rollout)

    check = sub.add_parser("check", help="validate a dataset file and print a summary")
    check.add_argument("path", metavar="PATH", help="<dataset>.npz (its -val.npz is checked too)")
    check.add_argument(
        "--no-relabel", action="store_true", help="skip the per-task reward statistics"
    )
    check.set_defaults(func=_check)


if __name__ == "__main__":  # pragma: no cover
    from drol.cli import main

    sys.exit(main(["data", *sys.argv[1:]]))
