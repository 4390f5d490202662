"""The project's OGBench envs step exactly as the official code's did (issue 30).

The official code behind the paper (seohongpark/fql, muzhancun/DROL) ran ogbench 1.1.0,
gymnasium 0.29.1 and numpy 1.26.4 on MuJoCo 3.3.0 (tests/physics/official-requirements.txt).
tests/data/physics_official.npz holds seeded rollouts recorded there by
tests/physics/record_rollouts.py; the same rollouts through the project's own code path
(drol.envs.make_ogbench_env, drol.envs.reset_episode) must match them step for step.

The same MuJoCo agrees across the other packages' versions (bit for bit here; at most ~1e-14
expected); another MuJoCo does not (4.0.0: the cube observation by 2e-2 to 1e-1 after the
first step, the ant's by ~1e-6, growing with every step), hence ATOL.

Regenerate the golden file (only on purpose, in a venv with the official pins)::

    python3.11 -m venv /tmp/official-venv
    /tmp/official-venv/bin/pip install -r tests/physics/official-requirements.txt
    /tmp/official-venv/bin/python tests/physics/record_rollouts.py \\
        --out tests/data/physics_official.npz

Set DROL_OFFICIAL_PHYSICS_PYTHON to that venv's python to record the official side afresh
(CI's step ``physics`` does).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

from drol.physics import OFFICIAL_MUJOCO_BELOW, OFFICIAL_MUJOCO_MIN, is_official_mujoco

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "physics" / "record_rollouts.py"
GOLDEN = ROOT / "tests" / "data" / "physics_official.npz"
OFFICIAL_PYTHON_VAR = "DROL_OFFICIAL_PHYSICS_PYTHON"
ATOL = 1e-8
PER_STEP = ("observations", "rewards", "terminated", "truncated", "success")


def _load_script():
    spec = importlib.util.spec_from_file_location("record_rollouts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rr = _load_script()


def _project_env(task_name: str):
    from drol.envs import make_ogbench_env
    from drol.tasks import parse_task

    return make_ogbench_env(parse_task(task_name))


def _project_reset(env, seed: int):
    from drol.envs import reset_episode

    return reset_episode(env, seed)


@pytest.fixture(scope="module")
def project_rollouts() -> dict[str, np.ndarray]:
    return rr.record(_project_env, _project_reset)


def _first_step(name: str, diff: np.ndarray) -> str:
    """Where ``diff`` first exceeds ATOL: 'step N' (1-based), 'reset' or the final state."""
    if name == "reset_observation":
        return "at reset"
    if name not in PER_STEP:
        return f"in the final state (after step {rr.STEPS})"
    rows = diff.reshape(diff.shape[0], -1).max(axis=1)
    step = int(np.argmax(rows > ATOL))
    return f"from step {step + 1} of {rr.STEPS} (|diff| {rows[step]:.3g} there)"


def compare(
    expected: dict[str, np.ndarray],
    expected_versions: dict[str, str],
    actual: dict[str, np.ndarray],
    label: str,
) -> float:
    """Assert ``actual`` (the project's rollouts) equals ``expected`` within ATOL, array by
    array, naming every task/seed/array that differs; return the largest absolute difference."""
    versions = f"{label}: {_fmt(expected_versions)}; project: {_fmt(rr.installed_versions())}"
    assert sorted(actual) == sorted(expected), (
        f"rollout keys differ ({versions}): only {label}: {sorted(set(expected) - set(actual))}, "
        f"only project: {sorted(set(actual) - set(expected))}"
    )
    worst, problems = 0.0, []
    for key in sorted(expected):
        task, seed, name = key.split("/")
        want, got = expected[key], actual[key]
        if want.shape != got.shape:
            problems.append(f"{task} {seed} {name}: shape {got.shape}, {label} {want.shape}")
            continue
        diff = np.abs(want.astype(np.float64) - got.astype(np.float64))
        diff = np.nan_to_num(diff, nan=np.inf)  # a NaN on either side is a difference
        biggest = float(diff.max()) if diff.size else 0.0
        worst = max(worst, biggest)
        if biggest > ATOL:
            problems.append(
                f"{task} {seed} {name}: differs {_first_step(name, diff)}, "
                f"max |diff| {biggest:.3g} > {ATOL:g}"
            )
    assert not problems, (
        f"the project's OGBench physics differs from the official one ({versions}):\n  "
        + "\n  ".join(problems)
    )
    return worst


def _fmt(versions: dict[str, str]) -> str:
    return " ".join(f"{k} {versions[k]}" for k in rr.PACKAGES if k in versions)


def test_project_envs_match_the_official_golden(project_rollouts):
    expected, versions = rr.read_npz(GOLDEN)
    assert versions["mujoco"] == "3.3.0" and versions["ogbench"] == "1.1.0", versions
    worst = compare(expected, versions, project_rollouts, "golden (official pins)")
    print(f"max |diff| project vs golden: {worst:.3g}")


def test_project_envs_match_a_fresh_official_recording(project_rollouts, tmp_path):
    python = os.environ.get(OFFICIAL_PYTHON_VAR)
    if not python:
        pytest.skip(
            f"{OFFICIAL_PYTHON_VAR} is unset (the python of a venv built from "
            "tests/physics/official-requirements.txt; CI's step physics sets it)"
        )
    out = tmp_path / "official.npz"
    proc = subprocess.run(
        [python, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, (
        f"{python} {SCRIPT.name} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    )
    expected, versions = rr.read_npz(out)
    worst = compare(expected, versions, project_rollouts, f"official ({python})")
    print(f"max |diff| project vs fresh official: {worst:.3g}")


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        name, _, pinned = req.partition("==")
        if pinned:
            pins[name.strip().lower().replace("-", "_")] = pinned.strip()
    return pins


def test_mujoco_pin_stays_on_the_official_physics():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins(project["dependencies"])
    assert "mujoco" in pins and "dm_control" in pins, (
        "pyproject.toml: mujoco and dm_control must be pinned with =="
    )
    low, high = OFFICIAL_MUJOCO_MIN, OFFICIAL_MUJOCO_BELOW
    assert is_official_mujoco(pins["mujoco"]), (
        f"pyproject.toml pins mujoco=={pins['mujoco']}, outside the official code's physics "
        f"(>= {'.'.join(map(str, low))}, < {'.'.join(map(str, high))}); see docs/physics.md"
    )
    for name in ("train.yaml", "data.yaml", "report.yaml"):
        spec = yaml.safe_load((ROOT / "envs" / name).read_text())
        reqs = [
            item for dep in spec["dependencies"] if isinstance(dep, dict) for item in dep["pip"]
        ]
        env = _pins(reqs)
        for package in ("mujoco", "dm_control"):
            assert env.get(package) == pins[package], (
                f"envs/{name}: {package}=={env.get(package)}, pyproject.toml has {pins[package]}"
            )
