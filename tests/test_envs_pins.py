"""The conda environments in envs/ pin the same versions as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    pins = {}
    for req in reqs:
        name, _, version = req.partition("==")
        assert version, f"pyproject.toml: {req!r} is not pinned with =="
        pins[name.lower()] = version
    return pins


def env_pins(path: Path) -> dict[str, str]:
    spec = yaml.safe_load(path.read_text())
    pins = {}
    for dep in spec["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            m = re.match(r"^([A-Za-z0-9_.\-]+)\s*=?=\s*([0-9][^\s]*)$", item)
            if m:
                pins[m.group(1).lower()] = m.group(2)
    return pins


def test_every_env_pin_matches_pyproject():
    pins = pyproject_pins()
    envs = sorted(p for p in (ROOT / "envs").glob("*.yaml") if p.name != "d4rl.yaml")
    assert envs, "no envs/*.yaml"
    for env in envs:
        found = env_pins(env)
        assert found, f"{env.name}: no pinned packages"
        for name, version in found.items():
            if name == "python":
                assert version.startswith("3.11"), f"{env.name}: python {version}"
                continue
            assert name in pins, f"{env.name}: {name} is not a dependency in pyproject.toml"
            assert pins[name] == version, (
                f"{env.name}: {name}={version}, pyproject.toml has {pins[name]}"
            )
    assert pins["torch"] == "2.13.0"


def test_d4rl_env_pins_match_the_setup_command():
    """envs/d4rl.yaml (conda users) installs what `drol d4rl setup` installs, on Python 3.10."""
    from drol.d4rl.install import D4RL_PIN, PINS

    found = env_pins(ROOT / "envs" / "d4rl.yaml")
    assert found.pop("python") == "3.10"
    expected = dict(p.lower().split("==") for p in (*PINS, D4RL_PIN))
    assert found == expected
    assert "torch" not in found
