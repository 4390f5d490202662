"""The step loop, one for a single seed and for seed-batched runs: sample each seed's batch,
update, and on schedule log (``train.csv``, probes), evaluate and checkpoint; a non-finite
loss stops its seed before that seed is evaluated.

The update is a :class:`Step`: :class:`OneSeed` (``agent.update`` through
:class:`~drol.speed.step.TrainStep`: bf16, compile) for one seed, or the seed-batched
:class:`~drol.speed.seed_batch.SeedBatch` for several (``drol train --seeds``). Both run the
agent's own update plan (:meth:`~drol.agents.base.OfflineAgent.begin_update`); everything
around the update is this module's, once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from drol.io import atomic_write_with
from drol.progress import progress_bar
from drol.speed.step import TrainStep
from drol.train.heldout import Validation
from drol.train.rundir import TrainingError, mark_failed, record_compile_fallback, stop_run
from drol.train.settings import RunSettings
from drol.train.state import RunState
from drol.train.tracking import Trackers, eval_scalars, train_scalars

log = logging.getLogger(__name__)

FINITE_CHECK_EVERY = 100  # steps between host syncs on the accumulated non-finite flag


class Step(Protocol):
    """One update of the loop's seeds: batches and returned metrics carry a leading seed axis."""

    compile_seconds: float
    fallback: str | None  # why a compiled step fell back to eager (None: it did not)

    def __call__(self, batch: dict[str, Tensor], diagnostics: bool) -> dict[str, Tensor]: ...

    def write_back(self) -> None:
        """Make each seed's agent hold its current weights (before they are read)."""


class OneSeed:
    """A single seed's update as a :class:`Step` (a batch of one): ``agent.update``, bf16 and
    compiled as the run's speed settings say, on the seed's own batch, bit for bit."""

    def __init__(self, step: TrainStep):
        self.step = step

    @property
    def compile_seconds(self) -> float:
        return self.step.compile_seconds

    @property
    def fallback(self) -> str | None:
        return self.step.fallback

    def __call__(self, batch: dict[str, Tensor], diagnostics: bool) -> dict[str, Tensor]:
        info = self.step({k: v[0] for k, v in batch.items()}, diagnostics=diagnostics)
        return {k: v.unsqueeze(0) for k, v in info.items()}

    def write_back(self) -> None:
        """Nothing to do: the agent is updated in place."""


@dataclass
class SeedLoop:
    """What the loop needs of one seed: its run, its outputs and its callbacks."""

    run: RunState
    settings: RunSettings
    out: Path
    evaluate: Callable[[RunState, int], None]
    checkpoint: Callable[[RunState], None]
    tracker: Trackers
    validation: Validation | None


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
    """Train one seed from ``run.progress.step`` to ``settings.steps``, calling
    ``evaluate(run, step)`` at step 1, every ``eval_every`` and the last step, and
    ``checkpoint(run)`` every ``checkpoint_every`` and the last step; each ``train.csv`` row
    and evaluation also goes to ``tracker`` (live curves). A non-finite loss or policy stops
    the run (FAILED, :class:`~drol.train.rundir.TrainingError`)."""
    seed = SeedLoop(run, settings, out, evaluate, checkpoint, tracker or Trackers(), validation)
    run_steps(
        [seed], lambda seeds, compile: OneSeed(TrainStep(run.agent, settings.speed)), alone=True
    )


