"""``checkpoint.pt``: save a run's full state and restore it on resume (tensors and plain
values only, so loading unpickles no objects)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from drol.errors import UserError
from drol.io import atomic_write_with, library_reason
from drol.train.rundir import RunIdentity
from drol.train.state import Progress, RunState

CHECKPOINT_FORMAT = 2  # 2: weights_only-loadable (RNG states and progress as tensors / JSON)


def save_checkpoint(path: Path, run: RunState, identity: RunIdentity) -> None:
    """Write the agent, batch-index stream, torch RNG, probes and progress atomically."""
    blob = {
        "format": CHECKPOINT_FORMAT,
        "identity": identity.digest(),
        "agent": run.agent.training_state(),
        **run.sampler.state(),
        "torch_rng": torch.get_rng_state(),
        "probes": run.probes.state() if run.probes is not None else None,
        "progress": run.progress.to_json(),
    }
    buffer = io.BytesIO()  # serialise first: a full disk then raises a plain OSError
    torch.save(blob, buffer)
    atomic_write_with(path, lambda p: p.write_bytes(buffer.getvalue()))


def load_checkpoint(path: Path, run: RunState, identity: RunIdentity, device: torch.device) -> None:
    """Restore ``run`` from ``path``; a one-line :class:`UserError` for any file that is not
    this run's checkpoint (foreign objects, another run, another format, unreadable)."""
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(
            f"checkpoint {path} holds objects other than tensors and plain values; refused "
            "to load it (it could run code); delete it and rerun drol train to start the run over"
        ) from None
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise UserError(
            f"cannot read checkpoint {path} ({library_reason(err)}); delete it and rerun "
            "drol train to start the run over"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise UserError(
            f"checkpoint {path}: not a format-{CHECKPOINT_FORMAT} drol checkpoint; "
            "delete it to start over"
        )
    if blob.get("identity") != identity.digest():
        raise UserError(
            f"checkpoint {path} belongs to another run (identity {blob.get('identity')} != "
            f"{identity.digest()}); delete it to start over"
        )
    try:
        run.agent.load_training_state(blob["agent"])
        run.sampler.load_state(blob)
        torch.set_rng_state(blob["torch_rng"].cpu())
        if run.probes is not None and blob.get("probes"):
            run.probes.load_state(blob["probes"])
        run.progress = Progress.from_json(blob["progress"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise UserError(
            f"checkpoint {path}: does not fit this run ({str(err).splitlines()[0]}); "
            "delete it to start over"
        ) from None
