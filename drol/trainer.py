"""The training loop shared by every method: sample, update, log, evaluate, checkpoint, resume."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

import drol
from drol.agents import get_method, make_agent, make_config, method_names
from drol.agents.base import OfflineAgent, use_generator
from drol.agents.config import parse_overrides
from drol.diagnostics import ProbeSet
from drol.envs import TaskData, load_task
from drol.evaluation import evaluate
from drol.io import atomic_write_json, atomic_write_text, atomic_write_with
from drol.tasks import Task, parse_task

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
SCORE = "score.json"
FAILED = "FAILED"


class TrainingError(RuntimeError):
    """Training stopped (e.g. a non-finite loss); the reason is also written to RUN_DIR/FAILED."""


@dataclass
class RunSettings:
    """Everything that defines a run (besides the agent hyperparameters)."""

    task: str
    method: str
    K: int
    seed: int
    steps: int
    eval_every: int
    eval_episodes: int
    data_dir: str | None = None
    log_every: int = 5000
    checkpoint_every: int = 10000
    num_probe_states: int = 8
    probe_neighbors: int = 64
    device: str = "cpu"
    threads: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)

    RUN_KEYS = ("log_every", "checkpoint_every", "num_probe_states", "probe_neighbors")

    def validate(self) -> None:
        for key in ("steps", "eval_every", "eval_episodes", "log_every", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"bad setting {key}={getattr(self, key)}: must be >= 1")
        if self.method not in method_names():
            get_method(self.method)  # raises, naming the choices


def split_overrides(pairs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``key=value`` strings -> (run-level settings, agent hyperparameters)."""
    run, agent = {}, {}
    for key, value in parse_overrides(pairs).items():
        (run if key in RunSettings.RUN_KEYS else agent)[key] = value
    return run, agent


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


