"""The paper's discrepancies (``config/paper_discrepancies.yaml``): load, validate, choose.

Each item names tasks, options (source, text, ``effect``) and the default option; a workflow
config picks another with ``discrepancies: {ITEM: OPTION}``. :class:`Choices` turns the chosen
options into what the grid needs: the method and seed offset of a column on a task, DROL*'s
K, extra hyperparameters of a method's runs. Errors are one line naming the file and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from drol.agents.registry import get_method
from drol.errors import ConfigError, UserError
from drol.tasks import parse_task

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "config" / "paper_discrepancies.yaml"
COLUMNS = ("drol16", "drol_star")
EFFECT_KEYS = ("column", "method", "seed_offset", "kstar", "set", "set_task")


@dataclass(frozen=True)
class Option:
    name: str
    source: str
    text: str
    effect: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    text: str
    tasks: tuple[str, ...]
    default: str
    options: Mapping[str, Option]


def _need(ok: bool, where: str, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: {rule}")


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    _need(isinstance(value, str) and bool(value.strip()), f"{where}.{key}", "needs a text")
    return " ".join(str(value).split())


def _effect(raw: Any, tasks: tuple[str, ...], where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    _need(isinstance(raw, dict), where, "must be a mapping")
    unknown = sorted(set(raw) - set(EFFECT_KEYS))
    _need(not unknown, where, f"unknown keys {unknown} (known: {', '.join(EFFECT_KEYS)})")
    if "method" in raw or "seed_offset" in raw:
        _need(raw.get("column") in COLUMNS, f"{where}.column", f"must be one of {COLUMNS}")
    if "method" in raw:
        try:
            get_method(str(raw["method"]))
        except UserError as err:
            raise ConfigError(f"{where}.method: {err}") from None
    if "seed_offset" in raw:
        offset = raw["seed_offset"]
        _need(isinstance(offset, int) and offset > 0, f"{where}.seed_offset", "must be > 0")
    if "kstar" in raw:
        kstar = raw["kstar"]
        _need(isinstance(kstar, dict), f"{where}.kstar", "must map task -> K")
        for task, k in kstar.items():
            _need(task in tasks, f"{where}.kstar.{task}", "not one of the item's tasks")
            _need(isinstance(k, int) and k >= 1, f"{where}.kstar.{task}", "K must be >= 1")
    if "set" in raw:
        _check_set(raw["set"], f"{where}.set")
    if "set_task" in raw:
        by_task = raw["set_task"]
        _need(isinstance(by_task, dict), f"{where}.set_task", "must map task -> {method: ...}")
        for task, sets in by_task.items():
            _need(task in tasks, f"{where}.set_task.{task}", "not one of the item's tasks")
            _check_set(sets, f"{where}.set_task.{task}")
    return dict(raw)


def _check_set(sets: Any, where: str) -> None:
    _need(isinstance(sets, dict), where, "must map method -> {key: value}")
    for method, values in sets.items():
        try:
            get_method(str(method)).make_config(values)
        except UserError as err:
            raise ConfigError(f"{where}.{method}: {err}") from None


def parse_items(raw: Any, where: str) -> dict[str, Item]:
    """Validated items of a loaded YAML document (``where``: the file, for errors)."""
    _need(isinstance(raw, dict) and isinstance(raw.get("items"), dict), where, "needs 'items:'")
    items: dict[str, Item] = {}
    for item_id, body in raw["items"].items():
        at = f"{where}: items.{item_id}"
        _need(isinstance(body, dict), at, "must be a mapping")
        tasks = body.get("tasks")
        _need(isinstance(tasks, list) and bool(tasks), f"{at}.tasks", "needs a list of tasks")
        for task in tasks:
            try:
                parse_task(str(task))
            except UserError as err:
                raise ConfigError(f"{at}.tasks: {err}") from None
        options_raw = body.get("options")
        _need(
            isinstance(options_raw, dict) and len(options_raw) >= 2,
            f"{at}.options",
            "needs at least two options",
        )
        options = {}
        for name, opt in options_raw.items():
            oat = f"{at}.options.{name}"
            _need(isinstance(opt, dict), oat, "must be a mapping")
            options[name] = Option(
                name,
                _text(opt, "source", oat),
                _text(opt, "text", oat),
                _effect(opt.get("effect"), tuple(tasks), f"{oat}.effect"),
            )
        default = body.get("default")
        _need(default in options, f"{at}.default", f"must be one of {sorted(options)}")
        items[str(item_id)] = Item(
            str(item_id),
            _text(body, "title", at),
            _text(body, "text", at),
            tuple(str(t) for t in tasks),
            str(default),
            options,
        )
    return items


def load_discrepancies(path: str | Path = DEFAULT_FILE) -> dict[str, Item]:
    """The validated items of ``path`` (default: config/paper_discrepancies.yaml); read once
    per file and modification time."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as err:
        raise UserError(f"{path}: unreadable ({err.strerror or err})") from None
    return dict(_load(str(path), stamp))


