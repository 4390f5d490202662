"""Benchmark tasks: names, families, suites, datasets and per-family hyperparameters.

The numbers are the paper's Table 3 (DROL) and FQL's own per-environment flags
(spec/algorithms.md §1.4, §2.5). Every value is a default: ``drol train --set`` overrides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OGBENCH = "ogbench"
D4RL = "d4rl"

# family -> (representative "(*)" task number, dataset name)
OGBENCH_FAMILIES: dict[str, tuple[int, str]] = {
    "antmaze-large-navigate": (1, "antmaze-large-navigate-v0"),
    "antmaze-giant-navigate": (1, "antmaze-giant-navigate-v0"),
    "humanoidmaze-medium-navigate": (1, "humanoidmaze-medium-navigate-v0"),
    "humanoidmaze-large-navigate": (1, "humanoidmaze-large-navigate-v0"),
    "antsoccer-arena-navigate": (4, "antsoccer-arena-navigate-v0"),
    "cube-single-play": (2, "cube-single-play-v0"),
    "cube-double-play": (2, "cube-double-play-v0"),
    "scene-play": (2, "scene-play-v0"),
    "puzzle-3x3-play": (4, "puzzle-3x3-play-v0"),
    "puzzle-4x4-play": (4, "puzzle-4x4-play-v0"),
    # not in the paper's grid; 2-D actions make it the Voronoi (Fig. 2) testbed
    "pointmaze-medium-navigate": (1, "pointmaze-medium-navigate-v0"),
    "pointmaze-large-navigate": (1, "pointmaze-large-navigate-v0"),
}

D4RL_FAMILIES: dict[str, tuple[str, ...]] = {
    "antmaze": (
        "antmaze-umaze-v2",
        "antmaze-umaze-diverse-v2",
        "antmaze-medium-play-v2",
        "antmaze-medium-diverse-v2",
        "antmaze-large-play-v2",
        "antmaze-large-diverse-v2",
    ),
    "adroit": tuple(
        f"{env}-{kind}-v1"
        for env in ("pen", "door", "hammer", "relocate")
        for kind in ("human", "cloned", "expert")
    ),
}

_OGBENCH_TASK = re.compile(r"^(?P<family>[a-z0-9-]+?)-singletask(?:-task(?P<num>[1-5]))?-v0$")


@dataclass(frozen=True)
class Task:
    """One benchmark task, e.g. ``cube-single-play-singletask-task2-v0``."""

    name: str
    suite: str
    family: str
    dataset: str  # dataset file stem (OGBench) or D4RL dataset id
    representative: bool  # the family's (*) task, on which K* is chosen

    @property
    def eval_protocol(self) -> str:
        """'last3' (mean of the last three evaluations) for OGBench, 'final' for D4RL."""
        return "last3" if self.suite == OGBENCH else "final"


class UnknownTaskError(ValueError):
    pass


def parse_task(name: str) -> Task:
    """Resolve a task name; raise :class:`UnknownTaskError` with the known names otherwise."""
    m = _OGBENCH_TASK.match(name)
    if m and m.group("family") in OGBENCH_FAMILIES:
        family = m.group("family")
        rep_num, dataset = OGBENCH_FAMILIES[family]
        num = int(m.group("num") or rep_num)
        return Task(name, OGBENCH, family, dataset, representative=num == rep_num)
    for family, tasks in D4RL_FAMILIES.items():
        if name in tasks:
            rep = name in {"antmaze-large-play-v2", "pen-human-v1", "door-human-v1"}
            return Task(name, D4RL, family, name, representative=rep)
    raise UnknownTaskError(
        f"unknown task {name!r}: use an OGBench single-task id such as "
        "'cube-single-play-singletask-task2-v0' (families: "
        + ", ".join(OGBENCH_FAMILIES)
        + ") or a D4RL id such as 'antmaze-large-play-v2' or 'pen-human-v1'"
    )


def d4rl_group(task: str) -> str:
    """Sub-family used for hyperparameters: 'antmaze-large-play', 'pen', 'door', ..."""
    if task.startswith("antmaze"):
        return task.removesuffix("-v2")
    return task.split("-")[0]


# ---------------------------------------------------------------- hyperparameters

# DROL, paper Table 3: family -> (bc_coef, K for DROL(16), K* for DROL*, extra flags)
DROL_OGBENCH: dict[str, tuple[float, int, int, dict[str, Any]]] = {
    "antmaze-giant-navigate": (0.03, 16, 1, {"discount": 0.995, "q_agg": "min"}),
    "antmaze-large-navigate": (0.03, 16, 16, {"discount": 0.995, "q_agg": "min"}),
    "antsoccer-arena-navigate": (0.1, 16, 4, {"discount": 0.995}),
    "humanoidmaze-medium-navigate": (0.3, 16, 16, {"discount": 0.995}),
    "humanoidmaze-large-navigate": (0.3, 16, 4, {"discount": 0.995}),
    "cube-single-play": (10.0, 16, 16, {}),
    "cube-double-play": (3.0, 16, 64, {}),
    "scene-play": (3.0, 16, 64, {}),
    "puzzle-3x3-play": (0.3, 16, 32, {}),
    "puzzle-4x4-play": (10.0, 16, 64, {}),
    "pointmaze-medium-navigate": (1.0, 16, 16, {}),
    "pointmaze-large-navigate": (1.0, 16, 16, {}),
}
DROL_D4RL: dict[str, tuple[float, int, int, dict[str, Any]]] = {
    "antmaze-umaze": (0.3, 16, 16, {}),
    "antmaze-umaze-diverse": (0.1, 16, 16, {}),
    "antmaze-medium-play": (0.1, 16, 16, {}),
    "antmaze-medium-diverse": (0.1, 16, 16, {}),
    "antmaze-large-play": (0.03, 16, 16, {}),
    "antmaze-large-diverse": (0.03, 16, 16, {}),
    "pen": (1.0, 16, 16, {"q_agg": "min"}),  # pen-human uses K* = 4 (below)
    "door": (10.0, 16, 8, {"q_agg": "min"}),
    "hammer": (3.0, 16, 16, {"q_agg": "min"}),
    "relocate": (10.0, 16, 32, {"q_agg": "min"}),
}
DROL_D4RL_KSTAR_OVERRIDES = {"pen-human-v1": 4}

# FQL, its paper's flags: family -> (alpha, discount, q_agg)
FQL_OGBENCH: dict[str, tuple[float, float, str]] = {
    "antmaze-large-navigate": (10.0, 0.99, "min"),
    "antmaze-giant-navigate": (10.0, 0.995, "min"),
    "humanoidmaze-medium-navigate": (30.0, 0.995, "mean"),
    "humanoidmaze-large-navigate": (30.0, 0.995, "mean"),
    "antsoccer-arena-navigate": (10.0, 0.995, "mean"),
    "cube-single-play": (300.0, 0.99, "mean"),
    "cube-double-play": (300.0, 0.99, "mean"),
    "scene-play": (300.0, 0.99, "mean"),
    "puzzle-3x3-play": (1000.0, 0.99, "mean"),
    "puzzle-4x4-play": (1000.0, 0.99, "mean"),
    "pointmaze-medium-navigate": (10.0, 0.99, "mean"),
    "pointmaze-large-navigate": (10.0, 0.99, "mean"),
}
FQL_D4RL: dict[str, tuple[float, str]] = {
    "antmaze-umaze": (10.0, "mean"),
    "antmaze-umaze-diverse": (10.0, "mean"),
    "antmaze-medium-play": (10.0, "mean"),
    "antmaze-medium-diverse": (10.0, "mean"),
    "antmaze-large-play": (3.0, "mean"),
    "antmaze-large-diverse": (3.0, "mean"),
    "pen-human-v1": (10000.0, "min"),
    "pen-cloned-v1": (10000.0, "min"),
    "pen-expert-v1": (3000.0, "min"),
    "door-human-v1": (30000.0, "min"),
    "door-cloned-v1": (30000.0, "min"),
    "door-expert-v1": (30000.0, "min"),
    "hammer-human-v1": (30000.0, "min"),
    "hammer-cloned-v1": (10000.0, "min"),
    "hammer-expert-v1": (30000.0, "min"),
    "relocate-human-v1": (10000.0, "min"),
    "relocate-cloned-v1": (30000.0, "min"),
    "relocate-expert-v1": (30000.0, "min"),
}


def _drol_row(task: Task) -> tuple[float, int, int, dict[str, Any]]:
    if task.suite == OGBENCH:
        return DROL_OGBENCH[task.family]
    return DROL_D4RL[d4rl_group(task.name)]


def family_kstar(task: Task) -> int:
    """K* of the paper's DROL* column for this task's family."""
    if task.name in DROL_D4RL_KSTAR_OVERRIDES:
        return DROL_D4RL_KSTAR_OVERRIDES[task.name]
    return _drol_row(task)[2]


def task_defaults(task: Task, method: str) -> dict[str, Any]:
    """Per-task overrides of the agent defaults for ``method`` (drol, drol_static, fql)."""
    if method in ("drol", "drol_static"):
        bc_coef, _, _, extra = _drol_row(task)
        return {"bc_coef": bc_coef, **extra}
    if method == "fql":
        if task.suite == OGBENCH:
            alpha, discount, q_agg = FQL_OGBENCH[task.family]
            return {"alpha": alpha, "discount": discount, "q_agg": q_agg}
        key = task.name if task.name in FQL_D4RL else d4rl_group(task.name)
        alpha, q_agg = FQL_D4RL[key]
        return {"alpha": alpha, "q_agg": q_agg}
    raise ValueError(f"unknown method {method!r}")


def default_steps(task: Task) -> int:
    return 1_000_000 if task.suite == OGBENCH else 500_000
