"""One training run end to end: check, lock, set up (or resume), run the loop, score.

The pieces each live in their own module: settings (:mod:`drol.train.settings`), the run
directory's rules (:mod:`drol.train.rundir`), the step loop (:mod:`drol.train.loop`),
evaluation and validation (:mod:`drol.train.evaluation`, :mod:`drol.train.heldout`),
checkpoints (:mod:`drol.train.checkpoint`) and the score (:mod:`drol.train.score`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import torch

from drol.agents import get_method, make_agent, make_config
from drol.data.fingerprint import DatasetFingerprint
from drol.data.transforms import prepare_data
from drol.data.transitions import next_actions
from drol.envs import TaskData, check_dataset, check_env, closing_env, load_task
from drol.errors import EnvFailedError, UserError
from drol.io import atomic_write_json, ensure_writable_dir, os_error_message
from drol.physics import physics_of_suite
from drol.speed.step import runtime_info
from drol.tasks import Task, parse_task
from drol.train.batches import IndexSampler
from drol.train.checkpoint import load_checkpoint, save_checkpoint
from drol.train.diagnostics import ProbeSet
from drol.train.evaluation import evaluate_run
from drol.train.heldout import Validation
from drol.train.loop import train_loop
from drol.train.rundir import (
    CHECKPOINT,
    CONFIG,
    SCORE,
    RunIdentity,
    RunLock,
    RunSpec,
    TrainingError,
    clear_failed,
    mark_failed,
    read_json,
)
from drol.train.score import write_score
from drol.train.settings import RunSettings
from drol.train.state import RunState
from drol.train.tracking import open_trackers
from drol.train.versions import git_commit, versions

log = logging.getLogger(__name__)

TRAIN_KEYS = ["observations", "actions", "next_observations", "rewards", "masks"]


class Trainer:
    """Runs (or resumes, or finds finished) the run that ``settings`` define in ``out``."""

    def __init__(self, settings: RunSettings, out: Path):
        settings.validate()
        settings.speed  # noqa: B018 - validates precision and compile
        self.s, self.out = settings, Path(out)
        self.task: Task = parse_task(settings.task)
        self.cfg = make_config(settings.method, settings.overrides, task=self.task, K=settings.K)
        self.device = torch.device(settings.device)

    # ------------------------------------------------------------------ identity
    def identity(self, dataset: DatasetFingerprint) -> RunIdentity:
        s = self.s
        return RunIdentity(
            **{k: getattr(s, k) for k in RunSpec.spec_keys()},
            agent=self.cfg.to_dict(),
            dataset=asdict(dataset),
            physics=physics_of_suite(self.task.suite),
        )

    def resolved_config(self, identity: RunIdentity, data: TaskData) -> dict[str, Any]:
        """config.json: the identity plus what does not change the result."""
        return {
            **identity.to_dict(),
            "identity": identity.digest(),
            "suite": self.task.suite,
            "family": self.task.family,
            "representative": self.task.representative,
            "checkpoint_every": self.s.checkpoint_every,
            "eval_protocol": self.task.eval_protocol,
            "data_dir": self.s.data_dir,
            "dataset_path": data.dataset_path,
            "num_transitions": int(len(data.train["observations"])),
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "speed": runtime_info(self.s.speed),
            "logger": self.s.logger,
            "versions": versions(getattr(data.env, "worker_versions", None)),
            "git_commit": git_commit(),
        }

    # ------------------------------------------------------------------ main
    def run(self) -> dict[str, Any]:
        """Validate, lock RUN_DIR, then train (or resume); return score.json's content.

        Nothing is created before the settings and the dataset are checked. Errors before the
        lock and identity check leave RUN_DIR as it was; any later fatal error writes FAILED.
        """
        identity = self.check()
        with RunLock(self.out):
            identity.check_against(self.out / CONFIG)
            if (self.out / SCORE).exists():
                identity.check_score(self.out / SCORE)  # also when config.json is gone
                log.info("%s already finished: %s exists", self.out, SCORE)
                return read_json(self.out / SCORE) or {}
            clear_failed(self.out)
            try:
                return self.train(identity)
            except TrainingError:
                raise
            except UserError as err:
                raise TrainingError(f"{err}; {mark_failed(self.out, str(err), err)}") from None
            except EnvFailedError as err:  # the env died or hung: not a bug, exit code 1
                raise EnvFailedError(f"{err}; {mark_failed(self.out, str(err), err)}") from None
            except OSError as err:
                msg = os_error_message(err)
                raise OSError(err.errno, f"{msg}; {mark_failed(self.out, msg, err)}") from None
            except Exception as err:  # a bug: one line here, the traceback in error.log
                msg = f"internal error {type(err).__name__}: {err}"
                raise TrainingError(f"{msg}; {mark_failed(self.out, msg, err)}") from None

    def check(self) -> RunIdentity:
        """Everything checked before RUN_DIR is touched (dataset, batch size, env, --out);
        the run's identity."""
        fingerprint = check_dataset(self.task, self.s.data_dir)
        if self.cfg.batch_size > fingerprint.rows:
            raise UserError(
                f"bad --set batch_size={self.cfg.batch_size}: must be at most the "
                f"{fingerprint.rows} rows of the dataset {fingerprint.name}"
            )
        check_env(self.task)  # e.g. a missing D4RL venv: RUN_DIR is not touched
        identity = self.identity(fingerprint)
        ensure_writable_dir(self.out, "--out")
        return identity

    def train(self, identity: RunIdentity) -> dict[str, Any]:
        """Set the run up (resuming a checkpoint), train, and write score.json."""
        s, out = self.s, self.out
        if s.threads:
            torch.set_num_threads(s.threads)
        data = load_task(self.task, s.data_dir, log_dir=out)  # D4RL: RUN_DIR/d4rl-worker.log
        with closing_env(data.env):  # closed on success; a failed worker's log is kept
            return self.train_on(identity, data)

    def train_on(self, identity: RunIdentity, data: TaskData) -> dict[str, Any]:
        """Train on the loaded task (resuming a checkpoint), and write score.json."""
        s, out = self.s, self.out
        run, config = self.prepare(identity, data)
        with (
            open_trackers(s.logger, out, config, first_step=run.progress.step + 1) as tracker,
            closing_eval_envs(run),
        ):
            train_loop(
                run,
                s,
                out,
                validation=self.validation(run),
                evaluate=partial(evaluate_run, settings=s, out=out),
                checkpoint=lambda r: save_checkpoint(out / CHECKPOINT, r, identity),
                tracker=tracker,
            )
        return write_score(out, run.progress, identity, self.task)

    def prepare(self, identity: RunIdentity, data: TaskData) -> tuple[RunState, dict[str, Any]]:
        """The run on the loaded task, resumed from its checkpoint if there is one; writes
        config.json; returns the run and that config."""
        out = self.out
        normalizer = prepare_data(data, self.cfg)  # obs_norm, reward_scale/bias (CORL's)
        self.check_resume_precision()
        config = self.resolved_config(identity, data)
        atomic_write_json(out / CONFIG, config)
        run = self.setup(data)
        run.normalizer = normalizer
        if (out / CHECKPOINT).exists():
            load_checkpoint(out / CHECKPOINT, run, identity, self.device)
            log.info("resuming from step %d (%s)", run.progress.step, out / CHECKPOINT)
        return run, config

    def validation(self, run: RunState) -> Validation | None:
        """Held-out losses of ``run`` (None without a validation split)."""
        return Validation.of(
            run.data.val, list(run.tensors), self.s.seed, self.cfg.batch_size, self.device
        )

    def setup(self, data: TaskData) -> RunState:
        """A fresh agent, batch sampler and (DROL) probe set over the train split."""
        s, method = self.s, get_method(self.s.method)
        train = data.train
        obs_dim, action_dim = train["observations"].shape[1], train["actions"].shape[1]
        agent = make_agent(
            s.method,
            obs_dim,
            action_dim,
            self.cfg,
            device=self.device,
            seed=s.seed,
            num_data=len(train["observations"]),
        )
        probes = None
        if method.uses_candidates:
            probes = ProbeSet(
                train["observations"],
                train["actions"],
                s.num_probe_states,
                s.probe_neighbors,
                s.K,
                s.seed,
                self.device,
            )
        keys = list(TRAIN_KEYS)
        if method.needs_next_actions:
            keys.append("next_actions")
            for split in (data.train, data.val):
                if split is not None:
                    split["next_actions"] = next_actions(split["actions"])
        return RunState(
            agent=agent,
            data=data,
            tensors={k: torch.as_tensor(train[k], device=self.device) for k in keys},
            sampler=IndexSampler(
                len(train["observations"]), self.cfg.batch_size, s.seed, self.device
            ),
            probes=probes,
        )

    def check_resume_precision(self) -> None:
        """A checkpoint is resumed in the precision it was trained in (bf16 changes results)."""
        recorded = read_json(self.out / CONFIG) or {}
        before = recorded.get("speed", {}).get("precision", "fp32")
        if (self.out / CHECKPOINT).exists() and before != self.s.precision:
            raise UserError(
                f"{self.out / CHECKPOINT} was trained with precision={before}; "
                f"resume it with --set precision={before} (or use another --out)"
            )


@contextmanager
def closing_eval_envs(run: RunState) -> Iterator[RunState]:
    """Close the lockstep evaluation's extra envs after the block (also on an error)."""
    try:
        yield run
    finally:
        run.close_eval_envs()


__all__ = ["Trainer"]
