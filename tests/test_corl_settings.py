"""The capabilities CORL's D4RL configs need, each alone: observation normalisation (train and
evaluation), reward scaling, actor dropout, the actor's cosine learning-rate schedule, a learned
std with a tanh mean, a separate critic learning rate, ReLU networks; and how the workflow
gives the D4RL BC/IQL/ReBRAC runs CORL's steps and evaluation episodes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from snakemake.utils import validate

from drol.agents import make_agent, make_config
from drol.agents.iql import cosine_lr
from drol.cli import main
from drol.data.transforms import OBS_STD_EPS, ObsNormalizer, prepare_data
from drol.nn.networks import MLP, CriticEnsemble, GaussianActor
from drol.workflow_config import run_defaults

ROOT = Path(__file__).resolve().parents[1]


def _split(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = (rng.normal(size=(n, 3)) * [1.0, 10.0, 0.0] + [5.0, -2.0, 7.0]).astype(np.float32)
    return {
        "observations": obs,
        "next_observations": obs + 1.0,
        "rewards": rng.normal(size=n).astype(np.float32),
    }


def _settings(**kw) -> SimpleNamespace:
    base = {"obs_norm": False, "reward_scale": 1.0, "reward_bias": 0.0}
    return SimpleNamespace(**(base | kw))


# ---------------------------------------------------------------- data transforms


def test_obs_norm_uses_the_train_split_statistics_in_every_split():
    data = SimpleNamespace(train=_split(500, 0), val=_split(50, 1))
    raw_train, raw_val = dict(data.train), dict(data.val)
    norm = prepare_data(data, _settings(obs_norm=True))
    assert norm is not None
    mean, std = raw_train["observations"].mean(0), raw_train["observations"].std(0) + OBS_STD_EPS
    np.testing.assert_allclose(norm.mean, mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.std, std, rtol=1e-5)
    for split, raw in ((data.train, raw_train), (data.val, raw_val)):
        for key in ("observations", "next_observations"):
            np.testing.assert_allclose(split[key], (raw[key] - mean) / std, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(split["rewards"], raw["rewards"])
    # a constant dimension is divided by eps, not by zero
    assert np.isfinite(data.train["observations"]).all()
    np.testing.assert_allclose(norm.std[2], OBS_STD_EPS, rtol=1e-3)


def test_reward_scale_and_bias():
    data = SimpleNamespace(train=_split(20, 0), val=None)
    raw = data.train["rewards"].copy()
    assert prepare_data(data, _settings(reward_scale=100.0, reward_bias=100.0)) is None
    np.testing.assert_allclose(data.train["rewards"], 100.0 * raw + 100.0, rtol=1e-6)
    assert data.train["rewards"].dtype == np.float32


def test_defaults_change_nothing():
    data = SimpleNamespace(train=_split(20, 0), val=_split(5, 1))
    before = {k: v.copy() for k, v in data.train.items()}
    assert prepare_data(data, _settings()) is None
    for k, v in before.items():
        np.testing.assert_array_equal(data.train[k], v)


def test_the_evaluation_policy_sees_normalised_observations():
    norm = ObsNormalizer(np.array([1.0, 2.0], np.float32), np.array([2.0, 4.0], np.float32))
    seen = []
    act = norm.wrap(lambda obs: seen.append(obs) or obs)
    act(torch.tensor([[3.0, 10.0]]))
    torch.testing.assert_close(seen[0], torch.tensor([[1.0, 2.0]]))


def test_a_run_with_obs_norm_evaluates_through_the_normaliser(
    tiny_pointmaze, tmp_path, monkeypatch
):
    """End to end: the policy sees each environment state normalised by the train split's
    statistics (recorded on both sides of the evaluation's act)."""
    import drol.train.evaluation as evaluation
    from drol.agents.bc import BCAgent
    from drol.envs import load_task
    from drol.tasks import parse_task

    task = "pointmaze-medium-navigate-singletask-task1-v0"
    from_env: list[torch.Tensor] = []
    to_agent: list[torch.Tensor] = []
    original_act, original_evaluate = BCAgent.act, evaluation.evaluate
    monkeypatch.setattr(
        BCAgent, "act", lambda self, obs: to_agent.append(obs) or original_act(self, obs)
    )
    monkeypatch.setattr(
        evaluation,
        "evaluate",
        lambda env, act, *a, **k: original_evaluate(
            env, lambda obs: from_env.append(obs) or act(obs), *a, **k
        ),
    )
    args = [
        "train", "--task", task, "--method", "bc", "--seed", "0", "--steps", "20",
        "--eval-every", "20", "--eval-episodes", "1", "--data-dir", str(tiny_pointmaze.parent),
        "--out", str(tmp_path / "run"), "--threads", "1", "--set", "hidden=16",
        "--set", "batch_size=8", "--set", "obs_norm=true",
    ]  # fmt: skip
    assert main(args) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["agent"]["obs_norm"]
    train = load_task(parse_task(task), tiny_pointmaze.parent).train["observations"]
    norm = ObsNormalizer.fit(train)
    assert len(from_env) == len(to_agent) > 1
    for raw, seen in zip(from_env, to_agent, strict=True):
        np.testing.assert_allclose(seen.numpy(), norm(raw.numpy()), rtol=1e-4, atol=1e-4)
    assert not np.allclose(to_agent[0].numpy(), from_env[0].numpy())


# ---------------------------------------------------------------- networks


def test_relu_activation_is_relu():
    torch.manual_seed(0)
    mlp = MLP(3, (4,), 2, activation="relu")
    x = torch.randn(5, 3)
    expected = mlp.out(torch.relu(mlp.hidden[0](x)))
    torch.testing.assert_close(mlp(x), expected)
    critic = CriticEnsemble(3, 1, (4,), n=2, layer_norm=False, activation="relu")
    obs, act = torch.randn(5, 3), torch.randn(5, 1)
    h = torch.cat([obs, act], -1)
    w0, b0, w1, b1 = (
        critic.weights[0][0],
        critic.biases[0][0],
        critic.weights[1][0],
        critic.biases[1][0],
    )
    torch.testing.assert_close(critic(obs, act)[0], (torch.relu(h @ w0 + b0) @ w1 + b1).squeeze(-1))


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    actor = GaussianActor(3, 2, (64, 64), dropout=0.5)
    x = torch.randn(4, 3)
    assert not torch.equal(actor(x), actor(x))  # two masks
    actor.eval()
    torch.testing.assert_close(actor(x), actor(x))
    assert GaussianActor(3, 2, (8,)).dropout is None  # the official actor: none


def test_bc_act_switches_dropout_off_and_back():
    cfg = make_config("bc", {"hidden": 64, "depth": 2, "actor_dropout": 0.5})
    agent = make_agent("bc", 3, 2, cfg)
    x = torch.randn(4, 3)
    torch.testing.assert_close(agent.act(x), agent.act(x))
    assert agent.actor.training  # training mode restored for the next update


def test_learned_std_and_tanh_mean_log_prob():
    torch.manual_seed(0)
    actor = GaussianActor(3, 2, (8,), tanh_mean=True, learned_std=True)
    with torch.no_grad():
        actor.log_std.copy_(torch.tensor([-0.5, 0.3]))
    x, a = torch.randn(6, 3), torch.rand(6, 2) * 2 - 1
    mean = torch.tanh(MLP.forward(actor, x))
    expected = torch.distributions.Normal(mean, actor.log_std.exp()).log_prob(a).sum(-1)
    torch.testing.assert_close(actor.log_prob(x, a), expected)
    assert actor(x).abs().max() <= 1.0
    assert actor.log_std.requires_grad


# ---------------------------------------------------------------- optimiser


def test_critic_lr_is_a_second_adam_group():
    cfg = make_config("rebrac", {"hidden": 8, "depth": 2, "critic_lr": 5e-5})
    agent = make_agent("rebrac", 3, 2, cfg)
    actor_group, critic_group = agent.optimizer.param_groups
    critic_ids = {id(p) for p in agent.critic.parameters()}
    assert {id(p) for p in critic_group["params"]} == critic_ids
    assert critic_group["lr"] == 5e-5 and actor_group["lr"] == cfg.lr
    assert not critic_ids & {id(p) for p in actor_group["params"]}
    one = make_agent("rebrac", 3, 2, make_config("rebrac", {"hidden": 8, "depth": 2}))
    assert len(one.optimizer.param_groups) == 1  # the official single optimiser


def _batch(n: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "observations": torch.randn(n, 3, generator=g),
        "actions": torch.rand(n, 2, generator=g) * 2 - 1,
        "next_observations": torch.randn(n, 3, generator=g),
        "rewards": torch.randn(n, generator=g),
        "masks": torch.ones(n),
    }


def test_iql_actor_lr_follows_torch_cosine_annealing():
    total = 5
    cfg = make_config("iql", {"hidden": 8, "depth": 2, "actor_lr_decay_steps": total})
    agent = make_agent("iql", 3, 2, cfg)
    # the reference: torch's CosineAnnealingLR, as CORL steps it after each actor update
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, total)
    used = []
    for _ in range(total):
        used.append(ref_opt.param_groups[0]["lr"])
        ref_opt.step()
        sched.step()
    ours = []
    before = [p.detach().clone() for p in agent.actor.parameters()]
    for _ in range(total):
        agent.update(_batch())
        ours.append(float(agent.optimizer.param_groups[0]["lr"]))
        assert agent.optimizer.param_groups[1]["lr"] == cfg.lr  # the critic's stays
    np.testing.assert_allclose(ours, used, rtol=1e-6)
    assert ours[0] == pytest.approx(cfg.lr) and ours[-1] < 0.11 * cfg.lr
    assert cosine_lr(1.0, total, total) == pytest.approx(0.0, abs=1e-12)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.actor.parameters(), strict=True))
    # a resume continues the schedule where it stopped
    state = agent.training_state()
    fresh = make_agent("iql", 3, 2, cfg)
    fresh.load_training_state(state)
    assert fresh.host_updates == total


