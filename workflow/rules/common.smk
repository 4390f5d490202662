# Config validation and defaults, the run grid (drol.grid), input functions, wildcard constraints.
# Everything here is plain bookkeeping: training, tables and figures live in the `drol` package.
import inspect
import json
import math
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from drol.agents.registry import get_method, method_names
from drol.errors import ConfigError, UserError
from drol.grid import (
    KSWEEP_LABEL,
    Grid,
    run_dir as grid_run_dir,
    unique_runs,
)
from drol.data.d4rl import d4rl_url
from drol.report.aggregate import stale_runs
from drol.report.cost import read_bench
from drol.report.jobs import default_plan, plan, seed_groups
from drol.speed.seed_batch import seed_batchable
from drol.tasks import OGBENCH, parse_task
from drol.workflow_lock import busy_message, claim as claim_workflow_lock
from drol.workflow_config import (
    bench_methods,
    check_schema,
    check_semantics,
    run_defaults,
    train_set_values,
)

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
try:
    check_schema(config, SCHEMA)  # one-line error naming the key
    validate(config, SCHEMA)  # fills in the schema's defaults (the paper's settings)
    check_semantics(config)  # task names, columns, train.set values per method
except ConfigError as err:
    raise ValueError(str(err)) from None

RESULTS = config["results_dir"]
RUNS = f"{RESULTS}/runs"


def outdate_stale_tables():
    """Snakemake keeps a target up to date when one of its inputs is deleted (a missing input
    is no rerun trigger, and an older output with inputs of unchanged checksums is none
    either), so the tables would go on counting a run whose score.json is gone or holds
    another score. Such a
    runs.csv is stale: it is removed (it is derived from the run directories), so every table
    target is rebuilt, and with tables.require_all_runs the run is trained again first.
    """
    runs_csv = Path(f"{RESULTS}/tables/runs.csv")
    if not runs_csv.is_file():
        return
    lost = stale_runs(runs_csv)
    if lost:
        print(
            f"{runs_csv} counts {len(lost)} run(s) whose score.json is gone or changed "
            f"(e.g. {lost[0]}): removed, the tables will be rebuilt",
            file=sys.stderr,
        )
        runs_csv.unlink(missing_ok=True)


if (
    workflow.is_main_process
):  # not in every job's own Snakemake (SLURM, subprocess jobs)
    busy = claim_workflow_lock()  # another Snakemake runs here: say so in plain words
    if busy:
        print(f"drol: {busy_message('.', busy)}", file=sys.stderr)
    else:  # the files of a running workflow are left alone
        outdate_stale_tables()
LOGS = f"{RESULTS}/logs"  # per results_dir: two configurations never share a log
BENCHMARKS = f"{RESULTS}/benchmarks"
DATA = config["data_dir"]
FIGS = config["figures_dir"]
DEFAULT_K = config["default_k"]
TRAIN = config["train"]
GRID = Grid.from_config(config)
TASKS = list(GRID.tasks)
SWEEP_TASKS = list(GRID.sweep_tasks)
FIG2 = config["figures"]["fig2"]
ALL_TASKS = list(dict.fromkeys([*TASKS, *SWEEP_TASKS, FIG2["task"]]))
GENERATED = dict(config["data"]["generate"])
OGBENCH_DATASETS = sorted(
    {parse_task(t).dataset for t in ALL_TASKS if parse_task(t).suite == OGBENCH}
)
USER_DATASETS = [d for d in OGBENCH_DATASETS if d not in GENERATED]
# D4RL: the official hdf5 file name of each task (data_dir/d4rl/<file>)
D4RL_FILES = {
    d4rl_url(t).rsplit("/", 1)[-1]: t
    for t in ALL_TASKS
    if parse_task(t).suite != OGBENCH
}
ROLLOUT = dict(config["d4rl"]["rollout"])
ROLLOUT_FILES = [f for f, t in D4RL_FILES.items() if t in ROLLOUT]
FETCH_FILES = [f for f, t in D4RL_FILES.items() if t not in ROLLOUT]


