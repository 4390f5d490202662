"""Training steps/s and inference latency of one method on synthetic batches.

A benchmark, not a test: it feeds the runtime panel of Fig. 3 and the speed claims in the
notes (``drol bench``). Sizes default to the paper's (4x512 MLPs, batch 256). With
``seeds = S > 1`` a step updates S agents at once (:class:`~drol.speed.seed_batch.SeedBatch`, each
seed its own batch), and ``seed_steps_per_s`` is S times the steps/s: what a budget needs.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch

from drol.agents import get_method, make_agent, make_config
from drol.agents.config import parse_overrides
from drol.errors import UserError
from drol.speed.load import LoadMeter
from drol.speed.seed_batch import SeedBatch
from drol.speed.step import SPEED_KEYS, SpeedSettings, TrainStep, runtime_info


def synthetic_batch(
    n: int, obs_dim: int, action_dim: int, num_data: int, device, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    return {
        "observations": torch.randn(n, obs_dim, generator=gen).to(device),
        "next_observations": torch.randn(n, obs_dim, generator=gen).to(device),
        "actions": (torch.rand(n, action_dim, generator=gen) * 2 - 1).to(device),
        "next_actions": (torch.rand(n, action_dim, generator=gen) * 2 - 1).to(device),
        "rewards": -torch.rand(n, generator=gen).round().to(device),
        "masks": torch.ones(n).to(device),
        "indices": torch.randint(0, num_data, (n,), generator=gen).to(device),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass
class BenchSettings:
    """One benchmark: method and sizes (the paper's by default), timing schedule."""

    method: str
    K: int = 16
    obs_dim: int = 28
    action_dim: int = 5
    device: str = "cpu"
    repeats: int = 3
    steps: int = 20
    warmup: int = 3  # untimed first steps (at least 1; they include any compile)
    hidden: int = 512
    batch_size: int = 256
    impl: str = "winner"
    overrides: list[str] = field(default_factory=list)
    threads: int | None = None
    seeds: int = 1  # S > 1: one seed-batched update of S agents (drol.speed.seed_batch)


def seed_speed(speed: SpeedSettings, seeds: int) -> SpeedSettings:
    """The step settings of an S-seed benchmark: S > 1 runs in fp32 (as ``drol train --seeds``
    does), compiled or eager as asked; bf16 is a one-line error."""
    if seeds > 1 and speed.precision != "fp32":
        raise UserError(
            f"--seeds {seeds}: the seed-batched step runs in fp32 only; "
            "drop --set precision=bf16 or use --seeds 1"
        )
    return speed


def stacked(batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per-seed batches stacked on a leading seed axis: ``(S, B, ...)``."""
    return {k: torch.stack([b[k] for b in batches]) for k in batches[0]}


class _Step(Protocol):
    compile_seconds: float
    compiled: bool
    fallback: str | None

    def __call__(self, batch: dict[str, torch.Tensor]) -> object: ...


def benchmark(args: BenchSettings) -> dict:
    """Median training steps/s and inference latency of ``args.method`` on synthetic batches;
    with ``args.seeds = S > 1`` one step is one seed-batched update of S agents."""
    if args.seeds < 1:
        raise UserError("--seeds must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda, but torch sees no CUDA device")
    base = {"hidden": args.hidden, "batch_size": args.batch_size}
    if get_method(args.method).uses_candidates:
        base["impl"] = args.impl
    sets = parse_overrides(args.overrides)
    speed = SpeedSettings.from_values({k: v for k, v in sets.items() if k in SPEED_KEYS})
    speed = speed.resolved(steps=None)  # 'auto' compiles: a benchmark times the steady state
    speed = seed_speed(speed, args.seeds)
    agent_sets = {k: v for k, v in sets.items() if k not in SPEED_KEYS}
    cfg = make_config(args.method, base, agent_sets, K=args.K)
    num_data = 100_000
    agents = [
        make_agent(
            args.method,
            args.obs_dim,
            args.action_dim,
            cfg,
            device=device,
            seed=s,
            num_data=num_data,
        )
        for s in range(args.seeds)
    ]
    agent = agents[0]
    gen = torch.Generator().manual_seed(0)

    def one_batch() -> dict[str, torch.Tensor]:
        return synthetic_batch(
            args.batch_size, args.obs_dim, args.action_dim, num_data, device, gen
        )

    step: _Step
    if args.seeds == 1:  # today's path: a plain ``drol bench`` measures what it always did
        batches = [one_batch() for _ in range(4)]
        step = TrainStep(agent, speed)
    else:  # each seed its own batch, stacked (S, B, ...)
        batches = [stacked([one_batch() for _ in range(args.seeds)]) for _ in range(4)]
        step = SeedBatch(agents, compile=speed.compile == "on")  # called like a TrainStep
    t = time.perf_counter()
    for i in range(max(args.warmup, 1)):
        step(batches[i % 4])
    _sync(device)
    warmup_s = time.perf_counter() - t
    rates, lat = [], []
    obs1 = batches[0]["observations"].reshape(-1, args.obs_dim)[:1]
    with LoadMeter() as load:  # what else ran on the machine while we timed
        for _ in range(args.repeats):
            _sync(device)
            t = time.perf_counter()
            for i in range(args.steps):
                step(batches[i % 4])
            _sync(device)
            rates.append(args.steps / (time.perf_counter() - t))
        for i in range(50 + 10):
            _sync(device)
            t = time.perf_counter()
            agent.act(obs1)
            _sync(device)
            if i >= 10:
                lat.append((time.perf_counter() - t) * 1000)
    rate = statistics.median(rates)
    return {
        "method": args.method,
        "K": args.K,
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "obs_dim": args.obs_dim,
        "action_dim": args.action_dim,
        "batch_size": args.batch_size,
        "hidden": args.hidden,
        "impl": args.impl,
        "candidate_dtype": getattr(cfg, "candidate_dtype", "float32"),
        "train_steps_per_s": rate,
        "train_step_ms": 1000.0 / rate,
        "train_steps_per_s_repeats": rates,
        "seeds": args.seeds,  # agents updated by one step
        "seed_steps_per_s": args.seeds * rate,
        "inference_ms": statistics.median(lat),
        "warmup_s": warmup_s,
        "compile_s": step.compile_seconds,
        "compiled": step.compiled,
        **runtime_info(speed, fallback=step.fallback),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "steps_per_repeat": args.steps,
        **asdict(load.report()),  # other_busy_cpus, machine_cpus, usable_cpus, load_1min_*
    }
