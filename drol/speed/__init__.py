"""Making the training step fast and measuring it: compile/precision settings, the OpenMP wait
and allocator settings applied before torch loads, the benchmark and ``drol bench``.

Importing this package loads nothing else: :mod:`drol.cli` imports :mod:`.openmp` and
:mod:`.allocator` before torch.
"""
