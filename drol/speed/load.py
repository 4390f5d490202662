"""The load a benchmark saw: how busy the machine was with *other* work while it ran.

A step time measured beside training jobs measures the load, not the cost (Fig. 3's runtime
panel). :class:`LoadMeter` reads ``/proc/stat`` (busy time of every CPU) and this process's own
CPU time around a measurement: their difference over the wall time is the number of CPUs other
processes kept busy; the 1-minute load average before and after is recorded too. ``drol bench
--json`` records both, and the figure states the largest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from drol.speed.openmp import usable_cpus


def busy_seconds() -> float | None:
    """CPU-seconds all CPUs spent busy since boot (``/proc/stat``; None where unreadable)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal
    ticks = [int(x) for x in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU-seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


def load_1min() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


@dataclass
class LoadReport:
    other_busy_cpus: float | None  # CPUs' worth of other processes' work during the measurement
    machine_cpus: int
    usable_cpus: int  # the CPUs this process may run on
    load_1min_before: float | None
    load_1min_after: float | None


class LoadMeter:
    """``with LoadMeter() as m: ...`` then ``m.report()``."""

    def __enter__(self) -> LoadMeter:
        self.load_before = load_1min()
        self.busy0, self.own0, self.t0 = busy_seconds(), own_cpu_seconds(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.busy1, self.own1, self.t1 = busy_seconds(), own_cpu_seconds(), time.monotonic()
        self.load_after = load_1min()

    def report(self) -> LoadReport:
        other = None
        wall = self.t1 - self.t0
        if self.busy0 is not None and self.busy1 is not None and wall > 0:
            others = (self.busy1 - self.busy0) - (self.own1 - self.own0)
            other = max(others, 0.0) / wall
        return LoadReport(
            other_busy_cpus=other,
            machine_cpus=os.cpu_count() or 1,
            usable_cpus=len(usable_cpus()),
            load_1min_before=self.load_before,
            load_1min_after=self.load_after,
        )


__all__ = ["LoadMeter", "LoadReport", "busy_seconds", "load_1min", "own_cpu_seconds"]
