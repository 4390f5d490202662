"""``drol data check``: validate an OGBench dataset file and its ``-val`` companion, then summarise."""

from __future__ import annotations

import logging
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drol.data.npzfile import is_temp_name, val_path_for
from drol.data.registry import DatasetSpec, dataset_name_from_path, get_spec
from drol.errors import UserError
from drol.io import library_reason

log = logging.getLogger(__name__)

NUM_TASKS = 5


class DatasetError(UserError):
    """A dataset file is unreadable or malformed; the message names the file and the field."""

    def __init__(self, path: str | os.PathLike, field_name: str | None, reason: str):
        where = f"{path}: {field_name}: " if field_name else f"{path}: "
        super().__init__(where + reason)
        self.path, self.field, self.reason = Path(path), field_name, reason


@dataclass
class FileSummary:
    path: Path
    rows: int
    episodes: int
    transitions: int  # rows - episodes: what ogbench.load_dataset returns
    episode_lengths: tuple[int, int]  # (min, max) stored rows per episode
    actions_outside: int = 0  # action values outside [-1, 1] (training clips them)
    actions_abs_max: float = 0.0

    @property
    def problems(self) -> list[str]:
        """What makes the file not OK though it can be read (training would alter it)."""
        if not self.actions_outside:
            return []
        return [
            f"{self.path}: actions: {self.actions_outside:,} values outside [-1, 1] (max |a| = "
            f"{self.actions_abs_max:.4g}); training clips them into (-1, 1): regenerate the "
            "dataset (drol data generate) or fetch it again (drol data fetch)"
        ]


@dataclass
class TaskStats:
    task: int
    reward_mean: float
    reward_min: float
    reward_max: float
    success_rate: float  # fraction of transitions whose state solves the task (mask 0)
    episodes_with_success: int


@dataclass
class CheckSummary:
    dataset: str
    train: FileSummary
    val: FileSummary
    tasks: list[TaskStats] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.train.problems + self.val.problems

    def format(self) -> str:
        lines = [f"{self.dataset}: " + ("NOT OK" if self.problems else "OK")]
        lines += [f"  {p}" for p in self.problems]
        for split, s in (("train", self.train), ("val", self.val)):
            lines.append(
                f"  {split:5s} {s.path}: {s.transitions:,} transitions, {s.episodes:,} episodes "
                f"({s.rows:,} rows, {s.episode_lengths[0]}-{s.episode_lengths[1]} rows/episode)"
            )
        if self.tasks:
            lines.append("  train rewards after single-task relabelling:")
            lines.append("    task  reward mean    min    max  success rate  episodes w/ success")
            for t in self.tasks:
                lines.append(
                    f"    {t.task:4d}  {t.reward_mean:11.4f} {t.reward_min:6.1f} {t.reward_max:6.1f}"
                    f"  {t.success_rate:12.4f}  {t.episodes_with_success:19d}"
                )
        return "\n".join(lines)


def required_keys(spec: DatasetSpec) -> list[str]:
    keys = [
        "observations",
        "actions",
        "terminals",
        "qpos",
        "qvel",
    ]  # every OGBench generator stores qpos/qvel
    if spec.button_dim is not None:
        keys.append("button_states")
    return keys


