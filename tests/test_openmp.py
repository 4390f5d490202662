"""drol.speed.openmp: how long torch's OpenMP threads spin, chosen from the cores before torch loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from drol.cli import startup_options
from drol.speed import openmp


def test_spin_is_long_only_when_the_threads_have_idle_cores():
    assert openmp.choose_spincount(2, 1.95) == openmp.IDLE_SPIN
    assert openmp.choose_spincount(2, 0.9) == openmp.SHORT_SPIN  # one core busy elsewhere
    assert openmp.choose_spincount(4, 2.0) == openmp.SHORT_SPIN  # more threads than idle CPUs
    assert openmp.choose_spincount(2, None) == openmp.SHORT_SPIN  # unknown: the safe side
    assert openmp.SHORT_SPIN < openmp.IDLE_SPIN


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc/stat")
def test_idle_probe_sees_a_busy_core():
    n = len(openmp.usable_cpus())
    idle = openmp.idle_cpus(openmp.usable_cpus(), 0.3)
    assert idle is not None and 0.0 <= idle <= n + 1e-9
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = openmp.idle_cpus(openmp.usable_cpus(), 0.5)
    finally:
        busy.kill()
    assert loaded is not None and loaded <= n - 0.5  # the loop held most of one CPU


def test_command_and_threads_are_read_before_the_parser():
    start = startup_options(["bench", "--method", "fql", "--threads", "3"])
    assert (start.command, start.threads) == ("bench", 3)
    assert startup_options(["train", "--threads=2"]).threads == 2
    assert startup_options(["-v", "train", "--task", "x"]).command == "train"
    assert startup_options(["bench", "--threads", "many"]).threads is None  # the parser says why
    start = startup_options(["tables"])
    assert (start.command, start.threads) == ("tables", None)


def test_only_training_commands_probe_the_cores(monkeypatch):
    """A command without training steps takes the short spin at once; a training one looks."""
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # as in a fresh `drol` process

    def no_probe(*args, **kwargs):
        raise AssertionError("probed")

    monkeypatch.setattr(openmp, "idle_cpus", no_probe)
    p = openmp.configure(2, trains=False)
    assert p.spincount == str(openmp.SHORT_SPIN) and "no training step" in p.reason
    assert os.environ["GOMP_SPINCOUNT"] == str(openmp.SHORT_SPIN)
    monkeypatch.delenv("GOMP_SPINCOUNT")
    monkeypatch.setattr(openmp, "idle_cpus", lambda cpus: 2.0)
    p = openmp.configure(2, trains=True)
    assert p.spincount == str(openmp.IDLE_SPIN) and "idle for 2 threads" in p.reason


def test_torch_loaded_first_keeps_its_setting(monkeypatch):
    import torch  # noqa: F401 - loaded, as in this test process

    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    p = openmp.configure(2)
    assert p.spincount is None and "torch was loaded first" in p.reason
    assert "GOMP_SPINCOUNT" not in os.environ


def _bench_json(env: dict[str, str]) -> dict:
    argv = [sys.executable, "-m", "drol", "bench", "--method", "bc", "--obs-dim", "4",
            "--action-dim", "2", "--hidden", "8", "--batch-size", "8", "--repeats", "1",
            "--steps", "1", "--warmup", "1", "--threads", "2", "--set", "compile=off", "--json"]  # fmt: skip
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_the_command_sets_the_spin_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    chosen = _bench_json(env)
    assert chosen["gomp_spincount"] in (str(openmp.SHORT_SPIN), str(openmp.IDLE_SPIN))
    assert "idle for 2 threads" in chosen["openmp_wait"]
    explicit = _bench_json({**env, "GOMP_SPINCOUNT": "777"})
    assert explicit["gomp_spincount"] == "777"
    assert explicit["openmp_wait"] == "set in the environment"
