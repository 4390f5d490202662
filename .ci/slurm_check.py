"""Assertions of the SLURM test (.ci/slurm_test.sh); needs the test cluster's `scontrol`.

    python .ci/slurm_check.py grid --results DIR --snakemake-log FILE
    python .ci/slurm_check.py plan --calibration RUN_DIR --seconds S  -> prints "STEPS EVERY"
    python .ci/slurm_check.py preempt --run RUN_DIR --steps N --snakemake-log FILE

Exits 1 with a message naming the failed check.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path


class CheckFailed(Exception):
    pass


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def slurm_jobs() -> list[dict[str, str]]:
    """Every job slurmctld still knows (MinJobAge=600 keeps finished ones), as key=value dicts."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-o"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    jobs = []
    for line in out.splitlines():
        job: dict[str, str] = {}
        key = None
        for tok in line.split():
            k, sep, v = tok.partition("=")
            if sep and re.fullmatch(r"[A-Za-z:/_]+", k):
                key = k
                job[k] = v
            elif key:  # a value with spaces
                job[key] += " " + tok
        if "JobId" in job:
            jobs.append(job)
    return jobs


def stdout_path(job: dict[str, str]) -> Path:
    p = job.get("StdOut", "")
    p = p.replace("%A", job.get("ArrayJobId", job["JobId"])).replace(
        "%a", job.get("ArrayTaskId", "")
    )
    return Path(p.replace("%j", job["JobId"]))


def train_jobs_for(run: Path) -> list[dict[str, str]]:
    """SLURM jobs of a training rule (train, train_seeds<i>) whose SLURM log names this run's
    output (oldest first)."""
    target = f"{run}/score.json"
    found = []
    for job in slurm_jobs():
        if not re.match(r"rule_train(_seeds\d+)?(_wildcards|$)", job.get("Comment", "")):
            continue
        log = stdout_path(job)
        if not log.is_file():
            continue
        # an array task first starts the array's representative job and then the job of its own
        # index: the last "output:" line of its log is the job that ran
        outputs = re.findall(r"^\s*output: (.*)$", log.read_text(errors="replace"), re.M)
        if outputs and target in outputs[-1].split(", "):
            found.append(job)
    return sorted(found, key=lambda j: int(j["JobId"]))


def rule_log(run: Path) -> Path:
    """The training rule's log of RESULTS/runs/{task}/{method}/K{K}/seed{seed}:
    RESULTS/logs/train/{task}/{method}/K{K}/seed{seed}.log, or the seed group's
    seeds{a}_{b}_....log of rule train_seeds<i> (older layout: logs/train/...)."""
    task, method, k, seed = run.parts[-4:]
    rel = Path("train") / task / method / k / f"{seed}.log"
    new = run.parents[4] / "logs" / rel
    if not new.exists():
        number = seed.removeprefix("seed")
        for group in sorted(new.parent.glob("seeds*.log")):
            if number in group.stem.removeprefix("seeds").split("_"):
                return group
    return new if new.exists() or not (Path("logs") / rel).exists() else Path("logs") / rel


def runs_of(results: Path) -> list[Path]:
    return sorted(p.parent for p in (results / "runs").glob("*/*/*/*/score.json"))


