"""The live pieces of one training run, and the plain-typed progress a resume restores."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from drol.agents.base import OfflineAgent
from drol.data.transforms import ObsNormalizer
from drol.envs import TaskData
from drol.train.batches import IndexSampler
from drol.train.diagnostics import ProbeSet


@dataclass
class Progress:
    """What a resume needs besides the networks and random streams (plain types only)."""

    step: int = 0
    elapsed: float = 0.0
    train_rows: list[dict[str, Any]] = field(default_factory=list)
    eval_rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=float)

    @classmethod
    def from_json(cls, text: str) -> Progress:
        return cls(**json.loads(text))


@dataclass
class RunState:
    """The live pieces of one run, threaded through the loop, evaluation and checkpoints."""

    agent: OfflineAgent
    data: TaskData
    tensors: dict[str, torch.Tensor]  # the train arrays on the device
    sampler: IndexSampler  # batch indices
    probes: ProbeSet | None
    progress: Progress = field(default_factory=Progress)
    normalizer: ObsNormalizer | None = None  # the policy sees observations through it
    eval_envs: list[Any] = field(default_factory=list)  # lockstep evaluation's extra envs
    eval_lockstep: bool | None = None  # whether evaluation runs in lockstep (found once)

    def close_eval_envs(self) -> None:
        """Close the lockstep evaluation's extra envs (the task's own env closes elsewhere)."""
        for env in self.eval_envs:
            env.close()
        self.eval_envs.clear()

    @property
    def num_data(self) -> int:
        return len(self.tensors["observations"])
