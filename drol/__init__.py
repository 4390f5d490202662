"""DROL: dynamic routing for offline RL — a PyTorch reproduction with its baselines.

Importing the package loads no torch: the ``drol`` command first chooses how torch's OpenMP
threads wait (:mod:`drol.speed.openmp`), which must happen before torch loads.
"""

__version__ = "0.1.0"
