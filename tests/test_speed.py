"""drol.speed.step: the bf16 opt-in stays close to fp32, compile falls back cleanly and matches eager,
the training step never synchronises with the host, run-level settings are validated."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch

from drol.agents import get_method, make_agent, make_config, method_names
from drol.errors import ConfigError
from drol.speed.step import COMPILE_MIN_STEPS, SpeedSettings, TrainStep
from drol.train.batches import IndexSampler
from drol.train.settings import run_setting_values, split_overrides

OBS, ACT, B = 11, 4, 64


def agent_of(method: str, hidden: int = 64, **over):
    cfg = make_config(method, {"hidden": hidden, "batch_size": B, **over})
    return make_agent(method, OBS, ACT, cfg, seed=0, num_data=500)


def batch(seed: int, n: int = B) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "observations": torch.randn(n, OBS, generator=g),
        "next_observations": torch.randn(n, OBS, generator=g),
        "actions": torch.rand(n, ACT, generator=g) * 2 - 1,
        "next_actions": torch.rand(n, ACT, generator=g) * 2 - 1,  # ReBRAC's critic penalty
        "rewards": -torch.rand(n, generator=g).round(),
        "masks": torch.ones(n),
        "indices": torch.randint(0, 500, (n,), generator=g),
    }


def param_distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return float(
        sum(
            (p - q).pow(2).sum() for p, q in zip(a.parameters(), b.parameters(), strict=True)
        ).sqrt()
    )


@pytest.mark.parametrize("method", ["drol", "fql"])
def test_bf16_drift_from_fp32_is_bounded(method):
    """Same init, same batch stream, same latents: bf16 losses stay within 5% of fp32 and the
    parameters within 20% of how far fp32 moved them (measured: ~1% and ~1-5% at 40 steps);
    master weights and Adam state stay float32, and bf16 really changes the arithmetic."""
    a32 = agent_of(method)
    a16 = copy.deepcopy(a32)
    start = copy.deepcopy(a32)
    fp32, bf16 = TrainStep(a32), TrainStep(a16, SpeedSettings(precision="bf16", compile="off"))
    worst = 0.0
    for i in range(40):
        x = batch(i)
        i32, i16 = fp32(x), bf16(x)
        for key in ("critic_loss", "actor_loss"):
            rel = abs(float(i16[key] - i32[key])) / max(abs(float(i32[key])), 1e-3)
            worst = max(worst, rel)
    moved = param_distance(a32, start)
    drift = param_distance(a32, a16)
    assert worst < 0.05
    assert 0 < drift < 0.2 * moved
    p = next(a16.parameters())
    assert p.dtype == torch.float32
    assert a16.optimizer.state[p]["exp_avg"].dtype == torch.float32


def test_fp32_step_is_exactly_agent_update():
    a, b = agent_of("drol"), agent_of("drol")
    step = TrainStep(b)
    for i in range(3):
        a.update(batch(i))
        step(batch(i))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_compile_failure_falls_back_to_eager_once(monkeypatch, caplog):
    """A failure after part of the step ran (here: latents drawn, parameters touched) is
    undone before the eager retry: the run equals an eager one exactly."""

    def broken(fn, **kwargs):
        def run(*args, **kw):
            agent = fn.__self__
            torch.randn(5, generator=agent.generator)
            with torch.no_grad():
                next(agent.parameters()).add_(1.0)
            raise RuntimeError("inductor exploded\nlong trace")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    a, b = agent_of("fql"), agent_of("fql")
    step = TrainStep(b, SpeedSettings(compile="on"))
    with caplog.at_level(logging.WARNING, logger="drol.speed.step"):
        for i in range(3):
            a.update(batch(i))
            step(batch(i))
    assert not step.compiled
    assert sum("inductor exploded" in r.message for r in caplog.records) == 1
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.slow
@pytest.mark.parametrize("method", method_names())
def test_compiled_step_matches_eager(method):
    """torch.compile of the whole step (losses, backward, Adam, EMA) = eager to fp32 tolerance,
    and once warm it runs without recompiling (a host-side counter traced as a constant made
    ReBRAC recompile every step until dynamo gave up and ran it eager)."""
    over = {"num_candidates": 4} if get_method(method).uses_candidates else {}
    a = agent_of(method, hidden=32, **over)
    b = copy.deepcopy(a)
    step = TrainStep(b, SpeedSettings(compile="on"))
    for i in range(8):  # the logging step (diagnostics) runs eager between compiled ones
        diagnostics = i == 2
        # from step 4 on, warm: every variant (e.g. ReBRAC's actor/critic-only steps) compiled
        with torch._dynamo.config.patch(error_on_recompile=i >= 4):
            ib = step(batch(i), diagnostics=diagnostics)
        ia = a.update(batch(i), diagnostics)
        assert ia.keys() == ib.keys()
        torch.testing.assert_close(ib["loss"], ia["loss"], rtol=1e-4, atol=1e-5)
    assert step.compiled and step.compile_seconds > 0
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
    for p, q in zip(a.buffers(), b.buffers(), strict=True):  # e.g. DROL-static's owners
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)


class HostSyncCounter:
    """Counts the Tensor calls that copy a value to the host (a device sync on CUDA)."""

    NAMES = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.calls: list[str] = []
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self.wrap(name, original))

    def wrap(self, name, original):
        def counted(tensor, *args, **kwargs):
            self.calls.append(name)
            return original(tensor, *args, **kwargs)

        return counted


@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_step_never_syncs_with_host(method, precision, monkeypatch):
    """No ``.item()``, ``bool(tensor)``, ``float(tensor)``... inside a (non-logging) step: on
    CUDA each would stall the GPU; every registered method, both precisions."""
    over = {"num_candidates": 4} if "num_candidates" in make_config(method).to_dict() else {}
    agent = agent_of(method, 32, **over)
    step = TrainStep(agent, SpeedSettings(precision=precision, compile="off"))
    step(batch(0))  # lazy state (Adam moments) exists from here on
    counter = HostSyncCounter(monkeypatch)
    for i in range(1, 4):
        step(batch(i))
    assert counter.calls == []


def test_host_sync_counter_sees_a_sync(monkeypatch):
    counter = HostSyncCounter(monkeypatch)
    t = torch.ones(3)
    assert bool(t.any()) and t.sum().item() == 3.0
    assert counter.calls == ["__bool__", "item"]


def test_compile_auto_compiles_long_runs_and_benchmarks_only():
    auto = SpeedSettings()
    assert auto.compile == "auto" and auto.precision == "fp32"
    assert auto.resolved(steps=COMPILE_MIN_STEPS).compile == "on"
    assert auto.resolved(steps=COMPILE_MIN_STEPS - 1).compile == "off"
    assert auto.resolved(steps=None).compile == "on"  # drol bench
    assert SpeedSettings(compile="off").resolved(steps=None).compile == "off"
    assert SpeedSettings(compile="on").resolved(steps=1).compile == "on"


def test_speed_settings_are_run_level_and_validated():
    run, agent = split_overrides(["precision=BF16", "compile=on", "bc_coef=3"])
    assert agent == {"bc_coef": "3"}
    assert run_setting_values(run) == {"precision": "bf16", "compile": "on"}
    for bad in (["precision=fp16"], ["compile=yes"]):
        with pytest.raises(ConfigError, match=bad[0].split("=")[0]):
            run_setting_values(split_overrides(bad)[0])


def test_index_sampler_cpu_keeps_the_numpy_stream():
    sampler = IndexSampler(1000, 16, seed=3, device=torch.device("cpu"))
    rng = np.random.default_rng(3)
    for _ in range(3):
        assert sampler().tolist() == rng.integers(0, 1000, size=16).tolist()


@pytest.mark.parametrize("on_device", [False, True])
def test_index_sampler_resumes_its_stream(on_device):
    a = IndexSampler(1000, 16, seed=3, device=torch.device("cpu"), on_device=on_device)
    a()
    saved = a.state()
    want = [a() for _ in range(3)]
    b = IndexSampler(1000, 16, seed=99, device=torch.device("cpu"), on_device=on_device)
    b.load_state(saved)
    for w in want:
        got = b()
        assert torch.equal(got, w) and got.dtype == torch.int64
        assert int(got.min()) >= 0 and int(got.max()) < 1000


def test_device_index_sampler_never_touches_the_host(monkeypatch):
    """The CUDA path (forced here on CPU): a device generator, no numpy, no host copy."""
    sampler = IndexSampler(1000, 16, seed=3, device=torch.device("cpu"), on_device=True)
    counter = HostSyncCounter(monkeypatch)
    monkeypatch.setattr(sampler, "rng", None)  # any numpy draw would fail
    for _ in range(3):
        sampler()
    assert counter.calls == []


def test_compiled_gelu_is_the_same_function():
    """Under torch.compile networks.gelu switches to its sigmoid form: same values and
    gradients as ATen's tanh GELU (the eager path) to float32 rounding."""
    from drol.nn.networks import gelu

    x = torch.linspace(-12, 12, 4001, dtype=torch.float32)
    x_eager = x.clone().requires_grad_()
    x_comp = x.clone().requires_grad_()
    eager = gelu(x_eager)
    compiled = torch.compile(gelu)(x_comp)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=2e-6)
    eager.sum().backward()
    compiled.sum().backward()
    torch.testing.assert_close(x_comp.grad, x_eager.grad, rtol=0, atol=5e-6)
