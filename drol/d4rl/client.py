"""A gymnasium-style env whose d4rl 1.1 env lives in a worker process in the D4RL venv.

The policy stays in our process; each call is one request/response over the worker's pipes
(:mod:`drol.d4rl.protocol`). Every wait is bounded: a worker that dies, hangs or answers with
an error raises :class:`D4RLWorkerError` (an environment failure: one line, exit code 1) naming
the task, what happened and the worker's log file. The log is kept when anything failed and
removed when the env is closed cleanly.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from drol.d4rl import protocol
from drol.d4rl.install import d4rl_python
from drol.errors import EnvFailedError

WORKER = Path(__file__).with_name("worker.py")
START_TIMEOUT_S = 300.0  # the first import of mujoco_py on a fresh venv may compile (~1 min)
CALL_TIMEOUT_S = 60.0


LOG_NAME = "d4rl-worker.log"  # the worker's log in a run directory (beside FAILED)


class D4RLWorkerError(EnvFailedError):
    """The worker crashed, hung or reported an error."""


class _TimedReader:
    """``read(n)`` on a pipe, raising TimeoutError once ``deadline`` (monotonic) has passed."""

    def __init__(self, fd: int):
        self.fd = fd
        self.deadline = 0.0

    def read(self, n: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise TimeoutError
        return os.read(self.fd, n)


def wire_actions(actions, shape: tuple[int, ...]) -> np.ndarray:
    """``actions`` as sent to the worker: in their own dtype when float32 (a policy's), else float64.

    d4rl's ``NormalizedBoxEnv.step`` rescales an action in the action's own dtype (antmaze:
    control range ±30), so a float32 action must reach it as float32 to be stepped as d4rl's
    own evaluation loop steps it; anything else (lists, float64, ints) goes as float64.
    """
    arr = np.asarray(actions)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.ascontiguousarray(arr, dtype=dtype).reshape(shape)


def normalized_score(ret: float, ref_min: float, ref_max: float) -> float:
    """D4RL's normalised score ×100: ``100 (ret - min) / (max - min)``."""
    return 100.0 * (ret - ref_min) / (ref_max - ref_min)


class D4RLEnv:
    """``reset(seed=)`` / ``step(action)`` as gymnasium; ``info['normalized_return']`` ×100.

    ``python`` is the D4RL venv's interpreter (default :func:`drol.d4rl.install.d4rl_python`).
    The worker's stderr goes to ``log_path`` (default: a temporary ``drol-d4rl-*.log``); the
    log is kept when the worker failed (or the env was killed or left by an exception) and
    removed by a clean :meth:`close`. ``worker_versions`` are the worker's python, d4rl, gym,
    mujoco_py and numpy versions. ``worker`` replaces the worker script (tests).
    """

    def __init__(
        self,
        task: str,
        python: str | os.PathLike | None = None,
        log_path: str | os.PathLike | None = None,
        start_timeout: float = START_TIMEOUT_S,
        call_timeout: float = CALL_TIMEOUT_S,
        worker: str | os.PathLike = WORKER,
    ):
        import gymnasium

        self.task = task
        self.call_timeout = call_timeout
        python = Path(python) if python else d4rl_python()
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"drol-d4rl-{task}-", suffix=".log")
            os.close(fd)
        self.log_path = Path(log_path)
        self.failed = False  # set once anything went wrong: the log is then kept
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the worker
        env = {**os.environ, "D4RL_SUPPRESS_IMPORT_ERROR": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)  # nothing of our 3.11 stack leaks into the old venv
        self.proc = subprocess.Popen(
            [str(python), str(worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=str(WORKER.parent),
            bufsize=0,
        )
        self._reader = _TimedReader(self.proc.stdout.fileno())
        self.closed = False
        self._call(None, timeout=start_timeout, what="start-up")
        spec, _ = self._call({"cmd": "make", "task": task}, timeout=start_timeout, what="make")
        self.obs_dim, self.act_dim = spec["obs_dim"], spec["act_dim"]
        self.horizon = spec["horizon"]
        self.ref_min, self.ref_max = spec["ref_min_score"], spec["ref_max_score"]
        self.worker_versions: dict[str, str] = dict(spec.get("versions", {}))
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (self.act_dim,), np.float32)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float64)
        self.ret = 0.0

    # ------------------------------------------------------------------ transport
    def _fail(self, why: str) -> D4RLWorkerError:
        self.failed = True
        self.kill()
        tail = ""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            tail = f"; last log line: {lines[-1][:300]}" if lines else ""
        except OSError:
            pass
        return D4RLWorkerError(f"D4RL worker for {self.task} {why}; log {self.log_path}{tail}")

    def _call(
        self,
        header: dict[str, Any] | None,
        arrays: dict[str, np.ndarray] | None = None,
        timeout: float | None = None,
        what: str = "",
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.closed:
            raise D4RLWorkerError(f"D4RL worker for {self.task} is closed")
        what = what or (header or {}).get("cmd", "")
        timeout = self.call_timeout if timeout is None else timeout
        try:
            if header is not None:
                self.proc.stdin.write(protocol.encode(header, arrays))
                self.proc.stdin.flush()
            self._reader.deadline = time.monotonic() + timeout
            reply, out = protocol.read(self._reader)
        except TimeoutError:
            raise self._fail(f"hung (no reply to '{what}' in {timeout:.0f} s)") from None
        except (protocol.ProtocolError, BrokenPipeError, OSError) as err:
            try:  # a closed pipe usually means the worker is exiting: give it a moment
                code = self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                code = None
            state = f"exited with code {code}" if code is not None else f"broke the pipe ({err})"
            raise self._fail(f"{state} during '{what}'") from None
        if not reply.get("ok"):
            self.failed = True
            err = str(reply.get("error", "")).strip().splitlines()
            raise D4RLWorkerError(
                f"D4RL worker for {self.task}: '{what}' failed: {err[-1] if err else '?'}; "
                f"log {self.log_path}"
            )
        return reply, out

    # ------------------------------------------------------------------ env API
    def reset(self, seed: int | None = None, options: Any = None):
        reply, out = self._call({"cmd": "reset", "seed": seed})
        self.ret = 0.0
        info = {"target_goal": reply["target_goal"]} if "target_goal" in reply else {}
        return out["obs"], info

    def step(self, action):
        action = wire_actions(action, (self.act_dim,))
        reply, out = self._call({"cmd": "step"}, {"action": action})
        reward = float(reply["reward"])
        self.ret += reward
        info = dict(reply["info"])
        info["normalized_return"] = normalized_score(self.ret, self.ref_min, self.ref_max)
        return out["obs"], reward, bool(reply["terminated"]), bool(reply["truncated"]), info

    def steps(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Step through ``actions`` (T, act_dim) in one call, stopping at the episode's end."""
        actions = wire_actions(actions, (-1, self.act_dim))
        _, out = self._call({"cmd": "steps"}, {"actions": actions})
        self.ret += float(out["rewards"].sum())
        return out

    def close(self) -> None:
        """End the worker; remove its log when it closed cleanly and nothing had failed."""
        if self.closed:
            return
        with contextlib.suppress(D4RLWorkerError, subprocess.TimeoutExpired):
            self._call({"cmd": "close"}, timeout=10.0)
            self.proc.wait(timeout=10.0)
        self.kill()
        if not self.failed and self.proc.returncode == 0:
            self.log_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """Stop the worker now, keeping its log (idempotent)."""
        self.closed = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        self._log.close()

    def __enter__(self) -> D4RLEnv:
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is None:
            self.close()
        else:  # something failed while the env was in use: keep the log
            self.failed = True
            self.kill()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            self.kill()
