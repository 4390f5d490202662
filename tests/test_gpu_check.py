"""``benchmarks/gpu_check.sh`` and its report: the whole script on CPU with tiny sizes (slow),
and the report's verdict on hand-made part results (fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
REPORT = ROOT / "benchmarks" / "gpu_check_report.py"


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": path, **extra}


@pytest.mark.slow
def test_gpu_check_on_cpu_writes_one_report(tmp_path):
    out = tmp_path / "check"
    env = _env(DEVICE="cpu", OUT=str(out), METHODS="fql drol sorl", KS="4 16", SEEDS_LIST="1 8",
               PYTEST_ARGS="tests/test_cuda.py")  # fmt: skip
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["device"] == "cpu"
    assert [p["part"] for p in report["parts"]] == ["pytest", "bench", "train", "eval"]
    assert report["pytest"]["failures"] == 0 and report["pytest"]["tests"] > 0
    runs = {(r["method"], r["K"], r["seeds"]) for r in report["bench"]}
    want = {(m, K, S) for m, K in (("fql", 16), ("drol", 16), ("drol", 4)) for S in (1, 8)}
    assert runs == want | {("sorl", 16, 1)}
    assert report["bench_unsupported"] == ["sorl K=16 S=8"]  # SORL is not seed-batched: noted
    assert report["bench_failed"] == []
    assert all(r["seed_steps_per_s"] > 0 and r["hidden"] == 16 for r in report["bench"])
    assert set(report["speedups"]) == {"drol K=16 S=8", "drol K=4 S=8", "fql K=16 S=8"}
    train = report["train"]
    assert train["seeds"] == 2 and {s["status"] for s in train["per_seed"]} == {"done"}
    assert train["eval_episodes"] == 2 * 2  # two evaluations (steps 1 and 4), one episode each
    assert report["eval"]["rows_equal"] is True
    md = (out / "report.md").read_text()
    for heading in ("# GPU check (cpu)", "## CUDA tests", "## drol bench", "## DROL(16) training",
                    "## Evaluation episodes/s"):  # fmt: skip
        assert heading in md
    assert "| drol | 4 | 8 |" in md


def test_the_report_says_which_part_failed(tmp_path):
    (tmp_path / "parts.tsv").write_text("pytest\t0\t3\t90\nbench\t124\t240\t240\n")
    line = {"method": "fql", "K": 16, "seeds": 1, "train_steps_per_s": 10.0,
            "seed_steps_per_s": 10.0, "inference_ms": 0.1, "device": "NVIDIA H100",
            "hidden": 512, "batch_size": 256}  # fmt: skip
    (tmp_path / "bench.jsonl").write_text(json.dumps(line) + "\n")
    (tmp_path / "bench.log").write_text("failed: drol K=16 S=8\n")
    done = subprocess.run(
        [sys.executable, str(REPORT), str(tmp_path)], env=_env(DEVICE="cuda"), capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert not report["ok"]
    assert [p["status"] for p in report["parts"]] == ["ok", "timeout"]
    assert report["pytest"] is None and report["train"] is None and report["eval"] is None
    md = (tmp_path / "report.md").read_text()
    assert "| bench | timeout | 124 | 240 | 240 |" in md
    assert "| fql | 16 | 1 | 10.0 | 10.0 | 0.10 | NVIDIA H100 | 512x256 |" in md
    assert report["bench_failed"] == ["drol K=16 S=8"]
    assert "Failed or skipped: drol K=16 S=8" in md


def test_gpu_check_refuses_an_unknown_device(tmp_path):
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=_env(DEVICE="tpu", OUT=str(tmp_path)), capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "gpu_check.sh: DEVICE must be cuda or cpu, got 'tpu'"
