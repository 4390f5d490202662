"""Where dataset files live: the project's data root, then each suite's own directory.

The data root is an explicit ``data_dir`` (``--data-dir``/``--out``), else ``$DROL_DATA_DIR``,
else ``data/`` (git-ignored): the same default for every ``drol`` command, read when the
command runs. Searched, in order (:data:`SEARCH_PATHS_HELP`):

- OGBench ``<dataset>.npz`` + ``-val.npz`` (OGBench's own names): ``DIR``, then
  ``$OGBENCH_DATA_DIR`` or ``~/.ogbench/data``;
- D4RL hdf5 (d4rl's own file names): ``DIR``, ``DIR/d4rl``, then ``$D4RL_DATASET_DIR`` or
  ``~/.d4rl/datasets``; Adroit's Minari copy: ``DIR``, then ``$MINARI_DATASETS_PATH`` or
  ``~/.minari/datasets``.
"""

from __future__ import annotations

import os
from pathlib import Path

from drol.data.npzfile import temp_files_for
from drol.errors import MissingDatasetError

DATA_DIR_ENV = "DROL_DATA_DIR"
OGBENCH_DEFAULT_DIR = Path(os.environ.get("OGBENCH_DATA_DIR", "~/.ogbench/data")).expanduser()


# for --help: the default and every place a dataset is looked for
DATA_ROOT_HELP = f"${DATA_DIR_ENV}, else ./data"
SEARCH_PATHS_HELP = (
    "OGBench files are looked for in DIR, then $OGBENCH_DATA_DIR or ~/.ogbench/data; D4RL "
    "hdf5 files in DIR, DIR/d4rl, then $D4RL_DATASET_DIR or ~/.d4rl/datasets (Adroit's Minari "
    "copy: DIR, then $MINARI_DATASETS_PATH or ~/.minari/datasets)"
)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root: ``data_dir``, else ``$DROL_DATA_DIR``, else ``data/`` (read now, not at
    import, so every command and test sees the same, current default)."""
    if data_dir:
        return Path(data_dir).expanduser()
    return Path(os.environ.get(DATA_DIR_ENV) or "data").expanduser()


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
