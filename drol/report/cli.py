"""``drol aggregate``, ``drol tables``, ``drol stats``, ``drol figures``, ``drol select-k`` and
``drol cost``."""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import pandas as pd

from drol.errors import UserError
from drol.io import atomic_write_json, atomic_write_text
from drol.report.kselect import select_k
from drol.report.verdict import PAPER_SEEDS

log = logging.getLogger(__name__)

FIGURES = (
    "fig2_voronoi",
    "fig3_metrics",
    "fig3_runtime",
    "fig4_ksweep",
    "learning_curves",
    "fig_aggregate",
)


def _load_runs(runs_dir: str, manifest: str | None) -> pd.DataFrame:
    from drol.report.aggregate import collect_runs, read_manifest

    if not Path(runs_dir).is_dir():
        raise UserError(f"--runs {runs_dir}: no such directory")
    man = None
    if manifest is not None:
        if not Path(manifest).is_file():
            raise UserError(f"--manifest {manifest}: no such file")
        man = read_manifest(manifest)
    return collect_runs(runs_dir, man)


def cmd_aggregate(args: argparse.Namespace) -> int:
    from drol.report.aggregate import not_done, task_summary
    from drol.report.numbers import csv_text

    runs = _load_runs(args.runs, args.manifest)
    atomic_write_text(args.out, runs.to_csv(index=False))
    log.info("%d runs (%d done) -> %s", len(runs), int((runs["status"] == "done").sum()), args.out)
    if args.summary:
        atomic_write_text(args.summary, csv_text(task_summary(runs)))  # full precision
    missing = not_done(runs)
    for r in missing.itertuples(index=False):
        log.warning("not done: %s [%s] %s", r.run_dir, r.status, r.reason)
    if args.strict and len(missing):
        raise UserError(
            f"{len(missing)} of {len(runs)} runs are missing or failed (see {args.out})"
        )
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from drol.report.tables import write_tables

    if not Path(args.reported).is_file():
        raise UserError(f"--reported {args.reported}: no such file")
    if args.reported_table1 is not None and not Path(args.reported_table1).is_file():
        raise UserError(f"--reported-table1 {args.reported_table1}: no such file")
    if args.paper_seeds < 2:
        raise UserError("--paper-seeds must be >= 2")
    runs = _load_runs(args.runs, args.manifest)
    written = write_tables(runs, args.reported, args.out, args.reported_table1, args.paper_seeds)
    log.info("wrote %s", ", ".join(sorted(written)))
    return 0


def _reps(args: argparse.Namespace) -> int:
    """--reps, or the statistics module's default; checked."""
    from drol.report.aggregate_stats import DEFAULT_REPS

    reps = DEFAULT_REPS if args.reps is None else args.reps
    if not 100 <= reps <= 1_000_000:
        raise UserError(f"--reps {reps}: must be in [100, 1000000]")
    return reps


def cmd_stats(args: argparse.Namespace) -> int:
    from drol.report.aggregate_stats import write_aggregate

    reps = _reps(args)
    runs = _load_runs(args.runs, args.manifest)
    written = write_aggregate(runs, args.out, reps, args.seed)
    log.info("wrote %s", ", ".join(sorted(written)))
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    from drol.report import figures

    name = args.name
    if name == "fig3_runtime":
        if not args.bench:
            raise UserError(
                "fig3_runtime needs --bench FILE [FILE ...] (drol bench --json outputs)"
            )
        for p in args.bench:
            if not Path(p).is_file():
                raise UserError(f"--bench {p}: no such file")
        figures.fig3_runtime(figures.read_bench(args.bench), args.out)
        return 0
    if name == "fig2_voronoi":
        probes = args.probes or (Path(args.run) / "probes.npz" if args.run else None)
        if probes is None:
            raise UserError("fig2_voronoi needs --run RUN_DIR or --probes FILE")
        figures.fig2_voronoi(probes, args.out, probe=args.probe)
        return 0
    if args.runs is None:
        raise UserError(f"{name} needs --runs DIR")
    runs = _load_runs(args.runs, args.manifest)
    if name == "fig4_ksweep":
        figures.fig4_ksweep(runs, args.out, default_k=args.default_k)
    elif name == "fig_aggregate":
        figures.fig_aggregate(
            runs, args.out, reps=_reps(args), seed=args.seed, aggregate=args.aggregate
        )
    elif name == "fig3_metrics":
        figures.fig3_metrics(runs, args.out, max_tasks=args.max_tasks)
    else:
        figures.learning_curves(runs, args.out)
    return 0


