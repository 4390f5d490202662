"""Issue 34: the training jobs of a grid and the wall time each asks for (drol.report.jobs),
priced from ``drol bench --json`` entries like ``drol cost``; ``drol cost`` prints them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from drol.cli import main
from drol.report.cost import entry_of
from drol.report.jobs import plan, seed_groups, training_jobs

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"

# one OGBench task, FQL + DROL(16) (+ SORL, which trains seed by seed), seeds 0-3, on a GPU
# (seeds_per_job auto: the 4 seeds of a cell in one job), 1000 steps, no K sweep
CONFIG = """
ogbench: {families: [cube-single-play], tasks: [1], steps: 1000}
d4rl: {tasks: []}
seeds: [0, 1, 2, 3]
methods: {bc: false, iql: false, rebrac: false, fawac: false, fbrac: false, ifql: false,
          deflow: false, drol_static: false, drol_star: false, sorl: true, fql: true,
          drol16: true}
ksweep: {Ks: [16], tasks: []}
train: {gpu: 1, runtime_min: {ogbench: 100, d4rl: 50}}
"""


def config(**train) -> dict:
    cfg = yaml.safe_load(CONFIG)
    cfg["train"].update(train)
    validate(cfg, str(SCHEMA))
    return cfg


def bench(method: str, K: int, seeds: int, rate: float) -> dict:
    return {
        "method": method, "K": K, "device": "NVIDIA H100", "hidden": 512, "batch_size": 256,
        "train_steps_per_s": rate / seeds, "seeds": seeds, "seed_steps_per_s": rate,
    }  # fmt: skip


# seed-steps/s: 1000 steps x 4 seeds of DROL(16) = 4000 seed-steps at 2/s = 2000 s = 33.3 min
ENTRIES = [bench("fql", 1, 4, 4.0), bench("drol", 16, 4, 2.0), bench("sorl", 1, 1, 1.0)]


def entries() -> list:
    return [entry_of(e, f"test:{i}") for i, e in enumerate(ENTRIES)]


def test_jobs_per_rule_and_seed_groups():
    cfg = config()
    assert seed_groups(cfg) == [(0, 1, 2, 3)]
    jobs = training_jobs(cfg, seed_groups(cfg))
    rules = {(j.rule, j.method, j.seeds) for j in jobs}
    assert ("train_seeds0", "drol", (0, 1, 2, 3)) in rules
    assert ("train_seeds0", "fql", (0, 1, 2, 3)) in rules
    assert {j.seeds for j in jobs if j.method == "sorl"} == {(0,), (1,), (2,), (3,)}
    assert all(j.rule == "train" for j in jobs if j.method == "sorl")


def test_runtime_from_the_bench_with_the_safety_factor():
    plans = plan(config(), entries())
    seeds = plans["train_seeds0"]
    # the longest job of the rule: DROL(16), 4000 seed-steps at 2/s = 33.3 min, x 1.5 = 50 min
    assert seeds.longest_job_min == pytest.approx(4000 / 2 / 60 * 1.5)
    assert (seeds.jobs, seeds.seeds_per_job, seeds.runtime_min, seeds.attempts) == (2, 4, 50, 1)
    assert seeds.device_hours == pytest.approx((4000 / 2 + 4000 / 4) / 3600)
    assert seeds.basis == "measured: NVIDIA H100"
    single = plans["train"]  # SORL: 1000 steps at 1/s = 16.7 min x 1.5 = 25 min
    assert (single.jobs, single.runtime_min, single.attempts) == (4, 25, 1)


def test_a_job_over_the_cap_asks_for_the_cap_and_resumes_across_attempts():
    plans = plan(config(runtime={"cap_min": 20, "safety": 2.0}), entries())
    seeds = plans["train_seeds0"]
    # 33.3 min x 2 = 66.7 min over a 20-minute cap: 20 minutes a job, 4 attempts; not split
    assert seeds.longest_job_min == pytest.approx(4000 / 2 / 60 * 2)
    assert (seeds.runtime_min, seeds.attempts, seeds.seeds_per_job) == (20, 4, 4)
    assert plans["train"].runtime_min == 20 and plans["train"].attempts == 2
    # the same cap from the caller (a site's profile) wins over the config's
    assert plan(config(), entries(), cap_min=30)["train_seeds0"].attempts == 2


def test_without_a_bench_the_estimate_is_the_unmeasured_limit_per_seed():
    plans = plan(config(runtime={"cap_min": 1440}))
    assert plans["train_seeds0"].longest_job_min == 4 * 100
    assert plans["train_seeds0"].runtime_min == 400 and plans["train_seeds0"].attempts == 1
    assert plans["train_seeds0"].basis.startswith("unmeasured")
    assert plans["train_seeds0"].device_hours is None
    capped = plan(config(runtime={"cap_min": 150}))["train_seeds0"]
    assert (capped.runtime_min, capped.attempts) == (150, 3)


def test_a_missing_bench_entry_names_the_command():
    with pytest.raises(Exception, match=r"train.runtime.bench: no bench entry for drol K=16"):
        plan(config(), [entry_of(ENTRIES[0], "t"), entry_of(ENTRIES[2], "t")])


def test_old_config_keys_still_validate():
    cfg = config(runtime_min={"ogbench": 30, "d4rl": 30}, mem_mb=2000, threads=2, gpu=0)
    assert cfg["train"]["runtime"] == {
        "bench": [], "safety": 1.5, "cap_min": 1440, "eval_episodes_per_s": None,
    }  # fmt: skip


def test_drol_cost_prints_the_jobs(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    lines = tmp_path / "bench.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in ENTRIES) + "\n")
    assert main(["cost", str(lines), "--configfile", str(cfg), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    jobs = {j["rule"]: j for j in result["jobs"]}
    assert (jobs["train_seeds0"]["jobs"], jobs["train_seeds0"]["runtime_min"]) == (2, 50)
    assert main(["cost", str(lines), "--configfile", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "| rule | jobs | seeds/job | longest job h | runtime h | attempts | device h |" in out
    assert "| train_seeds0 | 2 | 4 |" in out
