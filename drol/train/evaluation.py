"""Evaluation in the real environment: a fresh latent per step, final-step success; and the
scheduled evaluation of a training run, written to ``eval.csv``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from drol.agents.base import use_generator
from drol.envs import episode_seed, make_ogbench_env, reset_episode
from drol.io import atomic_write_with
from drol.tasks import OGBENCH, parse_task
from drol.train.lockstep import (
    draws_at_evaluation,
    evaluate_lockstep,
    row_exact_linears,
    rows_exact,
)
from drol.train.rundir import stop_run

if TYPE_CHECKING:
    from drol.train.settings import RunSettings
    from drol.train.state import RunState

log = logging.getLogger(__name__)


def evaluate(
    env,
    act: Callable[[torch.Tensor], torch.Tensor],
    episodes: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> list[dict[str, float]]:
    """Run ``episodes`` episodes; return one dict per episode.

    ``success`` is the last step's ``info['success']`` (OGBench). A D4RL episode also has
    ``normalized_score``, d4rl's normalised return ×100 (the paper's metric; below 0 or above
    100 where the return is outside the reference range), and its ``success`` is that score
    / 100, so that every reader of ``eval.csv`` treats both suites alike. Each episode's reset
    is seeded from (``seed``, episode), the global NumPy RNG too (:func:`drol.envs.reset_episode`),
    so evaluations are reproducible across processes and resumable.
    """
    results = []
    for ep in range(episodes):
        ob, info = reset_episode(env, episode_seed(seed, ep))
        done, ret, length = False, 0.0, 0
        while not done:
            obs = torch.as_tensor(np.asarray(ob, dtype=np.float32), device=device).unsqueeze(0)
            action = act(obs)[0].cpu().numpy()
            ob, reward, terminated, truncated, info = env.step(np.clip(action, -1, 1))
            ret += float(reward)
            length += 1
            done = terminated or truncated
        row = {"episode": ep, "success": float(info.get("success", 0.0))}
        if "normalized_return" in info:
            row["normalized_score"] = float(info["normalized_return"])
            row["success"] = row["normalized_score"] / 100.0
        results.append({**row, "return": ret, "length": length})
    return results


def evaluation_seeds(seed: int, step: int) -> tuple[int, int]:
    """(episode seed base for :func:`evaluate`, latent generator seed) of the evaluation at
    ``step`` of the run with ``seed`` (``drol video`` replays the same episodes)."""
    return seed * 7919 + step, seed * 1_000_003 + step


def lockstep_envs(
    run: RunState,
    settings: RunSettings,
    act: Callable[[torch.Tensor], torch.Tensor],
    gen: torch.Generator,
) -> list | None:
    """The envs of a lockstep evaluation (:mod:`drol.train.lockstep`), made once per run and
    kept in ``run.eval_envs``; ``None`` where it would not reproduce the sequential rows
    (a policy that draws at evaluation), cannot run (D4RL's single worker) or gains nothing
    (``--eval-episodes`` 1, ``--set eval_lockstep=false``). At most ``eval_envs`` envs (a
    cube env holds ~160 MB and takes ~1 s to build), each running episode after episode."""
    task = parse_task(settings.task)
    lanes = min(settings.eval_episodes, settings.eval_envs)
    if not settings.eval_lockstep or task.suite != OGBENCH or lanes < 2:
        return None
    if run.eval_lockstep is None:
        obs_dim = run.tensors["observations"].shape[1]
        probe = torch.zeros(1, obs_dim, device=torch.device(settings.device))
        if draws_at_evaluation(act, gen, probe):
            run.eval_lockstep = False
            why = (
                "sequential (the policy draws latents/noise from one stream, episode after "
                "episode: lockstep episodes could not know their place in it)"
            )
        else:
            obs = run.tensors["observations"][: min(8, run.num_data)].to(probe.device)
            run.eval_lockstep = rows_exact(act, obs)
            why = (
                "lockstep (the policy draws nothing at evaluation)"
                if run.eval_lockstep
                else "sequential (a batched policy call does not give the batch-1 bits here)"
            )
        log.info("evaluation: %s", why)
    if not run.eval_lockstep:
        return None
    while len(run.eval_envs) < min(settings.eval_episodes, settings.eval_envs) - 1:
        run.eval_envs.append(make_ogbench_env(task))
    return [run.data.env, *run.eval_envs]


def evaluate_run(run: RunState, step: int, *, settings: RunSettings, out: Path) -> None:
    """The scheduled evaluation at ``step``: episodes seeded from (seed, step), appended to the
    run's rows and written to ``eval.csv``; a policy with non-finite weights stops the run."""
    agent, device = run.agent, torch.device(settings.device)
    # the loss is that of the weights *before* the step: the updated ones may have diverged
    if not all(bool(torch.isfinite(p).all()) for p in agent.parameters()):
        stop_run(out, f"non-finite network parameters after step {step}")
    env_seed, latent_seed = evaluation_seeds(settings.seed, step)
    gen = torch.Generator(device=device).manual_seed(latent_seed)
    act = agent.act if run.normalizer is None else run.normalizer.wrap(agent.act)
    with use_generator(agent, gen), row_exact_linears(agent):
        envs = lockstep_envs(run, settings, act, gen)
        if envs:
            episodes = evaluate_lockstep(envs, act, settings.eval_episodes, env_seed, device)
        else:
            episodes = evaluate(
                run.data.env,
                act,
                settings.eval_episodes,
                seed=env_seed,
                device=device,
            )
    rate = float(np.mean([e["success"] for e in episodes]))
    rows = run.progress.eval_rows
    for e in episodes:
        rows.append({"step": step, **e, "success_rate": rate})
    atomic_write_with(out / "eval.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))
    if "normalized_score" in episodes[0]:  # D4RL
        log.info("step %d: normalized score %.1f over %d episodes", step, 100 * rate, len(episodes))
    else:
        log.info("step %d: success %.3f over %d episodes", step, rate, len(episodes))