def cmd_grid(args: argparse.Namespace) -> None:
    results = Path(args.results)
    smk_log = Path(args.snakemake_log).read_text(errors="replace")
    runs = runs_of(results)
    check(len(runs) == 3, f"expected 3 finished runs under {results}/runs, found {len(runs)}")
    submitted = re.findall(r"submitted with SLURM jobid (\S+)", smk_log)
    check(submitted, "Snakemake's log shows no SLURM submission")
    arrays = re.findall(r"Submitted array job .*", smk_log)
    check(arrays, "the training jobs were not submitted as a SLURM job array")
    print(f"ok  {arrays[0]}")
    scores = {}
    for run in runs:
        score = json.loads((run / "score.json").read_text())
        check(score.get("status") == "done", f"{run}: score.json status is {score.get('status')}")
        scores[run] = score
        jobs = train_jobs_for(run)
        check(jobs, f"{run}: no SLURM job of rule train has a log naming {run}/score.json")
        job = jobs[-1]
        check(
            job["JobState"] == "COMPLETED", f"{run}: SLURM job {job['JobId']} is {job['JobState']}"
        )
        jid = job["JobId"]
        aid = f" (array {job['ArrayJobId']}_{job['ArrayTaskId']})" if "ArrayJobId" in job else ""
        log = rule_log(run)
        check(log.is_file(), f"{run}: rule log {log} missing")
        m = re.search(r"SLURM_JOB_ID=(\S+)", log.read_text(errors="replace"))
        if m:
            check(m.group(1) == jid, f"{log}: SLURM_JOB_ID={m.group(1)}, but SLURM ran it as {jid}")
            where = f"{log} says SLURM_JOB_ID={jid}"
        else:
            where = f"{log} has no SLURM_JOB_ID line"
        print(
            f"ok  {run.relative_to(results)}: SLURM job {jid}{aid} COMPLETED on {job.get('NodeList')}, "
            f"log {stdout_path(job)}; {where}; score {score['score']}"
        )

    tables = results / "tables"
    for name in ("table1", "table4"):
        for ext in ("csv", "tex", "md", "html"):
            f = tables / f"{name}.{ext}"
            check(f.is_file() and f.stat().st_size > 0, f"table file {f} missing or empty")
    with open(tables / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for run, score in scores.items():
        match = [
            r
            for r in rows
            if r.get("task") == score["task"]
            and r.get("method") == score["method"]
            and int(float(r.get("K", -1))) == int(score["K"])
            and int(float(r.get("seed", -1))) == int(score["seed"])
        ]
        check(match, f"runs.csv has no row for {run}")
        check(
            all(abs(float(r["score"]) - float(score["score"])) < 1e-6 for r in match),
            f"runs.csv score of {run} differs from its score.json ({score['score']})",
        )
    # every table column a run fills (its labels in runs.csv) shows that run's score, over 1 seed
    with open(tables / "table4.csv", newline="") as fh:
        table4 = [r for r in csv.DictReader(fh) if r["source"] == "reproduced"]
    cells = 0
    for r in rows:
        for label in r["labels"].split(";"):
            if label == "K-sweep":  # Fig. 4 only
                continue
            cell = [t for t in table4 if t["task"] == r["task"] and t["method"] == label]
            check(
                len(cell) == 1, f"table4.csv: no single reproduced row for {label} on {r['task']}"
            )
            check(
                abs(float(cell[0]["mean"]) - float(r["score"])) < 1e-6
                and int(float(cell[0]["n_seeds"])) == 1,
                f"table4.csv {label}/{r['task']}: {cell[0]} does not match run score {r['score']}",
            )
            cells += 1
    check(cells >= 3, f"only {cells} reproduced cells in table4.csv")
    print(f"ok  tables: {sorted(p.name for p in tables.iterdir())}")
    print(
        f"ok  runs.csv rows match score.json of {len(scores)} runs; {cells} table4.csv cells match"
    )


def cmd_plan(args: argparse.Namespace) -> None:
    """Steps for about --seconds of training at the median logged speed of a calibration run."""
    with open(Path(args.calibration) / "train.csv", newline="") as fh:
        speeds = sorted(float(r["steps_per_s"]) for r in csv.DictReader(fh) if r["steps_per_s"])
    check(len(speeds) >= 3, f"calibration run {args.calibration} logged too few rows")
    speed = speeds[len(speeds) // 2]
    steps = max(5000, int(speed * args.seconds) // 100 * 100)
    every = max(10, steps // 50)
    print(f"calibration: median {speed:.0f} steps/s -> {steps} steps", file=sys.stderr)
    print(steps, every)


def cmd_preempt(args: argparse.Namespace) -> None:
    run = Path(args.run)
    smk_log = Path(args.snakemake_log).read_text(errors="replace")
    check(
        "SLURM status is: 'TIMEOUT'" in smk_log,
        "Snakemake never saw a TIMEOUT: the first attempt was not killed by its 1-minute limit "
        "(did it finish within SLURM's kill window? then raise --seconds in slurm_test.sh)",
    )
    jobs = train_jobs_for(run)
    states = [(j["JobId"], j["JobState"]) for j in jobs]
    check(
        len(jobs) >= 2, f"expected >= 2 SLURM jobs (killed + resubmitted) for {run}, got {states}"
    )
    check(
        all(j["JobState"] == "TIMEOUT" for j in jobs[:-1]) and jobs[-1]["JobState"] == "COMPLETED",
        f"expected TIMEOUT (one or more) then COMPLETED, got {states}",
    )
    if args.array:
        check(
            "ArrayJobId" in jobs[0],
            f"{run}: the first attempt (SLURM job {jobs[0]['JobId']}) was not an array task",
        )
    first_log = stdout_path(jobs[0]).read_text(errors="replace")
    check("DUE TO TIME LIMIT" in first_log, f"{stdout_path(jobs[0])} lacks SLURM's time-limit kill")
    log = rule_log(run)
    check(log.is_file(), f"rule log {log} missing")
    m = re.search(r"resuming from step (\d+)", log.read_text(errors="replace"))
    check(m is not None, f"{log}: the resubmitted job did not resume from a checkpoint")
    step = int(m.group(1))
    # the log is the last attempt's: it may resume from the final checkpoint when an attempt
    # was killed after saving it but before writing score.json
    check(0 < step <= args.steps, f"resumed from step {step}, expected 0 < step <= {args.steps}")
    score = json.loads((run / "score.json").read_text())
    check(
        score.get("status") == "done" and int(score.get("steps", -1)) == args.steps,
        f"{run}/score.json: {score}",
    )
    first = jobs[0]
    aid = f" (array {first['ArrayJobId']}_{first['ArrayTaskId']})" if "ArrayJobId" in first else ""
    print(
        f"ok  preemption of {run}: SLURM job {first['JobId']}{aid} TIMEOUT (RunTime "
        f"{first.get('RunTime')}, limit {first.get('TimeLimit')}), {len(jobs) - 1} resubmission(s), "
        f"job {jobs[-1]['JobId']} COMPLETED (RunTime {jobs[-1].get('RunTime')}); log {log}: "
        f"resumed from step {step} of {args.steps}; score.json status done"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grid")
    g.add_argument("--results", required=True)
    g.add_argument("--snakemake-log", required=True)
    g = sub.add_parser("plan")
    g.add_argument("--calibration", required=True)
    g.add_argument("--seconds", type=float, required=True)
    g = sub.add_parser("preempt")
    g.add_argument("--run", required=True)
    g.add_argument("--steps", type=int, required=True)
    g.add_argument("--snakemake-log", required=True)
    g.add_argument("--array", action="store_true", help="the first attempt was an array task")
    args = p.parse_args()
    try:
        {"grid": cmd_grid, "plan": cmd_plan, "preempt": cmd_preempt}[args.cmd](args)
    except CheckFailed as err:
        print(f"slurm_check {args.cmd}: FAILED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
