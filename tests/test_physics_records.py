"""Datasets and runs name the simulator they were made with; a physics change is refused in one
line when resuming, training on old data or aggregating (issue 30, docs/physics.md)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from synthetic_runs import make_run

from drol.data.npzfile import val_path_for, write_npz
from drol.envs import check_dataset
from drol.errors import UserError
from drol.physics import DATASET_KEY, describe, encode, ogbench_physics
from drol.report.aggregate import collect_runs
from drol.tasks import parse_task
from drol.train.rundir import RunIdentity

POINTMAZE = "pointmaze-medium-navigate-singletask-task1-v0"
OLD = {"mujoco": "4.0.0", "ogbench": "1.2.2"}


def _identity(physics: dict[str, str]) -> RunIdentity:
    return RunIdentity(
        task=POINTMAZE, method="fql", K=1, seed=0, steps=10, eval_every=10, eval_episodes=1,
        physics=physics,
    )  # fmt: skip


def test_a_run_does_not_resume_under_other_physics(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**_identity(OLD).to_dict(), "suite": "ogbench"}))
    with pytest.raises(UserError, match=r"mujoco 4\.0\.0.*this environment under mujoco") as err:
        _identity(ogbench_physics()).check_against(config)
    assert "\n" not in str(err.value) and str(config) in str(err.value)


@pytest.mark.parametrize(("suite", "refused"), [("ogbench", True), ("d4rl", False)])
def test_a_run_made_before_the_record_is_judged_by_its_listed_versions(tmp_path, suite, refused):
    recorded = {k: v for k, v in _identity(ogbench_physics()).to_dict().items() if k != "physics"}
    recorded |= {"suite": suite, "versions": {"mujoco": "4.0.0", "ogbench": "1.2.2"}}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(recorded))
    identity = _identity(ogbench_physics())
    if refused:
        with pytest.raises(UserError, match="does not resume across a physics change"):
            identity.check_physics(recorded, config)
    else:  # a D4RL run's versions are the main process's, not its simulator's
        identity.check_physics(recorded, config)


def test_training_on_data_recorded_under_other_physics_is_refused(tiny_pointmaze, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for src in (tiny_pointmaze, val_path_for(tiny_pointmaze)):
        with np.load(src) as archive:
            arrays = {k: archive[k] for k in archive.files}
        arrays[DATASET_KEY] = encode(OLD)
        write_npz(data / src.name, arrays)
    task = parse_task(POINTMAZE)
    with pytest.raises(UserError, match="was recorded under mujoco 4.0.0") as err:
        check_dataset(task, data)
    assert "drol data generate" in str(err.value)
    fingerprint = check_dataset(task, tiny_pointmaze.parent)  # made here: its physics recorded
    assert fingerprint.physics == ogbench_physics()


def test_aggregating_runs_of_two_physics_is_refused(tmp_path):
    runs = tmp_path / "runs"
    dirs = [make_run(runs, POINTMAZE, "fql", 1, s, score=10.0 + s) for s in range(2)]
    for d, physics in zip(dirs, (ogbench_physics(), OLD), strict=True):
        score = json.loads((d / "score.json").read_text())
        (d / "score.json").write_text(json.dumps({**score, "physics": physics}))
    with pytest.raises(UserError, match="different physics"):
        collect_runs(runs)
    shutil.rmtree(dirs[1])
    assert collect_runs(runs)["physics"].tolist() == [describe(ogbench_physics())]
