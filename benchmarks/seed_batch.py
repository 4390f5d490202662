"""Seed-steps/s of the seed-batched update (drol.speed.seeds) for S = 1, 2, 4, 8 seeds.

Random data of a fixed shape (no env or dataset), eager, fp32, on one CPU thread by default:
S separate single-seed updates per round (``single``) against one batched update of S seeds
(``batched``). Prints one JSON line per (method, S).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from drol.agents import make_agent, make_config
from drol.speed.seeds import SeedBatch

N, OBS, ACT = 10_000, 29, 5


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="bc,iql,rebrac,fql,ifql,drol")
    p.add_argument("--seeds", default="1,2,4,8")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--K", type=int, default=16)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    data = {
        "observations": torch.randn(N, OBS, generator=g),
        "actions": torch.rand(N, ACT, generator=g) * 2 - 1,
        "next_observations": torch.randn(N, OBS, generator=g),
        "rewards": torch.randn(N, generator=g),
        "masks": torch.ones(N),
        "next_actions": torch.rand(N, ACT, generator=g) * 2 - 1,  # ReBRAC's
    }
    sizes = {"hidden": str(a.hidden), "depth": str(a.depth), "batch_size": str(a.batch)}
    for method in a.methods.split(","):
        cfg = make_config(method, sizes, K=a.K)
        for S in (int(x) for x in a.seeds.split(",")):
            agents = [make_agent(method, OBS, ACT, cfg, seed=s, num_data=N) for s in range(S)]
            rngs = [np.random.default_rng(s) for s in range(S)]

            def batch(idx):
                return {**{k: v[idx] for k, v in data.items()}, "indices": idx}

            def single(agents=agents, rngs=rngs):
                for agent, rng in zip(agents, rngs, strict=True):
                    agent.update(batch(torch.as_tensor(rng.integers(0, N, a.batch))))

            stack = SeedBatch(
                [make_agent(method, OBS, ACT, cfg, seed=s, num_data=N) for s in range(S)]
            )

            def batched(stack=stack, rngs=rngs):
                idx = torch.stack([torch.as_tensor(r.integers(0, N, a.batch)) for r in rngs])
                stack.step(batch(idx))

            out = {"method": method, "S": S, "hidden": a.hidden, "depth": a.depth, "batch": a.batch}
            for name, fn in (("single", single), ("batched", batched)):
                for _ in range(3):
                    fn()  # warm-up (the draw plan, allocator)
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    fn()
                out[f"{name}_seed_steps_per_s"] = S * a.steps / (time.perf_counter() - t0)
            out["threads"] = a.threads
            print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
