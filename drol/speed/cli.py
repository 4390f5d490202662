"""``drol bench``: parse the options, run :func:`drol.speed.benchmark.benchmark`, print the result."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from drol.agents import method_names
from drol.agents.config import add_set_option
from drol.errors import UserError
from drol.io import atomic_write_text, ensure_writable_dir
from drol.speed.benchmark import BenchSettings, benchmark

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="benchmark training steps/s and inference latency")
    p.add_argument("--method", choices=method_names(), help="the method (or give --pairs)")
    p.add_argument("--K", type=int, default=None, help="latent candidates (default 16)")
    p.add_argument("--obs-dim", type=int, default=28)
    p.add_argument("--action-dim", type=int, default=5)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    p.add_argument("--steps", type=int, default=20, help="training steps per repeat")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--impl",
        default="winner",
        choices=["winner", "full"],
        help="DROL actor graph: winner-only recompute or the official full-K graph",
    )
    add_set_option(
        p,
        "agent hyperparameter, or precision=fp32|bf16, compile=auto|on|off (drol.speed.step)",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="S",
        help="time one seed-batched update of S agents (fp32, compiled per --set compile; JSON "
        "seed_steps_per_s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--pairs",
        metavar="METHOD:K,...",
        help="benchmark several (method, K) one after another in this process, with the same "
        "settings (instead of --method/--K; e.g. bc:1,fql:1,drol:16); with --out-dir",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        help="with --pairs: write each result to OUT_DIR/METHOD_KK.json (e.g. drol_K16.json)",
    )
    p.set_defaults(func=run)


def parse_pairs(text: str) -> list[tuple[str, int]]:
    """``bc:1,drol:16`` -> [("bc", 1), ("drol", 16)]; a one-line error naming --pairs."""
    pairs: list[tuple[str, int]] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            raise UserError(
                f"--pairs {text!r}: an empty item; give METHOD:K,..., e.g. bc:1,drol:16"
            )
        method, _, k = item.rpartition(":")
        if method not in method_names() or not k.isdigit() or int(k) < 1:
            raise UserError(
                f"bad --pairs item {item!r}: give METHOD:K with METHOD one of "
                f"{', '.join(method_names())} and K >= 1, e.g. bc:1,drol:16"
            )
        if (method, int(k)) in pairs:
            raise UserError(f"--pairs {text!r}: {method}:{int(k)} twice; give each pair once")
        pairs.append((method, int(k)))
    if not pairs:
        raise UserError("--pairs is empty: give METHOD:K,..., e.g. bc:1,drol:16")
    return pairs


def run(args: argparse.Namespace) -> int:
    if args.pairs is not None and (args.method is not None or args.K is not None):
        raise UserError("--pairs names every METHOD:K itself: drop --method and --K")
    if args.K is None:
        args.K = 16
    for key in ("K", "repeats", "steps", "hidden", "batch_size", "obs_dim", "action_dim", "seeds"):
        if getattr(args, key) < 1:
            raise UserError(f"--{key.replace('_', '-')} must be >= 1")
    if args.pairs is None:
        if args.method is None:
            raise UserError("give --method METHOD (or --pairs METHOD:K,... with --out-dir)")
        if args.out_dir is not None:
            raise UserError("--out-dir goes with --pairs; with --method the result is printed")
        return bench_one(args, args.method, args.K)
    if args.out_dir is None:
        raise UserError("--pairs needs --out-dir DIR (one METHOD_KK.json per pair)")
    pairs = parse_pairs(args.pairs)  # every item checked before the first is timed
    ensure_writable_dir(args.out_dir, "--out-dir")
    for method, K in pairs:
        bench_one(args, method, K, out=args.out_dir / f"{method}_K{K}.json")
    return 0


def bench_one(args: argparse.Namespace, method: str, K: int, out: Path | None = None) -> int:
    """Time (method, K) with ``args``' settings; print the result, or write it to ``out``."""
    try:
        result = benchmark(
            BenchSettings(
                method=method,
                K=K,
                obs_dim=args.obs_dim,
                action_dim=args.action_dim,
                device=args.device,
                repeats=args.repeats,
                steps=args.steps,
                warmup=args.warmup,
                hidden=args.hidden,
                batch_size=args.batch_size,
                impl=args.impl,
                overrides=args.overrides,
                threads=args.threads,
                seeds=args.seeds,
            )
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    if out is not None:
        atomic_write_text(out, json.dumps(result) + "\n")
        log.info("%s K=%d: %.2f train steps/s -> %s", method, K, result["train_steps_per_s"], out)
        return 0
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['method']} K={result['K']} ({result['impl']}, {result['device']}, {result['threads']} threads): "
            f"{result['train_steps_per_s']:.2f} train steps/s ({result['train_step_ms']:.1f} ms/step), "
            + (
                f"{result['seed_steps_per_s']:.2f} seed-steps/s ({result['seeds']} seeds), "
                if result["seeds"] > 1
                else ""
            )
            + f"inference {result['inference_ms']:.3f} ms/action"
            + (f"; precision {result['precision']}" if result["precision"] != "fp32" else "")
            + (
                f"; compiled in {result['compile_s']:.1f}s"
                if result["compiled"]
                else ("; compile failed, eager" if result["compile"] == "on" else "")
            )
        )
    return 0
