"""Lockstep evaluation reproduces the sequential evaluation's rows exactly (drol.train.lockstep)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from drol.agents import make_agent, make_config
from drol.agents.base import use_generator
from drol.cli import main
from drol.envs import load_task, make_ogbench_env
from drol.nn.networks import MLP
from drol.tasks import parse_task
from drol.train.evaluation import evaluate
from drol.train.lockstep import (
    draws_at_evaluation,
    evaluate_lockstep,
    row_exact_linears,
    rows_exact,
)

POINTMAZE = "pointmaze-medium-navigate-singletask-task1-v0"
CUBE = "cube-single-play-singletask-task2-v0"


def test_row_exact_linears_give_the_bits_of_batch_one_calls():
    torch.manual_seed(0)
    net = MLP(29, (256, 256, 256), 5, layer_norm=True)
    x = torch.randn(50, 29)
    with torch.no_grad():
        one_by_one = torch.cat([net(x[i : i + 1]) for i in range(50)])
        batched = net(x)
        with row_exact_linears(net):
            exact = net(x)
        after = net(x)
    assert not torch.equal(batched, one_by_one)  # the plain GEMM differs in the last bits
    assert torch.equal(exact, one_by_one)
    assert torch.equal(after, batched)  # the patch is gone after the block
    with torch.no_grad():
        assert not rows_exact(net, x)  # what lockstep_envs checks before it runs in lockstep
        with row_exact_linears(net):
            assert rows_exact(net, x)


@pytest.mark.parametrize(("method", "draws"), [("iql", False), ("rebrac", False), ("fql", True)])
def test_draws_at_evaluation_tells_stochastic_policies(method, draws):
    agent = make_agent(method, 4, 2, make_config(method, {"hidden": "16", "depth": "2"}, K=1))
    gen = torch.Generator().manual_seed(3)
    state = gen.get_state()
    with use_generator(agent, gen):
        assert draws_at_evaluation(agent.act, gen, torch.zeros(1, 4)) is draws
    assert torch.equal(gen.get_state(), state)  # restored


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "fixture", "method"),
    [(POINTMAZE, "tiny_pointmaze", "iql"), (CUBE, "tiny_cube_single", "rebrac")],
)
def test_lockstep_rows_equal_sequential_rows(task, fixture, method, request):
    """A random-init agent (its actions reach the env unchanged): 6 episodes of the real env."""
    path = request.getfixturevalue(fixture)
    data = load_task(parse_task(task), path.parent)
    obs_dim, act_dim = data.train["observations"].shape[1], data.train["actions"].shape[1]
    cfg = make_config(method, {"hidden": "64", "depth": "4"}, task=parse_task(task), K=1)
    agent = make_agent(method, obs_dim, act_dim, cfg, seed=1)
    gen = torch.Generator().manual_seed(5)
    with use_generator(agent, gen):
        want = evaluate(data.env, agent.act, 6, seed=11)
        envs = [data.env, *(make_ogbench_env(parse_task(task)) for _ in range(5))]
        with row_exact_linears(agent):
            got = evaluate_lockstep(envs, agent.act, 6, seed=11)
            pooled = evaluate_lockstep(envs[:4], agent.act, 6, seed=11)  # envs reused
    assert got == want
    assert pooled == want
    assert len({r["length"] for r in want}) >= 1 and all(r["length"] > 0 for r in want)


def _args(data_dir, out, task, method, extra=()):
    return [
        "train", "--task", task, "--method", method, "--seed", "0", "--steps", "40",
        "--eval-every", "20", "--eval-episodes", "4", "--data-dir", str(data_dir), "--out", str(out),
        "--threads", "1", "--set", "hidden=32", "--set", "depth=2", "--set", "batch_size=32",
        "--set", "log_every=20", *extra,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("method", ["iql", "fql"])
def test_eval_csv_is_the_same_in_lockstep_and_sequential(tiny_pointmaze, tmp_path, method, caplog):
    """A trained agent's eval.csv, byte for byte; FQL (draws at evaluation) stays sequential."""
    caplog.set_level("INFO")
    seq, lock = tmp_path / "seq", tmp_path / "lock"
    extra = ("--set", "eval_lockstep=false")
    assert main(_args(tiny_pointmaze.parent, seq, POINTMAZE, method, extra)) == 0
    pool = ("--set", "eval_envs=3")  # 4 episodes in 3 envs
    assert main(_args(tiny_pointmaze.parent, lock, POINTMAZE, method, pool)) == 0
    assert (seq / "eval.csv").read_bytes() == (lock / "eval.csv").read_bytes()
    assert len(pd.read_csv(lock / "eval.csv")) == 3 * 4
    mode = "sequential (the policy draws" if method == "fql" else "lockstep (the policy draws"
    assert mode in caplog.text


def test_bad_eval_lockstep_value_is_a_one_line_error(tiny_pointmaze, tmp_path, capsys):
    out = tmp_path / "run"
    extra = ("--set", "eval_lockstep=maybe")
    assert main(_args(tiny_pointmaze.parent, out, POINTMAZE, "iql", extra)) != 0
    err = capsys.readouterr().err
    assert "eval_lockstep='maybe'" in err and "true or false" in err
    assert main(_args(tiny_pointmaze.parent, out, POINTMAZE, "iql", ("--set", "eval_envs=0"))) != 0
    assert "eval_envs" in capsys.readouterr().err
    assert not out.exists()
