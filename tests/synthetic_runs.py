"""Test helper: fabricate run directories in the documented format (docs/run_format.md).

The numbers are made up; the files have the right names, columns and shapes, so the
aggregation, tables and figures can be exercised without training anything.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from drol.grid import run_dir
from drol.tasks import parse_task
from drol.train.rundir import RunIdentity


def make_run(
    root: str | Path,
    task: str,
    method: str,
    K: int,
    seed: int,
    score: float | None = 50.0,
    steps: int = 1000,
    eval_every: int = 250,
    episodes: int = 4,
    failed: str | None = None,
    action_dim: int = 2,
    probes: bool = True,
) -> Path:
    """Write one run directory; ``score=None`` leaves it unfinished, ``failed`` writes FAILED."""
    t = parse_task(task)
    path = run_dir(root, task, method, K, seed)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(f"{task}/{method}/{K}/{seed}".encode()))
    identity = RunIdentity(
        task=task,
        method=method,
        K=K,
        seed=seed,
        steps=steps,
        eval_every=eval_every,
        eval_episodes=episodes,
        log_every=100,
        num_probe_states=3,
        probe_neighbors=40,
    )
    cfg = {
        **identity.to_dict(),
        "identity": identity.digest(),
        "suite": t.suite,
        "family": t.family,
    }
    (path / "config.json").write_text(json.dumps(cfg))
    log_steps = np.arange(100, steps + 1, 100)
    kk = max(K, 1)
    train = pd.DataFrame(
        {
            "step": log_steps,
            "wall_time": log_steps / 500.0,
            "steps_per_s": 500.0,
            "critic_loss": rng.random(len(log_steps)),
            "actor_loss": rng.random(len(log_steps)),
            "bc_loss": 1.0 / kk + 0.01 * rng.random(len(log_steps)),
            "q_loss": rng.random(len(log_steps)),
            "q_mean": rng.random(len(log_steps)),
            "candidate_pairwise_dist": np.log2(kk) * 0.1 + 0.01 * rng.random(len(log_steps)),
            "candidate_divergence": np.log2(kk) * 0.05 + 1e-3,
            "routing_entropy": np.log(kk),
            "routing_max_prob": 1.0 / kk,
            "min_d2": 0.1,
            "probe_flip_rate": 0.05,
            "probe_winner_dist": 0.1,
        }
    )
    train.to_csv(path / "train.csv", index=False)
    eval_steps = [1, *range(eval_every, steps + 1, eval_every)]
    rows = []
    target = (score if score is not None else 30.0) / 100.0
    for i, st in enumerate(eval_steps):
        p = target * (i + 1) / len(eval_steps)
        succ = (rng.random(episodes) < p).astype(float)
        for e in range(episodes):
            rows.append(
                {
                    "step": st,
                    "episode": e,
                    "success": succ[e],
                    "return": succ[e],
                    "length": 100,
                    "success_rate": succ.mean(),
                }
            )
    pd.DataFrame(rows).to_csv(path / "eval.csv", index=False)
    if probes and method != "fql":
        L, P, M = len(log_steps), 3, 40
        data = rng.normal(size=(P, M, action_dim)) * 0.5
        cands = np.stack(
            [rng.normal(size=(P, kk, action_dim)) * (0.1 + 0.5 * i / L) for i in range(L)]
        )
        owners = ((data[None, :, :, None, :] - cands[:, :, None]) ** 2).sum(-1).argmin(-1)
        np.savez(
            path / "probes.npz",
            steps=log_steps,
            states=rng.normal(size=(P, 5)),
            latents=rng.normal(size=(P, kk, action_dim)),
            data_actions=data,
            candidates=cands,
            owners=owners,
        )
    if failed is not None:
        (path / "FAILED").write_text(failed + "\n")
    elif score is not None:
        res = {
            **{k: getattr(identity, k) for k in ("task", "method", "K", "seed", "steps")},
            "identity": identity.digest(),
            "score": float(score),
            "protocol": t.eval_protocol,
            "eval_steps": eval_steps[-3:],
            "suite": t.suite,
            "family": t.family,
            "wall_clock_s": steps / 500.0,
            "train_steps_per_s": 500.0,
            "status": "done",
        }
        (path / "score.json").write_text(json.dumps(res))
    return path


def make_bench(
    path: str | Path, method: str, K: int, train_ms: float = 5.0, infer_ms: float = 0.5
) -> Path:
    """Write one ``drol bench --json`` result."""
    obj = {
        "method": method,
        "K": K,
        "device": "cpu",
        "obs_dim": 10,
        "action_dim": 2,
        "batch_size": 256,
        "hidden": 64,
        "train_steps_per_s": 1000.0 / train_ms,
        "train_step_ms": train_ms,
        "inference_ms": infer_ms,
        "torch": "2.13.0",
        "threads": 1,
        "repeats": 3,
        "steps_per_repeat": 10,
        "impl": "synthetic",
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) + "\n")
    return path
