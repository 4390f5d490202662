"""Every setting has a source: ``drol hparams``, the generated docs, the discrepancy switches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from drol.agents.discrepancies import (
    Choices,
    load_discrepancies,
)
from drol.agents.discrepancies import (
    render_markdown as render_discrepancies,
)
from drol.agents.registry import get_method, methods
from drol.agents.settings import grid_pairs, render_markdown, task_settings, unverified_count
from drol.agents.sources import DROL_SCRIPT, DROL_TABLE3, is_corl, is_unverified
from drol.cli import main
from drol.errors import ConfigError
from drol.grid import LABEL_DROL16, LABEL_DROL_STAR, Grid, table3_kstar
from drol.tasks import paper_tasks, parse_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    return grid_pairs()


def test_hyperparameters_doc_is_generated_from_the_tables(pairs):
    committed = (ROOT / "docs" / "hyperparameters.md").read_text()
    assert committed == render_markdown(pairs), (
        "docs/hyperparameters.md is stale: run `drol hparams --markdown > docs/hyperparameters.md`"
    )


def test_discrepancies_doc_is_rendered_from_the_yaml():
    committed = (ROOT / "docs" / "paper_discrepancies.md").read_text()
    assert committed == render_discrepancies(load_discrepancies()), (
        "docs/paper_discrepancies.md is stale: run "
        "`drol hparams --discrepancies > docs/paper_discrepancies.md`"
    )


def test_readme_states_the_unverified_count(pairs):
    total, _ = unverified_count(pairs)
    text = (ROOT / "README.md").read_text()
    stated = re.search(r"\*\*(\d+) `unverified` values\*\*", text)
    assert stated, "README.md should state the count of unverified values"
    assert int(stated.group(1)) == total


def test_every_method_and_paper_task_resolves_with_a_source_per_setting(pairs):
    covered = {(m, t) for m, t in pairs}
    for name, cls in methods().items():
        if cls.base_method is None:
            assert all((name, t) in covered for t in paper_tasks()), name
        assert all(src.strip() for src in cls.config_sources().values()), name
    for method, task in pairs:
        settings = task_settings(method, task)
        assert {"steps", "eval_episodes", "lr", "hidden", "discount"} <= set(settings)
        assert all(s.source.strip() for s in settings.values()), (method, task)


def test_variants_appear_only_where_they_differ(pairs):
    script = sorted(t for m, t in pairs if m == "drol+script")
    assert script == ["antmaze-large-diverse-v2", "antmaze-large-play-v2"]
    assert task_settings("drol+script", "antmaze-large-play-v2")["bc_coef"].value == 0.1
    assert DROL_SCRIPT in task_settings("drol+script", "antmaze-large-play-v2")["bc_coef"].source
    assert task_settings("drol", "antmaze-large-play-v2")["bc_coef"].source == DROL_TABLE3


def test_iql_and_ifql_on_adroit_follow_corl():
    for task in ("pen-human-v1", "relocate-expert-v1"):
        iql = task_settings("iql", task)
        assert (iql["expectile"].value, iql["alpha"].value) == (0.8, 3.0)
        assert is_corl(iql["expectile"].source) and "iql_tau" in iql["expectile"].source
        ifql = task_settings("ifql", task)["expectile"]  # IQL's fixed 0.9 (FQL paper App. E.2)
        assert ifql.value == 0.9 and "App. E.2" in ifql.source and "ifql.py" in ifql.source


def test_rebrac_ogbench_antmaze_is_table6():
    for family in ("antmaze-large-navigate", "antmaze-giant-navigate"):
        s = task_settings("rebrac", f"{family}-singletask-task1-v0")
        assert (s["alpha_actor"].value, s["alpha_critic"].value) == (0.003, 0.01)
        assert s["alpha_critic"].source.endswith(f"Table 6, row {family}")


def test_table6_and_its_indirect_evidence():
    assert task_settings("ifql", "door-cloned-v1")["num_samples"].value == 128
    assert task_settings("ifql", "relocate-human-v1")["num_samples"].value == 128
    assert task_settings("ifql", "door-human-v1")["num_samples"].value == 32
    soccer = "antsoccer-arena-navigate-singletask-task4-v0"
    n = task_settings("ifql", soccer)["num_samples"]
    assert n.value == 64 and "Table 7" in n.source and "indirect" in n.source
    assert not is_unverified(n.source)
    cube = task_settings("iql", "cube-double-play-singletask-task2-v0")
    assert cube["hidden"].value == 256 and "App. E.2" in cube["hidden"].source
    assert task_settings("iql", "antmaze-large-navigate-singletask-task1-v0")["hidden"].value == 512
    for method in ("fawac", "fbrac"):  # no source gives their antsoccer alpha
        assert is_unverified(task_settings(method, soccer)["alpha"].source)


def test_hparams_cli_prints_settings_and_the_count(capsys):
    assert main(["hparams", "--method", "rebrac", "--task", "antmaze-umaze-v2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"discount\s+= 0.999\s+\[tinkoff-ai/CORL@", out)
    assert re.search(r"critic_lr\s+= 5e-05", out)
    assert "unverified values: 0 " in out


def test_hparams_cli_bad_task_is_one_line(capsys):
    assert main(["hparams", "--task", "no-such-task"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("drol hparams: error: unknown task") and "\n" not in err


# ---------------------------------------------------------------- discrepancies as data


def test_discrepancy_file_lists_the_issue_items():
    items = load_discrepancies()
    assert {
        "drol16_d4rl_antmaze_large",
        "drol_column_where_kstar_is_16",
        "d4rl_tuned_k",
        "puzzle_3x3_drol_column",
    } <= set(items)
    for item in items.values():
        assert item.default in item.options
        assert all(opt.source for opt in item.options.values())


def test_default_kstar_options_agree_with_table3():
    """The default options restate the agents' tables; only other options change the grid."""
    choices = Choices.of()
    for item in load_discrepancies().values():
        for task in item.tasks:
            assert choices.kstar(task) in (None, table3_kstar(task))
    assert (
        Choices.of({"puzzle_3x3_drol_column": "table4"}).kstar(
            "puzzle-3x3-play-singletask-task2-v0"
        )
        == 16
    )
    script = Choices.of({"d4rl_tuned_k": "script"})
    assert script.kstar("antmaze-umaze-v2") == 2 and script.kstar("pen-human-v1") == 16


