"""``drol bench``: parse the options, run :func:`drol.speed.benchmark.benchmark`, print the result."""

from __future__ import annotations

import argparse
import json

from drol.agents import method_names
from drol.agents.config import add_set_option
from drol.errors import UserError
from drol.speed.benchmark import BenchSettings, benchmark


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="benchmark training steps/s and inference latency")
    p.add_argument("--method", required=True, choices=method_names())
    p.add_argument("--K", type=int, default=16)
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
        help="time one seed-batched update of S agents (eager fp32; JSON seed_steps_per_s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for key in ("K", "repeats", "steps", "hidden", "batch_size", "obs_dim", "action_dim", "seeds"):
        if getattr(args, key) < 1:
            raise UserError(f"--{key.replace('_', '-')} must be >= 1")
    try:
        result = benchmark(
            BenchSettings(
                method=args.method,
                K=args.K,
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
