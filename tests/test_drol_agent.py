"""DROL / static / FQL agents: the math of the official code and the classic port bugs."""

from __future__ import annotations

import copy

import pytest
import torch

from drol.agents import make_agent, make_config
from drol.agents.drol import DROLAgent
from drol.nn.sampling import sample_ball

OBS, ACT, B = 7, 3, 32


def small(method="drol", **over):
    cfg = make_config(method, {"hidden": 32, "depth": 2, "batch_size": B, **over})
    return make_agent(method, OBS, ACT, cfg, seed=0, num_data=100)


def batch(seed=0, n=B):
    g = torch.Generator().manual_seed(seed)
    return {
        "observations": torch.randn(n, OBS, generator=g),
        "next_observations": torch.randn(n, OBS, generator=g),
        "actions": torch.rand(n, ACT, generator=g) * 2 - 1,
        "rewards": -torch.rand(n, generator=g),
        "masks": torch.ones(n),
        "indices": torch.randint(0, 100, (n,), generator=g),
    }


def test_ball_sampler_radius_and_second_moment():
    d = 5
    z = sample_ball((200_000, d), generator=torch.Generator().manual_seed(0))
    R2 = float(d)  # radius sqrt(d)
    norms2 = z.pow(2).sum(-1)
    assert norms2.max() <= R2 + 1e-4
    assert norms2.mean().item() == pytest.approx(d / (d + 2) * R2, rel=0.01)


def test_routing_picks_nearest_candidate():
    cand = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]]])
    d2, idx = DROLAgent.route(cand, torch.tensor([[0.9, 0.8]]))
    assert idx.item() == 1
    assert d2[0, 1].item() == pytest.approx(((0.1**2) + (0.2**2)) / 2)
    _, idx = DROLAgent.route(cand, torch.tensor([[-0.8, 0.4]]))
    assert idx.item() == 2


def test_only_the_winner_gets_gradient():
    agent = small(impl="full", q_coef=1.0)
    b = batch()
    obs, act = b["observations"], b["actions"]
    z = agent.sample_latents(B, 8)
    cand = agent.actor(obs.repeat_interleave(8, 0), z.reshape(-1, ACT)).reshape(B, 8, ACT)
    cand.retain_grad()
    clipped = cand.clamp(-1, 1)
    d2 = (clipped - act[:, None]).pow(2).sum(-1) / ACT
    idx = d2.argmin(1)
    q = (
        agent.critic(obs.repeat_interleave(8, 0), clipped.reshape(-1, ACT), frozen=True)
        .min(0)
        .values
    )
    loss = d2.gather(1, idx[:, None]).mean() - q.reshape(B, 8).gather(1, idx[:, None]).mean()
    loss.backward()
    grad_norm = cand.grad.norm(dim=-1)  # (B, K)
    winner = torch.zeros_like(grad_norm, dtype=torch.bool)
    winner[torch.arange(B), idx] = True
    assert torch.all(grad_norm[~winner] == 0)
    assert torch.all(grad_norm[winner] > 0)


@pytest.mark.parametrize("K", [1, 4, 16])
def test_winner_recompute_equals_full_graph_gradients(K):
    full = small(impl="full", num_candidates=K)
    fast = small(impl="winner", num_candidates=K)
    fast.load_state_dict(full.state_dict())
    b = batch(1)
    grads = []
    for agent in (full, fast):
        agent.generator.manual_seed(123)  # same latents
        agent.optimizer.zero_grad()
        loss, info = agent.actor_loss(b, diagnostics=False)
        loss.backward()
        grads.append(
            ({n: p.grad.clone() for n, p in agent.actor.named_parameters()}, loss.detach())
        )
    (g_full, l_full), (g_fast, l_fast) = grads
    assert l_full.item() == pytest.approx(l_fast.item(), rel=1e-5, abs=1e-6)
    for name in g_full:
        torch.testing.assert_close(g_fast[name], g_full[name], rtol=1e-4, atol=1e-6)


def test_bf16_candidate_pass_keeps_routing():
    a32 = small(num_candidates=16)
    a16 = small(num_candidates=16, candidate_dtype="bfloat16")
    a16.load_state_dict(a32.state_dict())
    b = batch(2, n=256)
    a32.generator.manual_seed(9)
    a16.generator.manual_seed(9)
    z32 = a32.winner_latents(b)[0]
    z16 = a16.winner_latents(b)[0]
    assert torch.equal(z32, z16)


@pytest.mark.parametrize("method", ["drol", "drol_static", "fql"])
def test_actor_loss_never_changes_critic_but_q_reaches_actor(method):
    agent = small(method, **({"bc_coef": 0.0} if method != "fql" else {"alpha": 0.0}))
    loss, _ = agent.actor_loss(batch(), diagnostics=False)
    agent.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for p in agent.critic.parameters():
        assert p.grad is None or torch.all(p.grad == 0)
    actor = agent.actor
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())


