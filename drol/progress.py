"""Progress of a long loop: a tqdm bar on a terminal; in a log file (a batch job's stderr), one
log line every ``DROL_PROGRESS_EVERY_S`` seconds (default 60) with the rate and the time left,
so job logs hold no carriage-return redraws."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from drol.errors import UserError

log = logging.getLogger("drol.progress")

EVERY_ENV = "DROL_PROGRESS_EVERY_S"
DEFAULT_EVERY_S = 60.0


def every_seconds() -> float:
    """Seconds between log lines: ``$DROL_PROGRESS_EVERY_S``, a one-line error when not > 0."""
    text = os.environ.get(EVERY_ENV, "").strip()
    if not text:
        return DEFAULT_EVERY_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise UserError(f"{EVERY_ENV}={text!r}: must be a positive number of seconds")
    return value


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class LogProgress:
    """The log-file form of a progress bar: ``update`` is cheap; one line per ``every_s``."""

    def __init__(self, total: int, initial: int, desc: str, unit: str, every_s: float):
        self.total, self.n, self.desc, self.unit, self.every_s = total, initial, desc, unit, every_s
        self.start_n = initial
        self.t0 = self.last_t = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last_t >= self.every_s:
            self.last_t = now
            self.report(now)

    def report(self, now: float) -> None:
        rate = (self.n - self.start_n) / max(now - self.t0, 1e-9)
        left = (self.total - self.n) / rate if rate > 0 else float("inf")
        eta = _duration(left) if left != float("inf") else "?"
        log.info(
            "%s: %d/%d %s (%.0f%%), %.1f %s/s, ETA %s",
            self.desc, self.n, self.total, self.unit, 100 * self.n / max(self.total, 1),
            rate, self.unit, eta,
        )  # fmt: skip

    def close(self) -> None:
        pass

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    total: int,
    *,
    desc: str,
    unit: str,
    initial: int = 0,
    enabled: bool = True,
    mininterval: float = 0.1,
) -> Any:
    """A tqdm bar when stderr is a terminal, else a :class:`LogProgress`; both have
    ``update(n)``, ``close()`` and work as context managers. ``enabled=False``: no output."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(
            total=total,
            initial=initial,
            desc=desc,
            unit=unit,
            mininterval=mininterval,
            dynamic_ncols=True,
            disable=not enabled,
        )
    every = every_seconds() if enabled else float("inf")
    return LogProgress(total, initial, desc, unit, every)


__all__ = ["DEFAULT_EVERY_S", "EVERY_ENV", "LogProgress", "every_seconds", "progress_bar"]
