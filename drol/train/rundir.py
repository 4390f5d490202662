"""What a run directory holds and the rules that keep it honest (docs/run_format.md).

* :class:`RunIdentity` -- everything that defines a run's result (task, method, K, seed,
  schedule, agent hyperparameters, dataset fingerprint (:mod:`drol.data.fingerprint`)). Built once by the trainer and written
  into ``config.json``, ``score.json`` and ``checkpoint.pt``; a re-invocation whose identity
  differs is refused, naming the differing keys; ``drol aggregate`` checks it against the path.
* :class:`RunLock` -- an exclusive ``fcntl.flock`` on ``RUN_DIR/.lock``: it dies with its
  process, so a killed run never blocks its own resume.
* :func:`mark_failed` -- ``FAILED`` (one-line reason) plus the traceback in ``error.log``;
  :func:`stop_run` writes it and raises :class:`TrainingError`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import traceback
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from drol import physics
from drol.errors import UserError
from drol.io import atomic_write_json, atomic_write_text
from drol.tasks import OGBENCH

CONFIG = "config.json"
SCORE = "score.json"
CHECKPOINT = "checkpoint.pt"
FAILED = "FAILED"
ERROR_LOG = "error.log"
LOCK = ".lock"


@dataclass
class RunSpec:
    """The run-level settings that change a run's result (shared by settings and identity)."""

    task: str
    method: str
    K: int
    seed: int
    steps: int
    eval_every: int
    eval_episodes: int
    log_every: int = 5000
    num_probe_states: int = 8
    probe_neighbors: int = 64

    @classmethod
    def spec_keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(RunSpec))