def cmd_select_k(args: argparse.Namespace) -> int:
    result = select_k(args.run_dirs, args.default_k)
    atomic_write_json(args.out, result)
    log.info("%s: K* = %d (%s)", result["task"], result["kstar"], result["scores"])
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    from drol.report import jobs
    from drol.report.cost import caveat, grid_cost, read_bench, to_markdown, to_records
    from drol.workflow_config import load_config, seeds_per_job

    rate = args.eval_episodes_per_s
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise UserError(f"--eval-episodes-per-s {rate}: must be a finite number > 0")
    entries = read_bench(args.bench)
    config = load_config(args.configfile)
    if args.seeds_per_job is None:
        args.seeds_per_job = seeds_per_job(config)
    rows = grid_cost(config, entries, args.seeds_per_job, args.eval_episodes_per_s)
    plans = jobs.plan(config, entries, args.seeds_per_job)
    gpus = max(config["train"]["gpu"], 1 if config["train"]["device"] == "cuda" else 0)
    if args.csv:
        atomic_write_text(args.csv, pd.DataFrame(to_records(rows)).to_csv(index=False))
        log.info("wrote %s", args.csv)
    if args.json:
        print(
            json.dumps(
                {
                    "seeds_per_job": args.seeds_per_job,
                    "eval_episodes_per_s": args.eval_episodes_per_s,
                    "note": caveat(args.seeds_per_job, args.eval_episodes_per_s),
                    "rows": to_records(rows),
                    "jobs": jobs.to_records(plans),
                }
            )
        )
    elif not args.csv:
        print(to_markdown(rows, args.seeds_per_job, args.eval_episodes_per_s))
        print(jobs.to_markdown(plans, gpus, config["train"]["runtime"]["cap_min"]), end="")
    return 0


