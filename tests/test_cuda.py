"""On a CUDA device (marker ``cuda``: skipped without one; ``benchmarks/gpu_check.sh`` runs them):
the seed-batched step equals the single-seed updates there too, and ``drol bench --device cuda``
runs with and without ``--seeds``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from drol.agents import make_agent, make_config
from drol.cli import main
from drol.speed.seed_batch import SeedBatch

pytestmark = pytest.mark.cuda

N, B, OBS, ACT, STEPS = 400, 16, 6, 3, 4
SEEDS = (0, 3)


def _agent(method: str, seed: int):
    cfg = make_config(method, {"hidden": "32", "depth": "2", "batch_size": str(B)}, K=4)
    return make_agent(method, OBS, ACT, cfg, device="cuda", seed=seed, num_data=N)


def _data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    data = {
        "observations": torch.randn(N, OBS, generator=g),
        "actions": torch.rand(N, ACT, generator=g) * 2 - 1,
        "next_observations": torch.randn(N, OBS, generator=g),
        "rewards": torch.randn(N, generator=g),
        "masks": (torch.rand(N, generator=g) > 0.1).float(),
        "next_actions": torch.rand(N, ACT, generator=g) * 2 - 1,
    }
    return {k: v.cuda() for k, v in data.items()}


def _batch(data, idx):
    idx = idx.cuda()
    return {**{k: v[idx] for k, v in data.items()}, "indices": idx}


@pytest.mark.parametrize("method", ["bc", "rebrac", "fql", "drol"])
def test_seed_batched_step_equals_single_seeds_on_cuda(method):
    data = _data()
    single = []
    for seed in SEEDS:
        agent, rng = _agent(method, seed), np.random.default_rng(seed)
        losses = [
            agent.update(_batch(data, torch.as_tensor(rng.integers(0, N, B))))["loss"]
            for _ in range(STEPS)
        ]
        single.append((agent, torch.stack(losses)))
    agents = [_agent(method, seed) for seed in SEEDS]
    stack, rngs = SeedBatch(agents), [np.random.default_rng(s) for s in SEEDS]
    losses = []
    for _ in range(STEPS):
        idx = torch.stack([torch.as_tensor(r.integers(0, N, B)) for r in rngs])
        losses.append(stack.step(_batch(data, idx))["loss"])
    stack.write_back()
    losses = torch.stack(losses)
    for s, (want, want_losses) in enumerate(single):
        torch.testing.assert_close(losses[:, s], want_losses, rtol=1e-4, atol=1e-5)
        for (name, p), q in zip(
            want.state_dict().items(), agents[s].state_dict().values(), strict=True
        ):
            if p.dtype != torch.bool:
                torch.testing.assert_close(q, p, rtol=0, atol=1e-5, msg=name)
    assert not torch.equal(losses[:, 0], losses[:, 1])


@pytest.mark.parametrize("seeds", ["1", "2"])
def test_bench_on_cuda(seeds, capsys):
    argv = ["bench", "--method", "drol", "--K", "4", "--device", "cuda", "--hidden", "32",
            "--batch-size", "16", "--repeats", "1", "--steps", "2", "--warmup", "1",
            "--seeds", seeds, "--set", "compile=off", "--json"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["device"] == torch.cuda.get_device_name(0)
    assert result["seeds"] == int(seeds) and result["seed_steps_per_s"] > 0