def test_iql_without_schedule_keeps_one_group():
    agent = make_agent("iql", 3, 2, make_config("iql", {"hidden": 8, "depth": 2}))
    assert len(agent.optimizer.param_groups) == 1
    agent.update(_batch())
    assert agent.optimizer.param_groups[0]["lr"] == 3e-4


def test_cosine_lr_formula():
    assert cosine_lr(2.0, 0, 10) == 2.0
    assert cosine_lr(2.0, 5, 10) == pytest.approx(1.0)
    assert cosine_lr(2.0, 10, 10) == pytest.approx(0.0, abs=1e-12)
    assert math.isclose(cosine_lr(1.0, 3, 12), 0.5 * (1 + math.cos(math.pi / 4)))


# ---------------------------------------------------------------- the workflow's run settings


def _config(**d4rl) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text()) or {}
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    cfg["d4rl"].update(d4rl)
    return cfg


def test_d4rl_baselines_run_as_corl():
    cfg = _config()
    pen = run_defaults(cfg, "iql", "pen-human-v1")
    assert pen["steps"] == 1_000_000 and pen["eval_episodes"] == 10
    assert pen["set"] == {"actor_lr_decay_steps": 1_000_000}
    assert run_defaults(cfg, "rebrac", "antmaze-umaze-v2")["eval_episodes"] == 100
    assert run_defaults(cfg, "bc", "antmaze-umaze-v2")["set"] == {}
    # the paper's own methods and OGBench keep the config's budget
    assert run_defaults(cfg, "fql", "pen-human-v1")["steps"] == 500_000
    assert run_defaults(cfg, "drol", "pen-human-v1")["eval_episodes"] == 50
    assert run_defaults(cfg, "iql", "cube-single-play-singletask-task2-v0")["steps"] == 1_000_000
    small = run_defaults(
        _config(baseline_steps=200, baseline_eval_episodes=2), "iql", "pen-human-v1"
    )
    assert small == {"steps": 200, "eval_episodes": 2, "set": {"actor_lr_decay_steps": 200}}


