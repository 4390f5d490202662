"""Checks of a workflow config (``config/*.yaml``) that make a mistake fail once, at DAG build.

``workflow/rules/common.smk`` calls :func:`check_schema` (one-line error naming the key),
then Snakemake's ``validate`` (which fills in the schema's defaults: the paper's settings),
then :func:`check_semantics` (what a JSON schema cannot say: task names, table columns,
``train.set`` keys and values against each method's hyperparameters). :func:`load_config` does
the same three steps for a config file outside Snakemake (``drol cost``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from drol.agents.discrepancies import Choices
from drol.agents.registry import get_method, make_config, method_names, methods
from drol.agents.sources import is_corl
from drol.data.registry import get_spec
from drol.errors import ConfigError, UserError
from drol.grid import Grid, column_keys, columns
from drol.tasks import parse_task
from drol.train.settings import run_setting_values, split_settings


def check_schema(config: Mapping[str, Any], schema_file: str | Path) -> None:
    """Raise a one-line :class:`ConfigError` for the first schema violation."""
    schema = yaml.safe_load(Path(schema_file).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: len(list(e.absolute_path)))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"invalid config at '{where}': {err.message}")


SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


def load_config(path: str | Path, schema: str | Path = SCHEMA) -> dict[str, Any]:
    """The workflow config in ``path`` checked and filled with the schema's defaults, as
    ``workflow/rules/common.smk`` does; one-line :class:`ConfigError` otherwise."""
    from snakemake.utils import validate  # the workflow's own defaulting

    try:
        config = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise ConfigError(f"config {path}: cannot read it ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config {path}: not YAML ({type(err).__name__})") from None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(f"config {path}: not a mapping of keys to values")
    check_schema(config, schema)
    validate(config, str(schema))
    check_semantics(config)
    return config


def _fail(where: str, message: str) -> None:
    raise ConfigError(f"invalid config at '{where}': {message}")


def check_semantics(config: Mapping[str, Any]) -> None:
    """Task names, table columns, methods and ``train.set`` values of a defaulted config."""
    for name in config["ogbench"]["families"]:
        try:
            parse_task(f"{name}-singletask-task1-v0")
        except UserError as err:
            _fail("ogbench.families", str(err))
    for name in config["d4rl"]["tasks"]:
        try:
            parse_task(name)
        except UserError as err:
            _fail("d4rl.tasks", str(err))
    known = column_keys()
    for key in config["methods"]:
        if key not in known:
            _fail("methods", f"unknown column {key!r} (known: {', '.join(known)})")
    for i, name in enumerate(config["bench"].get("methods", ())):
        if name not in method_names():
            _fail(
                f"bench.methods.{i}",
                f"unknown method {name!r} (known: {', '.join(method_names())})",
            )
    for name in config["data"]["generate"]:
        try:
            get_spec(name, generatable=True)
        except UserError as err:
            _fail(f"data.generate.{name}", str(err))
    try:
        Choices.of(config.get("discrepancies") or {})
    except ConfigError as err:
        _fail("discrepancies", str(err))
    fig2 = config["figures"]["fig2"]
    if fig2["method"] not in method_names() or not get_method(fig2["method"]).uses_candidates:
        _fail("figures.fig2.method", f"{fig2['method']!r} has no candidates to draw")
    check_train_sets(config)


def bench_methods(config: Mapping[str, Any]) -> list[str]:
    """``bench.methods`` of a defaulted config; unset: every method the paper reports (its
    agent class has a ``paper_group``; not a variant), in the registry's order."""
    chosen = config["bench"].get("methods")
    if chosen is not None:
        return list(chosen)
    return [m for m, cls in methods().items() if cls.paper_group and cls.base_method is None]


def trained_methods(config: Mapping[str, Any]) -> list[str]:
    """The methods the grid trains (its enabled columns, the variants the chosen
    discrepancy options put in them, plus DROL for the K sweep)."""
    grid = Grid.from_config(config)
    out = {c.method for c in columns() if c.key in grid.enabled}
    out |= {r.method for r in grid.runs(kstar=lambda task: grid.default_k)}
    out.add("drol")
    return [m for m in method_names() if m in out]


