"""``drol hparams``: every setting of a (method, task) with its source; the generated docs."""

from __future__ import annotations

import argparse
import sys

from drol.agents.registry import method_names
from drol.agents.settings import grid_pairs, render_markdown, render_text, unverified_count
from drol.tasks import parse_task


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "hparams",
        help="print the resolved settings of a method on a task, each with its source",
        description="Print every setting (steps, evaluation, hyperparameters) of --method on "
        "--task with where its value comes from (a paper table, the official script or README, "
        "a CORL config, or 'unverified'). Without arguments: every method on every task of "
        "the paper's grid, then the count of unverified values.",
    )
    p.add_argument("--method", choices=method_names(), help="one method (default: all)")
    p.add_argument("--task", help="one task (default: every task of the paper's grid)")
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--markdown", action="store_true", help="print docs/hyperparameters.md (the paper grid)"
    )
    out.add_argument(
        "--discrepancies",
        action="store_true",
        help="print docs/paper_discrepancies.md (from config/paper_discrepancies.yaml)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.discrepancies:
        from drol.agents.discrepancies import load_discrepancies
        from drol.agents.discrepancies import render_markdown as render_items

        sys.stdout.write(render_items(load_discrepancies()))
        return 0
    if args.task is not None:
        parse_task(args.task)  # one-line error naming the known tasks
    pairs = grid_pairs([args.method] if args.method else None, [args.task] if args.task else None)
    if args.markdown:
        sys.stdout.write(render_markdown(pairs))
        return 0
    sys.stdout.write(render_text(pairs))
    total, distinct = unverified_count(pairs)
    print(f"unverified values: {total} ({distinct} distinct) over {len(pairs)} (method, task)")
    return 0
