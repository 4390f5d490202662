"""Evaluation in the real environment: a fresh latent per step, final-step success."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def evaluate(
    env,
    act: Callable[[torch.Tensor], torch.Tensor],
    episodes: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> list[dict[str, float]]:
    """Run ``episodes`` episodes; return one dict per episode.

    ``success`` is the last step's ``info['success']`` (OGBench); for D4RL it is the
    normalised return (0–100, the paper's metric) divided by 100. Each episode's reset is
    seeded from (``seed``, episode) so evaluations are reproducible and resumable.
    """
    results = []
    for ep in range(episodes):
        ob, info = env.reset(seed=int(seed * 1000 + ep) % (2**31))
        done, ret, length = False, 0.0, 0
        while not done:
            obs = torch.as_tensor(np.asarray(ob, dtype=np.float32), device=device).unsqueeze(0)
            action = act(obs)[0].cpu().numpy()
            ob, reward, terminated, truncated, info = env.step(np.clip(action, -1, 1))
            ret += float(reward)
            length += 1
            done = terminated or truncated
        if "normalized_return" in info:
            success = float(info["normalized_return"]) / 100.0
        else:
            success = float(info.get("success", 0.0))
        results.append({"episode": ep, "success": success, "return": ret, "length": length})
    return results