def _alternatives(names):
    """Regex matching exactly the given names (never matches when empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


wildcard_constraints:
    task=_alternatives(ALL_TASKS),
    method=_alternatives(method_names()),
    K=r"\d+",
    seed=r"\d+",
    dataset=_alternatives(OGBENCH_DATASETS),


# ---------------------------------------------------------------- paths


def run_dir(task, method, K, seed):
    return str(grid_run_dir(RUNS, task, method, K, seed))


def score_file(task, method, K, seed):
    return f"{run_dir(task, method, K, seed)}/score.json"


def table_files(name):
    return expand(f"{RESULTS}/tables/{name}.{{ext}}", ext=["csv", "tex", "md", "html"])


TABLE_FILES = table_files("table1") + table_files("table4") + table_files("aggregate")
FIGURE_NAMES = [
    "fig2_voronoi",
    "fig3_metrics",
    "fig3_runtime",
    "fig4_ksweep",
    "learning_curves",
    "fig_aggregate",
]
FIGURE_FILES = expand(f"{FIGS}/{{name}}.{{ext}}", name=FIGURE_NAMES, ext=["pdf", "png"])


# ---------------------------------------------------------------- K* (DROL*)


def selection_task(task):
    """The (*) task whose K sweep chooses K* for ``task``'s family."""
    t = parse_task(task)
    same = [s for s in SWEEP_TASKS if parse_task(s).family == t.family]
    if not same:
        raise ValueError(
            f"k_selection: sweep needs a K-sweep task of family {t.family} (for {task}): "
            "add its (*) task to the grid or set kstar_overrides"
        )
    # D4RL adroit: pen-* uses pen-human's sweep, door-* door-human's, others the first
    prefix = [s for s in same if s.split("-")[0] == task.split("-")[0]]
    return (prefix or same)[0]


def kstar(task):
    """K* of DROL* for ``task`` (the sweep mode waits for the select_k checkpoint)."""
    family = parse_task(task).family
    if family in config.get("kstar_overrides", {}):
        return int(config["kstar_overrides"][family])
    if config["k_selection"] == "table3":
        # Table 3, or the option chosen in config/paper_discrepancies.yaml
        return GRID.default_kstar(task)
    out = checkpoints.select_k.get(task=selection_task(task)).output[0]
    return int(json.loads(Path(out).read_text())["kstar"])


# ---------------------------------------------------------------- the grid


def manifest_rows():
    """Every (column, run) of the grid; runs may repeat across columns."""
    return [vars(r) for r in GRID.runs(kstar)]


def all_scores(wildcards=None):
    """score.json of every run of the grid (DROL(16)/DROL* shared runs appear once)."""
    return [score_file(*r) for r in unique_runs(GRID.runs(kstar))]


def report_inputs(wildcards=None):
    """What the tables/figures wait for: every run, or none when require_all_runs is false."""
    if config["tables"]["require_all_runs"]:
        return all_scores()
    return kstar_files()


def table_inputs(wildcards=None):
    """What a table, statistic or figure waits for: :func:`report_inputs` and runs.csv, which
    is rebuilt (and so every table target) when a run it counts is lost or its score changes
    (see outdate_stale_tables), whatever tables.require_all_runs says."""
    return [*report_inputs(), f"{RESULTS}/tables/runs.csv"]


def kstar_files(wildcards=None):
    if config["k_selection"] != "sweep" or "drol_star" not in GRID.enabled:
        return []
    return sorted({f"{RESULTS}/kstar/{selection_task(t)}.json" for t in TASKS})


def sweep_scores(wildcards=None):
    return [
        score_file(t, "drol", K, s)
        for t in GRID.sweep_tasks
        for K in GRID.sweep_ks
        for s in GRID.sweep_seeds
    ]


