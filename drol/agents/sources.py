"""Where each default comes from: a value and its source, kept together in the agents' tables.

A source is a short citation: a table of the DROL paper, the official DROL script, the official
fql README or ``get_config()``, the FQL or IQL paper, a CORL config (path at a commit), or
``unverified: ...`` (a value nobody has traced to a primary source; the text says what is
known). :func:`is_unverified` is the one test of the latter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

UNVERIFIED = "unverified"

DROL_TABLE2 = "DROL paper Table 2"
DROL_TABLE3 = "DROL paper Table 3"
DROL_COMMIT = "7e669b093d3fa8bbd4de3833ce53eff998124c36"
DROL_SCRIPT = f"muzhancun/DROL@{DROL_COMMIT[:7]} scripts/production_run_commands.sh"
DROL_CODE = f"muzhancun/DROL@{DROL_COMMIT[:7]} agents/drol.py get_config()"
FQL_README = "seohongpark/fql README.md command"
FQL_PAPER = "FQL paper (Park et al. 2025, arXiv 2502.02538), appendix hyperparameter tables"
FQL_TABLE6 = "FQL paper (arXiv 2502.02538) Table 6"
FQL_TABLE7 = "FQL paper (arXiv 2502.02538) Table 7"
FQL_E2 = "FQL paper (arXiv 2502.02538) App. E.2"
FQL_TABLE5 = "FQL paper (arXiv 2502.02538) Table 5"
IQL_PAPER = "IQL paper (Kostrikov et al. 2022), App. B"
IMPLEMENTATION = "implementation choice (same math; see the agent's docstring)"
OGBENCH_PROTOCOL = "OGBench protocol (FQL paper): mean of the last 3 evaluations"
D4RL_PROTOCOL = "FQL/DROL D4RL protocol: the final evaluation"
CORL_REPO = "tinkoff-ai/CORL"
CORL_COMMIT = "6afec90484bbf47dee05fdf525e26a3ebe028e9b"
CORL_AT = f"{CORL_REPO}@{CORL_COMMIT[:7]}"  # CORL's files at the pinned commit


DEFLOW_COMMIT = "5830f0eb88e2acdd431a1ecf9a3f05ac64ab59f4"
DEFLOW_CODE = f"muzhancun/DeFlow@{DEFLOW_COMMIT[:7]} agents/deflow.py get_config()"
DEFLOW_README = f"muzhancun/DeFlow@{DEFLOW_COMMIT[:7]} README.md command"


def table6(row: str) -> str:
    """A row of the FQL paper's Table 6 ("Task-specific hyperparameters for offline RL"): an
    OGBench family (its five task rows are equal; tuned on the default task) or a D4RL id."""
    return f"{FQL_TABLE6}, row {row}"


def table6_rows(values: Mapping[str, T]) -> dict[str, Sourced[T]]:
    """Each value of a Table 6 column (row name -> value) sourced to its row."""
    return {row: Sourced(value, table6(row)) for row, value in values.items()}


def table7_indirect(row: str) -> str:
    """The FQL paper's Table 7 (offline-to-online) row, cited where Table 6's row could not be
    read (its antsoccer rows): indirect evidence for the offline setting."""
    return (
        f"{FQL_TABLE7} (offline-to-online), row {row}: indirect evidence, "
        "Table 6's antsoccer rows could not be read"
    )


def fql_code(agent: str) -> str:
    """The official fql agent's ``get_config()`` (``agents/<agent>.py``)."""
    return f"seohongpark/fql agents/{agent}.py get_config()"


def corl(method: str, dataset: str, key: str | None = None) -> str:
    """A CORL config: ``configs/offline/<method>/<env>/<dataset>.yaml`` at the pinned commit
    (``dataset`` a D4RL id such as ``pen-human-v1``; ``key`` the config key, if named)."""
    return f"{CORL_AT} {corl_path(method, dataset)}" + (f" {key}" if key else "")


def corl_path(method: str, dataset: str) -> str:
    """CORL's config file of ``method`` on a D4RL ``dataset`` id."""
    name = dataset.removesuffix("-v2").removesuffix("-v1")
    version = "v2" if dataset.endswith("-v2") else "v1"
    if name.startswith("antmaze-"):
        env, rest = "antmaze", name.removeprefix("antmaze-")
    else:
        env, rest = name.split("-", 1)
    return f"configs/offline/{method}/{env}/{rest.replace('-', '_')}_{version}.yaml"


def official_off(code: str) -> dict[str, str]:
    """Sources of the options the official code does not have (off by default: GELU MLPs, one
    learning rate, raw observations and rewards); CORL's settings turn them on."""
    off = f"{code} (no such option: off)"
    return {
        "activation": f"{code} (GELU MLPs)",
        "critic_lr": f"{code} (one learning rate)",
        "obs_norm": off,
        "reward_scale": off,
        "reward_bias": off,
    }


def unverified(note: str) -> str:
    """An ``unverified`` source, with what is known about the value."""
    return f"{UNVERIFIED}: {note}"


def is_unverified(source: str) -> bool:
    return source.startswith(UNVERIFIED)


def is_corl(source: str) -> bool:
    """Whether ``source`` is one of CORL's files (the D4RL BC/IQL/ReBRAC settings)."""
    return source.startswith(CORL_AT)


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A default and where it comes from."""

    value: T
    source: str

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ValueError(f"value {self.value!r} has an empty source")


def sourced(values: Mapping[str, Any], source: str) -> dict[str, Sourced[Any]]:
    """Every value of ``values`` with the same ``source``."""
    return {k: Sourced(v, source) for k, v in values.items()}


def plain(settings: Mapping[str, Sourced[Any]]) -> dict[str, Any]:
    """The values alone."""
    return {k: s.value for k, s in settings.items()}