def test_a_discrepancy_option_sets_hyperparameters():
    cfg = _config()
    assert run_defaults(cfg, "fql", "door-human-v1")["set"] == {}
    cfg["discrepancies"] = {"fql_adroit_alpha": "table6"}
    assert run_defaults(cfg, "fql", "door-human-v1")["set"] == {"alpha": "3000"}
    assert run_defaults(cfg, "fql", "hammer-cloned-v1")["set"] == {"alpha": "1000"}
    assert run_defaults(cfg, "fql", "pen-human-v1")["set"] == {}  # Table 6 = README there


# ---------------------------------------------------------------- the CORL check script


def _check_corl():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_corl", ROOT / "tools" / "check_corl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_corl_passes_on_the_recorded_excerpt(capsys):
    assert _check_corl().main([]) == 0
    assert "all 54 D4RL BC/IQL/ReBRAC cells match" in capsys.readouterr().out


def test_check_corl_reports_a_difference(tmp_path, capsys):
    excerpt = yaml.safe_load((ROOT / "config" / "corl_excerpt.yaml").read_text())
    excerpt["configs"]["iql"]["door-cloned-v1"]["values"]["iql_tau"] = 0.7
    excerpt["configs"]["rebrac"]["antmaze-large-play-v2"]["values"]["gamma"] = 0.99
    del excerpt["configs"]["bc"]["pen-expert-v1"]
    path = tmp_path / "excerpt.yaml"
    path.write_text(yaml.safe_dump(excerpt))
    assert _check_corl().main(["--excerpt", str(path)]) == 1
    out = capsys.readouterr().out
    assert "iql door-cloned-v1: expectile = 0.8" in out and "CORL: 0.7" in out
    assert "rebrac antmaze-large-play-v2: discount = 0.999" in out
    assert "bc: no recorded CORL config for ['pen-expert-v1']" in out


