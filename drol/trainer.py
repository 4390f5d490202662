"""The training loop shared by every method: sample, update, log, evaluate, checkpoint, resume."""

from __future__ import annotations

import io
import json
import logging
import math
import pickle
import platform
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

import drol
from drol.agents import get_method, make_agent, make_config, method_names
from drol.agents.base import OfflineAgent, use_generator
from drol.agents.config import coerce, parse_overrides
from drol.batches import IndexSampler
from drol.data.transitions import next_actions
from drol.diagnostics import ProbeSet
from drol.envs import TaskData, check_dataset, load_task
from drol.errors import ConfigError, UserError
from drol.evaluation import evaluate
from drol.io import atomic_write_json, atomic_write_with, ensure_writable_dir, os_error_message
from drol.rundir import (
    CHECKPOINT,
    CONFIG,
    SCORE,
    DatasetFingerprint,
    RunIdentity,
    RunLock,
    RunSpec,
    clear_failed,
    mark_failed,
    read_json,
)
from drol.speed import SPEED_KEYS, SpeedSettings, TrainStep, runtime_info
from drol.tasks import Task, default_steps, parse_task

log = logging.getLogger(__name__)


class TrainingError(UserError):
    """Training stopped (e.g. a non-finite loss); the reason is also written to RUN_DIR/FAILED."""


# run-level integer settings: (lowest, highest) accepted value
RUN_LIMITS: dict[str, tuple[int, int]] = {
    "seed": (0, 2**31 - 1),
    "steps": (1, 10**9),
    "eval_every": (1, 10**9),
    "eval_episodes": (1, 100_000),
    "log_every": (1, 10**9),
    "checkpoint_every": (1, 10**9),
    "num_probe_states": (1, 10_000),
    "probe_neighbors": (1, 100_000),
    "threads": (1, 1024),
}
OPTION = {  # how the user spells each setting
    "seed": "--seed",
    "steps": "--steps",
    "eval_every": "--eval-every",
    "eval_episodes": "--eval-episodes",
    "threads": "--threads",
    "K": "--K",
}


@dataclass
class RunSettings(RunSpec):
    """Everything that defines a run (besides the agent hyperparameters): the
    :class:`~drol.rundir.RunSpec` plus where and how to run it."""

    data_dir: str | None = None
    checkpoint_every: int = 10000
    device: str = "cpu"
    threads: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    precision: str = "fp32"  # drol.speed: 'fp32' (exact) or 'bf16' (opt-in autocast)
    compile: str = "auto"  # drol.speed: torch.compile of the whole step ('auto': long runs)

    RUN_KEYS = (
        "log_every",
        "checkpoint_every",
        "num_probe_states",
        "probe_neighbors",
        *SPEED_KEYS,
    )

    @property
    def speed(self) -> SpeedSettings:
        """The speed settings, ``compile='auto'`` resolved for this run's length."""
        return SpeedSettings(precision=self.precision, compile=self.compile).resolved(self.steps)

    def validate(self) -> None:
        """Raise a one-line :class:`ConfigError` naming the option and its accepted range."""
        if self.method not in method_names():
            get_method(self.method)  # raises, naming the choices
        for key, (lo, hi) in RUN_LIMITS.items():
            value = getattr(self, key)
            if key == "threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                name = OPTION.get(key, f"--set {key}")
                raise ConfigError(f"bad {name} {value!r}: must be an integer in [{lo}, {hi}]")


