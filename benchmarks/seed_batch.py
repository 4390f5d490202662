"""Seed-steps/s of the seed-batched update (drol.speed.seed_batch) for S = 1, 2, 4, 8 seeds.

Random data of a fixed shape (no env or dataset), eager, fp32, on one CPU thread by default:
single-seed updates (``single``: ``drol bench --seeds 1 --set compile=off``) against one batched
update of S seeds (``batched``: ``drol bench --seeds S``). Both are timed by
:func:`drol.speed.benchmark.benchmark` (at S = 1 both are the plain step); prints one JSON
line per (method, S).
"""

from __future__ import annotations

import argparse
import json

from drol.speed.benchmark import BenchSettings, benchmark

OBS, ACT = 29, 5


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="bc,iql,rebrac,fql,ifql,drol")
    p.add_argument("--seeds", default="1,2,4,8")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--K", type=int, default=16)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()

    def run(method: str, seeds: int) -> dict:
        return benchmark(
            BenchSettings(
                method=method, K=a.K, obs_dim=OBS, action_dim=ACT, repeats=a.repeats,
                steps=a.steps, hidden=a.hidden, batch_size=a.batch, threads=a.threads,
                overrides=[f"depth={a.depth}", "compile=off"], seeds=seeds,
            )
        )  # fmt: skip

    for method in a.methods.split(","):
        single = run(method, 1)["seed_steps_per_s"]
        for S in (int(x) for x in a.seeds.split(",")):
            out = {"method": method, "S": S, "hidden": a.hidden, "depth": a.depth, "batch": a.batch}
            out["single_seed_steps_per_s"] = single
            out["batched_seed_steps_per_s"] = run(method, S)["seed_steps_per_s"]
            out["threads"] = a.threads
            print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