@dataclass
class RunIdentity(RunSpec):
    """What must match for two invocations to be the same run: the :class:`RunSpec`, the
    resolved agent hyperparameters and the dataset fingerprint."""

    agent: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)  # DatasetFingerprint as a dict
    physics: dict[str, str] = field(default_factory=dict)  # the evaluation's simulator versions

    PATH_KEYS = ("task", "method", "K", "seed")  # the keys the run directory's path encodes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def differences(self, recorded: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """``(key, recorded value, this value)`` for each key (``agent.lr`` for nested ones)
        where ``recorded`` (a config.json) differs from this identity."""
        return _diff("", recorded, {k: v for k, v in self.to_dict().items()})

    def check_against(self, config_path: Path) -> None:
        """Raise a :class:`UserError` naming every key where ``config_path`` differs."""
        recorded = read_json(config_path)
        if recorded is None:
            return
        dataset = recorded.get("dataset")
        before = dataset.get("version", 1) if isinstance(dataset, dict) else None
        if self.dataset and before != self.dataset.get("version"):
            raise UserError(
                f"{config_path} records a dataset fingerprint of version {before!r}, this drol "
                f"computes version {self.dataset.get('version')!r} (it now covers every array "
                "that reaches training); that run cannot be checked or resumed: use another "
                "--out or delete it and train again"
            )
        self.check_physics(recorded, config_path)
        diffs = self.differences(recorded)
        if diffs:
            shown = "; ".join(
                f"{k}: {_show(a)} in {config_path}, {_show(b)} requested" for k, a, b in diffs
            )
            raise UserError(
                f"{shown} -- that directory holds another run; use another --out or delete it"
            )

    def check_physics(self, recorded: dict[str, Any], config_path: Path) -> None:
        """Refuse, in one line, to resume a run under other simulator versions than it ran
        with (a run of before the record: the ``versions`` its config.json lists)."""
        before = recorded.get("physics")
        if not isinstance(before, dict):  # the main process's versions: OGBench's simulator
            listed = recorded.get("versions")
            listed = listed if isinstance(listed, dict) and recorded.get("suite") == OGBENCH else {}
            before = {k: str(listed[k]) for k in self.physics if k in listed}
        if physics.differs(before, self.physics):
            raise UserError(
                f"{config_path} ran under {physics.describe(before)}, this environment under "
                f"{physics.describe(self.physics)}: a run does not resume across a physics "
                "change (docs/physics.md); use another --out or delete it and train again"
            )

    def check_score(self, score_path: Path) -> None:
        """A finished run's ``score.json`` must hold this identity (its path keys, ``steps``
        and digest): the check that still holds when ``config.json`` is gone."""
        recorded = read_json(score_path)
        if recorded is None:
            return
        mine = self.to_dict()
        diffs = [
            (k, recorded[k], mine[k])
            for k in (*self.PATH_KEYS, "steps")
            if k in recorded and recorded[k] != mine[k]
        ]
        if recorded.get("identity") != self.digest():
            diffs.append(("identity", recorded.get("identity"), self.digest()))
        if diffs:
            shown = "; ".join(
                f"{k}: {_show(a)} in {score_path}, {_show(b)} requested" for k, a, b in diffs
            )
            raise UserError(
                f"{shown} -- that directory holds another finished run; use another --out or "
                "delete it"
            )


def _diff(prefix: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    if isinstance(new, dict):
        old = old if isinstance(old, dict) else {}
        out = []
        for key in new:
            out += _diff(f"{prefix}{key}.", old.get(key, _MISSING), new[key])
        return out
    return [] if old == new else [(prefix.rstrip("."), old, new)]


class _Missing:
    def __repr__(self) -> str:
        return "absent"


_MISSING = _Missing()


def _show(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def read_json(path: Path) -> dict[str, Any] | None:
    """A run file as a dict; None when absent; a one-line :class:`UserError` when unreadable."""
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise UserError(
            f"{path}: unreadable ({err}); delete the run directory to start over"
        ) from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: not a JSON object; delete the run directory to start over")
    return obj


def path_mismatches(
    recorded: dict[str, Any], task: str, method: str, K: int, seed: int
) -> list[str]:
    """Where a run file's ``task, method, K, seed`` disagree with its directory's path."""
    expected = dict(zip(RunIdentity.PATH_KEYS, (task, method, int(K), int(seed)), strict=True))
    return [
        f"{k}={recorded.get(k)!r} in the files but {v!r} in the path"
        for k, v in expected.items()
        if recorded.get(k) != v
    ]


def score_value(score: dict[str, Any], path: Path) -> float:
    """The ``score`` of a score.json as a finite float; a one-line :class:`UserError` naming
    the file otherwise (NaN, infinite, absent, a string or a bool is a failed run)."""
    value = score.get("score")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{path}: 'score' is {value!r}, not a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer no float can hold (e.g. 401 digits)
        raise UserError(
            f"{path}: 'score' is an integer too large for a float, not a finite number"
        ) from None
    if not finite:
        raise UserError(f"{path}: 'score' is {value!r}, not a finite number")
    return float(value)


def finished_score(run_dir: Path, key: tuple[str, str, int, int] | None = None) -> dict[str, Any]:
    """``score.json`` of a finished run that may be counted, its ``score`` a finite float.

    The one rule behind ``drol aggregate``/``tables``/``stats``/``figures`` and ``drol
    select-k``: ``score.json`` and ``config.json`` must both be there and readable, their ``task, method, K,
    seed`` must equal ``key`` (the run's path), ``score.json``'s identity digest must equal
    ``config.json``'s (a stale score of another run is refused; two absent digests are no
    match), the run settings both record (``steps``, ...) must agree, and the score must be a
    finite number. Anything else raises a one-line :class:`UserError` with the reason.
    """
    run_dir = Path(run_dir)
    score_file, config_file = run_dir / SCORE, run_dir / CONFIG
    score = read_json(score_file)
    if score is None:
        raise UserError(f"{score_file}: missing (the run has not finished)")
    config = read_json(config_file)
    if config is None:
        raise UserError(
            f"{config_file}: missing, so {score_file} cannot be confirmed as this run's"
        )
    for name, recorded in ((SCORE, score), (CONFIG, config)):
        if key is not None and (bad := path_mismatches(recorded, *key)):
            raise UserError(f"{name}: " + "; ".join(bad))
    if config.get("identity") != score.get("identity"):
        raise UserError(
            f"{score_file}: identity {score.get('identity')!r} differs from "
            f"{config.get('identity')!r} in {config_file} (a stale score of another run)"
        )
    problems = [
        f"no identity digest in {name}"
        for name, recorded in ((SCORE, score), (CONFIG, config))
        if not recorded.get("identity")
    ]
    problems += [
        f"{k}={score[k]!r} in {SCORE} but {config[k]!r} in {CONFIG}"
        for k in RunSpec.spec_keys()
        if k in score and k in config and score[k] != config[k]
    ]
    if problems:
        raise UserError(
            f"{score_file}: " + "; ".join(problems)
            + "; rerun drol train on that run directory (or delete it)"
        )  # fmt: skip
    score["score"] = score_value(score, score_file)
    return score


def key_of_path(run_dir: Path) -> tuple[str, str, int, int] | None:
    """``(task, method, K, seed)`` that a run directory's path ``.../{task}/{method}/K{K}/
    seed{seed}`` encodes; None when the path does not have that shape."""
    parts = Path(run_dir).parts[-4:]
    if len(parts) < 4:
        return None
    task, method, k_dir, seed_dir = parts
    k, s = k_dir.removeprefix("K"), seed_dir.removeprefix("seed")
    if not (k_dir.startswith("K") and k.isdigit() and seed_dir.startswith("seed") and s.isdigit()):
        return None
    return task, method, int(k), int(s)


# ---------------------------------------------------------------- lock


class RunLock:
    """Exclusive lock on a run directory (``fcntl.flock``; released when the process dies)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError(
                    f"{self.path.parent} is in use by another drol train (PID {holder} holds "
                    f"{self.path}); wait for it or use another --out"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def record_compile_fallback(run_dir: Path, reason: str) -> None:
    """Make ``config.json`` say what ran: ``compile`` 'off' after the step fell back to eager,
    and why (``compile_fallback``); the run's identity is untouched."""
    path = run_dir / CONFIG
    config = read_json(path) or {}
    speed = config.get("speed", {})
    if speed.get("compile") == "off" and speed.get("compile_fallback") == reason:
        return
    config["speed"] = {**speed, "compile": "off", "compile_fallback": reason}
    atomic_write_json(path, config)


# ---------------------------------------------------------------- FAILED


class TrainingError(UserError):
    """Training stopped (e.g. a non-finite loss); the reason is also written to RUN_DIR/FAILED."""


def stop_run(run_dir: Path, reason: str) -> None:
    """Write the reason to ``RUN_DIR/FAILED`` and stop the run with a :class:`TrainingError`."""
    raise TrainingError(f"{reason}; stopped, {mark_failed(run_dir, reason)}")


def mark_failed(run_dir: Path, reason: str, exc: BaseException | None = None) -> str:
    """Write ``FAILED`` (the one-line reason) and, given ``exc``, its traceback to ``error.log``.

    Best effort: on a full or read-only disk the files may not be written; the returned note
    says where the details are (or that they could not be written).
    """
    reason = " ".join(reason.split()) or "failed"
    note = f"reason written to {run_dir / FAILED}"
    try:
        atomic_write_text(run_dir / FAILED, reason + "\n")
        if exc is not None:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            atomic_write_text(run_dir / ERROR_LOG, text)
            note += f", traceback in {run_dir / ERROR_LOG}"
    except OSError as err:
        note = f"could not write {run_dir / FAILED}: {err.strerror or err}"
    return note


def clear_failed(run_dir: Path) -> None:
    for name in (FAILED, ERROR_LOG):
        (run_dir / name).unlink(missing_ok=True)


__all__ = [
    "record_compile_fallback",
    "CHECKPOINT",
    "CONFIG",
    "ERROR_LOG",
    "FAILED",
    "LOCK",
    "SCORE",
    "RunIdentity",
    "RunLock",
    "RunSpec",
    "TrainingError",
    "clear_failed",
    "finished_score",
    "key_of_path",
    "mark_failed",
    "path_mismatches",
    "read_json",
    "score_value",
    "stop_run",
]
