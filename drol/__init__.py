"""DROL: dynamic routing for offline RL — a PyTorch reproduction with FQL baseline."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# torch's CPU wheel runs its threads on GNU OpenMP, whose idle threads spin for ~300k
# iterations before sleeping. When the cores are shared (other jobs, a Snakemake grid), a
# spinning thread steals the core from the one doing the work: measured 7-16x slower steps
# at 2 threads under a load of 2 (benchmarks/README.md). A short spin (1000: DROL K=1 10.4
# steps/s at load 3.5 vs 6.4 with 10000; passive waiting costs ~30% on an idle machine) removes
# that collapse. Read once, when torch loads libgomp, hence here (before
# any ``import torch`` of this package); an explicit GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "1000")
# False when torch (hence libgomp) was loaded before this package: the setting came too late
OPENMP_ENV_APPLIED = "torch" not in _sys.modules
