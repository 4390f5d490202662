"""Seed-batched training (drol.speed.seed_batch): seed s of a batched step equals its single-seed run.

Tolerance: the batch indices and every latent/noise draw are identical (generator states are
compared exactly); after 6 updates losses agree to 1e-5 relative, parameters and buffers to
1e-6 absolute, Adam moments to 1e-5 relative (IQL's value head has large gradients): a
seed-batched matmul (``bmm``) rounds differently from the single-seed ``mm``, so the results
are float32-close, not bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drol.agents import make_agent, make_config
from drol.errors import UserError
from drol.speed.seed_batch import SeedBatch

N, B, OBS, ACT, STEPS = 400, 16, 6, 3, 6
SEEDS = (0, 3, 7)


VARIANTS = {  # CORL's IQL: cosine actor rate, advantage on the target, post-step target
    "iql_corl": ("iql", {"actor_lr_decay_steps": "4", "adv_target_critic": "true"}),
    "iql_after": ("iql", {"target_after_step": "true", "critic_lr": "1e-3"}),
}


def _agent(method: str, seed: int):
    method, extra = VARIANTS.get(method, (method, {}))
    sizes = {"hidden": "32", "depth": "2", "batch_size": str(B), **extra}
    cfg = make_config(method, sizes, K=4)
    return make_agent(method, OBS, ACT, cfg, seed=seed, num_data=N)


def _data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "observations": torch.randn(N, OBS, generator=g),
        "actions": torch.rand(N, ACT, generator=g) * 2 - 1,
        "next_observations": torch.randn(N, OBS, generator=g),
        "rewards": torch.randn(N, generator=g),
        "masks": (torch.rand(N, generator=g) > 0.1).float(),
        "next_actions": torch.rand(N, ACT, generator=g) * 2 - 1,  # ReBRAC's
    }


def _batch(data, idx):
    return {**{k: v[idx] for k, v in data.items()}, "indices": idx}


@pytest.mark.parametrize(
    "method",
    [
        "bc",
        "iql",
        "iql_corl",
        "iql_after",
        "rebrac",
        "ifql",
        "fql",
        "drol",
        "drol_static",
        "drol+script",
    ],
)
def test_seed_s_of_a_batched_run_equals_its_single_seed_run(method):
    data = _data()
    single = []
    for seed in SEEDS:
        agent, rng, losses = _agent(method, seed), np.random.default_rng(seed), []
        for i in range(STEPS):
            idx = torch.as_tensor(rng.integers(0, N, B))
            losses.append(agent.update(_batch(data, idx), diagnostics=i == STEPS - 1)["loss"])
        single.append((agent, torch.stack(losses)))

    agents = [_agent(method, seed) for seed in SEEDS]
    batch_of_seeds, rngs, losses = SeedBatch(agents), [np.random.default_rng(s) for s in SEEDS], []
    for i in range(STEPS):
        idx = torch.stack([torch.as_tensor(r.integers(0, N, B)) for r in rngs])
        info = batch_of_seeds.step(_batch(data, idx), diagnostics=i == STEPS - 1)
        losses.append(info["loss"])
    batch_of_seeds.write_back()
    losses = torch.stack(losses)  # (steps, S)

    for s, (want, want_losses) in enumerate(single):
        got = agents[s]
        assert torch.equal(got.generator.get_state(), want.generator.get_state())  # same draws
        torch.testing.assert_close(losses[:, s], want_losses, rtol=1e-5, atol=1e-6)
        for (name, p), q in zip(want.state_dict().items(), got.state_dict().values(), strict=True):
            assert p.shape == q.shape, name
            if p.dtype == torch.bool:
                assert torch.equal(p, q), name
            else:
                torch.testing.assert_close(q, p, rtol=0, atol=1e-6, msg=name)
        opt_w, opt_g = want.optimizer.state_dict()["state"], got.optimizer.state_dict()["state"]
        for k, st in opt_w.items():
            assert float(opt_g[k]["step"]) == float(st["step"]) == STEPS
            torch.testing.assert_close(opt_g[k]["exp_avg"], st["exp_avg"], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(
                opt_g[k]["exp_avg_sq"], st["exp_avg_sq"], rtol=1e-5, atol=1e-8
            )
    # the seeds really differ (a shared stream or batch would make them equal)
    assert not torch.equal(losses[:, 0], losses[:, 1])


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fql", "rebrac", "bc"])
def test_the_compiled_seed_batched_step_equals_the_eager_one(method):
    """compile=True: the same losses and weights as eager to float32 tolerance (ReBRAC's
    critic-only and full updates, a diagnostics step), and no recompiling once warm."""
    data, rng = _data(), np.random.default_rng(0)
    eager = SeedBatch([_agent(method, s) for s in (0, 1)])
    fast = SeedBatch([_agent(method, s) for s in (0, 1)], compile=True)
    for i in range(8):
        batch = _batch(data, torch.as_tensor(rng.integers(0, N, (2, B))))
        with torch._dynamo.config.patch(error_on_recompile=i >= 5):
            got = fast.step(batch, diagnostics=i == 2)
        want = eager.step(batch, diagnostics=i == 2)
        torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-5)
    assert fast.compiled and fast.compile_seconds > 0
    for name, p in eager.params.items():
        torch.testing.assert_close(fast.params[name], p, rtol=1e-4, atol=1e-5)


def test_a_compile_failure_falls_back_to_the_same_eager_step(monkeypatch, caplog):
    """A compiler error in the first compiled call: one warning, the generators rewound, and
    from then on eager, with the same losses and weights as an eager SeedBatch."""

    def broken(fn, **kwargs):
        def call(*args, **kw):
            for agent in fast.agents:  # the draws happened before the compiler failed
                torch.randn(3, generator=agent.generator)
            raise RuntimeError("inductor exploded")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    data, rng = _data(), np.random.default_rng(0)
    eager = SeedBatch([_agent("fql", s) for s in (0, 1)])
    fast = SeedBatch([_agent("fql", s) for s in (0, 1)], compile=True)
    for _ in range(3):
        batch = _batch(data, torch.as_tensor(rng.integers(0, N, (2, B))))
        torch.testing.assert_close(fast.step(batch)["loss"], eager.step(batch)["loss"])
    assert not fast.compiled
    assert sum("inductor exploded" in r.message for r in caplog.records) == 1
    for name, p in eager.params.items():
        torch.testing.assert_close(fast.params[name], p)


def test_a_method_with_another_update_is_refused_in_one_line():
    from drol.agents.fql import FQLAgent

    class Other(FQLAgent):
        def update(self, batch, diagnostics=False):
            return super().update(batch, diagnostics)

    cfg = make_config("fql", {"hidden": "16", "depth": "2"})
    agents = [Other(OBS, ACT, cfg, seed=s) for s in (0, 1)]
    with pytest.raises(UserError, match="has its own update schedule"):
        SeedBatch(agents)


POINTMAZE = "pointmaze-medium-navigate-singletask-task1-v0"


def _train_args(data_dir, out, method, seed_args, extra=()):
    return [
        "train", "--task", POINTMAZE, "--method", method, "--K", "4", *seed_args,
        "--steps", "40", "--eval-every", "20", "--eval-episodes", "2",
        "--data-dir", str(data_dir), "--out", str(out), "--threads", "1",
        "--set", "hidden=32", "--set", "depth=2", "--set", "batch_size=32",
        "--set", "log_every=10", "--set", "checkpoint_every=20", "--set", "num_probe_states=3",
        "--set", "probe_neighbors=8", "--set", "logger=none", *extra,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fql", "drol", "rebrac"])
def test_drol_train_seeds_writes_each_seed_as_its_single_seed_run(tiny_pointmaze, tmp_path, method):
    import json

    import pandas as pd

    from drol.cli import main

    data = tiny_pointmaze.parent
    assert main(_train_args(data, tmp_path / "b" / "seed{seed}", method, ["--seeds", "0,2"])) == 0
    for seed in (0, 2):
        single, batched = tmp_path / f"single{seed}", tmp_path / "b" / f"seed{seed}"
        assert main(_train_args(data, single, method, ["--seed", str(seed)])) == 0
        for name in ("config.json", "train.csv", "eval.csv", "score.json", "checkpoint.pt"):
            assert (batched / name).exists(), name
        want, got = pd.read_csv(single / "train.csv"), pd.read_csv(batched / "train.csv")
        assert list(got.columns) == list(want.columns)
        losses = [c for c in want.columns if c.endswith("loss") and not c.startswith("val_")]
        assert losses
        np.testing.assert_allclose(got[losses], want[losses], rtol=1e-4, atol=1e-5)
        cfg_w, cfg_g = (json.loads((d / "config.json").read_text()) for d in (single, batched))
        assert cfg_g["identity"] == cfg_w["identity"]  # the same run, by identity
        assert cfg_g["speed"]["compile"] == "off"  # the batched step ran eager
        # the same episodes (the seeds share one env, each episode fixed by its reset seed)
        pd.testing.assert_frame_equal(
            pd.read_csv(batched / "eval.csv"), pd.read_csv(single / "eval.csv")
        )
    # a finished batched run exits at once (resume), per seed
    assert main(_train_args(data, tmp_path / "b" / "seed{seed}", method, ["--seeds", "0,2"])) == 0


def test_seeds_needs_a_placeholder_and_fp32(tiny_pointmaze, tmp_path, capsys):
    from drol.cli import main

    data = tiny_pointmaze.parent
    assert main(_train_args(data, tmp_path / "run", "fql", ["--seeds", "0,1"])) != 0
    assert "needs a {seed} placeholder" in capsys.readouterr().err
    assert main(_train_args(data, tmp_path / "one{seed}", "iql", ["--seeds", "3"])) == 0
    assert (tmp_path / "one3" / "score.json").exists()  # one seed: the plain single-seed run
    assert main(_train_args(data, tmp_path / "s{seed}", "fql", ["--seeds", "0,x"])) != 0
    assert "bad --seeds '0,x'" in capsys.readouterr().err
    bf16 = ("--set", "precision=bf16")
    assert main(_train_args(data, tmp_path / "s{seed}", "fql", ["--seeds", "0,1"], bf16)) != 0
    assert "in fp32: drop --set precision=bf16" in capsys.readouterr().err
    assert not (tmp_path / "s0").exists()


def test_a_diverged_seed_is_failed_and_the_others_finish(
    tiny_pointmaze, tmp_path, monkeypatch, capsys
):
    from drol.cli import main

    real_step = SeedBatch.step

    def step(self, batch, diagnostics=False):  # seed 1's loss turns NaN at the 15th step
        info = real_step(self, batch, diagnostics)
        self.calls = getattr(self, "calls", 0) + 1
        if len(self.agents) == 2 and self.calls == 15:
            info["loss"] = info["loss"].clone()
            info["loss"][1] = float("nan")
        return info

    monkeypatch.setattr(SeedBatch, "step", step)
    out = tmp_path / "seed{seed}"
    assert main(_train_args(tiny_pointmaze.parent, out, "fql", ["--seeds", "0,1"])) != 0
    assert "seed(s) [1] failed" in capsys.readouterr().err
    assert "non-finite loss at step 20" in (tmp_path / "seed1" / "FAILED").read_text()
    assert (tmp_path / "seed0" / "score.json").exists()
    assert not (tmp_path / "seed1" / "score.json").exists()


# ---------------------------------------------------------------- workflow seed groups


@pytest.mark.parametrize(
    ("sets", "per_job", "groups"),
    [
        ([(0, 1, 2, 3)], 2, [(0, 1), (2, 3)]),
        ([(0, 1, 2, 3)], 8, [(0, 1, 2, 3)]),
        ([(0, 1, 2)], 1, [(0,), (1,), (2,)]),
        # a sweep on seeds 0-1 of a grid on 0-7: no job trains a seed its cell lacks
        ([tuple(range(8)), (0, 1)], 8, [(0, 1), (2, 3, 4, 5, 6, 7)]),
        # a column trained on offset seeds (a discrepancy option) groups on its own
        ([(0, 1), (100, 101)], 4, [(0, 1), (100, 101)]),
    ],
)
def test_seed_groups_never_span_cells_with_other_seeds(sets, per_job, groups):
    from drol.grid import seed_chunks

    assert seed_chunks(sets, per_job) == groups


def test_seed_groups_refuse_a_bad_size():
    from drol.grid import seed_chunks

    with pytest.raises(UserError, match="seeds_per_job must be >= 1"):
        seed_chunks([(0, 1)], 0)


def test_seed_batchable_is_every_method_but_those_with_their_own_update():
    from drol.agents import method_names
    from drol.speed.seed_batch import seed_batchable

    assert [m for m in method_names() if not seed_batchable(m)] == ["sorl"]


@pytest.mark.slow
def test_a_removed_score_is_rewritten_from_the_final_checkpoint_without_training(
    tiny_pointmaze, tmp_path
):
    """What the workflow relies on when a group's job fails and Snakemake removes every
    score.json of the group: the next `--seeds` call restores the finished seeds' at once."""
    import json

    from drol.cli import main

    out = tmp_path / "seed{seed}"
    args = _train_args(tiny_pointmaze.parent, out, "fql", ["--seeds", "0,1"])
    assert main(args) == 0
    score0 = json.loads((tmp_path / "seed0" / "score.json").read_text())
    train_csv = (tmp_path / "seed0" / "train.csv").read_bytes()
    (tmp_path / "seed0" / "score.json").unlink()
    calls = []
    real_step = SeedBatch.step
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            SeedBatch, "step", lambda self, *a, **k: calls.append(1) or real_step(self, *a, **k)
        )
        assert main(args) == 0
    assert calls == []  # nothing trained
    assert json.loads((tmp_path / "seed0" / "score.json").read_text())["score"] == score0["score"]
    assert (tmp_path / "seed0" / "train.csv").read_bytes() == train_csv