@lru_cache(maxsize=8)
def _load(name: str, stamp: int) -> dict[str, Item]:
    path = Path(name)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise UserError(f"{path}: unreadable ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    return parse_items(raw, str(path))


@dataclass(frozen=True)
class Choices:
    """The option chosen for each item, and what that means for the grid."""

    items: Mapping[str, Item]
    chosen: Mapping[str, str]

    @classmethod
    def of(
        cls, overrides: Mapping[str, str] | None = None, path: str | Path = DEFAULT_FILE
    ) -> Choices:
        """Defaults of ``path``, then ``overrides`` (item -> option; checked)."""
        items = load_discrepancies(path)
        chosen = {i: item.default for i, item in items.items()}
        for item_id, option in (overrides or {}).items():
            _need(
                item_id in items,
                f"discrepancies.{item_id}",
                f"unknown item (known: {', '.join(items)})",
            )
            _need(
                option in items[item_id].options,
                f"discrepancies.{item_id}",
                f"unknown option {option!r} (known: {', '.join(items[item_id].options)})",
            )
            chosen[item_id] = option
        return cls(items, chosen)

    def effects(self, task: str) -> list[Mapping[str, Any]]:
        """The chosen options' effects that apply to ``task``."""
        return [
            item.options[self.chosen[i]].effect
            for i, item in self.items.items()
            if task in item.tasks
        ]

    def column_method(self, column: str, task: str, method: str) -> str:
        for effect in self.effects(task):
            if effect.get("column") == column and "method" in effect:
                return str(effect["method"])
        return method

    def seed_offset(self, column: str, task: str) -> int:
        for effect in self.effects(task):
            if effect.get("column") == column and "seed_offset" in effect:
                return int(effect["seed_offset"])
        return 0

    def kstar(self, task: str) -> int | None:
        for effect in self.effects(task):
            if task in effect.get("kstar", {}):
                return int(effect["kstar"][task])
        return None

    def hyperparameters(self, method: str, task: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for effect in self.effects(task):
            out.update(effect.get("set", {}).get(method, {}))
            out.update(effect.get("set_task", {}).get(task, {}).get(method, {}))
        return out


def render_markdown(items: Mapping[str, Item]) -> str:
    """docs/paper_discrepancies.md."""
    out = [
        "# The paper's discrepancies",
        "",
        "Rendered by `drol hparams --discrepancies` from",
        "[config/paper_discrepancies.yaml](../config/paper_discrepancies.yaml); a test fails when",
        "this file is stale. Each item is a switch: a workflow config picks an option with",
        "`discrepancies: {ITEM: OPTION}`; **(default)** marks the option the paper grid follows.",
        "",
    ]
    for item_id, item in items.items():
        out += [f"## `{item_id}`: {item.title}", "", item.text, ""]
        out += [f"Tasks: {', '.join(f'`{t}`' for t in item.tasks)}.", ""]
        out += ["| option | source | what the grid does |", "|---|---|---|"]
        for name, opt in item.options.items():
            mark = " **(default)**" if name == item.default else ""
            out.append(f"| `{name}`{mark} | {opt.source} | {opt.text} |")
        out.append("")
    return "\n".join(out)
