"""Lockstep evaluation: the N episodes of one evaluation side by side, one batched policy call
per environment step, finished episodes masked out of the batch.

It reproduces the sequential :func:`drol.train.evaluation.evaluate` row for row, byte for byte,
under two conditions, both checked here rather than assumed:

- **Row-exact layers.** A batched ``nn.Linear`` (one GEMM over N rows) does not give the bits
  that N batch-1 calls give (BLAS blocks the reduction differently), and a last-bit change in an
  action changes a MuJoCo trajectory. Inside :func:`row_exact_linears` every ``nn.Linear``
  computes each row as its own ``(1, in) @ (in, out)`` product: one ``baddbmm`` over the rows
  where that gives the batch-1 bits at the layer's shape (checked once per shape: on CPU it
  does for hidden layers, not for MKL's kernels of a 2- or 5-wide output), else row by row;
  element-wise ops and LayerNorm are per row already. :func:`rows_exact` checks it on the run's device.
- **No random draws at evaluation.** The sequential evaluation draws every episode's latents
  or noise from one generator, one batch-1 call after the other: episode ``e`` starts where
  episode ``e-1`` stopped, i.e. at an offset that depends on the lengths of the episodes before
  it, which are only known once those have finished. Lockstep episodes cannot know their
  offsets, so a policy that draws at evaluation (FQL, IFQL, DROL: latents/noise per call) stays
  sequential; a policy that draws nothing (BC, IQL, ReBRAC and their CORL variants: the mean or
  mode at temperature 0) runs in lockstep. :func:`draws_at_evaluation` checks this by running
  the policy once and comparing the generator state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from drol.envs import episode_seed, reset_episode

log = logging.getLogger(__name__)


# (in, out, rows, device, dtype) -> whether one baddbmm gives the batch-1 bits of F.linear
_BMM_EXACT: dict[tuple[int, int, int, str, torch.dtype], bool] = {}


def _bmm_rows(layer: nn.Linear, rows: Tensor) -> Tensor:
    """Each ``(1, in)`` row times the weight, as one ``baddbmm`` over the rows."""
    n, d_in, d_out = rows.shape[0], layer.in_features, layer.out_features
    w = layer.weight.t().unsqueeze(0).expand(n, d_in, d_out)
    if layer.bias is None:
        return torch.bmm(rows, w)
    return torch.baddbmm(layer.bias.view(1, 1, d_out).expand(n, 1, d_out), rows, w)


def _one_by_one(layer: nn.Linear, rows: Tensor) -> Tensor:
    return torch.stack([nn.functional.linear(r, layer.weight, layer.bias) for r in rows])


def _bmm_is_exact(layer: nn.Linear, n: int, like: Tensor) -> bool:
    """Whether ``baddbmm`` reproduces batch-1 ``F.linear`` at this shape (BLAS picks its
    kernel by shape: e.g. MKL's differs for an output width of 2 or 5), checked once per shape
    on random rows."""
    key = (layer.in_features, layer.out_features, n, str(like.device), like.dtype)
    if key not in _BMM_EXACT:
        g = torch.Generator(device=like.device).manual_seed(0)
        probe = torch.randn(n, 1, layer.in_features, generator=g, device=like.device)
        probe = probe.to(like.dtype)
        _BMM_EXACT[key] = torch.equal(_bmm_rows(layer, probe), _one_by_one(layer, probe))
    return _BMM_EXACT[key]


def _row_exact_forward(layer: nn.Linear) -> Callable[[Tensor], Tensor]:
    """``layer``'s forward with each row computed as its own batch-1 product: one
    ``baddbmm`` where that gives the batch-1 bits at this shape, else row by row."""

    def forward(x: Tensor) -> Tensor:
        lead, d_in = x.shape[:-1], x.shape[-1]
        rows = x.reshape(-1, 1, d_in)
        n = rows.shape[0]
        if n <= 1:
            return nn.functional.linear(x, layer.weight, layer.bias)
        with torch.no_grad():
            exact = _bmm_is_exact(layer, n, rows)
        out = _bmm_rows(layer, rows) if exact else _one_by_one(layer, rows)
        return out.reshape(*lead, layer.out_features)

    return forward


@contextmanager
def row_exact_linears(module: nn.Module) -> Iterator[nn.Module]:
    """While inside, every ``nn.Linear`` of ``module`` gives each row the bits of a batch-1 call
    (an instance ``forward``; removed on exit, also on an error)."""
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    for layer in layers:
        layer.forward = _row_exact_forward(layer)  # type: ignore[method-assign]
    try:
        yield module
    finally:
        for layer in layers:
            del layer.forward


def draws_at_evaluation(
    act: Callable[[Tensor], Tensor], generator: torch.Generator, obs: Tensor
) -> bool:
    """Whether ``act`` draws from ``generator`` (one call on ``obs``); the generator's state
    is restored afterwards, so the evaluation that follows sees it untouched."""
    before = generator.get_state()
    try:
        act(obs)
        return not torch.equal(before, generator.get_state())
    finally:
        generator.set_state(before)


def rows_exact(act: Callable[[Tensor], Tensor], obs: Tensor) -> bool:
    """Whether one batched ``act`` call gives each row the bits of its batch-1 call (checked
    on ``obs``; it holds on CPU inside :func:`row_exact_linears`, and is not assumed elsewhere,
    e.g. on CUDA)."""
    batched = act(obs)
    return all(torch.equal(batched[i : i + 1], act(obs[i : i + 1])) for i in range(len(obs)))


def evaluate_lockstep(
    envs: Sequence[Any],
    act: Callable[[Tensor], Tensor],
    episodes: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> list[dict[str, float]]:
    """The rows of :func:`drol.train.evaluation.evaluate`, the episodes run side by side in
    the pool ``envs`` (each reset with the same seed as in the sequential loop; an env whose
    episode ends starts the next pending one), every running episode stepped once per batched
    ``act`` call.

    ``act`` must draw nothing and compute rows independently (see the module docstring).
    """
    pending = iter(range(episodes))
    obs: dict[int, np.ndarray] = {}
    info: dict[int, dict] = {}
    ret, length = [0.0] * episodes, [0] * episodes
    running: list[tuple[int, int]] = []  # (env index, episode)

    def start(slot: int) -> None:
        ep = next(pending, None)
        if ep is not None:
            ob, info[ep] = reset_episode(envs[slot], episode_seed(seed, ep))
            obs[ep] = np.asarray(ob, dtype=np.float32)
            running.append((slot, ep))

    for slot in range(min(len(envs), episodes)):
        start(slot)
    while running:
        batch = torch.as_tensor(np.stack([obs[ep] for _, ep in running]), device=device)
        actions = act(batch).cpu().numpy()
        stepped, running = running, []
        for row, (slot, ep) in enumerate(stepped):
            ob, reward, terminated, truncated, info[ep] = envs[slot].step(
                np.clip(actions[row], -1, 1)
            )
            obs[ep] = np.asarray(ob, dtype=np.float32)
            ret[ep] += float(reward)
            length[ep] += 1
            if terminated or truncated:
                start(slot)
            else:
                running.append((slot, ep))
    results = []
    for ep in range(episodes):
        row = {"episode": ep, "success": float(info[ep].get("success", 0.0))}
        if "normalized_return" in info[ep]:
            row["normalized_score"] = float(info[ep]["normalized_return"])
            row["success"] = row["normalized_score"] / 100.0
        results.append({**row, "return": ret[ep], "length": length[ep]})
    return results
