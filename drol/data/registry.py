"""OGBench datasets this project knows: names, generators and the expected array layout."""

from __future__ import annotations

from dataclasses import dataclass

from drol.errors import UserError
from drol.tasks import OGBENCH_FAMILIES


class UnknownDatasetError(UserError):
    """A dataset name that is not an OGBench dataset of the benchmark."""


@dataclass(frozen=True)
class DatasetSpec:
    """One OGBench dataset file stem, e.g. ``cube-single-play-v0``.

    ``generator`` is ``"manipspace"``, ``"pointmaze"`` or ``None`` (official files only).
    Dimensions are ``None`` where they are not checked.
    """

    name: str
    family: str  # e.g. 'cube-single-play'
    env_id: str  # goal-conditioned base env, e.g. 'cube-single-v0'
    generator: str | None
    ob_dim: int
    action_dim: int
    qpos_dim: int | None = None
    qvel_dim: int | None = None
    button_dim: int | None = None  # scene and puzzle store button_states
    episodes: int = 1000  # official train episode count
    max_steps: int = 1001  # rows per stored episode
    noise: float = 0.1

    def singletask_env_id(self, task: int) -> str:
        """``cube-single-singletask-task2-v0`` for ``cube-single-play-v0`` and task 2."""
        return self.env_id.removesuffix("-v0") + f"-singletask-task{task}-v0"


def _spec(family: str, generator: str | None, *dims: int | None, **kw) -> DatasetSpec:
    dataset = OGBENCH_FAMILIES[family][1]
    base = family.rsplit("-", 1)[0]  # drop the dataset type: play / navigate
    return DatasetSpec(dataset, family, f"{base}-v0", generator, *dims, **kw)


# dims: ob, action, qpos, qvel, button_states (OGBench's envs)
SPECS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        _spec("cube-single-play", "manipspace", 28, 5, 21, 20),
        _spec("cube-double-play", "manipspace", 37, 5, 28, 26),
        _spec("scene-play", "manipspace", 40, 5, 25, 24, 2),
        _spec("puzzle-3x3-play", "manipspace", 55, 5, 23, 23, 9),
        _spec("puzzle-4x4-play", "manipspace", 83, 5, 30, 30, 16),
        _spec("pointmaze-medium-navigate", "pointmaze", 2, 2, 2, 2, noise=0.5),
        _spec("pointmaze-large-navigate", "pointmaze", 2, 2, 2, 2, noise=0.5),
        # official files only (their generators need downloaded SAC experts)
        _spec("antmaze-large-navigate", None, 29, 8, noise=0.2),
        _spec("antmaze-giant-navigate", None, 29, 8, episodes=500, max_steps=2001, noise=0.2),
        _spec("humanoidmaze-medium-navigate", None, 69, 21, max_steps=2001, noise=0.2),
        _spec("humanoidmaze-large-navigate", None, 69, 21, max_steps=2001, noise=0.2),
        _spec("antsoccer-arena-navigate", None, 42, 8, noise=0.2),
    )
}
GENERATABLE = tuple(name for name, s in SPECS.items() if s.generator)


def get_spec(dataset: str, *, generatable: bool = False) -> DatasetSpec:
    """Look up a dataset by file stem; raise :class:`UnknownDatasetError` naming the choices."""
    choices = GENERATABLE if generatable else tuple(SPECS)
    if dataset in choices:
        return SPECS[dataset]
    if generatable and dataset in SPECS:
        raise UnknownDatasetError(
            f"dataset {dataset} cannot be regenerated offline (its generator needs the official "
            f"SAC experts); get the official files with `drol data fetch {dataset}`. "
            f"Generatable: {', '.join(GENERATABLE)}"
        )
    raise UnknownDatasetError(f"unknown dataset {dataset!r}; known: {', '.join(choices)}")


def dataset_name_from_path(name: str) -> tuple[str, bool]:
    """``cube-single-play-v0-val.npz`` -> (``cube-single-play-v0``, True)."""
    stem = name.removesuffix(".npz")
    if stem.endswith("-val"):
        return stem.removesuffix("-val"), True
    return stem, False