def train_set_values(config: Mapping[str, Any], method: str) -> dict[str, str]:
    """``--set`` key -> value of one method's runs (``train.set`` then ``set_by_method``)."""
    values = dict(config["train"]["set"])
    values.update(config["train"]["set_by_method"].get(method, {}))
    return {str(k): _yaml_scalar(v) for k, v in values.items()}


def _yaml_scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_train_sets(config: Mapping[str, Any]) -> None:
    """Every ``train.set``/``set_by_method`` key and value is valid for every method it reaches."""
    for method in config["train"]["set_by_method"]:
        if method not in method_names():
            _fail(
                "train.set_by_method",
                f"unknown method {method!r} (known: {', '.join(method_names())})",
            )
    for method in trained_methods(config):
        values = train_set_values(config, method)
        run_keys, agent_keys = split_settings(values)
        try:
            run_setting_values(run_keys)
            make_config(method, agent_keys)
        except ConfigError as err:
            where = (
                "train.set_by_method." + method
                if method in config["train"]["set_by_method"]
                else "train.set"
            )
            _fail(where, f"{err} (for method {method})")


def seeds_per_job(config: Mapping[str, Any]) -> int:
    """``train.seeds_per_job`` of a defaulted config; ``auto``: every seed of a cell on a GPU
    (``train.device: cuda`` or ``train.gpu > 0``), one on CPU."""
    train = config["train"]
    if train["seeds_per_job"] != "auto":
        return int(train["seeds_per_job"])
    on_gpu = train["device"] == "cuda" or train["gpu"] > 0
    return max(len(s) for s in Grid.from_config(config).seed_sets()) if on_gpu else 1


def run_defaults(config: Mapping[str, Any], method: str, task: str) -> dict[str, Any]:
    """Steps, evaluation episodes and extra ``--set`` values of one run that follow from its
    settings' sources: BC/IQL/ReBRAC on D4RL run as CORL's configs (``d4rl.baseline_steps``,
    ``d4rl.baseline_eval_episodes``; IQL's actor schedule spans the run), the chosen
    discrepancy options add their hyperparameters; everything else is the config's."""
    ogbench = parse_task(task).suite == "ogbench"
    out: dict[str, Any] = {
        "steps": config["ogbench"]["steps"] if ogbench else config["d4rl"]["steps"],
        "eval_episodes": config["train"]["eval_episodes"],
        "set": {},
    }
    corl, corl_episodes, decays = _corl_run(method, task)
    if corl:
        out["steps"] = config["d4rl"]["baseline_steps"]
        episodes = config["d4rl"]["baseline_eval_episodes"]
        out["eval_episodes"] = episodes if episodes is not None else corl_episodes
        if decays:
            out["set"]["actor_lr_decay_steps"] = out["steps"]
    chosen = tuple(sorted((config.get("discrepancies") or {}).items()))
    out["set"].update(_discrepancy_sets(chosen, method, task))
    return out


@cache
def _corl_run(method: str, task: str) -> tuple[bool, int, bool]:
    """(whether the run follows a CORL config, its evaluation episodes, whether IQL's actor
    schedule is on) for ``method`` on ``task``."""
    t = parse_task(task)
    cls = get_method(method)
    run = cls.run_settings(t)
    corl = t.suite != "ogbench" and is_corl(run["steps"].source)
    decays = bool(cls.task_defaults(t).get("actor_lr_decay_steps"))
    return corl, int(run["eval_episodes"].value), decays


@cache
def _discrepancy_sets(chosen: tuple[tuple[str, str], ...], method: str, task: str) -> dict:
    extra = Choices.of(dict(chosen)).hyperparameters(method, task)
    return {k: _yaml_scalar(v) for k, v in extra.items()}
