"""The project's exception types, on the ground floor: library code raises, CLIs print.

Every :class:`UserError` is a mistake in the user's input (a flag, a config value, a file):
``drol`` prints its message as one line and exits with code 2, without a traceback. An
:class:`EnvFailedError` is an environment that broke while in use (not the user's input, not
a bug): one line too, exit code 1.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit code 2."""


class ConfigError(UserError, ValueError):
    """A bad hyperparameter or setting: the message names the key and the allowed values."""


class UnknownTaskError(UserError, ValueError):
    """A task name that is not in the benchmark."""


class MissingDatasetError(UserError, FileNotFoundError):
    """A dataset file that is not where it should be: the message says how to get it."""


class EnvUnavailableError(UserError, RuntimeError):
    """The evaluation environment of a task cannot be built on this machine."""


class EnvFailedError(RuntimeError):
    """The evaluation environment died, hung or failed while in use: printed as one line,
    exit code 1; the message says what happened and where its log is."""


__all__ = [
    "ConfigError",
    "EnvFailedError",
    "EnvUnavailableError",
    "MissingDatasetError",
    "UnknownTaskError",
    "UserError",
]
