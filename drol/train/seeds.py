"""``drol train --seeds``: S seeds of one (task, method, K, settings) trained in one process as
one seed-batched step (:class:`drol.speed.seed_batch.SeedBatch`), each seed in its own RUN_DIR in
today's format (config.json, train.csv, eval.csv, score.json, checkpoint.pt, lock, FAILED).

Each seed's run is set up, locked, resumed, evaluated, checkpointed and scored by its own
:class:`~drol.train.trainer.Trainer` pieces; only the update is shared. A seed whose loss or
weights turn non-finite is marked FAILED and leaves the batch; the others go on. The batched
step runs in fp32, compiled where a single-seed run would be (``compile``: 'auto' compiles
long runs), never in bf16.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from drol.envs import TaskData, closing_env, load_task
from drol.errors import UserError
from drol.speed.seed_batch import SeedBatch, check_batchable
from drol.tasks import OGBENCH
from drol.train.checkpoint import save_checkpoint
from drol.train.evaluation import evaluate_run
from drol.train.heldout import Validation
from drol.train.loop import SeedLoop, run_steps
from drol.train.rundir import (
    CHECKPOINT,
    SCORE,
    RunIdentity,
    RunLock,
    TrainingError,
    clear_failed,
    mark_failed,
    read_json,
)
from drol.train.score import write_score
from drol.train.state import RunState
from drol.train.tracking import Trackers, open_trackers
from drol.train.trainer import Trainer, closing_eval_envs

log = logging.getLogger(__name__)

SEED_PLACEHOLDER = "{seed}"


# Seeds one process trains side by side: each holds its agent, Adam state, run directory and
# writers (a TensorBoard writer runs a thread); the paper grid batches 8 per GPU job.
MAX_SEEDS_PER_PROCESS = 64


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` or ``0-7`` -> distinct seeds; a one-line error naming ``--seeds`` otherwise."""
    try:
        if "-" in text and "," not in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",")]  # an empty item ("0,,1") is an error
    except ValueError:
        raise UserError(f"bad --seeds {text!r}: give seeds as 0,1,2 or 0-7") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UserError(f"bad --seeds {text!r}: give distinct seeds >= 0, as 0,1,2 or 0-7")
    if len(seeds) > MAX_SEEDS_PER_PROCESS:
        raise UserError(
            f"--seeds {text}: {len(seeds)} seeds in one process, at most "
            f"{MAX_SEEDS_PER_PROCESS}: split them over several processes "
            "(train.seeds_per_job in a workflow config)"
        )
    return seeds


def seed_out(out: Path, seed: int) -> Path:
    """``--out`` with ``{seed}`` filled in (a one-line error when it has no placeholder)."""
    text = str(out)
    if SEED_PLACEHOLDER not in text:
        raise UserError(
            f"--out {text}: with --seeds it needs a {SEED_PLACEHOLDER} placeholder, e.g. "
            f"results/runs/TASK/METHOD/seed{SEED_PLACEHOLDER}"
        )
    return Path(text.replace(SEED_PLACEHOLDER, str(seed)))


@dataclass
class SeedRun:
    """One seed's live run and what writes its outputs."""

    trainer: Trainer
    identity: RunIdentity
    run: RunState
    tracker: Trackers
    validation: Validation | None

    @property
    def out(self) -> Path:
        return self.trainer.out


class SharedTask:
    """The task's dataset and evaluation env, loaded once for every seed (OGBench): an episode
    depends only on its reset seed, so seeds evaluated one after another can share the env.
    Each seed gets its own split dicts (its transforms replace arrays there, never in place);
    a D4RL task gets one worker per seed, as a single-seed run has."""

    def __init__(self) -> None:
        self.data: TaskData | None = None
        self.raw: tuple[dict[str, Any], dict[str, Any] | None] = ({}, None)

    def task_data(self, trainer: Trainer, stack: ExitStack) -> TaskData:
        if self.data is None or trainer.task.suite != OGBENCH:
            data = load_task(trainer.task, trainer.s.data_dir, log_dir=trainer.out)
            stack.enter_context(closing_env(data.env))
            self.data = data
            self.raw = (dict(data.train), dict(data.val) if data.val is not None else None)
            return data
        train, val = self.raw
        return replace(self.data, train=dict(train), val=dict(val) if val is not None else None)