# ---------------------------------------------------------------- CORL's IQL update order


def test_iql_advantage_from_the_target_critic():
    cfg = make_config("iql", {"hidden": 8, "depth": 2, "adv_target_critic": True})
    agent = make_agent("iql", 3, 2, cfg)
    with torch.no_grad():
        for p in agent.target_critic.parameters():
            p.add_(0.5)  # the target now differs from the critic
    batch = _batch()
    obs, act = batch["observations"], batch["actions"]
    _, info = agent.actor_loss(batch, diagnostics=False)
    with torch.no_grad():
        want = (agent.target_critic(obs, act).min(0).values - agent.v(obs)).mean()
        official = (agent.critic(obs, act).min(0).values - agent.v(obs)).mean()
    torch.testing.assert_close(info["adv"], want)
    assert not torch.allclose(want, official)


@pytest.mark.parametrize("after", [False, True])
def test_target_critic_moves_towards_the_pre_or_post_step_critic(after):
    cfg = make_config("iql", {"hidden": 8, "depth": 2, "target_after_step": after})
    agent = make_agent("iql", 3, 2, cfg)
    old_target = [p.detach().clone() for p in agent.target_critic.parameters()]
    pre = [p.detach().clone() for p in agent.critic.parameters()]
    agent.update(_batch())
    post = [p.detach() for p in agent.critic.parameters()]
    source = post if after else pre
    for t, old, c in zip(agent.target_critic.parameters(), old_target, source, strict=True):
        torch.testing.assert_close(t, old + cfg.tau * (c - old))
