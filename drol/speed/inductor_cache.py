"""An unusable ``TORCHINDUCTOR_CACHE_DIR``, caught before torch's compiler loads.

torch creates the directory ``TORCHINDUCTOR_CACHE_DIR`` names when ``torch._dynamo`` is first
imported, which every optimizer's constructor does, compiled or not: a read-only or otherwise
unwritable directory there fails the run with a bare "Read-only file system". For the
commands that train, :func:`guard` checks the directory first; if it cannot be used, it logs
one warning naming the variable, points the variable at a private temporary directory (so
torch loads) and records the reason: :func:`problem` is then set, and
:meth:`drol.speed.step.SpeedSettings.resolved` runs the step eager (``compile='off'``), as a
compile failure does, recorded as such in ``config.json``.

This module imports nothing heavy: :mod:`drol.cli` calls it before torch loads.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile

log = logging.getLogger(__name__)

VARIABLE = "TORCHINDUCTOR_CACHE_DIR"
_problem: str | None = None


def check(path: str) -> str | None:
    """Why ``path`` cannot hold the compiler's cache (None: it can)."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        return err.strerror or str(err)
    if not os.path.isdir(path):
        return "not a directory"
    if not os.access(path, os.W_OK | os.X_OK):  # also a read-only mount, for root too
        return "not writable"
    return None


def guard() -> str | None:
    """Check ``TORCHINDUCTOR_CACHE_DIR`` (when set); on a problem warn once, use a private
    temporary directory instead, and return the reason (also kept for :func:`problem`)."""
    global _problem
    path = os.environ.get(VARIABLE)
    if not path or _problem is not None:
        return _problem
    reason = check(path)
    if reason is None:
        return None
    _problem = f"{VARIABLE}={path}: {reason}"
    private = tempfile.mkdtemp(prefix="drol-inductor-")
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    os.environ[VARIABLE] = private
    log.warning(
        "%s; the training step runs eager (compile=off). Point %s at a writable directory "
        "to compile",
        _problem,
        VARIABLE,
    )
    return _problem


def problem() -> str | None:
    """The reason :func:`guard` found the cache directory unusable (None: no problem)."""
    return _problem
