"""The experiment grid: run directory layout, table columns, the run -> column manifest, K*.

One home for the experiment's vocabulary. The workflow (``workflow/rules/common.smk``), the
aggregation, the tables, the figures and ``drol select-k`` (:mod:`drol.report.kselect`) import it; none re-derives it.

* A *run* is one ``(task, method, K, seed)``; it lives in ``RUNS/{task}/{method}/K{K}/seed{seed}/``.
* A *column* is what a table shows: every registered method has one (its ``label``), except
  DROL, which has two: ``DROL(16)`` (K = the default K) and ``DROL*`` (K = K* of the family).
* The *manifest* lists every run of a grid with the columns it belongs to; one run may serve
  several columns (DROL(16) and DROL* share it when K* = 16) and the ``K-sweep``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drol.agents.discrepancies import Choices
from drol.agents.registry import get_method, methods
from drol.errors import UnknownTaskError, UserError
from drol.tasks import parse_task

LABEL_DROL16 = "DROL(16)"
LABEL_DROL_STAR = "DROL*"
KSWEEP_LABEL = "K-sweep"
DROL = "drol"  # the method behind DROL(16), DROL* and the K sweep
KSTAR_RULE = "argmax of the mean score over seeds; ties -> default K, then the smallest K"

_K_DIR = re.compile(r"^K(?P<K>\d+)$")
_SEED_DIR = re.compile(r"^seed(?P<seed>\d+)$")


# ---------------------------------------------------------------- run layout


def run_dir(root: str | Path, task: str, method: str, K: int, seed: int) -> Path:
    """The run directory of one (task, method, K, seed) under the runs root."""
    return Path(root) / task / method / f"K{int(K)}" / f"seed{int(seed)}"


def discover_runs(root: str | Path) -> list[tuple[str, str, int, int]]:
    """(task, method, K, seed) of every run directory under ``root``."""
    found: list[tuple[str, str, int, int]] = []
    root = Path(root)
    if not root.is_dir():
        return found
    for seed_dir in sorted(root.glob("*/*/K*/seed*")):
        k_m, s_m = _K_DIR.match(seed_dir.parent.name), _SEED_DIR.match(seed_dir.name)
        if k_m and s_m and seed_dir.is_dir():
            task, method = seed_dir.parent.parent.parent.name, seed_dir.parent.parent.name
            found.append((task, method, int(k_m["K"]), int(s_m["seed"])))
    return found


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One reproduced table column: its config key (``methods:``), label and method, and its
    colour in the figures (the agent class's ``colour``; "" = none given)."""

    key: str
    label: str
    method: str
    colour: str = ""


def columns() -> list[Column]:
    """Every reproduced column, in display order (the registry's order). A variant method
    (``base_method`` set) has no column of its own: the grid trains it for its base's column
    where config/paper_discrepancies.yaml says so."""
    out: list[Column] = []
    for name, cls in methods().items():
        if cls.base_method is not None:
            continue
        if name == DROL:
            out += [
                Column("drol16", LABEL_DROL16, DROL, cls.colour),
                Column("drol_star", LABEL_DROL_STAR, DROL, getattr(cls, "kstar_colour", "")),
            ]
        else:
            out.append(Column(name, cls.label, name, cls.colour))
    return out


def column_keys() -> tuple[str, ...]:
    return tuple(c.key for c in columns())


def column_labels() -> tuple[str, ...]:
    return tuple(c.label for c in columns())


def paper_labels() -> tuple[str, ...]:
    """The columns the paper reports (their method has a ``paper_group``), in display order."""
    return tuple(c.label for c in columns() if get_method(c.method).paper_group)


def enabled_columns(selection: Mapping[str, bool] | Iterable[str] | None) -> tuple[str, ...]:
    """The column keys a config's ``methods:`` turns on, in display order: a list names the
    columns to train (a small config: a newly registered method stays off); a mapping of
    switches turns columns off (or on) from every column (the paper's grid: absent or ``{}``
    trains every registered method, a new one included). Unknown keys are kept (the
    config check names them)."""
    keys = column_keys()
    if selection is None:
        return keys
    if isinstance(selection, Mapping):
        on = {k for k in keys if selection.get(k, True)}
        on |= {k for k, v in selection.items() if v}
    else:
        on = set(selection)
    return tuple(k for k in keys if k in on) + tuple(sorted(on - set(keys)))


def default_labels(task: str, method: str, K: int) -> list[str]:
    """The columns a run belongs to when no manifest says otherwise (Table 3's K*)."""
    if method != DROL:
        try:
            cls = get_method(method)
        except UserError:
            return [method]
        if cls.base_method != DROL:
            return [cls.label]
        return [LABEL_DROL16] if K == 16 else [f"DROL(K={K})"]  # a DROL(16) variant
    labels = [LABEL_DROL16] if K == 16 else []
    try:
        if table3_kstar(task) == K:
            labels.append(LABEL_DROL_STAR)
    except (UnknownTaskError, KeyError):
        pass
    return labels or [f"DROL(K={K})"]


# ---------------------------------------------------------------- K*


def table3_kstar(task: str) -> int:
    """K* of the paper's DROL* column for ``task`` (its Table 3)."""
    from drol.agents.drol import table3_kstar as kstar_of

    return kstar_of(parse_task(task))


