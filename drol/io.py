"""Atomic file writes: write to a temporary file in the same directory, then rename."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched, so a
    reader never sees a half-written file. ``suffix`` keeps extensions that writers
    insist on (``np.savez`` appends ``.npz`` otherwise).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    except OSError as err:
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp_path, path)
    except OSError as err:  # name the file being written, not its temporary
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_write_with(
    path: str | os.PathLike, writer: Callable[[Path], None], suffix: str = ""
) -> None:
    """Call ``writer(tmp_path)`` and atomically move the result onto ``path``."""
    with atomic_path(path, suffix=suffix) as tmp:
        writer(tmp)


def ensure_writable_dir(path: str | os.PathLike, what: str) -> Path:
    """Create directory ``path`` and prove a file can be written in it, before any work.

    Raises a one-line :class:`~drol.errors.UserError` naming ``what`` (e.g. ``--out``), the
    path and the OS reason: not a directory, read-only file system, permission denied, ...
    """
    from drol.errors import UserError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"{what} {path}: cannot write there ({os_error_message(err)})") from None
    return path


def os_error_message(err: OSError) -> str:
    """One line naming the path and the OS reason (``ENOSPC`` says "disk full")."""
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC and "disk full" not in reason:
        reason = f"disk full ({reason})"
    if err.filename is None:
        return reason
    path = str(err.filename)
    if err.filename2 is not None:
        path = f"{path} -> {err.filename2}"
    return f"{path}: {reason}"


# library hints to load a file "unsafely" (numpy's allow_pickle, torch's weights_only=False):
# never passed on to the user, whose fix is to regenerate or re-fetch the file
_UNSAFE_HINTS = ("allow_pickle", "weights_only", "trust the source")


def library_reason(err: BaseException) -> str:
    """One line saying why a library could not read a file, without its advice to load it
    unsafely (a file that holds pickled objects is refused: it could run code)."""
    text = " ".join(str(err).split())
    if any(hint in text.lower() for hint in _UNSAFE_HINTS):
        return "it holds pickled Python objects, which are never loaded (they could run code)"
    return text or type(err).__name__


def human_bytes(n: float) -> str:
    """``n`` bytes with a unit that shows its digits: ``512 B``, ``40.1 kB``, ``3.2 GB``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
