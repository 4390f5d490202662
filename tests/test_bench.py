"""``drol bench --json`` prints one JSON object with the documented fields."""

from __future__ import annotations

import json

import pytest

from drol.cli import main

FIELDS = {
    "method",
    "K",
    "device",
    "train_steps_per_s",
    "train_step_ms",
    "inference_ms",
    "torch",
    "threads",
    "repeats",
    "impl",
    "precision",
    "compile",
    "compiled",
    "compile_s",
    "gomp_spincount",
    "cpu_model",
    "other_busy_cpus",  # drol.speed.load: the load the benchmark saw
    "machine_cpus",
    "usable_cpus",
    "load_1min_before",
    "load_1min_after",
}


@pytest.mark.parametrize("method", ["drol", "drol_static", "fql"])
def test_bench_json(method, capsys):
    argv = ["bench", "--method", method, "--K", "4", "--obs-dim", "6", "--action-dim", "2", "--hidden", "16",
            "--batch-size", "8", "--repeats", "2", "--steps", "2", "--warmup", "1", "--json",
            "--set", "compile=off"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert result.keys() >= FIELDS
    assert result["method"] == method and result["K"] == 4 and result["device"] == "cpu"
    assert result["train_steps_per_s"] > 0 and result["inference_ms"] > 0
    assert len(result["train_steps_per_s_repeats"]) == 2
    assert result["compile"] == "off" and not result["compiled"]


@pytest.mark.slow
def test_bench_compiles_by_default(capsys):
    argv = ["bench", "--method", "drol", "--K", "4", "--obs-dim", "6", "--action-dim", "2", "--hidden", "16",
            "--batch-size", "8", "--repeats", "1", "--steps", "2", "--warmup", "1", "--json",
            "--set", "precision=bf16"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip())
    assert result["compile"] == "on" and result["compiled"] and result["compile_s"] > 0
    assert result["precision"] == "bf16"


def test_bench_rejects_bad_k(capsys):
    assert main(["bench", "--method", "drol", "--K", "0", "--json"]) == 2
    assert "--K must be >= 1" in capsys.readouterr().err
