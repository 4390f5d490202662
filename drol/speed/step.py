"""Speed settings that apply to any :class:`~drol.agents.base.OfflineAgent`.

They wrap ``agent.update`` from the outside, so every agent (whatever its ``update``)
gets them, and ``base.py``'s API is unchanged:

- ``precision``: ``'fp32'`` (default: exact float32, the gradient-equality tests) or
  ``'bf16'`` (opt-in: the step runs under CPU/CUDA autocast, so GEMMs run in bfloat16 while
  the master weights, gradients and Adam state stay float32; ``tests/test_speed.py`` bounds
  its drift from fp32).
- ``compile``: ``'auto'`` (default), ``'on'`` or ``'off'``: ``torch.compile`` of the whole
  step (losses, backward, target EMA; fp32, the same math up to float reassociation; the
  fused Adam step stays its single eager kernel), ``mode='reduce-overhead'`` (CUDA graphs) on CUDA. Compiling costs ~10-100 s
  once per process (inductor caches it on disk), so ``'auto'`` compiles runs of at least
  :data:`COMPILE_MIN_STEPS` steps and ``drol bench``. Logging steps (``diagnostics=True``,
  one in ``log_every``) run eager rather than compiling a second graph. A compile failure
  logs one warning and falls back to eager for the rest of the run.

:func:`runtime_info` is what ``config.json`` and ``drol bench --json`` record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from drol.errors import ConfigError
from drol.nn.eager import keep_eager
from drol.speed import allocator, inductor_cache, openmp

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("auto", "on", "off")
COMPILE_MIN_STEPS = 10_000  # 'auto' compiles runs this long (compile time < 1% of the run)
SPEED_KEYS = ("precision", "compile")  # run-level ``--set`` keys of this module


@dataclass(frozen=True)
class SpeedSettings:
    """How the training step runs (not what it computes, up to bf16 rounding)."""

    precision: str = "fp32"
    compile: str = "auto"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"bad --set precision={self.precision!r}: must be one of {', '.join(PRECISIONS)}"
            )
        if self.compile not in COMPILE_MODES:
            raise ConfigError(
                f"bad --set compile={self.compile!r}: must be one of {', '.join(COMPILE_MODES)}"
            )

    def resolved(self, steps: int | None) -> SpeedSettings:
        """``compile='auto'`` made 'on' or 'off' for a run of ``steps`` (None: a benchmark)."""
        on = self.compile == "on" or (
            self.compile == "auto" and (steps is None or steps >= COMPILE_MIN_STEPS)
        )
        if on and inductor_cache.problem():  # the compiler cannot cache: eager, as recorded
            on = False
        return SpeedSettings(precision=self.precision, compile="on" if on else "off")

    @classmethod
    def from_values(cls, values: dict[str, str]) -> SpeedSettings:
        """From ``--set`` strings (keys outside :data:`SPEED_KEYS` are ignored)."""
        return cls(**{k: str(v).strip().lower() for k, v in values.items() if k in SPEED_KEYS})


UpdateFn = Callable[..., dict[str, Tensor]]


class TrainStep:
    """``agent.update`` under the chosen precision, compiled if asked.

    Call it like ``agent.update(batch, diagnostics=...)``. The agent (parameters, optimizer,
    generator) is shared, so checkpoints and resumes go through the agent as before.
    ``settings.compile='auto'`` counts as a long run here (compiled); the trainer passes
    settings already resolved for its run length.
    """

    def __init__(self, agent: torch.nn.Module, settings: SpeedSettings | None = None):
        self.agent = agent
        self.settings = (settings or SpeedSettings(compile="off")).resolved(steps=None)
        self.device_type = next(agent.parameters()).device.type
        self.compile_seconds = 0.0
        self.fallback: str | None = None  # why the step fell back to eager, if it did
        self._compiled: UpdateFn | None = None
        if self.settings.compile == "on":
            optimizer = getattr(agent, "optimizer", None)
            if optimizer is not None:
                # the fused Adam step is one kernel already; traced, it is functionalised into
                # an out-of-place Adam plus copies back into every parameter and moment
                optimizer.step = torch._dynamo.disable(optimizer.step)
            keep_eager(agent)  # the agent's host-side methods (@eager) stay out of the graph
            mode = "reduce-overhead" if self.device_type == "cuda" else None
            self._compiled = torch.compile(agent.update, mode=mode)
        self._warm = False

    def precision_context(self) -> contextlib.AbstractContextManager[Any]:
        if self.settings.precision == "bf16":
            return torch.autocast(device_type=self.device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def __call__(self, batch: dict[str, Tensor], diagnostics: bool = False) -> dict[str, Tensor]:
        with self.precision_context():
            if self._compiled is None or diagnostics:
                return self.agent.update(batch, diagnostics=diagnostics)
            if self.device_type == "cuda":  # a new CUDA-graph step: earlier outputs are done
                torch.compiler.cudagraph_mark_step_begin()
            if self._warm:
                return self._compiled(batch)
            return self._first_compiled_call(batch)

    def _first_compiled_call(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The call that compiles; eager from now on if it fails."""
        assert self._compiled is not None
        # graphs compile lazily, one segment at a time: a failure can come after the eager
        # parts before it ran (latent draws, buffer writes), so the retry starts from a copy
        saved = {k: v.detach().clone() for k, v in self.agent.state_dict().items()}
        generator = getattr(self.agent, "generator", None)
        rng = generator.get_state() if isinstance(generator, torch.Generator) else None
        t = time.perf_counter()
        try:
            out = self._compiled(batch)
        except Exception as err:  # noqa: BLE001 - any compiler failure: fall back, once
            self.fallback = failure_reason(err)
            log.warning(
                "torch.compile of the training step failed (%s); running eager", self.fallback
            )
            self._compiled = None
            self.agent.load_state_dict(saved)
            if rng is not None:
                generator.set_state(rng)
            return self.agent.update(batch)
        self.compile_seconds = time.perf_counter() - t
        self._warm = True
        return out

    @property
    def compiled(self) -> bool:
        """Whether the step still runs compiled (False after a fallback)."""
        return self._compiled is not None


def failure_reason(err: BaseException) -> str:
    """A compile failure in one line: its type and the first line of its message."""
    first = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def runtime_info(
    settings: SpeedSettings | None = None, fallback: str | None = None
) -> dict[str, Any]:
    """The speed-relevant runtime, for ``config.json`` and ``drol bench --json``: what ran,
    so ``compile`` is 'off' after a fallback to eager, whose reason ``compile_fallback`` holds
    (a compile failure, or an unusable ``TORCHINDUCTOR_CACHE_DIR``)."""
    settings = settings or SpeedSettings()
    fallback = fallback or inductor_cache.problem()
    return {
        "precision": settings.precision,
        "compile": "off" if fallback and settings.compile == "on" else settings.compile,
        "compile_fallback": fallback,
        "threads": torch.get_num_threads(),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "openmp_wait": openmp.policy().reason,  # why that spin count (drol.speed.openmp)
        "malloc_keeps_freed_memory": allocator.applied(),  # drol.speed.allocator
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_model": cpu_model(),
        "matmul_backend": "mkl" if torch.backends.mkl.is_available() else "blas",
    }


def cpu_model() -> str:
    """``model name`` of /proc/cpuinfo (``unknown`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
