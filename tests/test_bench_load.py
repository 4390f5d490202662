"""Fig. 3's runtime panel measured alone: the load a benchmark saw is measured and recorded,
the bench job owns the machine, and the figure says where it ran."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pandas as pd
import pytest
from test_workflow import _snakemake

import drol.speed.load as load
from drol.report.figures import bench_machine


def test_other_busy_cpus_is_the_machine_busy_time_less_our_own(monkeypatch):
    busy = iter([100.0, 103.0])  # 3 CPU-seconds busy over 2 s of wall time ...
    own = iter([10.0, 11.0])  # ... of which 1 was ours
    clock = iter([50.0, 52.0])
    monkeypatch.setattr(load, "busy_seconds", lambda: next(busy))
    monkeypatch.setattr(load, "own_cpu_seconds", lambda: next(own))
    monkeypatch.setattr(load.time, "monotonic", lambda: next(clock))
    with load.LoadMeter() as meter:
        pass
    report = meter.report()
    assert report.other_busy_cpus == pytest.approx(1.0)
    assert report.machine_cpus >= report.usable_cpus >= 1


def test_a_busy_process_beside_the_measurement_is_seen():
    spin = "import time\nt = time.time()\nwhile time.time() - t < 3: pass\n"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.3)
        with load.LoadMeter() as meter:
            t = time.monotonic()
            while time.monotonic() - t < 0.3:  # our own busy time is not counted as others'
                pass
            time.sleep(1.0)
        report = meter.report()
    finally:
        child.wait()
    assert report.other_busy_cpus is not None and report.other_busy_cpus >= 0.7
    assert report.load_1min_before is not None and report.load_1min_after is not None


def test_figure_title_names_cpu_threads_and_the_most_load():
    bench = pd.DataFrame(
        {
            "cpu_model": ["Xeon X", "Xeon X"],
            "threads": [2, 2],
            "other_busy_cpus": [0.05, 0.31],
            "machine_cpus": [2, 2],
        }
    )
    text = bench_machine(bench)
    assert "Xeon X" in text and "2 thread(s)" in text and "at most 0.31 of 2 CPUs" in text
    assert "not recorded" in bench_machine(bench.drop(columns="other_busy_cpus"))


@pytest.mark.workflow
def test_local_bench_job_takes_every_core_and_times_with_bench_threads():
    res = _snakemake("-n", "-p", "--cores", "2", "--forceall", "results/bench/fql_K1.json")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-2000:]
    job = out.split("rule bench:", 1)[1]
    assert re.search(r"threads: 2\b", job)  # nothing else runs beside it
    assert "--threads 1 " in job  # config/quick.yaml bench.threads
    assert "slurm_extra=--exclusive" in job