def sweep_dirs_of(task):
    return [
        run_dir(task, "drol", K, s) for K in GRID.sweep_ks for s in GRID.sweep_seeds
    ]


def bench_pairs():
    """(method, K) of each bench: candidate methods at every bench.Ks, the others once."""
    b = config["bench"]
    return [
        (m, K)
        for m in bench_methods(config)
        for K in (b["Ks"] if get_method(m).uses_candidates else [config["baseline_k"]])
    ]


def bench_files():
    return [f"{RESULTS}/bench/{m}_K{K}.json" for m, K in bench_pairs()]


def fig2_score():
    return score_file(FIG2["task"], FIG2["method"], FIG2["K"], FIG2["seed"])


# ---------------------------------------------------------------- training


def dataset_files(wildcards):
    """The dataset pair of an OGBench task; the hdf5 of a D4RL task (data_dir/d4rl/)."""
    t = parse_task(wildcards.task)
    if t.suite != OGBENCH:
        return [f"{DATA}/d4rl/{d4rl_url(t.name).rsplit('/', 1)[-1]}"]
    return [f"{DATA}/{t.dataset}.npz", f"{DATA}/{t.dataset}-val.npz"]


def train_steps(wildcards):
    """The suite's steps; CORL's for BC/IQL/ReBRAC on D4RL (drol.workflow_config.run_defaults)."""
    return run_defaults(config, wildcards.method, wildcards.task)["steps"]


def eval_episodes(wildcards):
    return run_defaults(config, wildcards.method, wildcards.task)["eval_episodes"]


def set_args(wildcards):
    """``--set key=value`` arguments of a run, as a list (the shell rule quotes each one);
    the settings' own (run_defaults), then train.set / set_by_method, which win."""
    values = {
        **run_defaults(config, wildcards.method, wildcards.task)["set"],
        **train_set_values(config, wildcards.method),
    }
    return [arg for k, v in values.items() for arg in ("--set", f"{k}={v}")]


# what rules train and train_seeds<i> share: their params and their command, in which
# every value is quoted (:q), so a config or path never reaches the shell as code
TRAIN_PARAMS = dict(
    steps=train_steps,
    eval_every=TRAIN["eval_every"],
    eval_episodes=eval_episodes,
    device=TRAIN["device"],
    data_dir=DATA,
    sets=set_args,
    d4rl_python=config["d4rl"]["python"],
)
TRAIN_SHELL = (
    "echo SLURM_JOB_ID=${{{{SLURM_JOB_ID:-local}}}} > {{log:q}};"
    " DROL_D4RL_VENV_PYTHON={{params.d4rl_python:q}}"
    " drol train --task {{wildcards.task:q}} --method {{wildcards.method:q}}"
    " --K {{wildcards.K:q}} {seed_args} --steps {{params.steps:q}}"
    " --eval-every {{params.eval_every:q}} --eval-episodes {{params.eval_episodes:q}}"
    " --data-dir {{params.data_dir:q}} --device {{params.device:q}} --threads {{threads:q}}"
    " {{params.sets:q}} --out {out} >> {{log:q}} 2>&1"
)


# ---------------------------------------------------------------- seed-batched jobs


# the seed groups trained together (`drol train --seeds`, rule train_seeds<i>; group size
# train.seeds_per_job, `auto`: every seed of a cell on a GPU, one on CPU); a run of a
# single-seed group, of a seed in no group or of a method that cannot be batched: rule train
SEED_GROUPS = seed_groups(config)
SEED_BATCHABLE = [m for m in method_names() if seed_batchable(m)]


def seed_run_dirs(wildcards):
    """`drol train --seeds --out`: the cell's run directory with a {seed} placeholder."""
    cell = Path(run_dir(wildcards.task, wildcards.method, wildcards.K, 0)).parent
    return f"{cell}/seed{{seed}}"


