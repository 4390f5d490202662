"""The training jobs of a workflow config's grid and the wall time each asks the scheduler for.

One policy for every training rule (``train``, ``train_seeds<i>``; ``workflow/rules/common.smk``
and ``drol cost`` both call :func:`plan`):

* **Jobs**: each run of the grid (:meth:`drol.grid.Grid.runs`, shared runs once) is trained by
  rule ``train`` (one seed) or, when its method can be seed-batched and its seed is in a group of
  :func:`seed_groups` (``train.seeds_per_job``), by rule ``train_seeds<i>`` with the group's
  seeds, one job per (task, method, K, group).
* **Estimate**: a job's minutes are priced like ``drol cost`` prices a run (its method, K, seeds
  per job and network size in the ``drol bench --json`` entries of ``train.runtime.bench``):
  ``steps x seeds / seed-steps/s``, plus evaluation at ``train.runtime.eval_episodes_per_s``
  when given, times the safety factor ``train.runtime.safety``. Without bench entries the
  estimate is ``train.runtime_min`` (per run, per suite; an unmeasured limit) times the job's
  seeds, and the plan says ``unmeasured``.
* **Runtime**: one value per rule, the longest job's estimate, so a SLURM job array (which takes
  its first job's ``-t`` for every task) fits every job of it; never above the cap
  ``train.runtime.cap_min`` (default 24 h).
* **Over the cap**: the job is not split. It asks for the cap and resumes across attempts from
  its checkpoint (``drol train`` resumes from ``RUN_DIR/checkpoint.pt``): the rule's
  ``attempts`` is the longest estimate over the cap, rounded up, and the workflow gives the rule
  that many retries more than the profile's own (``retries:``). Splitting would not help a
  single run longer than the cap, and keeping the groups keeps the job count and the seed
  batching the estimate was priced at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from drol.grid import Grid, Run, seed_chunks, unique_runs
from drol.report.cost import BenchEntry, BenchIndex, evaluations, hours_text, run_size
from drol.speed.seed_batch import seed_batchable
from drol.tasks import parse_task
from drol.workflow_config import run_defaults, seeds_per_job

SINGLE_RULE = "train"


def seed_groups(config: Mapping[str, Any], per_job: int | None = None) -> list[tuple[int, ...]]:
    """The seed groups trained together by rules ``train_seeds<i>`` (i = the index here):
    :func:`drol.grid.seed_chunks` of the grid's seed sets at ``per_job`` (default: the config's
    ``train.seeds_per_job`` as resolved by :func:`drol.workflow_config.seeds_per_job`), groups of
    one seed left to rule ``train``."""
    per_job = seeds_per_job(config) if per_job is None else per_job
    sets = Grid.from_config(config).seed_sets()
    return [g for g in seed_chunks(sets, per_job) if len(g) > 1]


@dataclass(frozen=True)
class Job:
    """One training job: its rule and the runs (task, method, K, each seed) it trains."""

    rule: str
    task: str
    method: str
    K: int
    seeds: tuple[int, ...]


def training_jobs(config: Mapping[str, Any], groups: list[tuple[int, ...]]) -> list[Job]:
    """Every training job of the grid (DROL*'s K before any sweep: Table 3's)."""
    jobs: dict[Job, None] = {}
    for task, method, K, seed in unique_runs(Grid.from_config(config).runs()):
        hit = None
        if seed_batchable(method):
            hit = next((i for i, g in enumerate(groups) if seed in g), None)
        if hit is None:
            jobs[Job(SINGLE_RULE, task, method, K, (seed,))] = None
        else:
            jobs[Job(f"train_seeds{hit}", task, method, K, groups[hit])] = None
    return list(jobs)


@dataclass(frozen=True)
class RuntimePolicy:
    """``train.runtime`` of a defaulted config (the cap possibly set by the site's profile)."""

    cap_min: int
    safety: float
    eval_episodes_per_s: float | None

    @classmethod
    def of(cls, config: Mapping[str, Any], cap_min: int | None = None) -> RuntimePolicy:
        rt = config["train"]["runtime"]
        rate = rt["eval_episodes_per_s"]
        return cls(
            cap_min=int(cap_min if cap_min is not None else rt["cap_min"]),
            safety=float(rt["safety"]),
            eval_episodes_per_s=float(rate) if rate is not None else None,
        )


@dataclass
class RulePlan:
    """What every job of one training rule asks for, and why."""

    rule: str
    jobs: int
    seeds_per_job: int
    longest_job_min: float  # the longest job's estimate, safety factor included
    runtime_min: int  # wall time asked per attempt (SLURM -t), <= the cap
    attempts: int  # attempts the longest job needs at that wall time (resume in between)
    device_hours: float | None  # sum of the jobs' estimates without the safety factor
    basis: str  # "measured: DEVICE" or "unmeasured: train.runtime_min x seeds"


def job_minutes(
    config: Mapping[str, Any],
    job: Job,
    index: BenchIndex | None,
    policy: RuntimePolicy,
    sizes: dict[tuple[str, str, int], tuple[int, int]] | None = None,
) -> tuple[float, float | None, str]:
    """(estimate in minutes with the safety factor, device-hours without it or None, basis);
    ``sizes`` caches each (method, task, K)'s network size across calls."""
    defaults = run_defaults(config, job.method, job.task)
    if index is None:
        suite = parse_task(job.task).suite
        minutes = float(config["train"]["runtime_min"][suite]) * len(job.seeds)
        return minutes, None, "unmeasured: train.runtime_min x seeds"
    sizes = {} if sizes is None else sizes
    key = (job.method, job.task, job.K)
    if key not in sizes:
        sizes[key] = run_size(config, Run("", job.task, job.method, job.K, 0))
    hidden, batch = sizes[key]
    seeds = len(job.seeds)
    price = index.require(job.method, job.K, seeds, hidden, batch, "train.runtime.bench")
    steps = int(defaults["steps"])
    seconds = steps * seeds / price.seed_steps_per_s
    if policy.eval_episodes_per_s:
        episodes = evaluations(steps, int(config["train"]["eval_every"]))
        seconds += episodes * int(defaults["eval_episodes"]) * seeds / policy.eval_episodes_per_s
    return seconds / 60 * policy.safety, seconds / 3600, f"measured: {price.machine}"


def plan(
    config: Mapping[str, Any],
    entries: list[BenchEntry] | None = None,
    per_job: int | None = None,
    cap_min: int | None = None,
) -> dict[str, RulePlan]:
    """One :class:`RulePlan` per training rule of the grid (``train`` first, then
    ``train_seeds0``, ...); ``entries``: the bench the estimate comes from (None: unmeasured)."""
    policy = RuntimePolicy.of(config, cap_min)
    index = BenchIndex(entries) if entries else None
    groups = seed_groups(config, per_job)
    sizes: dict[tuple[str, str, int], tuple[int, int]] = {}
    by_rule: dict[str, list[Job]] = {}
    for job in training_jobs(config, groups):
        by_rule.setdefault(job.rule, []).append(job)
    order = [SINGLE_RULE] + [f"train_seeds{i}" for i in range(len(groups))]
    out: dict[str, RulePlan] = {}
    for rule in order:
        jobs = by_rule.get(rule, [])
        if not jobs:
            continue
        estimates = [job_minutes(config, job, index, policy, sizes) for job in jobs]
        longest = max(e[0] for e in estimates)
        runtime = max(1, min(policy.cap_min, math.ceil(longest)))
        hours = [e[1] for e in estimates]
        out[rule] = RulePlan(
            rule=rule,
            jobs=len(jobs),
            seeds_per_job=max(len(j.seeds) for j in jobs),
            longest_job_min=longest,
            runtime_min=runtime,
            attempts=max(1, math.ceil(longest / runtime - 1e-9)),
            device_hours=None if None in hours else sum(h for h in hours if h is not None),
            basis="; ".join(sorted({e[2] for e in estimates})),
        )
    return out


def default_plan(config: Mapping[str, Any], rule: str, cap_min: int | None = None) -> RulePlan:
    """The plan of a training rule with no job in the grid (a target outside it): the
    unmeasured limit of its longest suite, capped."""
    policy = RuntimePolicy.of(config, cap_min)
    longest = float(max(config["train"]["runtime_min"].values()))
    runtime = max(1, min(policy.cap_min, math.ceil(longest)))
    return RulePlan(
        rule, 0, 1, longest, runtime, math.ceil(longest / runtime - 1e-9), None, "no job"
    )


# ---------------------------------------------------------------- drol cost's jobs table


def to_markdown(plans: Mapping[str, RulePlan], gpus_per_job: int, cap_min: int) -> str:
    """The jobs table of ``drol cost``: per rule, its jobs and the wall time each asks for."""
    head = ["rule", "jobs", "seeds/job", "longest job h", "runtime h", "attempts", "device h"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    total_jobs, total_h, measured = 0, 0.0, True
    for p in plans.values():
        total_jobs += p.jobs
        if p.device_hours is None:
            measured = False
        else:
            total_h += p.device_hours
        lines.append(
            "| "
            + " | ".join(
                [
                    p.rule,
                    str(p.jobs),
                    str(p.seeds_per_job),
                    hours_text(p.longest_job_min / 60),
                    hours_text(p.runtime_min / 60),
                    str(p.attempts),
                    hours_text(p.device_hours) if p.device_hours is not None else "-",
                ]
            )
            + " |"
        )
    dev = hours_text(total_h * max(1, gpus_per_job)) if measured else "-"
    lines.append(f"| **total** | {total_jobs} |  |  |  |  | **{dev}** |")
    note = (
        f"Training jobs as the workflow submits them: one runtime per rule (a SLURM array takes "
        f"one), the longest job's estimate with the safety factor, capped at "
        f"{hours_text(cap_min / 60)} h; a job over the cap resumes from its checkpoint across "
        f"`attempts` jobs. Device hours: the jobs' estimates without the safety factor."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def to_records(plans: Mapping[str, RulePlan]) -> list[dict[str, Any]]:
    return [asdict(p) for p in plans.values()]
