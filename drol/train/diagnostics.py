"""Training diagnostics on a fixed probe set (fixed states, fixed latents).

They feed the paper's Fig. 2 (Voronoi cells of the candidate set across training) and
Fig. 3 top. For each probe state we keep the dataset actions of its nearest dataset states
("the local support") and, at every log, record the candidates, which candidate owns each
data action, the fraction of data actions whose owner changed since the previous log (the
ownership flip rate) and the mean per-dimension squared distance from each data action to
its owner (winner-to-data distance).
"""

from __future__ import annotations

import numpy as np
import torch

from drol.nn.sampling import sample_ball


class ProbeSet:
    def __init__(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        num_states: int,
        num_neighbors: int,
        num_candidates: int,
        seed: int,
        device: torch.device | str = "cpu",
        max_pool: int = 100_000,
    ):
        rng = np.random.default_rng([seed, 777])
        n = len(observations)
        pool = rng.choice(n, size=min(n, max_pool), replace=False)
        picks = rng.choice(pool, size=min(num_states, len(pool)), replace=False)
        pool_obs = torch.as_tensor(observations[pool])
        self.states = torch.as_tensor(observations[picks])
        dist = torch.cdist(self.states, pool_obs)  # (P, pool)
        m = min(num_neighbors, len(pool))
        nearest = dist.topk(m, largest=False).indices.numpy()
        self.data_actions = torch.as_tensor(actions[pool][nearest])  # (P, M, A)
        gen = torch.Generator().manual_seed(seed + 778)
        self.latents = sample_ball((len(picks), num_candidates, actions.shape[1]), generator=gen)
        self.device = torch.device(device)
        self.steps: list[int] = []
        self.candidates: list[np.ndarray] = []
        self.owners: list[np.ndarray] = []

    @torch.no_grad()
    def record(self, agent, step: int) -> dict[str, float]:
        """Evaluate the candidates at the probe states; return flip rate and winner distance."""
        cand = agent.candidates(self.states.to(self.device), self.latents.to(self.device)).cpu()
        d2 = (self.data_actions.unsqueeze(2) - cand.unsqueeze(1)).pow(2).sum(-1) / cand.shape[
            -1
        ]  # (P,M,K)
        owners = d2.argmin(dim=-1).numpy()
        flip = float(np.mean(owners != self.owners[-1])) if self.owners else float("nan")
        self.steps.append(step)
        self.candidates.append(cand.numpy().astype(np.float32))
        self.owners.append(owners.astype(np.int16))
        return {"probe_flip_rate": flip, "probe_winner_dist": float(d2.min(dim=-1).values.mean())}

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "steps": np.asarray(self.steps, dtype=np.int64),
            "states": self.states.numpy(),
            "latents": self.latents.numpy(),
            "data_actions": self.data_actions.numpy(),
            "candidates": np.stack(self.candidates) if self.candidates else np.zeros((0,)),
            "owners": np.stack(self.owners) if self.owners else np.zeros((0,)),
        }

    def state(self) -> dict:
        """For a checkpoint: step list and tensors only (loadable with ``weights_only=True``)."""
        return {
            "steps": list(self.steps),
            "candidates": [torch.from_numpy(c) for c in self.candidates],
            "owners": [torch.from_numpy(o) for o in self.owners],
        }

    def load_state(self, state: dict) -> None:
        self.steps = [int(s) for s in state["steps"]]
        self.candidates = [c.cpu().numpy() for c in state["candidates"]]
        self.owners = [o.cpu().numpy() for o in state["owners"]]