@pytest.mark.parametrize(
    "text, needle",
    [
        ("items: [", "not valid YAML"),
        ("items: {}\n", None),
        ("items:\n  x: {title: t, text: t, tasks: [nope], default: a, options: {}}\n", "x.tasks"),
        (
            "items:\n  x: {title: t, text: t, tasks: [pen-human-v1], default: c, options: "
            "{a: {source: s, text: t}, b: {source: s, text: t}}}\n",
            "x.default",
        ),
        (
            "items:\n  x: {title: t, text: t, tasks: [pen-human-v1], default: a, options: "
            "{a: {source: s, text: t, effect: {column: drol16, method: nope}}, "
            "b: {source: s, text: t}}}\n",
            "x.options.a.effect.method",
        ),
    ],
)
def test_bad_discrepancy_file_is_a_one_line_error(tmp_path, text, needle):
    path = tmp_path / "d.yaml"
    path.write_text(text)
    if needle is None:
        assert load_discrepancies(path) == {}
        return
    with pytest.raises(ConfigError) as err:
        load_discrepancies(path)
    assert str(path) in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_switch_is_refused():
    with pytest.raises(ConfigError, match="discrepancies.d4rl_tuned_k: unknown option"):
        Choices.of({"d4rl_tuned_k": "nope"})
    with pytest.raises(ConfigError, match="unknown item"):
        Choices.of({"nope": "x"})