def seeds_label(seeds):
    return "seeds" + "_".join(str(s) for s in seeds)


# ---------------------------------------------------------------- resources (one policy)
# Every training rule (train, train_seeds<i>) asks for the same GPU, CPUs and memory, from
# the config's train block; its wall time comes from drol.report.jobs.plan (the bench-priced
# longest job of the rule, safety factor, cap; over the cap: resume across attempts). A
# profile overrides them for a site for all training rules at once under the resource group
# name `training` (set-resources: {training: {...}}, set-threads: {training: N}); a rule name
# in set-resources still wins for that rule. The bench rule takes the same site keys.
RESOURCE_GROUP = "training"
# keys of the group that the policy reads; every other key goes to SLURM as it is
POLICY_KEYS = (
    "gpu",
    "cpus_per_task",
    "cpus_per_gpu",
    "mem_mb",
    "runtime",
    "runtime_cap",
)


def _plain(name, value):
    """A set-resources/set-threads value of the group as a plain int or string (Snakemake
    parses every such value as an expression: a constant one is evaluated here)."""
    if not hasattr(value, "is_evaluable"):
        return value
    if not value.is_evaluable():
        return value.value
    context = dict(
        wildcards={},
        input=[],
        attempt=1,
        threads=1,
        rulename=RESOURCE_GROUP,
        async_run=None,
    )
    evaluator = (
        value._evaluator
    )  # Snakemake's evaluator of a --set-resources expression
    accepted = inspect.signature(evaluator).parameters
    try:
        result = evaluator(**{k: v for k, v in context.items() if k in accepted})
    except Exception:
        raise ValueError(
            f"set-resources {RESOURCE_GROUP}:{name}: give a constant value (an expression of "
            "wildcards, input or attempt is set per rule, under its name, e.g. train)"
        ) from None
    return type(value)(name, result).value


def _positive(name, value, minimum=1):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or str(number) != str(value).strip():
        raise ValueError(
            f"set-resources {RESOURCE_GROUP}:{name}={value!r}: must be an integer >= {minimum}"
        )
    return number


def site_resources():
    """The profile's `training` group: set-resources (and set-threads as cpus_per_task)."""
    settings = workflow.resource_settings
    group = (settings.overwrite_resources or {}).get(RESOURCE_GROUP) or {}
    out = {name: _plain(name, value) for name, value in group.items()}
    threads = (settings.overwrite_threads or {}).get(RESOURCE_GROUP)
    if threads is not None and "cpus_per_task" not in out:
        out["cpus_per_task"] = _plain("threads", threads)
    return out


SITE = site_resources()
SITE_EXTRA = {k: v for k, v in SITE.items() if k not in POLICY_KEYS}


def _train_gpus():
    """GPUs of a training job: train.gpu (or the site's), at least 1 with device cuda."""
    if TRAIN["device"] == "cpu" and TRAIN["gpu"] > 0:
        raise ValueError(
            f"invalid config at 'train.gpu': {TRAIN['gpu']} asks every training job for a GPU "
            "that train.device: cpu never uses; set train.gpu: 0 or train.device: auto"
        )
    n = _positive("gpu", SITE["gpu"], 0) if "gpu" in SITE else TRAIN["gpu"]
    return max(n, 1) if TRAIN["device"] == "cuda" else n


TRAIN_GPUS = _train_gpus()
if "cpus_per_task" in SITE:
    TRAIN_CPUS = _positive("cpus_per_task", SITE["cpus_per_task"])
elif "cpus_per_gpu" in SITE:
    TRAIN_CPUS = _positive("cpus_per_gpu", SITE["cpus_per_gpu"]) * max(1, TRAIN_GPUS)
else:
    TRAIN_CPUS = TRAIN["threads"]
