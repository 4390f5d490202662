"""Benchmark tasks: names, families, suites, datasets and evaluation protocols.

Per-family hyperparameters live with each method (``task_defaults`` of its agent class).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from drol.errors import UnknownTaskError

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

# the OGBench families of the paper's grid (Tables 1 and 4): all but the pointmaze testbed
PAPER_OGBENCH_FAMILIES: tuple[str, ...] = tuple(
    f for f in OGBENCH_FAMILIES if not f.startswith("pointmaze")
)


def paper_tasks() -> list[str]:
    """Every task of the paper's grid: 10 OGBench families x 5 tasks, then the 18 D4RL tasks."""
    ogbench = [
        f"{family}-singletask-task{i}-v0" for family in PAPER_OGBENCH_FAMILIES for i in range(1, 6)
    ]
    return ogbench + [t for tasks in D4RL_FAMILIES.values() for t in tasks]


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


Row = TypeVar("Row")


def d4rl_row(table: Mapping[str, Row], task: str) -> Row:
    """A per-dataset hyperparameter table's row for ``task``: its own row, else its
    :func:`d4rl_group`'s."""
    return table[task] if task in table else table[d4rl_group(task)]


def task_row(table: Mapping[str, Row], task: Task) -> Row:
    """A per-task hyperparameter table's row: an OGBench family's, or a D4RL dataset's (else
    its :func:`d4rl_group`'s)."""
    return table[task.family] if task.suite == OGBENCH else d4rl_row(table, task.name)


def default_steps(task: Task) -> int:
    return 1_000_000 if task.suite == OGBENCH else 500_000


# ---------------------------------------------------------------- D4RL files

D4RL_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl"
_ANTMAZE_FILES = {  # task stem -> (maze file name, multistart, multigoal)
    "umaze": ("u-maze", False, False),
    "umaze-diverse": ("u-maze", True, True),
    "medium-play": ("big-maze", True, False),
    "medium-diverse": ("big-maze", True, True),
    "large-play": ("hardest-maze", True, False),
    "large-diverse": ("hardest-maze", True, True),
}


def d4rl_url(task_name: str) -> str:
    """The URL D4RL downloads ``task_name`` from (``d4rl/infos.py``)."""
    if task_name.startswith("antmaze-") and task_name.endswith("-v2"):
        stem = task_name.removeprefix("antmaze-").removesuffix("-v2")
        if stem in _ANTMAZE_FILES:
            maze, start, goal = _ANTMAZE_FILES[stem]
            return (
                f"{D4RL_URL}/ant_maze_v2/Ant_maze_{maze}_noisy_multistart_{start}"
                f"_multigoal_{goal}_sparse_fixed.hdf5"
            )
    env, _, kind = task_name.partition("-")
    if env in ("pen", "door", "hammer", "relocate") and kind.removesuffix("-v1") in (
        "human",
        "cloned",
        "expert",
    ):
        return f"{D4RL_URL}/hand_dapg_v1/{task_name}.hdf5"
    raise ValueError(f"no D4RL dataset URL known for {task_name!r}")