def train_seeds(trainers: list[Trainer]) -> dict[int, dict[str, Any]]:
    """Train the seeds of ``trainers`` (one per seed, else identical settings) as one batched
    step; return each finished seed's score.json content (a FAILED seed is left out)."""
    first = trainers[0]
    scores: dict[int, dict[str, Any]] = {}
    if first.s.precision != "fp32":
        raise UserError(
            f"--seeds runs the batched step in fp32: drop --set precision={first.s.precision}, "
            "or train seed by seed (--seed)"
        )
    identities = [t.check() for t in trainers]  # nothing touched before every seed is checked
    with ExitStack() as stack:
        live: list[SeedRun] = []
        loaded = SharedTask()
        for trainer, identity in zip(trainers, identities, strict=True):
            out = trainer.out
            stack.enter_context(RunLock(out))
            identity.check_against(out / "config.json")
            if (out / SCORE).exists():
                identity.check_score(out / SCORE)
                log.info("%s already finished: %s exists", out, SCORE)
                scores[trainer.s.seed] = read_json(out / SCORE) or {}
                continue
            clear_failed(out)
            data = loaded.task_data(trainer, stack)
            try:  # a seed whose checkpoint cannot be read fails alone; the others go on
                run, config = trainer.prepare(identity, data)
            except UserError as err:
                note = mark_failed(out, str(err), err)
                log.error("seed %d: %s; %s (the other seeds go on)", trainer.s.seed, err, note)
                continue
            if live:  # the same arrays and evaluation envs for every seed: one copy each
                run.tensors = live[0].run.tensors
                run.eval_envs = live[0].run.eval_envs
            stack.enter_context(closing_eval_envs(run))
            tracker = stack.enter_context(
                open_trackers(trainer.s.logger, out, config, first_step=run.progress.step + 1)
            )
            live.append(SeedRun(trainer, identity, run, tracker, trainer.validation(run)))
        if not live:
            return scores
        check_batchable(live[0].run.agent)  # an update of its own: one line, nothing trained
        steps = {r.run.progress.step for r in live}
        if len(steps) > 1:
            raise UserError(
                f"--seeds: the seeds' checkpoints are at different steps {sorted(steps)}; "
                "resume them one by one (--seed) or delete the checkpoints"
            )
        if first.s.threads:
            torch.set_num_threads(first.s.threads)
        try:
            finished = _loop(live)
        except (UserError, OSError):
            raise
        except Exception as err:  # a bug: one line here, the traceback in each error.log
            msg = f"internal error {type(err).__name__}: {err}"
            notes = [mark_failed(r.out, msg, err) for r in live]
            raise TrainingError(f"{msg}; {notes[0]} (and the other seeds')") from None
        for r in finished:
            scores[r.trainer.s.seed] = write_score(
                r.out, r.run.progress, r.identity, r.trainer.task
            )
    return scores


def _loop(live: list[SeedRun]) -> list[SeedRun]:
    """The step loop of :func:`drol.train.loop.run_steps` over the live seeds at once, with
    one seed-batched update; the seeds that finished."""
    loops = [
        SeedLoop(
            run=r.run,
            settings=r.trainer.s,
            out=r.out,
            evaluate=partial(evaluate_run, settings=r.trainer.s, out=r.out),
            checkpoint=partial(_save, r),
            tracker=r.tracker,
            validation=r.validation,
        )
        for r in live
    ]
    finished = run_steps(
        loops, lambda seeds, compile: SeedBatch([x.run.agent for x in seeds], compile=compile)
    )
    return [r for r, loop in zip(live, loops, strict=True) if any(loop is f for f in finished)]


def _save(r: SeedRun, run: RunState) -> None:
    save_checkpoint(r.out / CHECKPOINT, run, r.identity)


__all__ = ["parse_seeds", "seed_out", "train_seeds"]
