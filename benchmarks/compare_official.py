"""Side-by-side training speed: the official JAX agents vs ``drol bench``, same CPU, same sizes.

Usage (see the README's speed section)::

    python benchmarks/compare_official.py --drol-repo ../DROL --fql-repo ../fql \\
        [--deflow-repo ../DeFlow] [--sorl-repo ../SORL] \\
        --jax-python /path/to/jax-venv/bin/python --threads 2 --rounds 3

The official side runs ``benchmarks/official_update.py`` in the JAX venv (jax[cpu], flax,
optax, ml_collections, distrax, jaxtyping), which imports the checkout's agent and times its
jitted ``update()`` on random batches; nothing of the official code is copied here. Our side
runs ``python -m drol bench --json`` with the same sizes. Both are pinned to the same
``--threads`` CPUs (``taskset``-style affinity) and interleaved configuration by
configuration, round by round, so machine noise hits both. Prints one markdown table of
steps/s (median and range over rounds) and the ratio ours/official.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    """One row: our method/K/impl against an official agent/K."""

    label: str
    method: str
    K: int
    impl: str
    official: str  # the official agent: drol, deflow, sorl (their repos) or fql/iql/rebrac/ifql
    official_K: int
    sets: tuple[str, ...] = ()  # extra ``drol bench --set`` of this row


CASES = (
    Case("FQL", "fql", 1, "winner", "fql", 1),
    Case("DROL K=1", "drol", 1, "winner", "drol", 1),
    Case("DROL K=4", "drol", 4, "winner", "drol", 4),
    Case("DROL K=16", "drol", 16, "winner", "drol", 16),
    Case("DROL K=32", "drol", 32, "winner", "drol", 32),
    Case("DROL-static K=16 (vs official DROL K=16)", "drol_static", 16, "winner", "drol", 16),
    Case("DROL K=16 --impl full", "drol", 16, "full", "drol", 16),
    Case("IQL", "iql", 1, "winner", "iql", 1),
    Case("ReBRAC", "rebrac", 1, "winner", "rebrac", 1),
    Case("IFQL", "ifql", 1, "winner", "ifql", 1),
    Case("DeFlow", "deflow", 1, "winner", "deflow", 1),  # with --deflow-repo
    Case("SORL", "sorl", 1, "winner", "sorl", 1),  # with --sorl-repo
)  # BC has no official agent (seohongpark/fql has none; ours is its IQL actor at alpha=0)
BF16_CASES = (  # the opt-in mixed precision (--bf16-rows), against the same official fp32 rows
    Case("FQL, precision=bf16", "fql", 1, "winner", "fql", 1, ("precision=bf16",)),
    Case("DROL K=1, precision=bf16", "drol", 1, "winner", "drol", 1, ("precision=bf16",)),
    Case("DROL K=16, precision=bf16", "drol", 16, "winner", "drol", 16, ("precision=bf16",)),
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pinned_env(threads: int) -> tuple[dict[str, str], set[int]]:
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=true").strip()
    env["JAX_PLATFORMS"] = "cpu"
    return env, set(cpus)


def run_json(cmd: list[str], env: dict[str, str], cpus: set[int]) -> dict:
    out = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def official_rate(case: Case, a: argparse.Namespace, env, cpus) -> float:
    repo = official_repo(case, a)
    cmd = [a.jax_python, str(HERE / "official_update.py"), "--repo", repo, "--agent", case.official]
    cmd += ["--K", str(case.official_K), *sizes(a), "--steps", str(steps_for(case, a))]
    cmd += ["--repeats", str(a.repeats), "--warmup", str(a.warmup)]
    return statistics.median(run_json(cmd, env, cpus)["rates"])


def official_repo(case: Case, a: argparse.Namespace) -> str | None:
    """The checkout holding ``case``'s official agent (``None``: not given)."""
    return {"drol": a.drol_repo, "deflow": a.deflow_repo, "sorl": a.sorl_repo}.get(
        case.official, a.fql_repo
    )


