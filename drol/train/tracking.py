"""Live curves of a run: the rows of ``train.csv`` and ``eval.csv`` as they are written, sent to
TensorBoard event files in the run directory (default) and, opt-in, to Weights & Biases.

``--set logger=tensorboard|wandb|none`` picks the trackers (recorded in ``config.json``;
``wandb`` logs to W&B as well as to the event files). The
event files sit beside ``train.csv``, so ``tensorboard --logdir results/runs`` shows a grid live.
A resumed run starts its event file with ``purge_step`` = the first step it trains again, so
TensorBoard drops what the killed process wrote after its last checkpoint and every step shows
once. W&B runs offline unless ``WANDB_MODE`` says otherwise (``wandb sync RUN_DIR/wandb/...``
from a login node), with the run's identity digest as its id and ``task/method/K`` as its group.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from drol.errors import ConfigError
from drol.io import library_reason

log = logging.getLogger(__name__)

LOGGERS = ("tensorboard", "wandb", "none")
DEFAULT_LOGGER = "tensorboard"
TB_FLUSH_SECS = 30  # event files reach disk at least this often (live curves)


def check_logger(value: str) -> str:
    """The tracker name, or a one-line :class:`ConfigError` naming the choices."""
    name = str(value).strip().lower()
    if name not in LOGGERS:
        raise ConfigError(f"bad --set logger={value!r}: must be one of {', '.join(LOGGERS)}")
    return name


def train_scalars(row: Mapping[str, Any]) -> dict[str, float]:
    """A ``train.csv`` row as tracker scalars: every column but ``step``, under ``train/``."""
    return {f"train/{k}": float(v) for k, v in row.items() if k != "step"}


def eval_scalars(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """One evaluation's ``eval.csv`` rows (one per episode) as its mean success and return."""
    rows = list(rows)
    if not rows:
        return {}
    n = len(rows)
    return {
        "eval/success_rate": float(rows[0]["success_rate"]),
        "eval/return": sum(float(r["return"]) for r in rows) / n,
        "eval/length": sum(float(r["length"]) for r in rows) / n,
    }


class Tracker(Protocol):
    def log(self, scalars: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


class TensorBoardTracker:
    """Scalars to ``events.out.tfevents.*`` in ``run_dir``."""

    def __init__(self, run_dir: Path, purge_step: int):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(
            log_dir=str(run_dir), purge_step=purge_step, flush_secs=TB_FLUSH_SECS
        )

    def log(self, scalars: Mapping[str, float], step: int) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    """Scalars to a W&B run (offline unless ``WANDB_MODE`` is set) in ``run_dir/wandb``."""

    def __init__(self, run_dir: Path, config: Mapping[str, Any]):
        try:
            import wandb
        except ImportError:
            raise ConfigError(
                "--set logger=wandb needs the wandb package: pip install 'drol[wandb]' "
                "(or use logger=tensorboard)"
            ) from None
        mode = os.environ.get("WANDB_MODE", "offline")
        group = f"{config['task']}/{config['method']}/K{config['K']}"
        try:
            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "drol"),
                id=str(config["identity"]),
                name=f"{group}/seed{config['seed']}",
                group=group,
                config=dict(config),
                dir=str(run_dir),
                mode=mode,
                resume="allow",
                settings=wandb.Settings(console="off", silent=True, disable_git=True),
            )
        except wandb.errors.UsageError as err:  # no API key for WANDB_MODE=online, a bad mode
            raise ConfigError(
                f"--set logger=wandb with WANDB_MODE={mode}: {library_reason(err)}; set "
                "WANDB_API_KEY (or run `wandb login`), or WANDB_MODE=offline and "
                "`wandb sync` later"
            ) from None
        log.info("W&B run %s (%s) in %s", config["identity"], mode, run_dir / "wandb")

    def log(self, scalars: Mapping[str, float], step: int) -> None:
        self.run.log(dict(scalars), step=step)

    def close(self) -> None:
        self.run.finish()


class Trackers:
    """Every chosen tracker at once (none for ``logger=none``)."""

    def __init__(self, trackers: list[Tracker] | None = None):
        self.trackers = trackers or []

    def log(self, scalars: Mapping[str, float], step: int) -> None:
        """Log the finite ``scalars`` (a NaN column was not measured at this step)."""
        finite = {k: v for k, v in scalars.items() if math.isfinite(v)}
        if finite:
            for tracker in self.trackers:
                tracker.log(finite, step)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()

    def __enter__(self) -> Trackers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_trackers(
    logger: str, run_dir: Path, config: Mapping[str, Any], first_step: int
) -> Trackers:
    """The trackers of ``logger`` for a run that trains from ``first_step`` on."""
    name = check_logger(logger)
    if name == "none":
        return Trackers()
    trackers = Trackers([TensorBoardTracker(run_dir, purge_step=first_step)])
    if name == "wandb":  # beside the event files, not instead of them
        try:
            trackers.trackers.append(WandbTracker(run_dir, config))
        except BaseException:
            trackers.close()
            raise
    return trackers


__all__ = [
    "DEFAULT_LOGGER",
    "LOGGERS",
    "TensorBoardTracker",
    "Tracker",
    "Trackers",
    "WandbTracker",
    "check_logger",
    "eval_scalars",
    "open_trackers",
    "train_scalars",
]