def split_settings(values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``--set`` values -> (run-level settings, agent hyperparameters)."""
    run, agent = {}, {}
    for key, value in values.items():
        (run if key in RunSettings.RUN_KEYS else agent)[key] = value
    return run, agent


def split_overrides(pairs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``key=value`` strings -> (run-level settings, agent hyperparameters)."""
    return split_settings(parse_overrides(pairs))


def run_setting_values(run_keys: Mapping[str, str]) -> dict[str, int | str]:
    """Run-level ``--set`` values: integers within :data:`RUN_LIMITS`, and the speed
    settings of :mod:`drol.speed` as their choices; a one-line :class:`ConfigError` naming
    the key and its range otherwise (``drol train`` and the workflow's DAG-build check use
    this one rule)."""
    speed = {k: v for k, v in run_keys.items() if k in SPEED_KEYS}
    chosen = SpeedSettings.from_values(speed)
    out: dict[str, int | str] = {k: getattr(chosen, k) for k in speed}
    for key, value in run_keys.items():
        if key in SPEED_KEYS:
            continue
        lo, hi = RUN_LIMITS[key]
        try:
            number = coerce(key, value, int)
        except ConfigError:
            number = None
        if number is None or not lo <= number <= hi:
            raise ConfigError(f"bad --set {key}={value!r}: must be an integer in [{lo}, {hi}]")
        out[key] = number
    return out


def make_settings(
    *,
    task: str,
    method: str,
    K: int,
    seed: int,
    steps: int | None,
    eval_every: int,
    eval_episodes: int,
    data_dir: str | None,
    device: str,
    threads: int | None,
    overrides: list[str],
) -> RunSettings:
    """Validated :class:`RunSettings` from command-line values (``--set`` pairs unparsed)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda, but torch sees no CUDA device")
    run_keys, agent_keys = split_overrides(overrides)
    run_values = run_setting_values(run_keys)
    settings = RunSettings(
        task=task,
        method=method,
        K=K,
        seed=seed,
        steps=steps if steps is not None else default_steps(parse_task(task)),
        eval_every=eval_every,
        eval_episodes=eval_episodes,
        data_dir=data_dir,
        device=device,
        threads=threads,
        overrides=agent_keys,
        **run_values,
    )
    settings.validate()
    return settings


def versions() -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "drol": drol.__version__,
    }
    for name in ("ogbench", "mujoco", "gymnasium"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - optional packages
            out[name] = "missing"
    return out


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        return subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except Exception:  # noqa: BLE001 - not a git checkout
        return "unknown"


@dataclass
class Progress:
    """What a resume needs besides the networks and random streams (plain types only)."""

    step: int = 0
    elapsed: float = 0.0
    train_rows: list[dict[str, Any]] = field(default_factory=list)
    eval_rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=float)

    @classmethod
    def from_json(cls, text: str) -> Progress:
        return cls(**json.loads(text))


@dataclass
class RunState:
    """The live pieces of one run, threaded through the loop, evaluation and checkpoints."""

    agent: OfflineAgent
    data: TaskData
    tensors: dict[str, torch.Tensor]  # the train arrays on the device
    sampler: IndexSampler  # batch indices
    probes: ProbeSet | None
    progress: Progress = field(default_factory=Progress)

    @property
    def num_data(self) -> int:
        return len(self.tensors["observations"])


class Trainer:
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
            "versions": versions(),
            "git_commit": git_commit(),
        }

    # ------------------------------------------------------------------ main
    def run(self) -> dict[str, Any]:
        """Validate, lock RUN_DIR, then train (or resume); return score.json's content.

        Nothing is created before the settings and the dataset are checked. Errors before the
        lock and identity check leave RUN_DIR as it was; any later fatal error writes FAILED.
        """
        fingerprint = check_dataset(self.task, self.s.data_dir)
        identity = self.identity(fingerprint)
        ensure_writable_dir(self.out, "--out")
        with RunLock(self.out):
            identity.check_against(self.out / CONFIG)
            if (self.out / SCORE).exists():
                log.info("%s already finished: %s exists", self.out, SCORE)
                return read_json(self.out / SCORE) or {}
            clear_failed(self.out)
            try:
                return self.train(identity)
            except TrainingError:
                raise
            except UserError as err:
                raise TrainingError(f"{err}; {mark_failed(self.out, str(err), err)}") from None
            except OSError as err:
                msg = os_error_message(err)
                raise OSError(err.errno, f"{msg}; {mark_failed(self.out, msg, err)}") from None
            except Exception as err:  # a bug: one line here, the traceback in error.log
                msg = f"internal error {type(err).__name__}: {err}"
                raise TrainingError(f"{msg}; {mark_failed(self.out, msg, err)}") from None

    def train(self, identity: RunIdentity) -> dict[str, Any]:
        s, out = self.s, self.out
        if s.threads:
            torch.set_num_threads(s.threads)
        data = load_task(self.task, s.data_dir)
        self.check_resume_precision()
        atomic_write_json(out / CONFIG, self.resolved_config(identity, data))
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
        if get_method(s.method).uses_candidates:
            probes = ProbeSet(
                train["observations"],
                train["actions"],
                s.num_probe_states,
                s.probe_neighbors,
                s.K,
                s.seed,
                self.device,
            )
        keys = ["observations", "actions", "next_observations", "rewards", "masks"]
        if get_method(s.method).needs_next_actions:
            keys.append("next_actions")
            for split in (data.train, data.val):
                if split is not None:
                    split["next_actions"] = next_actions(split["actions"])
        run = RunState(
            agent=agent,
            data=data,
            tensors={k: torch.as_tensor(train[k], device=self.device) for k in keys},
            sampler=IndexSampler(
                len(train["observations"]), self.cfg.batch_size, s.seed, self.device
            ),
            probes=probes,
        )
        if (out / CHECKPOINT).exists():
            self.load_checkpoint(out / CHECKPOINT, run, identity)
            log.info("resuming from step %d (%s)", run.progress.step, out / CHECKPOINT)
        self.loop(run, identity)
        return self.finish(run, identity)

    def check_resume_precision(self) -> None:
        """A checkpoint is resumed in the precision it was trained in (bf16 changes results)."""
        recorded = read_json(self.out / CONFIG) or {}
        before = recorded.get("speed", {}).get("precision", "fp32")
        if (self.out / CHECKPOINT).exists() and before != self.s.precision:
            raise UserError(
                f"{self.out / CHECKPOINT} was trained with precision={before}; "
                f"resume it with --set precision={before} (or use another --out)"
            )

    def loop(self, run: RunState, identity: RunIdentity) -> None:
        s, out, progress, agent = self.s, self.out, run.progress, run.agent
        train_step = TrainStep(agent, s.speed)
        t0, step0, last_log_t, last_log_step = (
            time.perf_counter(),
            progress.step,
            time.perf_counter(),
            progress.step,
        )
        bar = tqdm(  # closed by the with block, also on an error: the error line comes last
            total=s.steps,
            initial=progress.step,
            desc=f"{s.method} {s.task} s{s.seed}",
            mininterval=10,
            unit="step",
            dynamic_ncols=True,
        )
        nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        val_tensors = None
        if run.data.val is not None and len(run.data.val["observations"]):
            val_tensors = {
                k: torch.as_tensor(run.data.val[k], device=self.device) for k in run.tensors
            }
        with bar:
            for step in range(progress.step + 1, s.steps + 1):
                idx = run.sampler()
                batch = {k: v[idx] for k, v in run.tensors.items()}
                batch["indices"] = idx
                is_log = step % s.log_every == 0 or step == s.steps
                is_eval = step == 1 or step % s.eval_every == 0 or step == s.steps
                info = train_step(batch, diagnostics=is_log)
                nonfinite |= ~torch.isfinite(info["loss"])
                if step % 100 == 0 or is_log or is_eval:  # never evaluate a diverged policy
                    self.check_finite(nonfinite, info, step)
                if is_log:
                    now = time.perf_counter()
                    row = {
                        "step": step,
                        "wall_time": progress.elapsed + now - t0,
                        "steps_per_s": (step - last_log_step) / max(now - last_log_t, 1e-9),
                    }
                    row.update({k: float(v) for k, v in info.items()})
                    if val_tensors is not None:
                        row.update(self.validation(agent, val_tensors, step))
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
                    last_log_t, last_log_step = time.perf_counter(), step
                if is_eval:
                    self.run_evaluation(run, step)
                progress.step = step
                bar.update(1)
                if step % s.checkpoint_every == 0 or step == s.steps:
                    progress.elapsed += time.perf_counter() - t0
                    t0 = time.perf_counter()
                    self.save_checkpoint(run, identity)
        log.info("trained %d steps in %.1fs", s.steps - step0, progress.elapsed)
        if train_step.compile_seconds:
            log.info("compiling the step took %.1fs", train_step.compile_seconds)

    def validation(self, agent: OfflineAgent, val_tensors, step: int) -> dict[str, float]:
        """Losses on a batch of the ``-val`` dataset (diagnostic only, as the official logs)."""
        seed = [self.s.seed, step, 31]
        idx = np.random.default_rng(seed).integers(
            0, len(val_tensors["observations"]), size=self.cfg.batch_size
        )
        batch = {k: v[torch.as_tensor(idx, device=self.device)] for k, v in val_tensors.items()}
        gen = torch.Generator(device=self.device).manual_seed(self.s.seed * 1_000_033 + step)
        with use_generator(agent, gen):
            return {k: float(v) for k, v in agent.validation_losses(batch).items()}

    def check_finite(self, flag: torch.Tensor, info: dict[str, torch.Tensor], step: int) -> None:
        if bool(flag):
            bad = {k: float(v) for k, v in info.items() if not math.isfinite(float(v))}
            self.fail(
                f"non-finite loss at step {step} (or in the 100 steps before): {bad or 'loss'}"
            )

    def fail(self, reason: str) -> None:
        """Write the reason to RUN_DIR/FAILED and stop."""
        raise TrainingError(f"{reason}; stopped, {mark_failed(self.out, reason)}")

    def run_evaluation(self, run: RunState, step: int) -> None:
        s, agent = self.s, run.agent
        # the loss is that of the weights *before* the step: the updated ones may have diverged
        if not all(bool(torch.isfinite(p).all()) for p in agent.parameters()):
            self.fail(f"non-finite network parameters after step {step}")
        gen = torch.Generator(device=self.device).manual_seed(s.seed * 1_000_003 + step)
        with use_generator(agent, gen):
            episodes = evaluate(
                run.data.env,
                agent.act,
                s.eval_episodes,
                seed=s.seed * 7919 + step,
                device=self.device,
            )
        rate = float(np.mean([e["success"] for e in episodes]))
        rows = run.progress.eval_rows
        for e in episodes:
            rows.append({"step": step, **e, "success_rate": rate})
        atomic_write_with(
            self.out / "eval.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False)
        )
        log.info("step %d: success %.3f over %d episodes", step, rate, len(episodes))

    # ------------------------------------------------------------------ checkpoint
    def save_checkpoint(self, run: RunState, identity: RunIdentity) -> None:
        """Tensors and plain types only, so that loading needs no unpickling of objects."""
        blob = {
            "format": CHECKPOINT_FORMAT,
            "identity": identity.digest(),
            "agent": run.agent.training_state(),
            **run.sampler.state(),
            "torch_rng": torch.get_rng_state(),
            "probes": run.probes.state() if run.probes is not None else None,
            "progress": run.progress.to_json(),
        }
        buffer = io.BytesIO()  # serialise first: a full disk then raises a plain OSError
        torch.save(blob, buffer)
        atomic_write_with(self.out / CHECKPOINT, lambda p: p.write_bytes(buffer.getvalue()))

    def load_checkpoint(self, path: Path, run: RunState, identity: RunIdentity) -> None:
        try:
            blob = torch.load(path, map_location=self.device, weights_only=True)
        except pickle.UnpicklingError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else "refused"
            raise UserError(
                f"checkpoint {path} holds objects other than tensors and plain values; refused "
                f"to load it ({first}); delete it to start over"
            ) from None
        except Exception as err:  # noqa: BLE001 - any unreadable file
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"cannot read checkpoint {path} ({first}); delete it to start over"
            ) from None
        if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
            raise UserError(
                f"checkpoint {path}: not a format-{CHECKPOINT_FORMAT} drol checkpoint; "
                "delete it to start over"
            )
        if blob.get("identity") != identity.digest():
            raise UserError(
                f"checkpoint {path} belongs to another run (identity {blob.get('identity')} != "
                f"{identity.digest()}); delete it to start over"
            )
        try:
            run.agent.load_training_state(blob["agent"])
            run.sampler.load_state(blob)
            torch.set_rng_state(blob["torch_rng"].cpu())
            if run.probes is not None and blob.get("probes"):
                run.probes.load_state(blob["probes"])
            run.progress = Progress.from_json(blob["progress"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise UserError(
                f"checkpoint {path}: does not fit this run ({str(err).splitlines()[0]}); "
                "delete it to start over"
            ) from None

    # ------------------------------------------------------------------ score
    def finish(self, run: RunState, identity: RunIdentity) -> dict[str, Any]:
        progress = run.progress
        evals = (
            pd.DataFrame(progress.eval_rows).groupby("step")["success_rate"].first().sort_index()
        )
        used = evals.iloc[-3:] if self.task.eval_protocol == "last3" else evals.iloc[-1:]
        train_rows = progress.train_rows
        score = {
            **{k: getattr(identity, k) for k in SCORE_IDENTITY_KEYS},
            "identity": identity.digest(),
            "score": 100.0 * float(used.mean()),
            "protocol": self.task.eval_protocol,
            "eval_steps": [int(x) for x in used.index],
            "suite": self.task.suite,
            "family": self.task.family,
            "wall_clock_s": progress.elapsed,
            "train_steps_per_s": float(np.median([r["steps_per_s"] for r in train_rows]))
            if train_rows
            else None,
            "status": "done",
        }
        atomic_write_json(self.out / SCORE, score)
        log.info(
            "score %.1f (%s of evaluations at %s)",
            score["score"],
            score["protocol"],
            score["eval_steps"],
        )
        return score


CHECKPOINT_FORMAT = 2  # 2: weights_only-loadable (RNG states and progress as tensors / JSON)
SCORE_IDENTITY_KEYS = (*RunIdentity.PATH_KEYS, "steps")


__all__ = [
    "Progress",
    "RunSettings",
    "RunState",
    "Trainer",
    "TrainingError",
    "make_settings",
    "split_overrides",
]
