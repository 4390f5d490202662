"""The step loop: sample a batch, update, and on schedule log (``train.csv``, probes),
evaluate and checkpoint; a non-finite loss stops the run before it is evaluated."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from drol.io import atomic_write_with
from drol.progress import progress_bar
from drol.speed.step import TrainStep
from drol.train.rundir import record_compile_fallback, stop_run
from drol.train.settings import RunSettings
from drol.train.state import RunState
from drol.train.tracking import Trackers, eval_scalars, train_scalars
from drol.train.validation import Validation

log = logging.getLogger(__name__)

FINITE_CHECK_EVERY = 100  # steps between host syncs on the accumulated non-finite flag


def train_loop(
    run: RunState,
    settings: RunSettings,
    out: Path,
    *,
    validation: Validation | None,
    evaluate: Callable[[RunState, int], None],
    checkpoint: Callable[[RunState], None],
    tracker: Trackers | None = None,
) -> None:
    """Train from ``run.progress.step`` to ``settings.steps``, calling ``evaluate(run, step)``
    at step 1, every ``eval_every`` and the last step, and ``checkpoint(run)`` every
    ``checkpoint_every`` and the last step; each ``train.csv`` row and evaluation also goes to
    ``tracker`` (live curves)."""
    tracker = tracker or Trackers()
    s, progress, agent = settings, run.progress, run.agent
    train_step = TrainStep(agent, s.speed)
    t0 = last_log_t = time.perf_counter()
    step0 = last_log_step = progress.step
    elapsed0 = progress.elapsed  # training time of the sessions before this one (resume)
    bar = progress_bar(  # closed by the with block, also on an error: the error line comes last
        s.steps,
        initial=progress.step,
        desc=f"{s.method} {s.task} s{s.seed}",
        mininterval=10,
        unit="step",
    )
    nonfinite = torch.zeros((), dtype=torch.bool, device=torch.device(s.device))
    fell_back = False
    with bar:
        for step in range(progress.step + 1, s.steps + 1):
            idx = run.sampler()
            batch = {k: v[idx] for k, v in run.tensors.items()}
            batch["indices"] = idx
            is_log = step % s.log_every == 0 or step == s.steps
            is_eval = step == 1 or step % s.eval_every == 0 or step == s.steps
            info = train_step(batch, diagnostics=is_log)
            if train_step.fallback and not fell_back:  # config.json records what runs
                record_compile_fallback(out, train_step.fallback)
                fell_back = True
            nonfinite |= ~torch.isfinite(info["loss"])
            if (
                step % FINITE_CHECK_EVERY == 0 or is_log or is_eval
            ):  # never evaluate a diverged policy
                check_finite(nonfinite, info, step, out)
            if is_log:
                now = time.perf_counter()
                row = {
                    "step": step,
                    "wall_time": progress.elapsed + now - t0,
                    "steps_per_s": (step - last_log_step) / max(now - last_log_t, 1e-9),
                }
                row.update({k: float(v) for k, v in info.items()})
                if validation is not None:
                    row.update(validation(agent, step))
                if run.probes is not None:
                    row.update(run.probes.record(agent, step))
                    arrays = run.probes.arrays()
                    atomic_write_with(
                        out / "probes.npz", lambda p, a=arrays: np.savez(p, **a), suffix=".npz"
                    )
                progress.train_rows.append(row)
                atomic_write_with(
                    out / "train.csv",
                    lambda p: pd.DataFrame(progress.train_rows).to_csv(p, index=False),
                )
                tracker.log(train_scalars(row), step)
                last_log_t, last_log_step = time.perf_counter(), step
            if is_eval:
                before = len(progress.eval_rows)
                evaluate(run, step)
                tracker.log(eval_scalars(progress.eval_rows[before:]), step)
            progress.step = step
            bar.update(1)
            if step % s.checkpoint_every == 0 or step == s.steps:
                progress.elapsed += time.perf_counter() - t0
                t0 = time.perf_counter()
                checkpoint(run)
    log_session(s.steps - step0, progress.elapsed - elapsed0, step0, progress.elapsed)
    if train_step.compile_seconds:
        log.info("compiling the step took %.1fs", train_step.compile_seconds)


def log_session(steps: int, seconds: float, resumed_at: int, total_seconds: float) -> None:
    """Log the steps and time of this session; after a resume, also the whole run's time,
    named as such (``progress.elapsed`` adds up every session)."""
    if resumed_at:
        log.info(
            "trained %d steps in %.1f s this session (resumed at step %d; %.1f s in all)",
            steps,
            seconds,
            resumed_at,
            total_seconds,
        )
    else:
        log.info("trained %d steps in %.1f s", steps, seconds)


def check_finite(flag: torch.Tensor, info: dict[str, torch.Tensor], step: int, out: Path) -> None:
    """Stop the run (``FAILED``) when any loss since the last check was non-finite."""
    if bool(flag):
        bad = {k: float(v) for k, v in info.items() if not math.isfinite(float(v))}
        stop_run(
            out, f"non-finite loss at step {step} (or in the 100 steps before): {bad or 'loss'}"
        )
