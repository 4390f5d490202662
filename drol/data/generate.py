"""``drol data generate``: seeded, sharded regeneration of OGBench datasets.

Episodes are independent work items ``(split, index)``; each is seeded from
``(seed, split, index)`` only, so the files do not depend on ``jobs``. Results are merged
in episode order and written atomically (val first, train last).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drol import physics
from drol.data.npzfile import temp_files_for, write_dataset_pair
from drol.data.registry import DatasetSpec, get_spec
from drol.data.seeding import TRAIN, VAL
from drol.errors import UserError
from drol.io import ensure_writable_dir, human_bytes
from drol.progress import progress_bar

log = logging.getLogger(__name__)

MIN_VAL_EPISODES = 1  # official: episodes // 10; at least one so the -val file exists and loads


@dataclass
class GenerateResult:
    train_path: Path
    val_path: Path
    train_episodes: int
    val_episodes: int
    rows: int  # stored rows, train + val
    seconds: float
    retries: int  # scene health-check re-collections

    @property
    def transitions_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")


def val_episodes_for(episodes: int) -> int:
    """The official ``episodes // 10``, but at least :data:`MIN_VAL_EPISODES`."""
    return max(MIN_VAL_EPISODES, episodes // 10)


def episode_bytes(spec: DatasetSpec) -> int:
    """Uncompressed bytes of one stored episode (float32 arrays, bool terminals, int64
    button states): the estimate the free-disk check uses (deflate saves little on floats)."""
    floats = spec.ob_dim + spec.action_dim + (spec.qpos_dim or 0) + (spec.qvel_dim or 0)
    return spec.max_steps * (4 * floats + 1 + 8 * (spec.button_dim or 0))


def check_fits(spec: DatasetSpec, episodes: int, n_val: int, out: Path) -> None:
    """Refuse, before generating, an episode count whose files cannot fit the free disk."""
    need = (episodes + n_val) * episode_bytes(spec)
    free = shutil.disk_usage(out).free
    if need > free:
        raise UserError(
            f"--episodes {episodes}: {spec.name} would need about {human_bytes(need)} "
            f"({human_bytes(episode_bytes(spec))} per episode) but {out} has "
            f"{human_bytes(free)} free; ask for fewer episodes or another --out"
        )


def plan(episodes: int, n_val: int) -> Iterator[tuple[int, int]]:
    """The work items ``(split, index)``, lazily (train first, then val)."""
    yield from ((TRAIN, i) for i in range(episodes))
    yield from ((VAL, i) for i in range(n_val))


BATCH = 256  # work items handed to the pool at a time (the plan is never materialised)


def make_collector(spec: DatasetSpec):
    if spec.generator == "manipspace":
        from drol.data.generate_manipspace import ManipspaceCollector

        return ManipspaceCollector(spec)
    from drol.data.generate_pointmaze import PointmazeCollector

    return PointmazeCollector(spec)


# ---------------------------------------------------------------- worker processes

_COLLECTOR = None
_SEED = 0


def _init_worker(dataset: str, seed: int) -> None:
    global _COLLECTOR, _SEED
    import warnings

    warnings.filterwarnings("ignore")
    _COLLECTOR = make_collector(get_spec(dataset, generatable=True))
    _SEED = seed


def _run(item: tuple[int, int]) -> tuple[int, int, dict[str, np.ndarray], int]:
    split, index = item
    episode, retries = _COLLECTOR.collect(_SEED, split, index)
    return split, index, episode, retries


def _merge(episodes: dict[int, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    ordered = [episodes[i] for i in sorted(episodes)]
    return {k: np.concatenate([ep[k] for ep in ordered]) for k in ordered[0]}


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _pooled(pool, items: Iterator[tuple[int, int]]) -> Iterator[tuple]:
    """``pool.imap_unordered`` over ``items`` in batches of :data:`BATCH` (the pool's task
    feeder would otherwise pull the whole plan at once)."""
    while batch := list(itertools.islice(items, BATCH)):
        yield from pool.imap_unordered(_run, batch, chunksize=1)


def generate(
    dataset: str,
    out: str | os.PathLike,
    episodes: int | None = None,
    seed: int = 0,
    jobs: int | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Generate ``out/<dataset>.npz`` and ``out/<dataset>-val.npz``; return paths and timing."""
    spec = get_spec(dataset, generatable=True)
    episodes = spec.episodes if episodes is None else episodes
    if episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {episodes}")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {seed}")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    n_val = val_episodes_for(episodes)
    out = ensure_writable_dir(out, "--out")  # before hours of generation, not after
    for stale in temp_files_for(out, dataset):
        log.warning("removing %s, left by an interrupted generation", stale)
        stale.unlink(missing_ok=True)

    check_fits(spec, episodes, n_val, out)
    total = episodes + n_val
    jobs = min(jobs, total)
    log.info(
        "generating %s: %d train + %d val episodes, seed %d, %d process(es)",
        dataset, episodes, n_val, seed, jobs,
    )  # fmt: skip
    results: dict[int, dict[int, dict[str, np.ndarray]]] = {TRAIN: {}, VAL: {}}
    retries = 0
    bar = progress_bar(total, desc=dataset, unit="ep", enabled=progress)
    start = time.perf_counter()
    pool = None
    try:
        if jobs == 1:
            _init_worker(dataset, seed)
            stream = map(_run, plan(episodes, n_val))
        else:
            # spawn: workers start clean (no inherited MuJoCo or thread state)
            pool = mp.get_context("spawn").Pool(
                jobs, initializer=_init_worker, initargs=(dataset, seed)
            )
            stream = _pooled(pool, plan(episodes, n_val))
        for split, index, episode, n_retry in stream:
            results[split][index] = episode
            retries += n_retry
            bar.update(1)
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    seconds = time.perf_counter() - start

    train, val = _merge(results[TRAIN]), _merge(results[VAL])
    train[physics.DATASET_KEY] = val[physics.DATASET_KEY] = physics.encode(
        physics.ogbench_physics()
    )
    train_path, val_path = write_dataset_pair(out / f"{dataset}.npz", train, val)
    rows = len(train["terminals"]) + len(val["terminals"])
    result = GenerateResult(train_path, val_path, episodes, n_val, rows, seconds, retries)
    log.info(
        "wrote %s and %s: %d rows in %.1f s (%.0f transitions/s, %d scene retries)",
        train_path, val_path.name, rows, seconds, result.transitions_per_s, retries,
    )  # fmt: skip
    return result
