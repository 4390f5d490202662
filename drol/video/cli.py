"""``drol video RUN_DIR``: rollout videos of a trained run (:mod:`drol.video.render`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drol.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "video",
        help="render evaluation episodes of a run's final policy to MP4 and GIF",
        description="Load RUN_DIR's checkpoint and config, replay its last evaluation's episodes "
        "in the real environment (MuJoCo offscreen rendering; OGBench tasks) and write an MP4 "
        "(every step, or every --frame-every-th) and a GIF (every 3rd frame, half size). Default: RUN_DIR/video.mp4 and "
        "RUN_DIR/video.gif.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--episodes", type=int, default=1, help="episodes to render (default 1)")
    p.add_argument(
        "--out", type=Path, default=None, help="FILE.mp4 (or .gif): both files are written"
    )
    p.add_argument("--width", type=int, default=256, help="frame width in pixels")
    p.add_argument("--height", type=int, default=256, help="frame height in pixels")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument(
        "--max-steps", type=int, default=None, help="end each episode after this many steps"
    )
    p.add_argument(
        "--frame-every",
        type=int,
        default=1,
        help="render every Nth step (and each episode's first and last); rendering on a CPU "
        "costs ~0.1-0.3 s a frame",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    limits = {
        "episodes": 1000,
        "width": 4096,
        "height": 4096,
        "fps": 240,
        "max_steps": 10**7,
        "frame_every": 10**6,
    }
    for key, hi in limits.items():
        value = getattr(args, key)
        if value is not None and not 1 <= value <= hi:
            raise UserError(f"--{key.replace('_', '-')} {value}: must be in [1, {hi}]")
    from drol.train.settings import resolve_device
    from drol.video.render import render_run

    resolve_device(args.device)
    render_run(
        args.run_dir,
        episodes=args.episodes,
        out=args.out,
        width=args.width,
        height=args.height,
        fps=args.fps,
        max_steps=args.max_steps,
        frame_every=args.frame_every,
        device=args.device,
    )
    return 0
