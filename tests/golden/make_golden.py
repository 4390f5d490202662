"""Record one update of the official JAX agents as golden data for ``tests/test_golden.py``.

For each method this runs the *official* agent (seohongpark/fql for fql, iql, rebrac, ifql
and bc; muzhancun/DROL for drol; muzhancun/DeFlow for deflow; nico-espinosadice/SORL for sorl) on one small fixed problem
(obs 5, action 3, hidden (16, 16), batch 8) and saves to ``tests/data/golden_<method>.npz``:

- ``p0/<flax path>``: every parameter before the update (targets included),
- ``batch/<key>``: the batch,
- ``draw/<i>`` (+ ``draw_kind``): every ``jax.random.normal``/``uniform`` output the update
  consumes, in call order (captured by wrapping those two functions, jit disabled),
- ``loss/<info key>``: the logged losses, ``total``: the summed loss,
- ``g/<flax path>``: gradients of the total loss w.r.t. all parameters,
- ``p1/<flax path>``: every parameter after ``agent.update(batch)`` (Adam + target EMA),
- ``act/*``: the evaluation actions (``sample_actions`` at the evaluation temperature 0),
- ReBRAC only, ``seq/*``: three updates on the batch with ``main.py``'s schedule
  (``full_update = i % actor_freq == 0``, i = 1, 2, 3): the draws and the final parameters.

BC: the FQL repository has no BC agent; the FQL paper's BC is Gaussian maximum likelihood,
i.e. the official IQL agent's AWR actor with ``alpha=0`` (weights ``exp(0) = 1``). Its
golden file is that agent; the test compares the actor part.

This script runs the official code (it is not part of ``drol``) and is not run by CI::

    git clone -q https://github.com/seohongpark/fql /work/ref/fql
    git clone -q https://github.com/muzhancun/DROL /work/ref/drol
    git clone -q https://github.com/muzhancun/DeFlow /work/ref/deflow  # at 5830f0e
    git clone -q https://github.com/nico-espinosadice/SORL /work/ref/sorl  # at cc060ac
    /work/venvs/jax/bin/python tests/golden/make_golden.py \\
        --fql /work/ref/fql --drol /work/ref/drol [--deflow /work/ref/deflow] [--sorl /work/ref/sorl] [--methods ...]

Each method runs in a subprocess with its repository first on ``sys.path`` (both
repositories have top-level ``agents`` and ``utils`` packages).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

OBS, ACT, B, HIDDEN, SEED = 5, 3, 8, (16, 16), 7
OUT = Path(__file__).resolve().parents[1] / "data"

# method -> (repository flag, agent module, config overrides)
METHODS: dict[str, tuple[str, str, dict]] = {
    "fql": ("fql", "agents.fql", {"alpha": 3.0, "q_agg": "min", "flow_steps": 4}),
    "bc": ("fql", "agents.iql", {"alpha": 0.0}),
    "iql": ("fql", "agents.iql", {"alpha": 3.0, "expectile": 0.8}),
    "rebrac": ("fql", "agents.rebrac", {"alpha_actor": 0.1, "alpha_critic": 0.05}),
    "ifql": ("fql", "agents.ifql", {"num_samples": 6, "flow_steps": 4, "expectile": 0.8}),
    "drol": ("drol", "agents.drol", {"num_candidates": 4, "bc_coef": 0.3}),
    "sorl": (
        "sorl",
        "agents.sorl",
        {
            "actor_layer_size": HIDDEN[0],
            "actor_num_layers": len(HIDDEN),
            "value_layer_size": HIDDEN[0],
            "value_num_layers": len(HIDDEN),
            "q_agg": "min",
        },
    ),
    "deflow": (
        "deflow",
        "agents.deflow",
        {"flow_steps": 4, "q_agg": "min", "normalize_q_loss": True, "target_divergence": 0.01},
    ),
}


def make_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    f = np.float32
    return {
        "observations": rng.normal(size=(B, OBS)).astype(f),
        "actions": rng.uniform(-0.9, 0.9, size=(B, ACT)).astype(f),
        "next_observations": rng.normal(size=(B, OBS)).astype(f),
        "next_actions": rng.uniform(-0.9, 0.9, size=(B, ACT)).astype(f),
        "rewards": rng.uniform(-1, 0, size=(B,)).astype(f),
        "masks": (rng.uniform(size=(B,)) > 0.25).astype(f),
    }


def run_one(method: str) -> None:
    """Runs inside the subprocess: the official repository is on ``sys.path``."""
    import flax
    import jax
    import jax.numpy as jnp

    _, module_name, overrides = METHODS[method]
    module = importlib.import_module(module_name)
    agent_cls = next(
        v
        for k, v in vars(module).items()
        if k.endswith("Agent") and isinstance(v, type) and hasattr(v, "create")
    )
    config = module.get_config()
    config["actor_hidden_dims"] = HIDDEN
    config["value_hidden_dims"] = HIDDEN
    for k, v in overrides.items():
        config[k] = v

    batch_np = make_batch(np.random.default_rng(SEED))
    batch = {k: jnp.asarray(v) for k, v in batch_np.items()}
    agent = agent_cls.create(SEED, batch["observations"], batch["actions"], dict(config))

    draws: list[np.ndarray] = []
    kinds: list[str] = []
    normal, uniform = jax.random.normal, jax.random.uniform

    def rec_normal(*a, **kw):
        out = normal(*a, **kw)
        if not isinstance(out, jax.core.Tracer):  # SORL's vmapped sampler: recomputed
            draws.append(np.asarray(out))
            kinds.append("normal")
        return out

    def rec_uniform(*a, **kw):
        out = uniform(*a, **kw)
        draws.append(np.asarray(out))
        kinds.append("uniform")
        return out

    randint = jax.random.randint

    def rec_randint(*a, **kw):
        out = randint(*a, **kw)
        if not isinstance(out, jax.core.Tracer):  # SORL's vmapped sampler: recomputed
            draws.append(np.asarray(out))
            kinds.append("randint")
        return out

    jax.random.normal, jax.random.uniform, jax.random.randint = rec_normal, rec_uniform, rec_randint
    if method == "sorl":
        run_sorl(agent, batch, batch_np, draws, kinds, out_path=OUT / "golden_sorl.npz")
        return
    flat = flax.traverse_util.flatten_dict
    out: dict[str, np.ndarray] = {}
    extra = {"full_update": True} if method == "rebrac" else {}
    with jax.disable_jit():
        p0 = agent.network.params
        out.update({f"p0/{'/'.join(k)}": np.asarray(v) for k, v in flat(p0).items()})
        out.update({f"batch/{k}": v for k, v in batch_np.items()})
        _, rng = jax.random.split(agent.rng)  # what update() passes to total_loss

        def loss_fn(params):
            return agent.total_loss(batch, params, rng=rng, **extra)

        (total, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(p0)
        first = list(draws)
        out.update({f"g/{'/'.join(k)}": np.asarray(v) for k, v in flat(grads).items()})
        out["total"] = np.asarray(total)
        out.update({f"loss/{k}": np.asarray(v) for k, v in info.items()})
        draws.clear()
        kinds_first = list(kinds)
        kinds.clear()
        new_agent, _ = agent.update(batch, **extra)
        assert len(draws) == len(first) and all(
            np.array_equal(a, b) for a, b in zip(draws, first, strict=True)
        ), "update() consumed different random draws than total_loss()"
        out.update(
            {f"p1/{'/'.join(k)}": np.asarray(v) for k, v in flat(new_agent.network.params).items()}
        )
        for i, d in enumerate(first):
            out[f"draw/{i}"] = d
        out["draw_kind"] = np.array(kinds_first)

        # evaluation actions (utils/evaluation.py samples with temperature 0)
        draws.clear()
        kinds.clear()
        seed = jax.random.PRNGKey(SEED + 1)
        # the official IFQL sampler ranks the N samples of one state
        obs = batch["observations"][0] if method == "ifql" else batch["observations"]
        act = agent.sample_actions(obs, seed=seed, temperature=0.0)
        out["act/actions"] = np.asarray(act)
        for i, d in enumerate(draws):
            out[f"act/draw/{i}"] = d
        out["act/draw_kind"] = np.array(kinds)

        if method == "rebrac":  # main.py's schedule: full_update = (i % actor_freq == 0)
            draws.clear()
            kinds.clear()
            seq = agent
            for i in range(1, 4):
                seq, _ = seq.update(batch, full_update=i % config["actor_freq"] == 0)
            out.update(
                {
                    f"seq/p3/{'/'.join(k)}": np.asarray(v)
                    for k, v in flat(seq.network.params).items()
                }
            )
            for i, d in enumerate(draws):
                out[f"seq/draw/{i}"] = d
            out["seq/draw_kind"] = np.array(kinds)
    np.savez_compressed(OUT / f"golden_{method}.npz", **out)
    size = (OUT / f"golden_{method}.npz").stat().st_size
    print(f"{method}: {len(first)} draws, total loss {float(total):.6f}, {size / 1024:.0f} KB")


def run_sorl(agent, batch, batch_np, draws, kinds, out_path) -> None:
    """SORL: its ``update()`` takes two Adam steps (critic, then actor) with other random
    splits than ``total_loss()``, so only ``update()`` is recorded: its draws, the logged
    losses, the parameters before and after. Evaluation: ``sample_actions`` at k = 1, n = 1
    (main.py's ``evaluation/``); its noise is drawn under ``vmap``, recomputed here."""
    import flax
    import jax

    flat = flax.traverse_util.flatten_dict
    out: dict[str, np.ndarray] = {}
    with jax.disable_jit():
        p0 = agent.network.params
        out.update({f"p0/{'/'.join(k)}": np.asarray(v) for k, v in flat(p0).items()})
        out.update({f"batch/{k}": v for k, v in batch_np.items()})
        new_agent, info = agent.update(batch)
        out.update({f"loss/{k}": np.asarray(v) for k, v in info.items()})
        out.update(
            {f"p1/{'/'.join(k)}": np.asarray(v) for k, v in flat(new_agent.network.params).items()}
        )
        for i, d in enumerate(draws):
            out[f"draw/{i}"] = d
        out["draw_kind"] = np.array(kinds)
        n_update = len(draws)
    seed = jax.random.PRNGKey(SEED + 1)
    n_before = len(draws)
    act = agent.sample_actions(batch["observations"], seed=seed, inference_timesteps=1, n=1)
    assert len(draws) == n_before, "the sampler's draws are traced (vmap), not recorded"
    out["act/actions"] = np.asarray(act)
    key = jax.random.split(seed, 1)[0]
    out["act/draw/0"] = np.asarray(jax.random.normal(key, batch_np["actions"].shape))
    out["act/draw_kind"] = np.array(["normal"])
    np.savez_compressed(out_path, **out)
    print(f"sorl: {n_update} draws, {out_path.stat().st_size / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fql", type=Path, required=True, help="seohongpark/fql checkout")
    parser.add_argument("--drol", type=Path, required=True, help="muzhancun/DROL checkout")
    parser.add_argument("--deflow", type=Path, help="muzhancun/DeFlow checkout (for deflow)")
    parser.add_argument("--sorl", type=Path, help="nico-espinosadice/SORL checkout (for sorl)")
    parser.add_argument("--methods", nargs="*", default=None, help="default: every method")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    repos = {"fql": args.fql.resolve(), "drol": args.drol.resolve()}
    for name in ("deflow", "sorl"):
        if getattr(args, name) is not None:
            repos[name] = getattr(args, name).resolve()
    chosen = (
        args.methods if args.methods is not None else [m for m in METHODS if METHODS[m][0] in repos]
    )
    for method in chosen:
        if method not in METHODS:
            parser.error(f"unknown method {method!r} (known: {', '.join(METHODS)})")
        if METHODS[method][0] not in repos:
            parser.error(f"{method} needs --{METHODS[method][0]} (the official checkout)")
        repo = repos[METHODS[method][0]]
        code = (
            f"import sys; sys.path.insert(0, {str(repo)!r}); sys.argv = {sys.argv[:1]!r} + "
            f"['--fql', '.', '--drol', '.', '--one', {method!r}]; "
            f"sys.path.insert(1, {str(Path(__file__).parent)!r}); "
            "import make_golden; make_golden.main()"
        )
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            cwd=repo,
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
        )


if __name__ == "__main__":
    main()
