"""Deterministic ``.npz`` writing (same layout as ``np.savez_compressed``) and the train/val pair."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from drol.io import atomic_path

# np.savez stamps each member with the current time; a fixed stamp makes files byte-identical.
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as a deflate-compressed npz that ``np.load`` reads like savez_compressed."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)


def val_path_for(train_path: str | os.PathLike) -> Path:
    """``X.npz`` -> ``X-val.npz`` (as ``ogbench.make_env_and_datasets`` derives it)."""
    train_path = Path(train_path)
    return train_path.with_name(train_path.name.removesuffix(".npz") + "-val.npz")


def write_dataset_pair(
    train_path: str | os.PathLike,
    train: Mapping[str, np.ndarray],
    val: Mapping[str, np.ndarray],
) -> tuple[Path, Path]:
    """Write both files to temporaries, then rename the val file and the train file last.

    The train file's presence therefore means both are complete; a killed run leaves only
    dot-prefixed ``*.tmp.npz`` files, which nothing mistakes for a dataset.
    """
    train_path = Path(train_path)
    val_path = val_path_for(train_path)
    with atomic_path(train_path, suffix=".npz") as tmp_train:  # noqa: SIM117 (rename order)
        with atomic_path(val_path, suffix=".npz") as tmp_val:
            write_npz(tmp_val, val)
            write_npz(tmp_train, train)  # atomic_path gives them the usual (umask) mode
        # leaving the inner block renamed the val file; leaving the outer one renames train
    return train_path, val_path


def temp_files_for(directory: str | os.PathLike, dataset: str) -> list[Path]:
    """Leftover temporaries of an interrupted write of ``dataset`` in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    pat = re.compile(rf"^\.{re.escape(dataset)}(-val)?\.npz\..*\.tmp\.npz$")
    return sorted(p for p in directory.iterdir() if pat.match(p.name))


def is_temp_name(name: str) -> bool:
    """True for the names :func:`drol.io.atomic_path` gives its temporaries."""
    return name.startswith(".") and name.endswith(".tmp.npz")
