"""Dataset transforms that some methods' published settings use (CORL's D4RL configs):
observations standardised by the dataset's mean/std, in training and at evaluation alike,
and rewards as ``reward_scale * r + reward_bias``.

:func:`prepare_data` applies what a config asks to the train (and validation) split once,
after loading, and returns the :class:`ObsNormalizer` the evaluation policy must see its
observations through (``None`` when observations are left as they are).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

log = logging.getLogger(__name__)

OBS_STD_EPS = 1e-3  # added to the std, as CORL's compute_mean_std(..., eps=1e-3)
OBS_KEYS = ("observations", "next_observations")


class TransformSettings(Protocol):
    """The config keys this module reads (an agent config has them)."""

    obs_norm: bool
    reward_scale: float
    reward_bias: float


class SplitData(Protocol):
    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray] | None


@dataclass(frozen=True)
class ObsNormalizer:
    """``(obs - mean) / std`` with ``std`` = the dataset's std + :data:`OBS_STD_EPS`."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, observations: np.ndarray) -> ObsNormalizer:
        """Mean and std over the rows of ``observations`` (the train split)."""
        obs = np.asarray(observations, dtype=np.float64)
        return cls(
            obs.mean(axis=0).astype(np.float32), (obs.std(axis=0) + OBS_STD_EPS).astype(np.float32)
        )

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return ((observations - self.mean) / self.std).astype(np.float32)

    def torch(self, obs: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, device=obs.device, dtype=obs.dtype)
        std = torch.as_tensor(self.std, device=obs.device, dtype=obs.dtype)
        return (obs - mean) / std

    def wrap(
        self, act: Callable[[torch.Tensor], torch.Tensor]
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """``act`` seeing normalised observations (the policy was trained on them)."""

        def normalized_act(obs: torch.Tensor) -> torch.Tensor:
            return act(self.torch(obs))

        return normalized_act


def prepare_data(data: SplitData, cfg: TransformSettings) -> ObsNormalizer | None:
    """Apply ``cfg``'s transforms to ``data``'s splits in place (new arrays; the statistics are
    the train split's); return the observation normaliser, if any."""
    normalizer = ObsNormalizer.fit(data.train["observations"]) if cfg.obs_norm else None
    rescale = cfg.reward_scale != 1.0 or cfg.reward_bias != 0.0
    for split in (data.train, data.val):
        if split is None:
            continue
        if normalizer is not None:
            for key in OBS_KEYS:
                split[key] = normalizer(split[key])
        if rescale:
            rewards = split["rewards"] * np.float32(cfg.reward_scale) + np.float32(cfg.reward_bias)
            split["rewards"] = rewards.astype(np.float32)
    if normalizer is not None:
        log.info("observations normalised by the train split's mean/std (+%g)", OBS_STD_EPS)
    if rescale:
        log.info("rewards -> %g * r + %g", cfg.reward_scale, cfg.reward_bias)
    return normalizer