def _grid(**discrepancies: str) -> Grid:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text()) or {}
    from snakemake.utils import validate

    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    cfg["discrepancies"] = discrepancies
    return Grid.from_config(cfg)


def test_paper_grid_trains_drol16_and_drol_apart_on_d4rl_antmaze_large():
    runs = _grid().runs()
    for task in ("antmaze-large-play-v2", "antmaze-large-diverse-v2"):
        mine = {(r.label, r.method, r.K) for r in runs if r.task == task and r.seed == 0}
        assert (LABEL_DROL16, "drol+script", 16) in mine
        assert (LABEL_DROL_STAR, "drol", 16) in mine
    # the Table 3 option: one shared run again
    shared = _grid(drol16_d4rl_antmaze_large="table3").runs()
    mine = {(r.label, r.method) for r in shared if r.task == "antmaze-large-play-v2"}
    assert (LABEL_DROL16, "drol") in mine and all(m != "drol+script" for _, m in mine)


def test_separate_option_gives_drol_star_its_own_seeds():
    task = "cube-single-play-singletask-task1-v0"
    runs = _grid(drol_column_where_kstar_is_16="separate").runs()
    star = sorted(r.seed for r in runs if r.task == task and r.label == LABEL_DROL_STAR)
    sixteen = sorted(r.seed for r in runs if r.task == task and r.label == LABEL_DROL16)
    assert star == [s + 1000 for s in sixteen]


def test_variant_has_no_column_of_its_own():
    assert get_method("drol+script").base_method == "drol"
    from drol.grid import columns, default_labels

    assert "drol+script" not in {c.method for c in columns()}
    assert default_labels("antmaze-large-play-v2", "drol+script", 16) == [LABEL_DROL16]
    assert parse_task("antmaze-large-play-v2").suite == "d4rl"


def test_a_method_without_sources_resolves_as_unverified(monkeypatch):
    """A plugin that gives values (task_defaults) but no sources shows them as unverified."""
    import drol.agents.registry as registry
    import drol.agents.settings as settings_mod
    from drol.agents.fql import FQLAgent

    class Bare(FQLAgent):
        default_source = ""
        default_sources = {}

        @classmethod
        def task_settings(cls, task):
            return {}

        @classmethod
        def task_defaults(cls, task):
            return {"alpha": 7.0}

    assert all(is_unverified(s) for s in Bare.config_sources().values())
    original = registry.get_method
    lookup = lambda name: Bare if name == "bare" else original(name)  # noqa: E731
    monkeypatch.setattr(registry, "get_method", lookup)
    monkeypatch.setattr(settings_mod, "get_method", lookup)
    resolved = task_settings("bare", "cube-single-play-singletask-task1-v0")
    assert resolved["alpha"].value == 7.0 and is_unverified(resolved["alpha"].source)
    assert "task_defaults" in resolved["alpha"].source


def test_a_set_task_effect_names_only_its_items_tasks():
    from drol.agents.discrepancies import parse_items
    from drol.errors import ConfigError

    item = {
        "title": "t",
        "text": "x",
        "tasks": ["door-human-v1"],
        "default": "a",
        "options": {
            "a": {"source": "s", "text": "x"},
            "b": {
                "source": "s",
                "text": "x",
                "effect": {"set_task": {"pen-human-v1": {"fql": {"alpha": 3000}}}},
            },
        },
    }
    with pytest.raises(ConfigError, match="set_task.pen-human-v1: not one of the item's tasks"):
        parse_items({"items": {"i": item}}, "f.yaml")
    item["options"]["b"]["effect"] = {"set_task": {"door-human-v1": {"fql": {"alpha": -1}}}}
    with pytest.raises(ConfigError, match="set_task.door-human-v1.fql"):
        parse_items({"items": {"i": item}}, "f.yaml")
    item["options"]["b"]["effect"] = {"set_task": {"door-human-v1": {"fql": {"alpha": 3000}}}}
    assert parse_items({"items": {"i": item}}, "f.yaml")["i"].options["b"].effect
