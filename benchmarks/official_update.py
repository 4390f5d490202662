"""Time the official JAX agents' jitted ``update()`` on random batches (run in the JAX venv).

Imports the agent module from a checkout of muzhancun/DROL, seohongpark/fql, muzhancun/DeFlow
or nico-espinosadice/SORL (nothing is
copied from it), builds the agent at the given sizes, and prints one JSON line with the
steps/s of each timed repeat. Called by ``benchmarks/compare_official.py``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

# agents/<module>.py of the checkout -> its agent class (drol: muzhancun/DROL; deflow:
# muzhancun/DeFlow; sorl: nico-espinosadice/SORL; the rest: seohongpark/fql, which has no BC)
AGENT_CLASSES = {
    "drol": "DROLAgent",
    "fql": "FQLAgent",
    "iql": "IQLAgent",
    "rebrac": "ReBRACAgent",
    "ifql": "IFQLAgent",
    "deflow": "DeFlowAgent",
    "sorl": "SORLAgent",
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True, help="checkout of the agent's official repository")
    p.add_argument("--agent", required=True, choices=sorted(AGENT_CLASSES))
    p.add_argument("--K", type=int, default=16)
    p.add_argument("--obs-dim", type=int, default=28)
    p.add_argument("--action-dim", type=int, default=5)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()

    sys.path.insert(0, a.repo)
    import jax
    import numpy as np

    module = importlib.import_module(f"agents.{a.agent}")
    agent_cls = AGENT_CLASSES[a.agent]
    config = module.get_config()
    hidden = (a.hidden,) * 4
    config["actor_hidden_dims"] = hidden
    config["value_hidden_dims"] = hidden
    if a.agent == "sorl":  # SORL sizes its MLPs by width and depth
        for net in ("actor", "value"):
            config[f"{net}_layer_size"], config[f"{net}_num_layers"] = a.hidden, 4
    config["batch_size"] = a.batch_size
    if a.agent == "drol":
        config["num_candidates"] = a.K

    rng = np.random.default_rng(0)
    B, D, A = a.batch_size, a.obs_dim, a.action_dim

    def batch() -> dict:
        return {
            "observations": rng.standard_normal((B, D), dtype=np.float32),
            "next_observations": rng.standard_normal((B, D), dtype=np.float32),
            "actions": rng.uniform(-1, 1, (B, A)).astype(np.float32),
            "next_actions": rng.uniform(-1, 1, (B, A)).astype(np.float32),  # ReBRAC's
            "rewards": -rng.integers(0, 2, B).astype(np.float32),
            "masks": np.ones(B, np.float32),
        }

    batches = [jax.device_put(batch()) for _ in range(4)]
    agent = getattr(module, agent_cls).create(
        0, batches[0]["observations"], batches[0]["actions"], config
    )
    t0 = time.perf_counter()
    for i in range(a.warmup):
        agent, info = agent.update(batches[i % 4])
    jax.block_until_ready(agent.network.params)
    compile_s = time.perf_counter() - t0
    rates = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        for i in range(a.steps):
            agent, info = agent.update(batches[i % 4])
        jax.block_until_ready((agent.network.params, info))
        rates.append(a.steps / (time.perf_counter() - t))
    print(json.dumps({"rates": rates, "warmup_s": compile_s, "jax": jax.__version__}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