def _add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reps",
        type=int,
        help="bootstrap replicates (stats, fig_aggregate; default 2000)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def register(subparsers) -> None:
    """Add ``aggregate``, ``tables``, ``figures`` and ``select-k``."""
    p = subparsers.add_parser(
        "aggregate",
        help="collect run directories into one tidy CSV (missing/failed runs listed)",
        description="One row per run: suite, family, task, method, K, seed, labels, status, score, steps, "
        "wall_clock_s, ... Runs expected by --manifest but absent are listed with status 'missing'.",
    )
    p.add_argument("--runs", required=True, help="runs root: RUNS/{task}/{method}/K{K}/seed{seed}/")
    p.add_argument("--manifest", help="CSV of expected runs: label,task,method,K,seed")
    p.add_argument("--out", required=True, help="tidy CSV of all runs")
    p.add_argument(
        "--summary",
        help="also write per-(label, task, method, K) mean/std (sample, ddof 1)/n_seeds here",
    )
    p.add_argument("--strict", action="store_true", help="exit 2 when any run is missing or failed")
    p.set_defaults(func=cmd_aggregate)

    p = subparsers.add_parser(
        "tables",
        help="Table 4 and Table 1 (reported + reproduced) as CSV, LaTeX, Markdown, HTML",
        description="Writes OUT/table4.{csv,tex,md,html}, OUT/table1.{csv,tex,md,html} and "
        "OUT/missing_runs.csv. Cells print mean ± sample std over seeds (ddof 1, none for one seed) "
        "(n seeds). The paper's cells keep its printed bold/underline; ours are bold at a printed "
        "mean >= 0.95 x the row's best printed mean and underlined when bold and one-step (the "
        "agent class's paper_group); a Table 1 cell over k < N tasks is not ranked. Table 1's verdicts test against "
        "the paper's Table 4 over the same tasks. A column must be one (method, K) per task.",
    )
    p.add_argument("--runs", required=True, help="runs root (results/runs)")
    p.add_argument(
        "--reported", required=True, help="the paper's Table 4 (config/table4_reported.csv)"
    )
    p.add_argument("--out", required=True, help="output directory (results/tables)")
    p.add_argument(
        "--manifest",
        help="CSV of expected runs and their table columns (label,task,method,K,seed); "
        "without it runs are labelled from Table 3's K*",
    )
    p.add_argument(
        "--reported-table1",
        help="the paper's Table 1 (suite,family,method,mean,std, optionally its printed "
        "bold,underline as 0/1; default: table1_reported.csv "
        "beside --reported, else derived from Table 4)",
    )
    p.add_argument(
        "--paper-seeds",
        type=int,
        default=PAPER_SEEDS,
        help=f"seeds behind each reported number, for the verdicts (default {PAPER_SEEDS}, "
        "FQL's protocol)",
    )
    p.set_defaults(func=cmd_tables)

    p = subparsers.add_parser(
        "figures",
        help="one paper figure as PDF + PNG",
        description="NAME is one of: " + ", ".join(FIGURES) + ". Writes OUT.pdf and OUT.png. "
        "fig4_ksweep/fig3_metrics/learning_curves read --runs (+ --manifest); fig3_runtime reads "
        "--bench JSON files; fig2_voronoi reads --run DIR/probes.npz (or --probes).",
    )
    p.add_argument("name", choices=FIGURES)
    p.add_argument("--out", required=True, help="output prefix, e.g. paper_figs/fig4_ksweep")
    p.add_argument("--runs", help="runs root (results/runs)")
    p.add_argument("--manifest", help="CSV of expected runs (label,task,method,K,seed)")
    p.add_argument("--bench", nargs="+", help="drol bench --json outputs (fig3_runtime)")
    p.add_argument("--run", help="run directory holding probes.npz (fig2_voronoi)")
    p.add_argument("--probes", help="probes.npz path (fig2_voronoi)")
    p.add_argument(
        "--aggregate",
        help="aggregate.csv of drol stats on the same runs (fig_aggregate: reuse its bootstrap)",
    )
    p.add_argument(
        "--probe", type=int, help="probe state index (fig2_voronoi; default: most hand-offs)"
    )
    p.add_argument("--default-k", type=int, default=16, help="K drawn dashed in fig4 (default 16)")
    p.add_argument("--max-tasks", type=int, default=3, help="panels in fig3_metrics (default 3)")
    _add_bootstrap(p)
    p.set_defaults(func=cmd_figures)

    p = subparsers.add_parser(
        "stats",
        help="aggregate statistics over all reproduced runs (rliable): aggregate.{csv,md,tex,html}",
        description="Per table column: IQM, mean, median and optimality gap with 95% stratified "
        "bootstrap CIs (seeds = runs, tasks = strata), and the probability of improvement of "
        "DROL(16) and DROL* over every other column. Writes OUT/aggregate.{csv,md,tex,html}.",
    )
    p.add_argument("--runs", required=True, help="runs root (results/runs)")
    p.add_argument("--manifest", help="CSV of expected runs and their table columns")
    p.add_argument("--out", required=True, help="output directory (results/tables)")
    _add_bootstrap(p)
    p.set_defaults(func=cmd_stats)

    p = subparsers.add_parser(
        "select-k",
        help="choose K* from a family's K-sweep runs (DROL* with k_selection: sweep)",
        description="Reads RUN_DIR/score.json of every K-sweep run of one (*) task and writes "
        '{"task", "kstar", "scores", ...} to OUT.',
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--default-k", type=int, default=16, help="preferred on ties (default 16)")
    p.set_defaults(func=cmd_select_k)

    p = subparsers.add_parser(
        "cost",
        help="device-hours of the grid per table column, from drol bench --json numbers",
        description="Prices every run of the workflow config's grid at the seed-steps/s of its "
        "method's bench entry (method, K, seeds per job, network size): hours = runs x steps / "
        "seed-steps/s / 3600. Training only unless --eval-episodes-per-s is given. Then the "
        "training jobs as the workflow submits them (drol.report.jobs): per rule, its jobs and "
        "the wall time each asks for (the longest job x train.runtime.safety, at most "
        "train.runtime.cap_min; a longer job resumes across attempts).",
    )
    p.add_argument(
        "bench",
        nargs="+",
        metavar="BENCH",
        help="drol bench --json outputs: files (one JSON object, or one per line) or directories "
        "of *.json/*.jsonl",
    )
    p.add_argument("--configfile", default="config/config.yaml", help="workflow config")
    p.add_argument(
        "--seeds-per-job",
        type=int,
        default=None,
        metavar="S",
        help="seeds trained per job (drol train --seeds; default: the config's "
        "train.seeds_per_job as the workflow resolves it: auto = every seed of a cell on a GPU, "
        "1 on CPU)",
    )
    p.add_argument(
        "--eval-episodes-per-s",
        type=float,
        help="measured evaluation rate: adds the grid's evaluation episodes to the hours",
    )
    p.add_argument("--csv", help="write the table as CSV here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_cost)
