"""Methods that stay eager under ``torch.compile``, marked without importing ``torch._dynamo``.

``@torch.compiler.disable`` at class definition imports dynamo (about 1.2 s at every
``drol train`` start, most of the runs never compile). :func:`eager` only marks the function;
:func:`keep_eager` wraps an object's marked methods with ``torch.compiler.disable`` when a
step is actually compiled (:class:`drol.speed.step.TrainStep`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)
EAGER_ATTR = "_drol_eager"


def eager(fn: F) -> F:
    """Mark ``fn`` (a method) to run eager when its object's step is compiled."""
    setattr(fn, EAGER_ATTR, True)
    return fn


def keep_eager(obj: object) -> list[str]:
    """Wrap each :func:`eager`-marked method of ``obj`` with ``torch.compiler.disable`` on the
    instance (the class is untouched); return their names."""
    names = [
        name
        for name in dir(type(obj))
        if getattr(getattr(type(obj), name, None), EAGER_ATTR, False)
    ]
    for name in names:
        # a method bound to the disabled function, as the decorator on the class gives
        # (``torch.compile`` of a disabled function itself would unwrap and trace it)
        disabled = torch.compiler.disable(getattr(type(obj), name))
        object.__setattr__(obj, name, MethodType(disabled, obj))
    return names


__all__ = ["eager", "keep_eager"]
