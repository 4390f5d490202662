"""The package's layers: no module imports one of a higher layer (README, Architecture)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "drol"

# lowest first; a module may import its own layer and those below it. Command-line modules
# (``drol.cli``, ``drol.__main__`` and each concern's ``cli``) form the top layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("drol", "drol.errors", "drol.io", "drol.progress", "drol.tasks", "drol.physics"),
    ("drol.nn", "drol.data"),
    ("drol.d4rl",),
    ("drol.envs", "drol.agents"),
    ("drol.speed", "drol.grid"),
    ("drol.train",),
    ("drol.report", "drol.workflow_config", "drol.video"),
)
TOP = len(LAYERS)


def layer_of(module: str) -> int:
    """The layer of a dotted module name (its concern: ``drol.X`` or ``drol.X.*``)."""
    parts = module.split(".")
    if parts[-1] in ("cli", "__main__"):
        return TOP
    concern = ".".join(parts[:2])
    for rank, members in enumerate(LAYERS):
        if concern in members:
            return rank
    raise AssertionError(f"{module}: no layer in LAYERS; add its concern there")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[str]:
    """Every ``drol`` module that ``path`` imports, at the top or inside a function."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("drol"):
            if node.module == "drol":
                names += [f"drol.{a.name}" for a in node.names]
            else:
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.split(".")[0] == "drol"]
    return names


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "mjrl_stub" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    mod = module_name(path)
    upward = [name for name in imported(path) if layer_of(name) > layer_of(mod)]
    assert not upward, f"{mod} (layer {layer_of(mod)}) imports higher layers: {upward}"


def test_the_layer_rule_catches_an_upward_import(tmp_path: Path) -> None:
    fake = tmp_path / "m.py"
    fake.write_text("from drol.train.rundir import RunLock\n")
    assert layer_of("drol.envs") < max(layer_of(n) for n in imported(fake))


def test_top_level_holds_only_the_shared_vocabulary() -> None:
    """Each concern is a folder; only the entry points and shared modules sit at the top."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == [
        "__init__",
        "__main__",
        "cli",
        "envs",
        "errors",
        "grid",
        "io",
        "physics",
        "progress",
        "tasks",
        "workflow_config",
        "workflow_lock",
    ]


def test_cli_command_table_names_every_sub_command_of_its_module():
    """`drol X` imports only X's module (drol.cli.COMMANDS): the table must name exactly the
    sub-commands each module registers, or a command would vanish from a lazy start."""
    import argparse
    import importlib

    from drol.cli import COMMAND_MODULES, COMMANDS

    for module in COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        importlib.import_module(module).register(parser.add_subparsers(dest="command"))
        registered = set(parser._subparsers._group_actions[0].choices)
        assert registered == {c for c, m in COMMANDS.items() if m == module}, module


def test_a_data_command_starts_without_torch_or_other_commands():
    import subprocess
    import sys

    code = (
        "import sys; from drol.cli import build_parser; build_parser('data');"
        "print(sorted(m for m in ('torch', 'drol.train.cli', 'drol.report.cli') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
