"""The report of ``benchmarks/gpu_check.sh``: OUT/report.json and OUT/report.md from its parts.

Reads OUT/parts.tsv (name, exit code, seconds, limit of each part), OUT/pytest.xml (the CUDA
tests), OUT/bench.jsonl (``drol bench --json`` lines), OUT/train/seed*/ (the short DROL(16)
run) and OUT/eval.log (benchmarks/eval_lockstep.py's JSON line). Exits 1 when a part failed.
"""

from __future__ import annotations

import argparse
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd


def parts(out: Path) -> list[dict[str, Any]]:
    rows = []
    for line in (out / "parts.tsv").read_text().splitlines():
        name, rc, seconds, limit = line.split("\t")
        status = "ok" if rc == "0" else ("timeout" if rc in ("124", "137") else "failed")
        rows.append(
            {"part": name, "exit": int(rc), "seconds": int(seconds), "limit_s": int(limit),
             "status": status}
        )  # fmt: skip
    return rows


def pytest_summary(out: Path) -> dict[str, int] | None:
    path = out / "pytest.xml"
    if not path.is_file():
        return None
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return None
    keys = ("tests", "failures", "errors", "skipped")
    counts = {k: int(suite.get(k, 0)) for k in keys}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return counts


def bench_rows(out: Path) -> list[dict[str, Any]]:
    rows = []
    path = out / "bench.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        if line.startswith("{"):
            r = json.loads(line)
            rows.append(
                {k: r.get(k) for k in ("method", "K", "seeds", "train_steps_per_s",
                                       "seed_steps_per_s", "inference_ms", "device", "hidden",
                                       "batch_size", "threads", "other_busy_cpus")}
            )  # fmt: skip
    return rows


def bench_notes(out: Path, kind: str) -> list[str]:
    """The bench configurations gpu_check.sh logged as ``kind`` (unsupported, failed, skipped)."""
    path = out / "bench.log"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [x.split(": ", 1)[1] for x in lines if x.startswith(f"{kind}")]


def speedups(rows: list[dict[str, Any]]) -> dict[str, float]:
    """seed-steps/s at the largest S over S = 1, per method and K."""
    table: dict[tuple[str, int], dict[int, float]] = {}
    for r in rows:
        table.setdefault((r["method"], r["K"]), {})[r["seeds"]] = r["seed_steps_per_s"]
    out = {}
    for (method, K), by_s in table.items():
        top = max(by_s)
        if 1 in by_s and top > 1:
            out[f"{method} K={K} S={top}"] = by_s[top] / by_s[1]
    return out


def train_summary(out: Path) -> dict[str, Any] | None:
    seeds = sorted((out / "train").glob("seed*/score.json"))
    if not seeds:
        return None
    per_seed = []
    for path in seeds:
        score = json.loads(path.read_text())
        evals = pd.read_csv(path.parent / "eval.csv")
        config = json.loads((path.parent / "config.json").read_text())
        other_s = score["wall_clock_s"] - score["steps"] / score["train_steps_per_s"]
        per_seed.append(
            {
                "seed": score["seed"],
                "status": score["status"],
                "score": score["score"],
                "steps": score["steps"],
                "device": config["device"],
                "train_steps_per_s": score["train_steps_per_s"],
                "wall_clock_s": score["wall_clock_s"],
                "eval_episodes": len(evals),
                # the run's time outside its training steps: evaluation, mostly
                "non_training_s": other_s,
            }
        )
    seconds = max(s["wall_clock_s"] for s in per_seed)
    episodes = sum(s["eval_episodes"] for s in per_seed)
    other = max(s["non_training_s"] for s in per_seed)
    return {
        "method": "drol",
        "K": 16,
        "seeds": len(per_seed),
        "seed_steps_per_s": len(per_seed) * per_seed[0]["train_steps_per_s"],
        "wall_clock_s": seconds,
        "eval_episodes": episodes,
        "eval_episodes_per_s_approx": episodes / other if other > 0 else None,
        "per_seed": per_seed,
    }


def eval_speed(out: Path) -> dict[str, Any] | None:
    path = out / "eval.log"
    lines = [x for x in path.read_text().splitlines() if x.startswith("{")] if path.exists() else []
    return json.loads(lines[-1]) if lines else None


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# GPU check ({report['device']})", ""]
    lines += ["| part | status | exit | seconds | limit s |", "|---|---|---|---|---|"]
    lines += [
        f"| {p['part']} | {p['status']} | {p['exit']} | {p['seconds']} | {p['limit_s']} |"
        for p in report["parts"]
    ]
    t = report["pytest"]
    lines += ["", "## CUDA tests", ""]
    lines += [
        f"{t['passed']} passed, {t['failures']} failed, {t['errors']} errors, {t['skipped']} "
        "skipped"
        if t
        else "no result"
    ]
    lines += ["", "## drol bench (eager fp32)", ""]
    if report["bench"]:
        lines += [
            "| method | K | S | steps/s | seed-steps/s | inference ms | device | size |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['method']} | {r['K']} | {r['seeds']} | {r['train_steps_per_s']:.1f} | "
            f"{r['seed_steps_per_s']:.1f} | {r['inference_ms']:.2f} | {r['device']} | "
            f"{r['hidden']}x{r['batch_size']} |"
            for r in report["bench"]
        ]
        lines += [""] + [
            f"- {k}: {v:.2f}x the S=1 seed-steps/s" for k, v in report["speedups"].items()
        ]
    else:
        lines += ["no result"]
    if report["bench_unsupported"]:
        lines += ["", "Not seed-batched (drol.speed.seed_batch refuses): "
                  + ", ".join(report["bench_unsupported"])]  # fmt: skip
    if report["bench_failed"]:
        lines += ["", "Failed or skipped: " + ", ".join(report["bench_failed"])]
    lines += ["", "## DROL(16) training", ""]
    tr = report["train"]
    if tr:
        lines += [
            f"{tr['seeds']} seeds in one seed-batched run: {tr['seed_steps_per_s']:.1f} "
            f"seed-steps/s, {tr['wall_clock_s']:.1f} s wall clock, {tr['eval_episodes']} "
            "evaluation episodes (DROL draws at evaluation: sequential)"
            + (
                f", ~{tr['eval_episodes_per_s_approx']:.2f} episodes/s outside training"
                if tr["eval_episodes_per_s_approx"]
                else ""
            )
        ]
    else:
        lines += ["no result"]
    lines += ["", "## Evaluation episodes/s (CPU envs, IQL policy)", ""]
    ev = report["eval"]
    if ev:
        lines += [
            f"sequential {ev['sequential_episodes_per_s']:.2f}, lockstep "
            f"{ev['lockstep_episodes_per_s']:.2f} ({ev['speedup']:.2f}x; {ev['episodes']} "
            f"episodes, {ev['envs']} envs, rows equal: {ev['rows_equal']})"
        ]
    else:
        lines += ["no result"]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    out = p.parse_args().out
    bench = bench_rows(out)
    report = {
        "device": os.environ.get("DEVICE", "cuda"),
        "parts": parts(out),
        "pytest": pytest_summary(out),
        "bench": bench,
        "speedups": speedups(bench),
        "bench_unsupported": bench_notes(out, "unsupported:"),
        "bench_failed": bench_notes(out, "failed:") + bench_notes(out, "skipped"),
        "train": train_summary(out),
        "eval": eval_speed(out),
    }
    report["ok"] = all(p["status"] == "ok" for p in report["parts"])
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    print(f"gpu_check: {'all parts ok' if report['ok'] else 'a part failed'}: {out}/report.md")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