def run_steps(
    seeds: list[SeedLoop], make_step: Callable[[list[SeedLoop], bool], Step], *, alone: bool = False
) -> list[SeedLoop]:
    """The step loop over ``seeds`` (same settings, same step), updated by
    ``make_step(live seeds, compile)`` (``compile``: False after a compile failure); returns
    the seeds that finished. A seed whose loss or weights
    turn non-finite is marked FAILED and leaves the loop (the others go on); ``alone``: its
    :class:`~drol.train.rundir.TrainingError` stops the loop instead."""
    s = seeds[0].settings
    live = list(seeds)
    compiled = s.speed.compile == "on"
    step_fn = make_step(live, compiled)
    step0, elapsed0 = live[0].run.progress.step, live[0].run.progress.elapsed
    t0 = last_log_t = time.perf_counter()
    last_log_step = step0
    nonfinite = torch.zeros(len(live), dtype=torch.bool, device=torch.device(s.device))
    names = ",".join(str(r.settings.seed) for r in live)
    bar = progress_bar(  # closed by the with block, also on an error: the error line comes last
        s.steps, initial=step0, desc=f"{s.method} {s.task} s{names}", mininterval=10, unit="step"
    )

    def drop(failed: list[int], reasons: dict[int, str]) -> list[int]:
        """Mark ``failed`` seeds with their ``reasons`` (those not marked already) and go on
        with the others; the indices kept."""
        nonlocal live, nonfinite, step_fn
        for i, reason in reasons.items():
            note = mark_failed(live[i].out, reason)
            log.error("seed %d: %s; stopped, %s (the other seeds go on)",
                      live[i].settings.seed, reason, note)  # fmt: skip
        keep = [i for i in range(len(live)) if i not in failed]
        live, nonfinite = [live[i] for i in keep], nonfinite[keep]
        if live:
            step_fn = make_step(live, compiled)
        return keep

    with bar:
        for step in range(step0 + 1, s.steps + 1):
            if not live:
                break
            idx = torch.stack([r.run.sampler() for r in live])
            batch = {k: v[idx] for k, v in live[0].run.tensors.items()}
            batch["indices"] = idx
            is_log = step % s.log_every == 0 or step == s.steps
            is_eval = step == 1 or step % s.eval_every == 0 or step == s.steps
            is_ckpt = step % s.checkpoint_every == 0 or step == s.steps
            info = step_fn(batch, diagnostics=is_log)
            if compiled and step_fn.fallback:  # eager from now on, as config.json says
                compiled = False
                for r in live:
                    record_compile_fallback(r.out, step_fn.fallback)
            nonfinite |= ~torch.isfinite(info["loss"])
            if step % FINITE_CHECK_EVERY == 0 or is_log or is_eval or is_ckpt:
                bad = [i for i in range(len(live)) if bool(nonfinite[i])]
                if bad:  # never evaluate a diverged policy
                    step_fn.write_back()
                    reasons = {i: nonfinite_reason(info, i, step) for i in bad}
                    if alone:
                        stop_run(live[0].out, reasons[0])
                    keep = drop(bad, reasons)
                    info = {k: v[keep] for k, v in info.items()}
                    if not live:
                        break
                if is_log or is_eval or is_ckpt:
                    step_fn.write_back()
            now = time.perf_counter()
            if is_log:
                rate = (step - last_log_step) / max(now - last_log_t, 1e-9)
                for i, r in enumerate(live):
                    log_row(r, step, {k: v[i] for k, v in info.items()}, now - t0, rate)
                last_log_t, last_log_step = time.perf_counter(), step
            if is_eval:
                failed = []
                for i, r in enumerate(live):
                    before = len(r.run.progress.eval_rows)
                    try:
                        r.evaluate(r.run, step)
                    except TrainingError as err:  # non-finite weights: FAILED written
                        if alone:
                            raise
                        log.error("seed %d: %s (the other seeds go on)", r.settings.seed, err)
                        failed.append(i)
                        continue
                    r.tracker.log(eval_scalars(r.run.progress.eval_rows[before:]), step)
                if failed:
                    drop(failed, {})
                    if not live:
                        break
            for r in live:
                r.run.progress.step = step
            bar.update(1)
            if is_ckpt:
                spent = time.perf_counter() - t0
                t0 = time.perf_counter()
                for r in live:
                    r.run.progress.elapsed += spent
                    r.checkpoint(r.run)
    if live:
        p = live[0].run.progress
        log_session(p.step - step0, p.elapsed - elapsed0, step0, p.elapsed)
    if step_fn.compile_seconds:
        log.info("compiling the step took %.1fs", step_fn.compile_seconds)
    return live


def nonfinite_reason(info: dict[str, Tensor], i: int, step: int) -> str:
    """Why seed ``i`` stops: its non-finite loss parts at the check after ``step``."""
    bad = {k: float(v[i]) for k, v in info.items() if not math.isfinite(float(v[i]))}
    return f"non-finite loss at step {step} (or in the 100 steps before): {bad or 'loss'}"


def log_row(r: SeedLoop, step: int, info: dict[str, Tensor], since: float, rate: float) -> None:
    """One ``train.csv`` row of seed ``r`` (its metrics, held-out losses and probes)."""
    progress, agent, out = r.run.progress, r.run.agent, r.out
    row = {"step": step, "wall_time": progress.elapsed + since, "steps_per_s": rate}
    row.update({k: float(v) for k, v in info.items()})
    if r.validation is not None:
        row.update(r.validation(agent, step))
    if r.run.probes is not None:
        row.update(r.run.probes.record(agent, step))
        arrays = r.run.probes.arrays()
        atomic_write_with(out / "probes.npz", lambda p, a=arrays: np.savez(p, **a), suffix=".npz")
    progress.train_rows.append(row)
    atomic_write_with(
        out / "train.csv", lambda p: pd.DataFrame(progress.train_rows).to_csv(p, index=False)
    )
    r.tracker.log(train_scalars(row), step)


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
