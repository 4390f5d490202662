"""drol.speed.allocator: freed step buffers stay in the process instead of page-faulting back in."""

from __future__ import annotations

import statistics
import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys
from drol.speed import allocator
if sys.argv[1] == "keep":
    assert allocator.keep_freed_memory()
import torch
from drol.agents import make_agent, make_config
from drol.speed.benchmark import synthetic_batch
torch.set_num_threads(2)
cfg = make_config("drol", {"hidden": 512, "batch_size": 256}, {}, K=16)  # the paper's sizes
agent = make_agent("drol", 28, 5, cfg, seed=0)
batch = synthetic_batch(256, 28, 5, 1000, "cpu", torch.Generator().manual_seed(0))
for _ in range(3):
    agent.update(batch)
for _ in range(9):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    agent.update(batch)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    """Median page faults per warm step: the heap still grows now and then when a step's
    buffers land in a new place (a few hundred faults in one step), so no mean."""
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return int(statistics.median(int(n) for n in out.stdout.split()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_a_drol_step_reuses_its_buffers_instead_of_faulting_them_in():
    """Page faults per DROL(16) step once warm: thousands by default (8 MB activations
    unmapped and mapped again), none to speak of with the thresholds raised. Measured per
    step (Intel Xeon): default 4736-18848, kept 0 in most steps, bursts up to ~1400."""
    default, kept = faults("default"), faults("keep")
    assert default > 1000
    assert kept < default / 10


def test_explicit_environment_wins(monkeypatch):
    from drol.speed import allocator

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "0")
    assert allocator.keep_freed_memory() is False
