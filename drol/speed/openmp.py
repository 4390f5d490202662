"""How torch's OpenMP threads wait at a barrier, chosen before torch loads.

torch's CPU wheel runs its threads on GNU OpenMP. At every parallel region's end an idle
thread spins ``GOMP_SPINCOUNT`` iterations before it sleeps; libgomp reads the setting once,
when torch loads it. Measured on 2 cores, FQL at 2 threads (``benchmarks/README.md``):

=================  ======  ======  ======  =======  =======
GOMP_SPINCOUNT      1000    5000   20000   100000   300000 (libgomp's default)
idle cores          11.0    13.2    13.8     13.4     13.5   steps/s
one busy thread      6.3     4.7     2.8      1.3     0.96   steps/s
=================  ======  ======  ======  =======  =======

A long spin is 25% faster when the threads have their cores to themselves and up to 14x
slower when another process shares them (the spinning thread holds the core the straggler
needs). So for the commands that train (``drol train``, ``drol bench``) :func:`configure`
looks at the cores first: if the CPUs this process may use have at least ``threads`` idle
CPUs' worth of time over a short probe, it spins :data:`IDLE_SPIN`; otherwise, and for every
other command, :data:`SHORT_SPIN`. An explicit ``GOMP_SPINCOUNT`` or
``OMP_WAIT_POLICY`` in the environment wins, and a process that loaded torch first keeps
libgomp's default. The choice and its reason are recorded in each run's ``config.json``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

SHORT_SPIN = 1000  # cores shared: sleep soon, leave the core to the thread doing the work
IDLE_SPIN = 20_000  # cores free: about libgomp's default speed, a milder worst case
PROBE_SECONDS = 0.2
SLACK = 0.25  # CPUs of background noise (a shell, a logger) still counted as idle


@dataclass(frozen=True)
class WaitPolicy:
    """The ``GOMP_SPINCOUNT`` in force (None: libgomp's default) and why."""

    spincount: str | None
    reason: str


_policy = WaitPolicy(None, "not configured (libgomp's default)")


def policy() -> WaitPolicy:
    """What :func:`configure` decided in this process."""
    return _policy


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (all online CPUs where affinity is unknown)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def _cpu_times(cpus: set[int]) -> dict[int, tuple[int, int]]:
    """``cpu -> (idle, total)`` jiffies from /proc/stat, for ``cpus``."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            cpu = int(name[3:])
            if cpu in cpus:
                # user nice system idle iowait irq softirq steal
                ticks = [int(x) for x in fields[:8]]
                times[cpu] = (ticks[3] + ticks[4], sum(ticks))
    return times


def idle_cpus(cpus: list[int], seconds: float = PROBE_SECONDS) -> float | None:
    """How many of ``cpus`` were idle over ``seconds`` (None where unknown)."""
    try:
        before = _cpu_times(set(cpus))
        time.sleep(seconds)
        after = _cpu_times(set(cpus))
    except (OSError, ValueError):
        return None
    idle = 0.0
    for cpu, (idle1, total1) in after.items():
        idle0, total0 = before.get(cpu, (idle1, total1))
        if total1 > total0:
            idle += (idle1 - idle0) / (total1 - total0)
    return idle if after else None


def choose_spincount(threads: int, idle: float | None) -> int:
    """:data:`IDLE_SPIN` if ``threads`` idle CPUs are there for the taking, else short."""
    if idle is not None and idle >= threads - SLACK:
        return IDLE_SPIN
    return SHORT_SPIN


def configure(threads: int | None = None, trains: bool = True) -> WaitPolicy:
    """Set ``GOMP_SPINCOUNT`` for a process about to run ``threads`` torch threads.

    Call before torch is imported (the ``drol`` command does, once its arguments are read).
    ``threads=None``: torch's default, one per usable CPU. ``trains=False`` (a command that
    runs no training step: tables, figures, data) takes the short spin without the probe.
    """
    global _policy
    if "torch" in sys.modules:
        _policy = WaitPolicy(
            os.environ.get("GOMP_SPINCOUNT"), "torch was loaded first: its setting stands"
        )
    elif "GOMP_SPINCOUNT" in os.environ or "OMP_WAIT_POLICY" in os.environ:
        _policy = WaitPolicy(os.environ.get("GOMP_SPINCOUNT"), "set in the environment")
    else:
        cpus = usable_cpus()
        n = threads or len(cpus)
        if not trains:
            spin, reason = SHORT_SPIN, "no training step in this command"
        elif n <= 1:
            spin, reason = SHORT_SPIN, "one thread"
        else:
            idle = idle_cpus(cpus)
            spin = choose_spincount(n, idle)
            seen = "unknown" if idle is None else f"{idle:.2f}"
            reason = f"{seen} of {len(cpus)} CPUs idle for {n} threads"
        os.environ["GOMP_SPINCOUNT"] = str(spin)
        _policy = WaitPolicy(str(spin), reason)
    return _policy