# ---------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Run:
    """One expected run and the column (or the K sweep) it serves."""

    label: str
    task: str
    method: str
    K: int
    seed: int


@dataclass(frozen=True)
class Grid:
    """Which runs an experiment needs: tasks × seeds × enabled columns, plus the K sweep."""

    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    enabled: tuple[str, ...]  # column keys
    default_k: int = 16
    static_k: int = 16  # K of the candidate methods other than DROL (the static ablation)
    baseline_k: int = 1  # K in the run path of methods without candidates (not used by them)
    sweep_tasks: tuple[str, ...] = ()
    sweep_ks: tuple[int, ...] = ()
    sweep_seeds: tuple[int, ...] = ()
    # the options chosen in config/paper_discrepancies.yaml (None: no effects)
    choices: Choices | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Grid:
        """The grid of a validated workflow config (``config/*.yaml``)."""
        tasks = [
            f"{fam}-singletask-task{i}-v0"
            for fam in config["ogbench"]["families"]
            for i in config["ogbench"]["tasks"]
        ] + list(config["d4rl"]["tasks"])
        sweep = config["ksweep"]
        sweep_tasks = sweep["tasks"] or [t for t in tasks if parse_task(t).representative]
        return cls(
            tasks=tuple(tasks),
            seeds=tuple(config["seeds"]),
            enabled=enabled_columns(config.get("methods")),
            default_k=int(config["default_k"]),
            static_k=int(config["static_k"]),
            baseline_k=int(config["baseline_k"]),
            sweep_tasks=tuple(sweep_tasks),
            sweep_ks=tuple(sweep["Ks"]),
            sweep_seeds=tuple(sweep["seeds"] or config["seeds"]),
            choices=Choices.of(config.get("discrepancies") or {}),
        )

    def column_k(self, column: Column, task: str, kstar: Callable[[str], int]) -> int:
        if column.key == "drol16":
            return self.default_k
        if column.key == "drol_star":
            return kstar(task)
        return self.static_k if get_method(column.method).uses_candidates else self.baseline_k

    def default_kstar(self, task: str) -> int:
        """DROL*'s K without a sweep: the chosen discrepancy option's, else Table 3's."""
        chosen = self.choices.kstar(task) if self.choices else None
        return chosen if chosen is not None else table3_kstar(task)

    def column_run(self, column: Column, task: str, seed: int, K: int) -> Run:
        """The run of ``column`` on ``task``: its method and seed after the chosen options."""
        method, offset = column.method, 0
        if self.choices is not None:
            method = self.choices.column_method(column.key, task, method)
            offset = self.choices.seed_offset(column.key, task)
        return Run(column.label, task, method, K, seed + offset)

    def seed_sets(self) -> list[tuple[int, ...]]:
        """The seed list of each (task, method, K) cell of :meth:`runs` (any K*), plus the
        grid's and the sweep's seeds: what :func:`seed_chunks` must not split across."""
        cells: dict[tuple[str, str, int], list[int]] = {}
        for r in self.runs():
            cells.setdefault((r.task, r.method, r.K), []).append(r.seed)
        found = [self.seeds, self.sweep_seeds, (*self.seeds, *self.sweep_seeds)]
        found += [tuple(seeds) for seeds in cells.values()]
        return list(dict.fromkeys(tuple(sorted(set(f))) for f in found if f))

    def runs(self, kstar: Callable[[str], int] | None = None) -> list[Run]:
        """Every (label, run) of the grid, each once; ``kstar(task)`` gives DROL*'s K
        (default: :meth:`default_kstar`)."""
        kstar = kstar or self.default_kstar
        cols = [c for c in columns() if c.key in self.enabled]
        rows = [
            self.column_run(c, task, seed, self.column_k(c, task, kstar))
            for task in self.tasks
            for seed in self.seeds
            for c in cols
        ]
        rows += [
            Run(KSWEEP_LABEL, task, DROL, K, seed)
            for task in self.sweep_tasks
            for K in self.sweep_ks
            for seed in self.sweep_seeds
        ]
        return list(dict.fromkeys(rows))


def seed_chunks(seed_sets: Iterable[Iterable[int]], per_job: int) -> list[tuple[int, ...]]:
    """The seeds of ``seed_sets`` in groups of at most ``per_job``, one training job each
    (``drol train --seeds``). Two seeds share a group only when every set holds both or
    neither, so a job never trains a seed its cell does not ask for (a sweep on seeds 0-1
    of a grid on seeds 0-7 gives [0, 1] and [2..7] for 8 per job); groups keep the order of
    first appearance."""
    if per_job < 1:
        raise UserError(f"train.seeds_per_job must be >= 1 (got {per_job})")
    sets = [tuple(dict.fromkeys(int(s) for s in seeds)) for seeds in seed_sets]
    order = list(dict.fromkeys(s for seeds in sets for s in seeds))
    atoms: dict[tuple[bool, ...], list[int]] = {}
    for seed in order:
        atoms.setdefault(tuple(seed in seeds for seeds in sets), []).append(seed)
    return [
        tuple(atom[i : i + per_job])
        for atom in atoms.values()
        for i in range(0, len(atom), per_job)
    ]


def unique_runs(rows: Iterable[Run]) -> list[tuple[str, str, int, int]]:
    """(task, method, K, seed) of each distinct run (shared runs appear once)."""
    return list(dict.fromkeys((r.task, r.method, r.K, r.seed) for r in rows))
