"""Parse the paper's Table 1 (per-family means ± std) from its extracted text.

Writes ``config/table1_reported.csv`` (``suite, family, method, mean, std, bold, underline``):
the values and marks the paper prints, which the tables show in Table 1's reported columns.
Run from the repo root:

    python tools/parse_paper_table1.py ../shared/paper/drol_paper.txt config/table1_reported.csv

The text renders each cell twice (glyphs, then LaTeX): a plain ``11`` reads ``1111``, a bold
``89`` reads ``𝟖𝟗\\mathbf{89}``, ``± 3`` reads ``±3\\pm 3``; zero is printed once, a missing
cell is ``-``. D4RL's BC/IQL/ReBRAC cells have no ±. The marks are in the LaTeX half: bold is
``\\mathbf{..}``, bold and underlined ``𝟗𝟎¯\\underline{\\mathbf{90}}`` (the glyph half carries
a combining macron).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

HEADER = "Task Category "
DROL_STAR = "DROL*"  # the paper's last column, "DROL" (K chosen per benchmark)
# the paper's family titles -> (suite, our family name)
FAMILIES = {
    "antmaze-large-singletask": ("ogbench", "antmaze-large-navigate"),
    "antmaze-giant-singletask": ("ogbench", "antmaze-giant-navigate"),
    "humanoidmaze-medium-singletask": ("ogbench", "humanoidmaze-medium-navigate"),
    "humanoidmaze-large-singletask": ("ogbench", "humanoidmaze-large-navigate"),
    "antsoccer-arena-singletask": ("ogbench", "antsoccer-arena-navigate"),
    "cube-single-singletask": ("ogbench", "cube-single-play"),
    "cube-double-singletask": ("ogbench", "cube-double-play"),
    "scene-singletask": ("ogbench", "scene-play"),
    "puzzle-3x3-singletask": ("ogbench", "puzzle-3x3-play"),
    "puzzle-4x4-singletask": ("ogbench", "puzzle-4x4-play"),
    "antmaze": ("d4rl", "antmaze"),
    "adroit": ("d4rl", "adroit"),
}
ROW = re.compile(r"^(OGBench|D4RL) (\S+) \(.*?tasks\) (.*)$")


def value(token: str) -> float:
    """One printed number: '1111' -> 11, '𝟖𝟗\\mathbf{89}' -> 89, '0' -> 0, '-' -> nan."""
    if token == "-":
        return float("nan")
    if "{" in token:
        return float(re.findall(r"\{([0-9.]+)\}", token)[-1])
    half = len(token) // 2
    if len(token) % 2 == 0 and token[:half] == token[half:]:
        token = token[:half]
    return float(token)


def marks(token: str) -> tuple[int, int]:
    """``(bold, underline)`` of one printed number: '\\underline{\\mathbf{90}}' -> (1, 1)."""
    return int("\\mathbf{" in token), int("\\underline{" in token)


def parse_cells(text: str) -> list[tuple[float, float, int, int]]:
    """The (mean, std, bold, underline) cells of one row; std is nan where none is printed."""
    cells: list[tuple[float, float, int, int]] = []
    tokens = text.split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("±"):  # '±3\pm' '3': the spread of the previous cell
            mean, _, bold, under = cells[-1]
            cells[-1] = (mean, float(tokens[i + 1]), bold, under)
            i += 2
            continue
        cells.append((value(tok), float("nan"), *marks(tok)))
        i += 1
    return cells


def parse(text: str) -> list[dict]:
    """Rows ``suite, family, method, mean, std, bold, underline`` of the paper's Table 1."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Table 1:"))
    header = next(line for line in lines[start:] if line.startswith(HEADER))
    methods = header.removeprefix(HEADER).split()
    methods[-1] = DROL_STAR
    rows = []
    for line in lines[start:]:
        m = ROW.match(line.strip())
        if not m:
            if rows and line.strip() and not line.startswith(("OGBench", "D4RL")):
                break  # the table ended
            continue
        suite, family = FAMILIES[m.group(2)]
        cells = parse_cells(m.group(3))
        if len(cells) != len(methods):
            raise ValueError(f"{m.group(2)}: {len(cells)} cells for {len(methods)} methods")
        for method, (mean, std, bold, under) in zip(methods, cells, strict=True):
            rows.append(
                dict(
                    suite=suite,
                    family=family,
                    method=method,
                    mean=mean,
                    std=std,
                    bold=bold,
                    underline=under,
                )
            )
    return rows


def write(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        fields = ["suite", "family", "method", "mean", "std", "bold", "underline"]
        w = csv.DictWriter(f, fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    k: "" if v != v else (f"{v:g}" if isinstance(v, float) else v)
                    for k, v in r.items()
                }
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paper_txt", type=Path)
    p.add_argument("out_csv", type=Path)
    args = p.parse_args(argv)
    rows = parse(args.paper_txt.read_text(encoding="utf-8"))
    write(rows, args.out_csv)
    print(f"{len(rows)} cells -> {args.out_csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