def read_arrays(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """Read ``keys`` fully (so CRC and truncation errors surface), with one-line errors."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise DatasetError(
            path,
            None,
            f"not a readable .npz archive (corrupt or truncated: {library_reason(err)}); "
            "regenerate it (drol data generate) or fetch it again (drol data fetch)",
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(path, None, "not an .npz archive (a bare .npy array)")
    out = {}
    with archive:
        for key in keys:
            if key not in archive.files:
                raise DatasetError(path, key, f"missing (keys present: {', '.join(archive.files)})")
            try:
                out[key] = archive[key]
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as err:
                raise DatasetError(
                    path,
                    key,
                    f"unreadable ({_why(err)}); regenerate the file (drol data generate) or "
                    "fetch it again (drol data fetch)",
                ) from err
    return out


def _why(err: BaseException) -> str:
    reason = library_reason(err)
    return reason if "pickled" in reason else f"corrupt or truncated file: {reason}"


def validate_arrays(path: Path, spec: DatasetSpec, arrays: dict[str, np.ndarray]) -> FileSummary:
    """Keys, dtypes, shapes, finite values and terminal structure of one file."""
    obs, terminals = arrays["observations"], arrays["terminals"]
    if obs.ndim != 2:
        raise DatasetError(
            path, "observations", f"expected 2-D (N, {spec.ob_dim}), got shape {obs.shape}"
        )
    n = obs.shape[0]
    if n < 2:
        raise DatasetError(path, "observations", f"expected at least 2 rows, got {n}")
    dims = {
        "observations": spec.ob_dim,
        "actions": spec.action_dim,
        "qpos": spec.qpos_dim,
        "qvel": spec.qvel_dim,
        "button_states": spec.button_dim,
    }
    for key, arr in arrays.items():
        if key == "terminals":
            continue
        dim = dims[key]
        if arr.ndim != 2 or arr.shape[0] != n or (dim is not None and arr.shape[1] != dim):
            raise DatasetError(path, key, f"expected shape ({n}, {dim}), got {arr.shape}")
        if key == "button_states":
            if not np.issubdtype(arr.dtype, np.integer):
                raise DatasetError(path, key, f"expected an integer dtype, got {arr.dtype}")
            continue
        if not np.issubdtype(arr.dtype, np.floating):
            raise DatasetError(path, key, f"expected a float dtype, got {arr.dtype}")
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DatasetError(
                path, key, f"{int(bad.sum())} non-finite values (NaN/inf), first at row {row}"
            )
    if terminals.shape != (n,):
        raise DatasetError(path, "terminals", f"expected shape ({n},), got {terminals.shape}")
    if terminals.dtype != bool:
        if not (np.issubdtype(terminals.dtype, np.number) and np.isin(terminals, (0, 1)).all()):
            raise DatasetError(path, "terminals", f"expected bool (or 0/1), got {terminals.dtype}")
        terminals = terminals.astype(bool)
    ends = np.flatnonzero(terminals)
    if len(ends) == 0 or ends[-1] != n - 1:
        raise DatasetError(
            path, "terminals", "the last row must end an episode (terminals[-1] is false)"
        )
    lengths = np.diff(np.concatenate([[-1], ends]))
    if lengths.min() < 2:
        row = int(ends[np.argmin(lengths)])
        raise DatasetError(
            path, "terminals", f"an episode of {lengths.min()} row(s) ends at row {row}"
        )
    actions = np.abs(arrays["actions"])
    return FileSummary(
        path,
        n,
        len(ends),
        n - len(ends),
        (int(lengths.min()), int(lengths.max())),
        actions_outside=int((actions > 1.0).sum()),
        actions_abs_max=float(actions.max()) if actions.size else 0.0,
    )


def relabel_stats(path: Path, spec: DatasetSpec) -> list[TaskStats]:
    """Per-task reward and success statistics, relabelled exactly as ogbench's single-task loader does."""
    import warnings

    import gymnasium
    import ogbench
    from ogbench.relabel_utils import relabel_dataset

    data = ogbench.load_dataset(str(path), add_info=True)
    episode_id = np.cumsum(np.concatenate([[0.0], data["terminals"][:-1]]))
    stats = []
    for task in range(1, NUM_TASKS + 1):
        env_id = spec.singletask_env_id(task)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gymnasium.make(env_id)
            relabel_dataset(env_id, env, data)
            env.close()
        rewards, success = data["rewards"], data["masks"] == 0
        stats.append(
            TaskStats(
                task,
                float(rewards.mean()),
                float(rewards.min()),
                float(rewards.max()),
                float(success.mean()),
                len(np.unique(episode_id[success])),
            )
        )
    return stats


def check_file(path: Path, spec: DatasetSpec) -> FileSummary:
    if not path.is_file():
        raise DatasetError(path, None, "no such file")
    return validate_arrays(path, spec, read_arrays(path, required_keys(spec)))


def check_dataset(path: str | os.PathLike, relabel: bool = True) -> CheckSummary:
    """Validate ``path`` (train or -val file) and its companion; raise :class:`DatasetError`."""
    path = Path(path)
    if is_temp_name(path.name):
        raise DatasetError(
            path,
            None,
            "a half-written temporary file from an interrupted generation; delete it and rerun `drol data generate`",
        )
    if not path.exists():
        raise DatasetError(path, None, "no such file")
    if path.is_dir():
        raise DatasetError(path, None, "is a directory; pass a <dataset>.npz file")
    if path.suffix != ".npz":
        raise DatasetError(path, None, "expected an OGBench <dataset>.npz file")
    dataset, is_val = dataset_name_from_path(path.name)
    spec = get_spec(dataset)
    train_path = path.with_name(f"{dataset}.npz")
    val_path = val_path_for(train_path)
    for p in (train_path, val_path):
        if not p.is_file():
            kind = "train" if p == train_path else "-val companion"
            raise DatasetError(p, None, f"missing {kind} of {path.name}")
    train = check_file(train_path, spec)
    val = check_file(val_path, spec)
    summary = CheckSummary(dataset, train, val)
    if relabel:
        summary.tasks = relabel_stats(train_path, spec)
    return summary
