"""``drol data fetch``: download the official OGBench files through ogbench, or say how to place them."""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from drol.data.paths import OGBENCH_DEFAULT_DIR
from drol.data.registry import get_spec
from drol.errors import UserError

log = logging.getLogger(__name__)

DATASET_URL = "https://rail.eecs.berkeley.edu/datasets/ogbench"
CONNECT_TIMEOUT_S = 3.0


class OfflineError(UserError):
    """The dataset server cannot be reached."""


def dataset_urls(dataset: str) -> list[str]:
    return [f"{DATASET_URL}/{dataset}.npz", f"{DATASET_URL}/{dataset}-val.npz"]


def can_connect(url: str = DATASET_URL, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """True if a TCP connection to the server opens within ``timeout`` (DNS included)."""
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    ok = threading.Event()

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.set()
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo ignores socket timeouts
    thread.start()
    thread.join(timeout)
    return ok.is_set()


def fetch(dataset: str, out: str | os.PathLike) -> tuple[Path, Path]:
    """Download ``<dataset>.npz`` and ``-val.npz`` into ``out`` (files already there are kept)."""
    get_spec(dataset)
    out = Path(out)
    train, val = out / f"{dataset}.npz", out / f"{dataset}-val.npz"
    if train.is_file() and val.is_file():
        log.info("%s and %s already present", train, val.name)
        return train, val
    urls = dataset_urls(dataset)
    manual = (
        f"download {' and '.join(urls)} by hand and place {train.name} and {val.name} "
        f"in {out} (or {OGBENCH_DEFAULT_DIR})"
    )
    if not can_connect(urls[0]):
        raise OfflineError(f"cannot reach {DATASET_URL} (offline?): {manual}")
    import ogbench

    try:
        ogbench.download_datasets([dataset], dataset_dir=str(out))
    except Exception as err:  # network errors come in many types (URLError, HTTPError, timeouts)
        for partial in (out / f"{train.name}.tmp", out / f"{val.name}.tmp"):
            partial.unlink(missing_ok=True)
        raise OfflineError(f"download failed ({err}): {manual}") from err
    return train, val


def fetch_d4rl(task: str, out: str | os.PathLike) -> Path:
    """Download the official D4RL hdf5 of ``task`` into ``out`` (kept if already there)."""
    import shutil
    import urllib.request

    from drol.data.d4rl import d4rl_dataset_dir, d4rl_url
    from drol.io import atomic_path

    url = d4rl_url(task)
    path = Path(out) / url.rsplit("/", 1)[-1]
    if path.is_file():
        log.info("%s already present", path)
        return path
    manual = f"download {url} by hand and place it in {out} (or {d4rl_dataset_dir()})"
    if not can_connect(url):
        raise OfflineError(f"cannot reach {urlparse(url).hostname} (offline?): {manual}")
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as resp,
            atomic_path(path) as tmp,
            open(tmp, "wb") as fh,
        ):
            shutil.copyfileobj(resp, fh, 1 << 20)
    except Exception as err:  # network errors come in many types (URLError, HTTPError, timeouts)
        raise OfflineError(f"download failed ({err}): {manual}") from err
    return path
