"""Equivalence with the official JAX agents, on their own recorded outputs.

``tests/golden/make_golden.py`` ran the official agents (seohongpark/fql, muzhancun/DROL,
muzhancun/DeFlow, nico-espinosadice/SORL)
for one update on a small fixed problem and saved their initial parameters, batch, random
draws, losses, gradients and post-update parameters to ``tests/data/golden_<method>.npz``.
Here each of our agents gets the same parameters (Flax ``Dense`` kernels are ``(in, out)``,
torch ``Linear`` weights ``(out, in)``) and the same draws (the two primitives of
``drol.nn.sampling`` are replaced by a feeder), and must reproduce the losses, the gradients of
the summed loss, one Adam step with the target update, and the evaluation actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import drol.nn.sampling
from drol.agents import make_agent, make_config
from drol.nn.networks import MLP, CriticEnsemble

DATA = Path(__file__).parent / "data"
OBS, ACT, B, HIDDEN, DEPTH = 5, 3, 8, 16, 2
RTOL, ATOL = 1e-5, 1e-6  # float32; reached by every method (see the assertions)

Pair = tuple[Tensor, str, Callable[[np.ndarray], np.ndarray]]


def same(a: np.ndarray) -> np.ndarray:
    return a


def transpose(a: np.ndarray) -> np.ndarray:
    return a.T


def per_member(a: np.ndarray) -> np.ndarray:
    """Flax ensemble ``(n, h)`` -> our broadcastable ``(n, 1, h)``."""
    return a[:, None, :]


def mlp_pairs(mlp: MLP, prefix: str, names: list[str]) -> list[Pair]:
    """``names``: the Flax sub-paths of the hidden layers then the output layer."""
    layers = [*mlp.hidden, mlp.out]
    assert len(layers) == len(names)
    out: list[Pair] = []
    for layer, name in zip(layers, names, strict=True):
        out += [(layer.weight, f"{prefix}/{name}/kernel", transpose)]
        out += [(layer.bias, f"{prefix}/{name}/bias", same)]
    if mlp.norms is not None:
        for i, norm in enumerate(mlp.norms):
            out += [(norm.weight, f"{prefix}/LayerNorm_{i}/scale", same)]
            out += [(norm.bias, f"{prefix}/LayerNorm_{i}/bias", same)]
    return out


def dense_names(n_hidden: int) -> list[str]:
    """A Flax ``MLP((*hidden, out))``: ``Dense_0 .. Dense_n``."""
    return [f"Dense_{i}" for i in range(n_hidden + 1)]


def critic_pairs(critic: CriticEnsemble, prefix: str) -> list[Pair]:
    p = f"{prefix}/value_net"
    out: list[Pair] = []
    for i, (w, b) in enumerate(zip(critic.weights, critic.biases, strict=True)):
        out += [(w, f"{p}/Dense_{i}/kernel", same), (b, f"{p}/Dense_{i}/bias", per_member)]
    assert critic.ln_weights is not None and critic.ln_biases is not None
    for i, (w, b) in enumerate(zip(critic.ln_weights, critic.ln_biases, strict=True)):
        out += [(w, f"{p}/LayerNorm_{i}/scale", per_member)]
        out += [(b, f"{p}/LayerNorm_{i}/bias", per_member)]
    return out


def critics(agent: nn.Module) -> list[Pair]:
    return critic_pairs(agent.critic, "modules_critic") + critic_pairs(
        agent.target_critic, "modules_target_critic"
    )


def value_pairs(agent: nn.Module) -> list[Pair]:
    return mlp_pairs(agent.value, "modules_value/value_net", dense_names(DEPTH))


def gaussian_actor_pairs(mlp: MLP, prefix: str) -> list[Pair]:
    names = [f"actor_net/Dense_{i}" for i in range(DEPTH)] + ["mean_net"]
    return mlp_pairs(mlp, prefix, names)


@dataclass
class Case:
    """One method: its config, the parameter map, loss names, draws used by one update."""

    method: str
    overrides: dict
    pairs: Callable[[nn.Module], list[Pair]]
    losses: dict[str, str]  # our info key -> official info key
    draws_used: int  # the official update's draws our update consumes (the rest: metrics)
    total: str | None = "total"  # compare our info['loss'] with this official scalar
    compare: Callable[[str], bool] = field(default=lambda key: True)  # official keys to check
    golden: str = ""  # the golden file's method, if not ``method``
    grads: bool = True  # the file has the gradients of the summed loss (not SORL: two steps)

    @property
    def file(self) -> str:
        return self.golden or self.method


CASES = {
    "fql": Case(
        "fql",
        {"alpha": 3.0, "q_agg": "min", "flow_steps": 4},
        lambda a: (
            critics(a)
            + mlp_pairs(a.actor_bc_flow, "modules_actor_bc_flow/mlp", dense_names(DEPTH))
            + mlp_pairs(a.actor, "modules_actor_onestep_flow/mlp", dense_names(DEPTH))
        ),
        {
            "critic_loss": "critic/critic_loss",
            "q_mean": "critic/q_mean",
            "actor_loss": "actor/actor_loss",
            "flow_loss": "actor/bc_flow_loss",
            "distill_loss": "actor/distill_loss",
            "q_loss": "actor/q_loss",
            "q": "actor/q",
        },
        draws_used=4,  # critic's next action, x0, t, distillation noise (5th: 'mse' metric)
    ),
    # BC = the official IQL agent with alpha = 0: only its actor is compared
    "bc": Case(
        "bc",
        {},
        lambda a: gaussian_actor_pairs(a.actor, "modules_actor"),
        {"actor_loss": "actor/actor_loss", "bc_log_prob": "actor/bc_log_prob"},
        draws_used=0,
        total=None,
        compare=lambda key: key.startswith("modules_actor/"),
    ),
    "iql": Case(
        "iql",
        {"alpha": 3.0, "expectile": 0.8},
        lambda a: value_pairs(a) + critics(a) + gaussian_actor_pairs(a.actor, "modules_actor"),
        {
            "value_loss": "value/value_loss",
            "v_mean": "value/v_mean",
            "critic_loss": "critic/critic_loss",
            "q_mean": "critic/q_mean",
            "actor_loss": "actor/actor_loss",
            "adv": "actor/adv",
            "bc_log_prob": "actor/bc_log_prob",
        },
        draws_used=0,
    ),
    # actor_freq = 1: every update is the official full_update=True one
    "rebrac": Case(
        "rebrac",
        {"alpha_actor": 0.1, "alpha_critic": 0.05, "actor_freq": 1},
        lambda a: (
            critics(a)
            + gaussian_actor_pairs(a.actor, "modules_actor")
            + gaussian_actor_pairs(a.target_actor, "modules_target_actor")
        ),
        {
            "critic_loss": "critic/critic_loss",
            "q_mean": "critic/q_mean",
            "actor_loss": "actor/total_loss",
            "q_loss": "actor/actor_loss",
            "bc_loss": "actor/bc_loss",
            "mse": "actor/mse",
        },
        draws_used=1,  # the target policy noise
    ),
    "ifql": Case(
        "ifql",
        {"num_samples": 6, "flow_steps": 4, "expectile": 0.8},
        lambda a: (
            value_pairs(a)
            + critics(a)
            + mlp_pairs(a.actor_flow, "modules_actor_flow/mlp", dense_names(DEPTH))
        ),
        {
            "value_loss": "value/value_loss",
            "critic_loss": "critic/critic_loss",
            "actor_loss": "actor/actor_loss",
        },
        draws_used=2,  # x0, t
    ),
}
# DeFlow: the learned Lagrange multiplier (log_alpha) is a parameter like the networks
CASES["deflow"] = Case(
    "deflow",
    {"flow_steps": 4, "q_agg": "min", "normalize_q_loss": True, "target_divergence": 0.01},
    lambda a: (
        critics(a)
        + mlp_pairs(a.actor_bc_flow, "modules_actor_bc_flow/mlp", dense_names(DEPTH))
        + mlp_pairs(a.refine, "modules_refine_onestep_flow/mlp", dense_names(DEPTH))
        + [(a.log_alpha, "modules_log_alpha/value", same)]
    ),
    {
        "critic_loss": "critic/critic_loss",
        "q_mean": "critic/q_mean",
        "actor_loss": "actor/actor_loss",
        "flow_loss": "actor/bc_flow_loss",
        "distill_loss": "actor/distill_loss",
        "q_loss": "actor/q_loss",
        "q": "actor/q",
        "alpha": "actor/alpha_value",
    },
    draws_used=4,  # critic's next-action noise, x0, t, refinement noise (5th: 'mse' metric)
)
# SORL: update() is two clipped Adam steps (critic, then actor); its parameters after both
# steps stand for the gradients
CASES["sorl"] = Case(
    "sorl",
    {"q_agg": "min"},
    lambda a: (
        critics(a)
        + mlp_pairs(a.actor, "modules_actor/mlp", dense_names(DEPTH))
        + mlp_pairs(a.target_actor, "modules_target_actor/mlp", dense_names(DEPTH))
    ),
    {
        "critic_loss": "critic_loss",
        "q_mean": "q_mean",
        "actor_loss": "actor_loss",
        "flow_loss": "bc_flow_loss",
        "consistency_loss": "consistency_loss",
        "q_loss": "q_loss",
        "q": "q",
    },
    draws_used=8,  # (k, noise) for the critic; (t, x0) x 2 and (k, noise) for the actor
    total=None,
    grads=False,
)
DROL_LOSSES = {
    "critic_loss": "critic/critic_loss",
    "q_mean": "critic/q_mean",
    "actor_loss": "actor/actor_loss",
    "bc_loss": "actor/bc_loss",
    "q_loss": "actor/q_loss",
    "q": "actor/q",
}
for impl in ("winner", "full"):  # our routed-winner graph and the official full-K graph
    CASES[f"drol_{impl}"] = Case(
        "drol",
        {"num_candidates": 4, "bc_coef": 0.3, "impl": impl},
        lambda a: (
            critics(a) + mlp_pairs(a.actor, "modules_actor_onestep_flow/mlp", dense_names(DEPTH))
        ),
        DROL_LOSSES,
        draws_used=4,  # ball (normal, uniform) for the next action, then for the K candidates
    )


class Feeder:
    """Stands in for ``drol.nn.sampling.normal``/``uniform``: returns the recorded draws in order."""

    def __init__(self, draws: list[np.ndarray], kinds: list[str]):
        self.draws, self.kinds, self.used = draws, kinds, 0

    def take(self, kind: str, shape: tuple[int, ...]) -> Tensor:
        assert self.used < len(self.draws), f"our agent draws more than the official one ({kind})"
        draw, want = self.draws[self.used], self.kinds[self.used]
        assert want == kind, f"draw {self.used}: official {want}, ours {kind}"
        assert draw.size == int(np.prod(shape)), f"draw {self.used}: {draw.shape} vs {shape}"
        self.used += 1
        return torch.from_numpy(draw.copy()).reshape(shape)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(
            drol.nn.sampling,
            "host_integer",
            lambda high, rng: int(self.take("randint", ()).item()),
        )
        monkeypatch.setattr(
            drol.nn.sampling,
            "integers",
            lambda high, shape, *a, **k: self.take("randint", shape).float(),
        )
        monkeypatch.setattr(
            drol.nn.sampling, "normal", lambda shape, *a, **k: self.take("normal", shape)
        )
        monkeypatch.setattr(
            drol.nn.sampling, "uniform", lambda shape, *a, **k: self.take("uniform", shape)
        )


def load(method: str) -> dict[str, np.ndarray]:
    with np.load(DATA / f"golden_{method}.npz") as f:
        return {k: f[k] for k in f.files}


def draws(g: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    n = sum(1 for k in g if k.startswith(prefix))
    return [g[f"{prefix}{i}"] for i in range(n)]


def build(case: Case, g: dict[str, np.ndarray]) -> tuple[nn.Module, list[Pair]]:
    cfg = make_config(
        case.method, {"hidden": HIDDEN, "depth": DEPTH, "batch_size": B, **case.overrides}
    )
    agent = make_agent(case.method, OBS, ACT, cfg, seed=0)
    pairs = case.pairs(agent)
    assert {id(p) for p, *_ in pairs} == {id(p) for p in agent.parameters()}, (
        "the map must cover every parameter of ours"
    )
    official = {k[len("p0/") :] for k in g if k.startswith("p0/")}
    assert {k for _, k, _ in pairs} == {k for k in official if case.compare(k)}, (
        "the map must cover every compared official parameter"
    )
    with torch.no_grad():
        for p, key, fn in pairs:
            p.copy_(torch.from_numpy(fn(g[f"p0/{key}"]).copy()))
    return agent, pairs


def close(ours: Tensor, theirs: np.ndarray, what: str) -> None:
    torch.testing.assert_close(
        ours.detach().float(), torch.from_numpy(np.asarray(theirs, dtype=np.float32)),
        rtol=RTOL, atol=ATOL, msg=lambda m: f"{what}: {m}",
    )  # fmt: skip


@pytest.mark.parametrize("method", sorted(CASES))
def test_one_update_matches_the_official_agent(method, monkeypatch):
    case = CASES[method]
    g = load(case.file)
    agent, pairs = build(case, g)
    batch = {
        k[len("batch/") :]: torch.from_numpy(v) for k, v in g.items() if k.startswith("batch/")
    }
    feeder = Feeder(draws(g, "draw/"), [str(k) for k in g["draw_kind"]])
    feeder.install(monkeypatch)
    info = agent.update(batch)
    assert feeder.used == case.draws_used
    for ours, theirs in case.losses.items():
        close(info[ours], g[f"loss/{theirs}"], ours)
    if case.total is not None:
        close(info["loss"], g[case.total], "total loss")
    for p, key, fn in pairs:
        if not case.compare(key):
            continue
        grad = g.get(f"g/{key}")
        if p.requires_grad and case.grads:
            assert p.grad is not None or not np.any(grad), f"no gradient for {key}"
            if p.grad is not None:
                close(p.grad, fn(grad), f"grad {key}")
        close(p, fn(g[f"p1/{key}"]), f"updated {key}")


@pytest.mark.parametrize("method", sorted(CASES))
def test_evaluation_actions_match_the_official_sampler(method, monkeypatch):
    case = CASES[method]
    g = load(case.file)
    agent, _ = build(case, g)
    feeder = Feeder(draws(g, "act/draw/"), [str(k) for k in g["act/draw_kind"]])
    obs = torch.from_numpy(g["batch/observations"])
    feeder.install(monkeypatch)
    want = g["act/actions"]
    got = agent.act(obs[:1] if want.ndim == 1 else obs)
    close(got.reshape(want.shape), want, "evaluation actions")


def test_rebrac_actor_freq_schedule_matches_the_official_main_loop(monkeypatch):
    """Three updates at ``actor_freq = 2`` (critic only, full, critic only): the actor's zero
    gradient still steps Adam (shared step count, momentum), as in the single optax state."""
    g = load("rebrac")
    case = replace(CASES["rebrac"], overrides={**CASES["rebrac"].overrides, "actor_freq": 2})
    agent, pairs = build(case, g)
    batch = {
        k[len("batch/") :]: torch.from_numpy(v) for k, v in g.items() if k.startswith("batch/")
    }
    feeder = Feeder(draws(g, "seq/draw/"), [str(k) for k in g["seq/draw_kind"]])
    feeder.install(monkeypatch)
    for _ in range(3):
        agent.update(batch)
    assert feeder.used == len(feeder.draws) == 3
    for p, key, fn in pairs:
        close(p, fn(g[f"seq/p3/{key}"]), f"after 3 updates {key}")