def test_target_values_carry_no_gradient_and_target_lags_one_step():
    agent = small()
    before_critic = copy.deepcopy(agent.critic.state_dict())
    before_target = copy.deepcopy(agent.target_critic.state_dict())
    loss, _ = agent.critic_loss(batch())
    loss.backward()
    assert all(p.grad is None for p in agent.target_critic.parameters())
    assert all(p.grad is None for p in agent.actor.parameters())  # next actions are no_grad
    agent.optimizer.zero_grad()
    agent.update(batch())
    tau = agent.cfg.tau
    for name, p in agent.target_critic.state_dict().items():
        expected = tau * before_critic[name] + (1 - tau) * before_target[name]
        torch.testing.assert_close(p, expected)
        assert not torch.equal(agent.critic.state_dict()[name], before_critic[name]) or "ln" in name


def test_fql_teacher_is_detached():
    agent = small("fql")
    b = batch()
    z = agent.noise(B)
    target = agent.teacher_actions(b["observations"], z)
    assert not target.requires_grad
    loss, _ = agent.actor_loss(b, diagnostics=False)
    agent.optimizer.zero_grad(set_to_none=True)
    # with alpha only, the flow net must get gradient only from its own flow loss
    loss.backward()
    flow_grads = [p.grad.clone() for p in agent.actor_bc_flow.parameters()]
    agent2 = small("fql", alpha=0.0)
    agent2.load_state_dict(agent.state_dict())
    agent2.generator.set_state(agent.generator.get_state())
    agent.generator.manual_seed(4)
    agent2.generator.manual_seed(4)
    for a in (agent, agent2):
        a.optimizer.zero_grad(set_to_none=True)
        a.actor_loss(b, diagnostics=False)[0].backward()
    for p1, p2 in zip(
        agent.actor_bc_flow.parameters(), agent2.actor_bc_flow.parameters(), strict=True
    ):
        torch.testing.assert_close(p1.grad, p2.grad)  # alpha does not reach the teacher
    assert any(g.abs().sum() > 0 for g in flow_grads)


def test_static_routing_keeps_owner():
    agent = small("drol_static", num_candidates=8)
    b = batch(3)
    agent.update(b)
    first = agent.assigned_latents[b["indices"]].clone()
    for _ in range(3):
        agent.update(b)
    torch.testing.assert_close(agent.assigned_latents[b["indices"]], first)
    assert agent.assigned[b["indices"]].all()


def test_k1_works_and_policy_is_clipped():
    agent = small(num_candidates=1)
    info = agent.update(batch(), diagnostics=True)
    assert torch.isfinite(info["loss"])
    assert info["routing_entropy"].item() == pytest.approx(0.0, abs=1e-6)
    a = agent.act(torch.randn(5, OBS) * 100)
    assert a.abs().max() <= 1.0


def _routed_bc(protos: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """J(protos) = E_a min_k |p_k - a|^2 with DROL's routing; protos (..., K), a (N,)."""
    cand = protos.reshape(-1, protos.shape[-1], 1)
    d2 = (cand.unsqueeze(1) - a.reshape(1, -1, 1, 1)).pow(2).sum(-1)  # (C, N, K)
    return d2.min(-1).values.mean(-1)


def test_proposition_4_1_global_minimizer_has_one_prototype_per_interval():
    """1-D, M = K = 3 separated intervals: J's global minimizer (grid search) covers each interval."""
    centers, r = torch.tensor([-0.6, 0.0, 0.6]), 0.1  # gaps 0.6 > 4r
    a = (centers[:, None] + torch.linspace(-r, r, 41)[None]).reshape(-1)
    grid = torch.linspace(-1, 1, 41)
    triples = torch.cartesian_prod(grid, grid, grid)
    triples = triples[(triples[:, 0] <= triples[:, 1]) & (triples[:, 1] <= triples[:, 2])]
    J = torch.cat([_routed_bc(chunk, a) for chunk in triples.split(2048)])
    best = triples[J.argmin()]
    assert torch.all((best - centers).abs() <= r), best
    collapsed = torch.tensor([[-0.65, -0.55, 0.3]])  # two in I1, none in I3
    assert _routed_bc(collapsed, a).item() > J.min().item() + 0.01


def test_proposition_4_1_winner_only_updates_reach_one_candidate_per_interval():
    """The DROL update (route, then BC on the winner only) spreads K = M candidates over the intervals."""
    torch.manual_seed(0)
    centers, r = torch.tensor([-0.6, 0.0, 0.6]), 0.1
    protos = torch.nn.Parameter(torch.tensor([[-0.3], [0.1], [0.9]]))  # spread, not yet matched
    opt = torch.optim.Adam([protos], lr=0.01)
    for _ in range(1500):
        m = torch.randint(0, 3, (256,))
        act = (centers[m] + (torch.rand(256) * 2 - 1) * r)[:, None]
        d2, idx = DROLAgent.route(protos.expand(256, 3, 1), act)
        loss = d2.gather(1, idx[:, None]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = protos.detach().squeeze(1).sort().values
    assert torch.all((final - centers).abs() <= r), final