class Trainer:
    def __init__(self, settings: RunSettings, out: Path):
        settings.validate()
        self.s, self.out = settings, out
        self.task: Task = parse_task(settings.task)
        self.cfg = make_config(settings.method, settings.overrides, task=self.task, K=settings.K)
        self.device = torch.device(settings.device)

    # ------------------------------------------------------------------ files
    def resolved_config(self, data: TaskData) -> dict[str, Any]:
        s = self.s
        return {
            "task": s.task,
            "suite": self.task.suite,
            "family": self.task.family,
            "representative": self.task.representative,
            "method": s.method,
            "K": s.K,
            "seed": s.seed,
            "steps": s.steps,
            "eval_every": s.eval_every,
            "eval_episodes": s.eval_episodes,
            "log_every": s.log_every,
            "checkpoint_every": s.checkpoint_every,
            "num_probe_states": s.num_probe_states,
            "probe_neighbors": s.probe_neighbors,
            "eval_protocol": self.task.eval_protocol,
            "data_dir": s.data_dir,
            "dataset_path": data.dataset_path,
            "num_transitions": int(len(data.train["observations"])),
            "agent": self.cfg.to_dict(),
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "versions": versions(),
            "git_commit": git_commit(),
        }

    @staticmethod
    def identity(config: dict[str, Any]) -> str:
        """Hash of what must match for a resume (not versions, paths or thread counts)."""
        keep = {
            k: config[k]
            for k in (
                "task",
                "method",
                "K",
                "seed",
                "steps",
                "eval_every",
                "eval_episodes",
                "log_every",
                "agent",
            )
        }
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ main
    def run(self) -> dict[str, Any]:
        out, s = self.out, self.s
        if (out / SCORE).exists():
            log.info("%s already finished: %s exists", out, SCORE)
            return json.loads((out / SCORE).read_text())
        out.mkdir(parents=True, exist_ok=True)
        (out / FAILED).unlink(missing_ok=True)
        if s.threads:
            torch.set_num_threads(s.threads)
        data = load_task(self.task, s.data_dir)
        config = self.resolved_config(data)
        config["identity"] = self.identity(config)
        ckpt_path = out / CHECKPOINT
        if ckpt_path.exists() and (out / "config.json").exists():
            old = json.loads((out / "config.json").read_text())
            if old.get("identity") != config["identity"]:
                raise ValueError(
                    f"{out} holds a run with different settings (config.json identity {old.get('identity')} "
                    f"!= {config['identity']}); use another --out or delete that directory"
                )
        atomic_write_json(out / "config.json", config)

        train = data.train
        n = len(train["observations"])
        tensors = {
            k: torch.as_tensor(train[k], device=self.device)
            for k in ("observations", "actions", "next_observations", "rewards", "masks")
        }
        obs_dim, action_dim = train["observations"].shape[1], train["actions"].shape[1]
        agent = make_agent(
            s.method, obs_dim, action_dim, self.cfg, device=self.device, seed=s.seed, num_data=n
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
        rng = np.random.default_rng(s.seed)
        state = {"step": 0, "train_rows": [], "eval_rows": [], "elapsed": 0.0}
        if ckpt_path.exists():
            state = self.load_checkpoint(ckpt_path, agent, rng, probes)
            log.info("resuming from step %d (%s)", state["step"], ckpt_path)

        self.loop(agent, data, tensors, n, rng, probes, state)
        return self.finish(state)

    def loop(
        self, agent: OfflineAgent, data: TaskData, tensors, n: int, rng, probes, state
    ) -> None:
        s, out = self.s, self.out
        B = self.cfg.batch_size
        t0, step0, last_log_t, last_log_step = (
            time.perf_counter(),
            state["step"],
            time.perf_counter(),
            state["step"],
        )
        bar = tqdm(
            total=s.steps,
            initial=state["step"],
            desc=f"{s.method} {s.task} s{s.seed}",
            mininterval=10,
            unit="step",
            dynamic_ncols=True,
        )
        nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        val_tensors = None
        if data.val is not None and len(data.val["observations"]):
            val_tensors = {k: torch.as_tensor(data.val[k], device=self.device) for k in tensors}
        for step in range(state["step"] + 1, s.steps + 1):
            idx = torch.as_tensor(rng.integers(0, n, size=B), device=self.device)
            batch = {k: v[idx] for k, v in tensors.items()}
            batch["indices"] = idx
            is_log = step % s.log_every == 0 or step == s.steps
            is_eval = step == 1 or step % s.eval_every == 0 or step == s.steps
            info = agent.update(batch, diagnostics=is_log)
            nonfinite |= ~torch.isfinite(info["loss"])
            if step % 100 == 0 or is_log or is_eval:  # never evaluate a diverged policy
                self.check_finite(nonfinite, info, step)
            if is_log:
                now = time.perf_counter()
                row = {
                    "step": step,
                    "wall_time": state["elapsed"] + now - t0,
                    "steps_per_s": (step - last_log_step) / max(now - last_log_t, 1e-9),
                }
                row.update({k: float(v) for k, v in info.items()})
                if val_tensors is not None:
                    row.update(self.validation(agent, val_tensors, step))
                if probes is not None:
                    row.update(probes.record(agent, step))
                    atomic_write_with(
                        out / "probes.npz", lambda p: np.savez(p, **probes.arrays()), suffix=".npz"
                    )
                state["train_rows"].append(row)
                atomic_write_with(
                    out / "train.csv",
                    lambda p: pd.DataFrame(state["train_rows"]).to_csv(p, index=False),
                )
                last_log_t, last_log_step = time.perf_counter(), step
            if is_eval:
                self.run_evaluation(agent, data, step, state)
            state["step"] = step
            bar.update(1)
            if step % s.checkpoint_every == 0 or step == s.steps:
                state["elapsed"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                self.save_checkpoint(agent, rng, probes, state)
        bar.close()
        log.info("trained %d steps in %.1fs", s.steps - step0, state["elapsed"])

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
        atomic_write_text(self.out / FAILED, reason + "\n")
        raise TrainingError(f"{reason}; stopped, reason written to {self.out / FAILED}")

    def run_evaluation(self, agent: OfflineAgent, data: TaskData, step: int, state) -> None:
        s = self.s
        # the loss is that of the weights *before* the step: the updated ones may have diverged
        if not all(bool(torch.isfinite(p).all()) for p in agent.parameters()):
            self.fail(f"non-finite network parameters after step {step}")
        gen = torch.Generator(device=self.device).manual_seed(s.seed * 1_000_003 + step)
        with use_generator(agent, gen):
            episodes = evaluate(
                data.env, agent.act, s.eval_episodes, seed=s.seed * 7919 + step, device=self.device
            )
        rate = float(np.mean([e["success"] for e in episodes]))
        for e in episodes:
            state["eval_rows"].append({"step": step, **e, "success_rate": rate})
        atomic_write_with(
            self.out / "eval.csv", lambda p: pd.DataFrame(state["eval_rows"]).to_csv(p, index=False)
        )
        log.info("step %d: success %.3f over %d episodes", step, rate, len(episodes))

    # ------------------------------------------------------------------ checkpoint
    def save_checkpoint(self, agent: OfflineAgent, rng, probes, state) -> None:
        blob = {
            "agent": agent.training_state(),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "probes": probes.state() if probes is not None else None,
            **state,
        }
        atomic_write_with(self.out / CHECKPOINT, lambda p: torch.save(blob, p))

    def load_checkpoint(self, path: Path, agent: OfflineAgent, rng, probes) -> dict[str, Any]:
        try:
            blob = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as err:  # noqa: BLE001 - any unreadable file
            raise ValueError(
                f"cannot read checkpoint {path} ({err}); delete it to start over"
            ) from None
        agent.load_training_state(blob["agent"])
        rng.bit_generator.state = blob["numpy_rng"]
        torch.set_rng_state(blob["torch_rng"])
        if probes is not None and blob.get("probes"):
            probes.load_state(blob["probes"])
        return {k: blob[k] for k in ("step", "train_rows", "eval_rows", "elapsed")}

    # ------------------------------------------------------------------ score
    def finish(self, state) -> dict[str, Any]:
        s = self.s
        evals = (
            pd.DataFrame(state["eval_rows"]).groupby("step")["success_rate"].first().sort_index()
        )
        used = evals.iloc[-3:] if self.task.eval_protocol == "last3" else evals.iloc[-1:]
        train_rows = state["train_rows"]
        score = {
            "score": 100.0 * float(used.mean()),
            "protocol": self.task.eval_protocol,
            "eval_steps": [int(x) for x in used.index],
            "task": s.task,
            "suite": self.task.suite,
            "family": self.task.family,
            "method": s.method,
            "K": s.K,
            "seed": s.seed,
            "steps": s.steps,
            "wall_clock_s": state["elapsed"],
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


__all__ = ["RunSettings", "Trainer", "TrainingError", "split_overrides"]
