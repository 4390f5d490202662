"""Who else runs this workflow in this directory: a second Snakemake is told, in its words.

Snakemake started while another runs in the same directory stops with its own advice: its
lock error suggests ``--unlock``, and when a running job's outputs already exist, the
incomplete-files error suggests ``--rerun-incomplete``; both would clash with the process
that is still running. The Snakefile's main process calls :func:`claim` first: the first
process holds an exclusive ``flock`` on ``.snakemake/drol-workflow.lock`` for its lifetime
(it dies with the process, so a killed run leaves nothing to unlock) and writes its pid and
command line there; a later one gets :func:`busy_message`, which names that process and
what to do instead.

Nothing is read from the file but text shown to the user.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

LOCK_NAME = "drol-workflow.lock"
_held: list[int] = []  # the open descriptor of the lock this process holds (kept open)


def claim(directory: str | os.PathLike = ".snakemake") -> str | None:
    """Hold the workflow lock of ``directory`` for this process's lifetime; None when held
    (or already held by this process), else who holds it (``pid N: COMMAND, since HH:MM``)."""
    if _held:
        return None
    path = Path(directory) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None  # an unwritable directory: Snakemake itself will say so
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 4096).decode("utf-8", "replace").strip()
        os.close(fd)
        return holder or "another process"
    os.ftruncate(fd, 0)
    command = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    os.write(fd, f"pid {os.getpid()}: {command[:300]}, since {stamp}".encode())
    _held.append(fd)
    return None


def busy_message(directory: str | os.PathLike, holder: str) -> str:
    """What a second Snakemake in ``directory`` is told while ``holder`` runs."""
    return (
        f"another Snakemake is running in {Path(directory).resolve()} ({holder}): wait for it "
        "to finish, or stop it, before starting a run here; its jobs' files are locked and "
        "marked incomplete while it runs, so Snakemake's --unlock or --rerun-incomplete "
        "would clash with it (a dry run -n is safe)"
    )


__all__ = ["LOCK_NAME", "busy_message", "claim"]
