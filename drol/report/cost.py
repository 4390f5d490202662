"""What the paper grid costs, per table column, from ``drol bench --json`` numbers (``drol cost``).

Each run of the grid (:meth:`drol.grid.Grid.runs`: its task, method, K and steps from the
workflow config) is priced at the seed-steps/s of the bench entry of its method, K (candidate
methods only), seeds per job and network size: ``hours = steps / seed_steps_per_s / 3600`` of
one device like the bench's. A run that serves several columns (DROL(16) and DROL* when
K* = 16, the K sweep) is priced once, in the first column that needs it. Where no entry matches
exactly, the nearest is used and the ``basis`` says so: S = 1 for the seeds per job, the base
method for a variant, another network size (the smallest benched one at least as large as the
run's, else the largest: a price on the safe side). DROL*'s K per task is the one the grid names
before any sweep has run (Table 3's, or the chosen discrepancy option's). Evaluation is excluded unless an evaluation rate
(episodes/s) is given.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drol.agents.registry import get_method, make_config
from drol.errors import UserError
from drol.grid import KSWEEP_LABEL, Grid, Run, columns
from drol.tasks import parse_task
from drol.train.settings import split_settings
from drol.workflow_config import run_defaults, train_set_values

log = logging.getLogger(__name__)

REQUIRED = ("method", "K", "train_steps_per_s", "hidden", "batch_size", "device")


# ---------------------------------------------------------------- bench entries


@dataclass(frozen=True)
class BenchEntry:
    """One ``drol bench --json`` result, reduced to what pricing needs."""

    method: str
    K: int
    seeds: int
    hidden: int
    batch_size: int
    seed_steps_per_s: float
    machine: str  # the GPU's name, or the CPU model and threads
    source: str  # file:line


def machine_of(result: Mapping[str, Any]) -> str:
    """The device a bench ran on: the GPU name, or ``CPU model (N threads)``."""
    if result["device"] != "cpu":
        return str(result["device"])
    return f"{result.get('cpu_model', 'cpu')} ({result.get('threads', '?')} threads)"


def entry_of(result: Any, source: str) -> BenchEntry:
    """A :class:`BenchEntry` from one parsed JSON object; a one-line error otherwise."""
    if not isinstance(result, dict):
        raise UserError(f"bench file {source}: not a drol bench --json object")
    missing = [k for k in REQUIRED if k not in result]
    if missing:
        raise UserError(
            f"bench file {source}: not a drol bench --json result (no {', '.join(missing)})"
        )
    seeds = _count(result.get("seeds", 1), "seeds", source)
    if "seed_steps_per_s" in result:
        rate = _rate(result["seed_steps_per_s"], "seed_steps_per_s", source)
    else:
        rate = seeds * _rate(result["train_steps_per_s"], "train_steps_per_s", source)
    return BenchEntry(
        method=str(result["method"]),
        K=_count(result["K"], "K", source),
        seeds=seeds,
        hidden=_count(result["hidden"], "hidden", source),
        batch_size=_count(result["batch_size"], "batch_size", source),
        seed_steps_per_s=rate,
        machine=machine_of(result),
        source=source,
    )


def _rate(value: Any, key: str, source: str) -> float:
    """A finite rate > 0 (JSON numbers only: not a string, a bool, Infinity or NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"bench file {source}: {key} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"bench file {source}: {key} must be a finite number > 0, got {value}")
    return float(value)


def _count(value: Any, key: str, source: str) -> int:
    """An integer >= 1 (a JSON integer, not a string or a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"bench file {source}: {key} must be an integer >= 1, got {value!r}")
    return value


def bench_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, a directory standing for its ``*.json`` and ``*.jsonl``."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted([*path.glob("*.json"), *path.glob("*.jsonl")])
            if not found:
                raise UserError(f"bench directory {path}: no *.json or *.jsonl file in it")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise UserError(f"bench file {path}: no such file or directory")
    return out


def read_bench(paths: Iterable[str | Path]) -> list[BenchEntry]:
    """Every result in the bench files: one JSON object per file, or one per line."""
    entries: list[BenchEntry] = []
    for path in bench_files(paths):
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise UserError(f"bench file {path}: cannot read it ({err})") from None
        try:
            entries.append(entry_of(json.loads(text), str(path)))
            continue
        except json.JSONDecodeError:
            pass  # one object per line
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                result = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"bench file {path} line {i}: not JSON ({err.msg})") from None
            entries.append(entry_of(result, f"{path}:{i}"))
    if not entries:
        raise UserError("no drol bench result in the bench files given")
    return entries


# ---------------------------------------------------------------- pricing one run


@dataclass(frozen=True)
class Price:
    """The seed-steps/s a run is priced at, where it came from, and how it differs."""

    seed_steps_per_s: float
    machine: str
    notes: tuple[str, ...]


class BenchIndex:
    """Bench entries looked up by (method, K, seeds per job, network size)."""

    def __init__(self, entries: list[BenchEntry]):
        self.entries = entries

    def _matches(self, method: str, K: int, seeds: int) -> list[BenchEntry]:
        candidates = get_method(method).uses_candidates if _known(method) else True
        return [
            e
            for e in self.entries
            if e.method == method and e.seeds == seeds and (e.K == K or not candidates)
        ]

    def price(self, method: str, K: int, seeds: int, hidden: int, batch_size: int) -> Price | None:
        """The nearest entry's rate (median over equal matches); None when there is none."""
        names = [method]
        base = get_method(method).base_method if _known(method) else None
        if base:
            names.append(base)
        for name in names:
            for same_size in (True, False):
                for s in dict.fromkeys((seeds, 1)):
                    found = [
                        e
                        for e in self._matches(name, K, s)
                        if (e.hidden, e.batch_size) == (hidden, batch_size) or not same_size
                    ]
                    if not found:
                        continue
                    if not same_size:
                        found = nearest_size(found, hidden, batch_size)
                    return self._median(found, name, method, s, seeds, same_size)
        return None

    def require(
        self, method: str, K: int, seeds: int, hidden: int, batch_size: int, what: str
    ) -> Price:
        """:meth:`price`, or a one-line error naming ``what`` needs it and the bench to run."""
        price = self.price(method, K, seeds, hidden, batch_size)
        if price is None:
            k = f" --K {K}" if get_method(method).uses_candidates else ""
            raise UserError(
                f"{what}: no bench entry for {method} K={K} at {hidden}x{batch_size}; run: "
                f"drol bench --method {method}{k} --hidden {hidden} --batch-size {batch_size} "
                f"--seeds {seeds} --json"
            )
        return price

    @staticmethod
    def _median(
        found: list[BenchEntry], name: str, method: str, s: int, seeds: int, same_size: bool
    ) -> Price:
        machines = sorted({e.machine for e in found})
        if len(machines) > 1:
            raise UserError(
                f"bench entries for {name} (K={found[0].K}, S={s}) come from several devices "
                f"({'; '.join(machines)}): give the bench files of one device"
            )
        notes = []
        if name != method:
            notes.append(f"{name}'s bench")
        if s != seeds:
            notes.append("S=1 bench")
        if not same_size:
            notes.append(f"bench at {found[0].hidden}x{found[0].batch_size}")
        rate = statistics.median(e.seed_steps_per_s for e in found)
        return Price(rate, machines[0], tuple(notes))


def nearest_size(found: list[BenchEntry], hidden: int, batch_size: int) -> list[BenchEntry]:
    """The entries of the smallest benched size at least as large as the run's (a price on
    the safe side), else of the largest size benched."""
    sizes = {(e.hidden, e.batch_size) for e in found}
    larger = [sz for sz in sizes if sz[0] >= hidden and sz[1] >= batch_size]
    size = (
        min(larger, key=lambda sz: sz[0] * sz[1])
        if larger
        else max(sizes, key=lambda sz: sz[0] * sz[1])
    )
    return [e for e in found if (e.hidden, e.batch_size) == size]


def _known(method: str) -> bool:
    try:
        get_method(method)
    except UserError:
        return False
    return True


def run_size(config: Mapping[str, Any], run: Run) -> tuple[int, int]:
    """(hidden, batch_size) of one run: its method's config after the task's defaults, the
    chosen options and ``train.set``."""
    values = {
        **train_set_values(config, run.method),
        **run_defaults(config, run.method, run.task)["set"],
    }
    _, agent_keys = split_settings(values)
    cfg = make_config(run.method, agent_keys, task=parse_task(run.task), K=run.K)
    return int(cfg.hidden), int(cfg.batch_size)


def evaluations(steps: int, every: int) -> int:
    """How many evaluations a run of ``steps`` makes: at step 1, every ``every`` and the last
    (drol.train.loop)."""
    return len({1, steps} | set(range(every, steps + 1, every)))


# ---------------------------------------------------------------- the table


@dataclass
class CostRow:
    """The cost of one table column (or the K sweep, or the total)."""

    column: str
    runs: int  # runs the column needs
    shared: int  # of which priced already, in an earlier column
    steps_per_run: str
    seed_steps_per_s: float  # effective: the column's seed-steps over its training seconds
    device: str
    basis: str
    train_hours: float
    eval_hours: float | None
    hours: float


def _steps_text(steps: Iterable[int]) -> str:
    def short(n: int) -> str:
        if n % 1_000_000 == 0:
            return f"{n // 1_000_000}M"
        return f"{n // 1000}k" if n % 1000 == 0 else str(n)

    return "/".join(short(n) for n in sorted(set(steps))) or "-"


def grid_cost(
    config: Mapping[str, Any],
    entries: list[BenchEntry],
    seeds_per_job: int = 1,
    eval_episodes_per_s: float | None = None,
) -> list[CostRow]:
    """One :class:`CostRow` per enabled column (and the K sweep), then the total."""
    if seeds_per_job < 1:
        raise UserError("--seeds-per-job must be >= 1")
    grid = Grid.from_config(config)
    index = BenchIndex(entries)
    labels = [c.label for c in columns() if c.key in grid.enabled]
    labels += [KSWEEP_LABEL] if grid.sweep_tasks and grid.sweep_ks else []
    by_label: dict[str, list[Run]] = {label: [] for label in labels}
    for run in grid.runs():
        by_label.setdefault(run.label, []).append(run)
    priced: set[tuple[str, str, int, int]] = set()
    rows: list[CostRow] = []
    for label, runs in by_label.items():
        rows.append(
            _column_row(config, label, runs, index, seeds_per_job, eval_episodes_per_s, priced)
        )
    rows.append(_total_row(rows, eval_episodes_per_s))
    return rows


def _column_row(
    config: Mapping[str, Any],
    label: str,
    runs: list[Run],
    index: BenchIndex,
    seeds_per_job: int,
    eval_rate: float | None,
    priced: set[tuple[str, str, int, int]],
) -> CostRow:
    steps_all, seconds, steps_new, episodes = [], 0.0, 0, 0
    machines: set[str] = set()
    notes: dict[str, int] = {}
    shared = 0
    for run in runs:
        key = (run.task, run.method, run.K, run.seed)
        defaults = run_defaults(config, run.method, run.task)
        steps = int(defaults["steps"])
        steps_all.append(steps)
        if key in priced:
            shared += 1
            continue
        priced.add(key)
        hidden, batch = run_size(config, run)
        price = index.require(run.method, run.K, seeds_per_job, hidden, batch, f"column {label}")
        seconds += steps / price.seed_steps_per_s
        steps_new += steps
        machines.add(price.machine)
        for note in price.notes:
            notes[note] = notes.get(note, 0) + 1
        episodes += evaluations(steps, int(config["train"]["eval_every"])) * int(
            defaults["eval_episodes"]
        )
    if len(machines) > 1:
        raise UserError(
            f"column {label}: its bench entries come from several devices "
            f"({'; '.join(sorted(machines))}): give the bench files of one device"
        )
    train_h = seconds / 3600
    eval_h = episodes / eval_rate / 3600 if eval_rate else None
    basis = "; ".join(f"{note} ({n} runs)" for note, n in notes.items()) or "exact"
    return CostRow(
        column=label,
        runs=len(runs),
        shared=shared,
        steps_per_run=_steps_text(steps_all),
        seed_steps_per_s=steps_new / seconds if seconds else 0.0,
        device=next(iter(machines), "-"),
        basis=basis,
        train_hours=train_h,
        eval_hours=eval_h,
        hours=train_h + (eval_h or 0.0),
    )


def _total_row(rows: list[CostRow], eval_rate: float | None) -> CostRow:
    machines = sorted({r.device for r in rows if r.device != "-"})
    train_h = sum(r.train_hours for r in rows)
    eval_h = sum(r.eval_hours or 0.0 for r in rows) if eval_rate else None
    return CostRow(
        column="total",
        runs=sum(r.runs - r.shared for r in rows),
        shared=0,
        steps_per_run="",
        seed_steps_per_s=0.0,
        device="; ".join(machines),
        basis="",
        train_hours=train_h,
        eval_hours=eval_h,
        hours=train_h + (eval_h or 0.0),
    )


# ---------------------------------------------------------------- formats


def caveat(seeds_per_job: int, eval_rate: float | None) -> str:
    """What the hours count, for the table's reader."""
    what = (
        f"training + evaluation at {eval_rate:g} episodes/s"
        if eval_rate
        else "training only (evaluation time excluded)"
    )
    return (
        f"Device-hours of {what}, {seeds_per_job} seed(s) per job, one job per device as "
        "benched; a run shared by several columns is counted once, in the first."
    )


def hours_text(hours: float) -> str:
    """Hours to read: whole hours from 100 on, else three significant digits."""
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:.3g}"


def to_markdown(rows: list[CostRow], seeds_per_job: int, eval_rate: float | None) -> str:
    head = ["column", "runs", "shared", "steps/run", "seed-steps/s", "device", "basis", "train h"]
    head += ["eval h"] if eval_rate else []
    head += ["hours"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            f"**{r.column}**" if r.column == "total" else r.column,
            str(r.runs),
            str(r.shared) if r.column != "total" else "",
            r.steps_per_run,
            f"{r.seed_steps_per_s:.2f}" if r.seed_steps_per_s else "",
            r.device,
            r.basis,
            hours_text(r.train_hours),
        ]
        cells += [hours_text(r.eval_hours or 0.0)] if eval_rate else []
        cells += [f"**{hours_text(r.hours)}**" if r.column == "total" else hours_text(r.hours)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + caveat(seeds_per_job, eval_rate) + "\n"


def to_records(rows: list[CostRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
