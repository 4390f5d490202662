# Config validation, the run grid, input functions and wildcard constraints.
# Everything here is plain bookkeeping: training, tables and figures live in the `drol` package.
import json
import os
import re
from pathlib import Path

import jsonschema
import yaml

from drol.tasks import OGBENCH, UnknownTaskError, family_kstar, parse_task


def validate_config(cfg, schema_file):
    """Validate ``cfg`` against the schema; raise a one-line error naming the key."""
    schema = yaml.safe_load(Path(schema_file).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: len(list(e.absolute_path))
    )
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ValueError(f"invalid config at '{where}': {err.message}")
    for name in [*cfg["ogbench"]["families"], *cfg["d4rl"]["tasks"]]:
        try:
            if name in cfg["d4rl"]["tasks"]:
                parse_task(name)
            else:
                parse_task(f"{name}-singletask-task1-v0")
        except UnknownTaskError as err:
            raise ValueError(f"invalid config: {err}") from None


validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))

RESULTS = config["results_dir"]
RUNS = f"{RESULTS}/runs"
LOGS = f"{RESULTS}/logs"  # per results_dir: two configurations never share a log
BENCHMARKS = f"{RESULTS}/benchmarks"
DATA = config["data_dir"]
FIGS = config["figures_dir"]
SEEDS = list(config["seeds"])
DEFAULT_K = config["default_k"]
TRAIN = config["train"]

TASKS = [
    f"{fam}-singletask-task{i}-v0"
    for fam in config["ogbench"]["families"]
    for i in config["ogbench"]["tasks"]
] + list(config["d4rl"]["tasks"])
SWEEP_TASKS = config["ksweep"]["tasks"] or [
    t for t in TASKS if parse_task(t).representative
]
SWEEP_SEEDS = config["ksweep"]["seeds"] or SEEDS
SWEEP_KS = list(config["ksweep"]["Ks"])
FIG2 = config["figures"]["fig2"]
ALL_TASKS = list(dict.fromkeys([*TASKS, *SWEEP_TASKS, FIG2["task"]]))
GENERATED = dict(config["data"]["generate"])
OGBENCH_DATASETS = sorted(
    {parse_task(t).dataset for t in ALL_TASKS if parse_task(t).suite == OGBENCH}
)
USER_DATASETS = [d for d in OGBENCH_DATASETS if d not in GENERATED]
METHOD_LABELS = {
    "drol16": "DROL(16)",
    "drol_star": "DROL*",
    "fql": "FQL",
    "drol_static": "DROL-static",
}
KSWEEP_LABEL = "K-sweep"


def _alternatives(names):
    """Regex matching exactly the given names (never matches when empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


wildcard_constraints:
    task=_alternatives(ALL_TASKS),
    method="drol|drol_static|fql",
    K=r"\d+",
    seed=r"\d+",
    dataset=_alternatives(OGBENCH_DATASETS),


# ---------------------------------------------------------------- paths


def run_dir(task, method, K, seed):
    return f"{RUNS}/{task}/{method}/K{int(K)}/seed{int(seed)}"


def score_file(task, method, K, seed):
    return f"{run_dir(task, method, K, seed)}/score.json"


def table_files(name):
    return expand(f"{RESULTS}/tables/{name}.{{ext}}", ext=["csv", "tex", "md", "html"])


TABLE_FILES = table_files("table1") + table_files("table4")
FIGURE_NAMES = [
    "fig2_voronoi",
    "fig3_metrics",
    "fig3_runtime",
    "fig4_ksweep",
    "learning_curves",
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
        return family_kstar(parse_task(task))
    out = checkpoints.select_k.get(task=selection_task(task)).output[0]
    return int(json.loads(Path(out).read_text())["kstar"])


# ---------------------------------------------------------------- the grid


def manifest_rows():
    """Every run of the grid with its table column (label); runs may repeat across labels."""
    rows = []
    methods = config["methods"]
    for task in TASKS:
        for seed in SEEDS:
            if methods["drol16"]:
                rows.append(("DROL(16)", task, "drol", DEFAULT_K, seed))
            if methods["drol_star"]:
                rows.append(("DROL*", task, "drol", kstar(task), seed))
            if methods["fql"]:
                rows.append(("FQL", task, "fql", config["fql_k"], seed))
            if methods["drol_static"]:
                rows.append(
                    ("DROL-static", task, "drol_static", config["static_k"], seed)
                )
    for task in SWEEP_TASKS:
        for K in SWEEP_KS:
            for seed in SWEEP_SEEDS:
                rows.append((KSWEEP_LABEL, task, "drol", K, seed))
    keys = ("label", "task", "method", "K", "seed")
    return [dict(zip(keys, r)) for r in dict.fromkeys(rows)]


def unique_runs(rows):
    return list(
        dict.fromkeys((r["task"], r["method"], r["K"], r["seed"]) for r in rows)
    )


def all_scores(wildcards=None):
    """score.json of every run of the grid (DROL(16)/DROL* shared runs appear once)."""
    return [score_file(*r) for r in unique_runs(manifest_rows())]


def report_inputs(wildcards=None):
    """What the tables/figures wait for: every run, or none when require_all_runs is false."""
    if config["tables"]["require_all_runs"]:
        return all_scores()
    return kstar_files()


def kstar_files(wildcards=None):
    if config["k_selection"] != "sweep" or not config["methods"]["drol_star"]:
        return []
    return sorted({f"{RESULTS}/kstar/{selection_task(t)}.json" for t in TASKS})


def sweep_scores(wildcards=None):
    return [
        score_file(t, "drol", K, s)
        for t in SWEEP_TASKS
        for K in SWEEP_KS
        for s in SWEEP_SEEDS
    ]


def sweep_dirs_of(task):
    return [run_dir(task, "drol", K, s) for K in SWEEP_KS for s in SWEEP_SEEDS]


def bench_files():
    b = config["bench"]
    out = []
    for m in b["methods"]:
        for K in [config["fql_k"]] if m == "fql" else b["Ks"]:
            out.append(f"{RESULTS}/bench/{m}_K{K}.json")
    return out


def fig2_score():
    return score_file(FIG2["task"], FIG2["method"], FIG2["K"], FIG2["seed"])


# ---------------------------------------------------------------- training


def dataset_files(wildcards):
    """The dataset pair of an OGBench task; D4RL tasks read D4RL's own files (none here)."""
    t = parse_task(wildcards.task)
    if t.suite != OGBENCH:
        return []
    return [f"{DATA}/{t.dataset}.npz", f"{DATA}/{t.dataset}-val.npz"]


def train_steps(wildcards):
    suite = parse_task(wildcards.task).suite
    return config["ogbench"]["steps"] if suite == OGBENCH else config["d4rl"]["steps"]


def set_args(wildcards):
    values = dict(TRAIN["set"])
    values.update(TRAIN.get("set_by_method", {}).get(wildcards.method, {}))
    return " ".join(f"--set {k}={v}" for k, v in values.items())


def train_runtime(wildcards):
    return TRAIN["runtime_min"][parse_task(wildcards.task).suite]


def train_resources():
    """runtime, mem_mb and (when configured) gpu for the train rule."""
    res = {"runtime": train_runtime, "mem_mb": TRAIN["mem_mb"]}
    if TRAIN["gpu"] > 0:
        res["gpu"] = TRAIN["gpu"]
    return res
