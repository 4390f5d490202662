"""BC, IQL, ReBRAC, IFQL: behaviour the golden update does not cover, defaults, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic_runs import make_run

from drol.agents import make_agent, make_config
from drol.agents.registry import method_names
from drol.data.transitions import next_actions
from drol.grid import column_labels
from drol.report.aggregate import collect_runs
from drol.report.tables import write_tables
from drol.tasks import D4RL_FAMILIES, OGBENCH_FAMILIES, d4rl_row, parse_task

OBS, ACT, B = 6, 3, 16
BASELINES = ("bc", "iql", "rebrac", "ifql")


def small(method: str, **over):
    cfg = make_config(method, {"hidden": 16, "depth": 2, "batch_size": B, **over})
    return make_agent(method, OBS, ACT, cfg, seed=0)


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "observations": torch.randn(B, OBS, generator=g),
        "next_observations": torch.randn(B, OBS, generator=g),
        "actions": torch.rand(B, ACT, generator=g) * 2 - 1,
        "next_actions": torch.rand(B, ACT, generator=g) * 2 - 1,
        "rewards": -torch.rand(B, generator=g),
        "masks": torch.ones(B),
    }


def test_registry_order_puts_the_baselines_first_as_in_table_4():
    assert method_names()[:10] == (
        "bc", "iql", "rebrac", "fawac", "fbrac", "ifql", "deflow", "sorl", "fql", "drol"
    )  # fmt: skip
    assert column_labels()[:9] == (
        "BC", "IQL", "ReBRAC", "FAWAC", "FBRAC", "IFQL", "DeFlow", "SORL", "FQL"
    )  # fmt: skip


@pytest.mark.parametrize("method", BASELINES)
def test_every_grid_task_has_defaults(method):
    tasks = [f"{f}-singletask-v0" for f in OGBENCH_FAMILIES]
    tasks += [t for ts in D4RL_FAMILIES.values() for t in ts]
    for name in tasks:
        make_config(method, task=parse_task(name))  # validates


def test_a_dataset_row_wins_over_its_group_row():
    table = {"pen": 1, "pen-expert-v1": 2, "antmaze-large-play": 3}
    assert d4rl_row(table, "pen-expert-v1") == 2
    assert d4rl_row(table, "pen-human-v1") == 1
    assert d4rl_row(table, "antmaze-large-play-v2") == 3


def test_next_actions_are_the_next_rows_the_last_repeated():
    a = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_array_equal(next_actions(a), a[[1, 2, 3, 3]])


def test_bc_has_no_critic_and_acts_with_its_mean():
    agent = small("bc")
    assert not hasattr(agent, "critic")
    b = batch()
    before = agent.actor(b["observations"]).detach()
    agent.update(b)
    assert torch.equal(agent.act(b["observations"]), agent.actor(b["observations"]).clamp(-1, 1))
    assert not torch.equal(before, agent.actor(b["observations"]).detach())


def unchanged(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return all(torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


def test_rebrac_actor_and_targets_follow_actor_freq():
    agent = small("rebrac", actor_freq=2, alpha_actor=0.1)
    b = batch()
    actor0 = [p.detach().clone() for p in agent.actor.parameters()]
    target0 = [p.detach().clone() for p in agent.target_critic.parameters()]
    info = agent.update(b)  # update 1: critic only, targets frozen, actor gradient zero
    assert "actor_loss" not in info
    assert unchanged(agent.target_critic, target0)
    assert unchanged(agent.actor, actor0)
    assert all(not p.grad.any() for p in agent.actor.parameters())
    info = agent.update(b)  # update 2: the full update
    assert "actor_loss" in info
    assert not unchanged(agent.target_critic, target0)
    actor2 = [p.detach().clone() for p in agent.actor.parameters()]
    agent.update(b)  # update 3: zero actor gradient, but Adam's momentum still moves it
    assert not unchanged(agent.actor, actor2)
    assert int(agent.updates) == 3  # checkpointed with the model
    resumed = small("rebrac", actor_freq=2, alpha_actor=0.1)
    resumed.load_training_state(agent.training_state())
    assert "actor_loss" in resumed.update(b)  # update 4 of the restored schedule: full


def test_ifql_acts_with_the_best_of_n_samples_under_the_critic():
    agent = small("ifql", num_samples=8, flow_steps=3)
    obs = batch()["observations"][:4]
    gen = agent.generator.get_state()
    chosen = agent.act(obs)
    agent.generator.set_state(gen)
    z = torch.randn(4, 8, ACT, generator=agent.generator)
    o = obs.unsqueeze(1).expand(4, 8, OBS)
    with torch.no_grad():
        x = z
        for i in range(3):
            x = x + agent.actor_flow(o, x, torch.full((4, 8, 1), i / 3)) / 3
        x = x.clamp(-1, 1)
        q = agent.critic(o.reshape(32, OBS), x.reshape(32, ACT)).min(0).values.reshape(4, 8)
    torch.testing.assert_close(chosen, x[torch.arange(4), q.argmax(1)])


def test_iql_critic_and_value_losses_are_summed_into_one_step():
    agent = small("iql")
    info = agent.update(batch())
    total = info["value_loss"] + info["critic_loss"] + info["actor_loss"]
    torch.testing.assert_close(info["loss"], total)


@pytest.mark.parametrize(
    ("method", "parts"),
    [("iql", {"value_loss"}), ("ifql", {"value_loss", "flow_loss"}), ("rebrac", {"bc_loss"})],
)
def test_validation_logs_each_part_of_the_losses(method, parts):
    agent = small(method)
    agent.generator.manual_seed(5)  # the same draws (ReBRAC's target smoothing) in both calls
    val = agent.validation_losses(batch(1))
    assert set(val) == {"val_critic_loss", "val_actor_loss"} | {f"val_{p}" for p in parts}
    agent.generator.manual_seed(5)
    critic_total, _ = agent.critic_loss(batch(1))
    if "value_loss" in parts:  # IQL's critic loss is split: Q part and value part
        torch.testing.assert_close(val["val_critic_loss"] + val["val_value_loss"], critic_total)
    else:
        torch.testing.assert_close(val["val_critic_loss"], critic_total)


def test_tables_show_the_baselines_as_ours(tmp_path):
    root = tmp_path / "runs"
    task = "cube-single-play-singletask-task1-v0"
    for method in BASELINES:
        for seed in (0, 1):
            make_run(root, task, method, 1, seed, score=40.0 + seed, probes=False)
    out = tmp_path / "tables"
    reported = tmp_path / "reported.csv"
    pd.DataFrame(
        [
            {
                "task": task,
                "representative": 0,
                "method": "BC",
                "mean": 1,
                "std": 0,
                "bold": 0,
                "underline": 0,
            }
        ]
    ).to_csv(reported, index=False)
    write_tables(collect_runs(root, None), reported, out)
    t4 = pd.read_csv(out / "table4.csv")
    ours = t4[t4["source"] == "reproduced"]
    assert set(ours["method"]) == {"BC", "IQL", "ReBRAC", "IFQL"}
    assert ours[ours["method"] == "IQL"].iloc[0]["mean"] == pytest.approx(40.5)
    md = "\n".join(p.read_text() for p in sorted(out.glob("table[14].md")))
    for label in ("BC (ours)", "IQL (ours)", "ReBRAC (ours)", "IFQL (ours)"):
        assert md.count(label) == 2, label  # Table 1 and Table 4