def ours_rate(case: Case, a: argparse.Namespace, env, cpus) -> float:
    cmd = [sys.executable, "-m", "drol", "bench", "--json", "--method", case.method]
    cmd += ["--K", str(case.K), "--impl", case.impl, "--threads", str(a.threads), *sizes(a)]
    cmd += ["--steps", str(steps_for(case, a)), "--repeats", str(a.repeats)]
    cmd += ["--warmup", str(a.warmup)]
    for s in (*a.set, *case.sets):
        cmd += ["--set", s]
    return run_json(cmd, env, cpus)["train_steps_per_s"]


def sizes(a: argparse.Namespace) -> list[str]:
    return ["--obs-dim", str(a.obs_dim), "--action-dim", str(a.action_dim),
            "--hidden", str(a.hidden), "--batch-size", str(a.batch_size)]  # fmt: skip


def steps_for(case: Case, a: argparse.Namespace) -> int:
    """Fewer steps per repeat for the slow full-K graphs (each repeat stays a few seconds)."""
    return max(3, a.steps * 4 // max(case.official_K, 4)) if case.official_K > 4 else a.steps


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--drol-repo", required=True, help="checkout of muzhancun/DROL")
    p.add_argument("--fql-repo", required=True, help="checkout of seohongpark/fql")
    p.add_argument("--deflow-repo", help="checkout of muzhancun/DeFlow (adds the DeFlow row)")
    p.add_argument("--sorl-repo", help="checkout of nico-espinosadice/SORL (adds the SORL row)")
    p.add_argument("--jax-python", required=True, help="python of a venv with jax[cpu], flax...")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="steps per repeat (K<=4; fewer above)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--obs-dim", type=int, default=28)
    p.add_argument("--action-dim", type=int, default=5)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--only", action="append", default=[], help="row labels to run (default all)")
    p.add_argument("--set", action="append", default=[], help="passed to drol bench --set")
    p.add_argument("--json-out", help="also write the raw rates here")
    p.add_argument("--bf16-rows", action="store_true", help="add rows for --set precision=bf16")
    a = p.parse_args()
    cases = [c for c in CASES + BF16_CASES * a.bf16_rows if not a.only or c.label in a.only]
    cases = [c for c in cases if official_repo(c, a)]  # rows whose official checkout is given
    env, cpus = pinned_env(a.threads)
    loads = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    ours: dict[str, list[float]] = {c.label: [] for c in cases}
    theirs: dict[str, list[float]] = {c.label: [] for c in cases}
    official_cache: dict[tuple[str, int], float] = {}
    for r in range(a.rounds):
        official_cache.clear()
        for i, c in enumerate(cases):
            key = (c.official, c.official_K)
            # alternate which side goes first so drift in machine load hits both equally
            sides = ("official", "ours") if (r + i) % 2 == 0 else ("ours", "official")
            for side in sides:
                if side == "ours":
                    ours[c.label].append(ours_rate(c, a, env, cpus))
                elif key not in official_cache:
                    official_cache[key] = official_rate(c, a, env, cpus)
            theirs[c.label].append(official_cache[key])
            print(f"round {r + 1} {c.label}: official {theirs[c.label][-1]:.2f}, "
                  f"ours {ours[c.label][-1]:.2f} steps/s", file=sys.stderr, flush=True)  # fmt: skip
        loads.append(os.getloadavg()[0])
    print(f"\nCPU: {cpu_model()}, {a.threads} threads (CPUs {sorted(cpus)}); {started}; "
          f"{a.rounds} rounds x {a.repeats} repeats; 1-min load {min(loads):.2f}-{max(loads):.2f}; "
          f"sizes 4x{a.hidden} MLPs, batch {a.batch_size}, obs {a.obs_dim}, action {a.action_dim}"
          + (f"; drol bench --set {' '.join(a.set)}" if a.set else ""))  # fmt: skip
    print("\n| configuration | official JAX steps/s | drol bench steps/s | ratio |")
    print("|---|---|---|---|")
    for c in cases:
        ratios = [o / t for o, t in zip(ours[c.label], theirs[c.label], strict=True)]
        print(f"| {c.label} | {fmt(theirs[c.label])} | {fmt(ours[c.label])} | "
              f"{statistics.median(ours[c.label]) / statistics.median(theirs[c.label]):.2f}x "
              f"[{min(ratios):.2f}-{max(ratios):.2f}] |")  # fmt: skip
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"ours": ours, "official": theirs, "cpu": cpu_model(),
                                                "loads": loads, "started": started}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
