"""The ``drol`` command-line tool: one entry point, one sub-command per job.

Each sub-command lives in its own module, which exposes ``register(subparsers)``;
the module is imported only when the tool starts, and the command's ``func``
receives the parsed namespace and returns an exit code.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys

from drol.errors import EnvFailedError, UserError
from drol.io import os_error_message
from drol.speed import allocator, inductor_cache, openmp


def one_line(text: str) -> str:
    """Messages are printed on one line, whatever a library put in them."""
    return " ".join(text.split())


# the module that registers each sub-command (``register(subparsers)``)
COMMANDS: dict[str, str] = {
    "train": "drol.train.cli",
    "bench": "drol.speed.cli",
    "data": "drol.data.cli",
    "d4rl": "drol.d4rl.cli",
    "aggregate": "drol.report.cli",
    "tables": "drol.report.cli",
    "figures": "drol.report.cli",
    "stats": "drol.report.cli",
    "select-k": "drol.report.cli",
    "cost": "drol.report.cli",
    "video": "drol.video.cli",
    "hparams": "drol.agents.cli",
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or only of ``command``'s module when it is a known
    sub-command: a run imports only its own sub-command's module, not every command's, which
    saves seconds per workflow job."""
    parser = argparse.ArgumentParser(
        prog="drol",
        description="DROL and its baselines, offline RL: data, training, evaluation, benchmark, "
        "tables and figures.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


# the sub-commands that run training steps (the ones torch's OpenMP wait matters for)
TRAINING_COMMANDS = ("train", "bench")


def startup_options(argv: list[str] | None) -> argparse.Namespace:
    """The sub-command and its ``--threads N``, read before the sub-commands load torch
    (``command``/``threads`` None where absent or malformed: the real parser reports it)."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument("-v", "--verbose", action="store_true")
    pre.add_argument("command", nargs="?")
    pre.add_argument("--threads", type=int)
    try:
        return pre.parse_known_args(sys.argv[1:] if argv is None else argv)[0]
    except argparse.ArgumentError:
        return argparse.Namespace(verbose=False, command=None, threads=None)


def option_of(argv: list[str], filename: object) -> str:
    """``"--out: "`` for the command-line option whose value ``filename`` is (or lies
    under, or above); ``"PATH argument: "`` for a positional one; ``""`` when none is."""
    name = str(filename or "")
    for i, token in enumerate(argv):
        value = token.split("=", 1)[1] if token.startswith("--") and "=" in token else token
        if len(value) < 2 or not (name.startswith(value) or value.startswith(name)):
            continue
        if "=" in token and token.startswith("--"):
            return f"{token.split('=', 1)[0]}: "
        if i and argv[i - 1].startswith("-"):
            return f"{argv[i - 1]}: "
        return f"argument {value[:40]}...: " if len(value) > 40 else f"argument {value}: "
    return ""


def main(argv: list[str] | None = None) -> int:
    start = startup_options(argv)  # before any sub-command module loads torch
    openmp.configure(start.threads, trains=start.command in TRAINING_COMMANDS)
    allocator.keep_freed_memory()
    parser = build_parser(start.command)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if start.command in TRAINING_COMMANDS:
        inductor_cache.guard()  # before torch's compiler loads (any optimizer loads it)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"drol {args.command}: error: {one_line(str(err))}", file=sys.stderr)
        return 2
    except EnvFailedError as err:  # e.g. the D4RL worker died or hung
        print(f"drol {args.command}: error: {one_line(str(err))}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:  # a bad argument, not a file system fault
            where = option_of(sys.argv[1:] if argv is None else argv, err.filename)
            print(
                f"drol {args.command}: error: {where}path too long ({len(str(err.filename))} "
                f"characters; {one_line(os_error_message(err))}); use a shorter path",
                file=sys.stderr,
            )
            return 2
        # a file system fault (disk full, read-only, permissions)
        print(f"drol {args.command}: error: {one_line(os_error_message(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"drol {args.command}: interrupted", file=sys.stderr)
        return 130