TRAIN_MEM = _positive("mem_mb", SITE["mem_mb"]) if "mem_mb" in SITE else TRAIN["mem_mb"]
RUNTIME_CAP = (
    _positive("runtime_cap", SITE["runtime_cap"])
    if "runtime_cap" in SITE
    else TRAIN["runtime"]["cap_min"]
)
try:
    _BENCH = TRAIN["runtime"]["bench"]
    TRAIN_PLAN = plan(
        config, read_bench(_BENCH) if _BENCH else None, cap_min=RUNTIME_CAP
    )
except UserError as err:
    raise ValueError(str(err)) from None


def _rule_plan(rule):
    return TRAIN_PLAN.get(rule) or default_plan(config, rule, RUNTIME_CAP)


def _train_runtime(rule):
    """Minutes a job of ``rule`` asks for per attempt: the plan's, or the site's runtime."""
    if "runtime" in SITE:
        return _positive("runtime", SITE["runtime"])
    return _rule_plan(rule).runtime_min


def _with_gpus(res, gpus):
    """``res`` with gpu=N when N > 0; the site's gpu_model only with a GPU."""
    if gpus > 0:
        res["gpu"] = gpus
    else:
        res.pop("gpu_model", None)
    return res


def train_resources(rule):
    """What every job of the training rule named ``rule`` asks the scheduler for (one value
    per rule, as a SLURM array takes its first job's)."""
    res = {
        **SITE_EXTRA,
        "runtime": _train_runtime(rule),
        "mem_mb": TRAIN_MEM,
        "cpus_per_task": TRAIN_CPUS,
    }
    return _with_gpus(res, TRAIN_GPUS)


def train_retries(rule):
    """None (the profile's --retries) unless the rule's longest job runs over its runtime:
    then one retry more per further attempt, each resuming from the run's checkpoint."""
    attempts = math.ceil(_rule_plan(rule).longest_job_min / _train_runtime(rule) - 1e-9)
    if attempts <= 1:
        return None
    base = getattr(getattr(workflow, "execution_settings", None), "retries", 0) or 0
    return attempts - 1 + base


# ---------------------------------------------------------------- bench (bench.smk)


def bench_resources():
    """The bench job: its node to itself (--exclusive), bench.threads CPUs, one GPU when it
    times on cuda, the site's keys of the `training` group; at most the runtime cap."""
    extra = dict(SITE_EXTRA)
    site_extra = extra.pop("slurm_extra", "")
    res = {
        **extra,
        "runtime": min(RUNTIME_CAP, max(60, 10 * len(bench_pairs()))),
        "mem_mb": 4000,
        "cpus_per_task": config["bench"]["threads"],
        "slurm_extra": f"{site_extra} --exclusive".strip(),
    }
    return _with_gpus(res, 1 if config["bench"]["device"] == "cuda" else 0)


def bench_threads(wildcards):
    """Every core of a local run (the job runs alone); bench.threads on a cluster."""
    if workflow.local_exec:
        try:
            return max(workflow.cores, config["bench"]["threads"])
        except WorkflowError:  # no --cores (a lint or a dry run without one)
            pass
    return config["bench"]["threads"]


# ---------------------------------------------------------------- videos (video.smk)


def video_runs():
    """(task, method, K, seed) of each (task, column) at the first seed, OGBench tasks."""
    seed = GRID.seeds[0]
    rows = [
        r
        for r in GRID.runs(kstar)
        if r.label != KSWEEP_LABEL
        and r.seed == seed
        and parse_task(r.task).suite == OGBENCH
    ]
    return unique_runs(rows)


def video_path(task, method, K, seed, ext):
    return f"{RESULTS}/videos/{task}/{method}/K{K}/seed{seed}.{ext}"


def video_files(wildcards=None):
    return [video_path(*run, "gif") for run in video_runs()]


def videos_made():
    """Whether every video of the grid exists (the report then shows them)."""
    # before the select_k checkpoint has chosen DROL*'s K there are no videos either
    try:
        return all(os.path.exists(f) for f in video_files())
    except Exception:
        return False
