"""Where dataset files live: the project's data root, then OGBench's default directory.

The data root is ``data/`` (git-ignored) unless ``$DROL_DATA_DIR`` or an explicit
``data_dir`` says otherwise. File names are OGBench's own: ``<dataset>.npz`` and
``<dataset>-val.npz``, so files placed in ``~/.ogbench/data`` are found too.
"""

from __future__ import annotations

import os
from pathlib import Path

from drol.data.npzfile import temp_files_for
from drol.errors import MissingDatasetError

DEFAULT_DATA_DIR = Path(os.environ.get("DROL_DATA_DIR", "data"))
OGBENCH_DEFAULT_DIR = Path(os.environ.get("OGBENCH_DATA_DIR", "~/.ogbench/data")).expanduser()


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The configured data root: ``data_dir``, else ``$DROL_DATA_DIR``, else ``data/``."""
    return Path(data_dir) if data_dir else DEFAULT_DATA_DIR


def ogbench_candidates(dataset: str, data_dir: str | os.PathLike | None) -> list[Path]:
    dirs = [data_root(data_dir)]
    if OGBENCH_DEFAULT_DIR not in dirs:
        dirs.append(OGBENCH_DEFAULT_DIR)
    return [d / f"{dataset}.npz" for d in dirs]


def find_ogbench_dataset(dataset: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return the path of ``<dataset>.npz`` (its ``-val.npz`` must sit beside it)."""
    candidates = ogbench_candidates(dataset, data_dir)
    for path in candidates:
        val = path.with_name(f"{dataset}-val.npz")
        if path.is_file() and val.is_file():
            return path
    where = " or ".join(str(p) for p in candidates)
    out = data_root(data_dir)
    leftovers = [p for c in candidates for p in temp_files_for(c.parent, dataset)]
    hint = (
        f"; {leftovers[0]} is a half-written file from an interrupted generation (delete it)"
        if leftovers
        else ""
    )
    raise MissingDatasetError(
        f"dataset {dataset} not found (looked for {where} with its -val.npz){hint}; "
        f"make it with `drol data generate {dataset} --out {out}` "
        f"or get the official files with `drol data fetch {dataset} --out {out}`"
    )
