"""(being written)"""


def register(subparsers) -> None:  # replaced by the real command
    pass
