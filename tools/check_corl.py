#!/usr/bin/env python
"""Compare our resolved D4RL BC/IQL/ReBRAC settings with CORL's recorded values.

The paper prints CORL's numbers (Tarasov et al.) for the 54 D4RL cells of BC, IQL and ReBRAC;
our runs of those cells must use CORL's settings. ``config/corl_excerpt.yaml`` records the
values of CORL's configs (``configs/offline/{bc,iql,rebrac}/<env>/<dataset>.yaml``, repo path
and commit) and of its algorithm files; this script maps each CORL key to ours and reports
every difference with ``drol hparams``' resolution (exit 1), or that all match (exit 0).

    python tools/check_corl.py                       # check (the test suite runs this)
    python tools/check_corl.py --record ../CORL      # re-record the config values from a
                                                     # checkout of tinkoff-ai/CORL (git HEAD)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drol.agents.corl_settings import (  # noqa: E402
    CONFIG_KEYS,
    DATASETS,
    EXCERPT,
    METHODS,
    differences,
    load_excerpt,
)
from drol.agents.sources import corl_path  # noqa: E402


def check(excerpt_path: Path = EXCERPT) -> list[str]:
    """Every difference between our resolved settings and the excerpt (empty: all match)."""
    excerpt = load_excerpt(excerpt_path)
    problems: list[str] = []
    for method in METHODS:
        configs = excerpt["configs"].get(method, {})
        missing = sorted(set(DATASETS) - set(configs))
        if missing:
            problems.append(f"{method}: no recorded CORL config for {missing}")
        for task in configs:
            problems += [f"{method} {task}: {d}" for d in differences(method, task, excerpt)]
    return problems


def record(corl_dir: Path) -> None:
    """Re-record the config values of the 54 (method, dataset) pairs from a CORL checkout."""
    commit = subprocess.check_output(["git", "-C", str(corl_dir), "rev-parse", "HEAD"], text=True)
    excerpt = yaml.safe_load(EXCERPT.read_text()) if EXCERPT.exists() else {}
    excerpt["commit"] = commit.strip()
    keys = {m: set(CONFIG_KEYS[m]) | {"normalize_reward", "actor_dropout"} for m in METHODS}
    keys["rebrac"] |= {"num_epochs", "num_updates_on_epoch"}
    configs: dict[str, dict[str, Any]] = {}
    for method in METHODS:
        configs[method] = {}
        for task in DATASETS:
            path = corl_path(method, task)
            text = subprocess.check_output(
                ["git", "-C", str(corl_dir), "show", f"HEAD:{path}"], text=True
            )
            raw = yaml.safe_load(text)
            values = {k: raw[k] for k in sorted(raw) if k in keys[method]}
            configs[method][task] = {"path": path, "values": values}
    excerpt["configs"] = configs
    header = EXCERPT.read_text().split("\nrepo:", 1)[0] if EXCERPT.exists() else ""
    body = yaml.safe_dump(excerpt, sort_keys=False, width=100)
    EXCERPT.write_text((header + "\n" if header else "") + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", type=Path, metavar="CORL_CHECKOUT")
    parser.add_argument("--excerpt", type=Path, default=EXCERPT)
    args = parser.parse_args(argv)
    if args.record:
        record(args.record)
        print(f"recorded {EXCERPT}")
        return 0
    problems = check(args.excerpt)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} difference(s) from CORL", file=sys.stderr)
        return 1
    n = sum(len(v) for v in yaml.safe_load(args.excerpt.read_text())["configs"].values())
    print(f"all {n} D4RL BC/IQL/ReBRAC cells match CORL's recorded settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
