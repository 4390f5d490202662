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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drol.agents.settings import task_settings  # noqa: E402
from drol.agents.sources import corl_path  # noqa: E402
from drol.tasks import D4RL_FAMILIES  # noqa: E402

EXCERPT = ROOT / "config" / "corl_excerpt.yaml"
METHODS = ("bc", "iql", "rebrac")
DATASETS = tuple(t for tasks in D4RL_FAMILIES.values() for t in tasks)


def _antmaze(task: str) -> bool:
    return task.startswith("antmaze")


def _reward(task: str, corl_normalize_reward: bool, method: str) -> tuple[float, float]:
    """Our (reward_scale, reward_bias) for CORL's ``normalize_reward`` (our D4RL loader gives
    AntMaze rewards as r - 1 already, drol.data.d4rl)."""
    if not corl_normalize_reward or not _antmaze(task):
        return (1.0, 0.0)
    if method == "iql":  # CORL's modify_reward: r - 1 (= ours)
        return (1.0, 0.0)
    return (100.0, 100.0)  # ReBRAC: 100 * r = 100 * (r' + 1)


# CORL config key -> (our key, transform of CORL's value into ours)
Mapping_ = dict[str, tuple[str, Callable[[Any], Any]]]
SAME: Callable[[Any], Any] = lambda v: v  # noqa: E731
CONFIG_KEYS: dict[str, Mapping_] = {
    "bc": {
        "batch_size": ("batch_size", SAME),
        "max_timesteps": ("steps", int),
        "n_episodes": ("eval_episodes", SAME),
        "normalize": ("obs_norm", SAME),
    },
    "iql": {
        "batch_size": ("batch_size", SAME),
        "max_timesteps": ("steps", int),
        "n_episodes": ("eval_episodes", SAME),
        "normalize": ("obs_norm", SAME),
        "iql_tau": ("expectile", float),
        "beta": ("alpha", float),
        "actor_lr": ("lr", float),
        "qf_lr": ("critic_lr", float),
        "vf_lr": ("critic_lr", float),
        "discount": ("discount", float),
        "tau": ("tau", float),
    },
    "rebrac": {
        "batch_size": ("batch_size", SAME),
        "eval_episodes": ("eval_episodes", SAME),
        "normalize_states": ("obs_norm", SAME),
        "actor_bc_coef": ("alpha_actor", float),
        "critic_bc_coef": ("alpha_critic", float),
        "actor_learning_rate": ("lr", float),
        "critic_learning_rate": ("critic_lr", float),
        "hidden_dim": ("hidden", SAME),
        "actor_n_hiddens": ("depth", SAME),
        "critic_n_hiddens": ("depth", SAME),
        "critic_ln": ("layer_norm", SAME),
        "gamma": ("discount", float),
        "tau": ("tau", float),
        "policy_freq": ("actor_freq", SAME),
        "policy_noise": ("actor_noise", float),
        "noise_clip": ("actor_noise_clip", float),
    },
}


def expected(method: str, task: str, values: dict[str, Any], code: dict[str, Any]) -> dict:
    """Our key -> the value CORL's recorded ``values`` (config) and ``code`` facts imply."""
    out: dict[str, Any] = {}
    for key, (ours, convert) in CONFIG_KEYS[method].items():
        if key in values:
            out[ours] = convert(values[key])
    if method == "rebrac":
        out["steps"] = int(values["num_epochs"]) * int(values["num_updates_on_epoch"])
    if "normalize_reward" in values:
        out["reward_scale"], out["reward_bias"] = _reward(task, values["normalize_reward"], method)
    if method == "iql":
        # CORL's GaussianPolicy never passes actor_dropout to its MLP (code fact, recorded)
        out["actor_dropout"] = 0.0 if code.get("gaussian_policy_ignores_dropout") else float(
            values.get("actor_dropout") or 0.0
        )
        out["actor_lr_decay_steps"] = int(values["max_timesteps"])
    for key, value in code.items():
        if key != "gaussian_policy_ignores_dropout":
            out[key] = value
    return out


def check(excerpt_path: Path = EXCERPT) -> list[str]:
    """Every difference between our resolved settings and the excerpt (empty: all match)."""
    excerpt = yaml.safe_load(excerpt_path.read_text())
    problems: list[str] = []
    for method in METHODS:
        configs = excerpt["configs"][method]
        missing = sorted(set(DATASETS) - set(configs))
        if missing:
            problems.append(f"{method}: no recorded CORL config for {missing}")
        code = excerpt["code"].get(method, {})
        for task, entry in configs.items():
            ours = task_settings(method, task)
            if entry["path"] != corl_path(method, task):
                problems.append(f"{method} {task}: recorded path {entry['path']} is not ours")
            for key, want in expected(method, task, entry["values"], code).items():
                if key not in ours:
                    problems.append(f"{method} {task}: {key} is not a setting of ours")
                elif ours[key].value != want:
                    problems.append(
                        f"{method} {task}: {key} = {ours[key].value!r} ({ours[key].source}); "
                        f"CORL: {want!r} ({entry['path']})"
                    )
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
