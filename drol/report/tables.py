"""Table 4 (per task) and Table 1 (per family) of the paper, with our reproduced columns.

The paper's reported numbers (``config/table4_reported.csv``) and our runs' numbers are put
in one long frame (``suite, family, task, method, mean, std, n_seeds, source``); bold and
underline follow :mod:`drol.report.marks`: reported cells keep the paper's printed marks,
reproduced cells are bold at ``mean >= 0.95 * max(row)`` over every column shown (means
compared as printed, :mod:`drol.report.numbers`) and underlined when bold and one of the
paper's one-step methods (:func:`drol.report.marks.one_step_labels`). A Table 1 cell over k < N of its family's
tasks is not ranked (no mark, not the row's best).

Reproduced cells print ``mean ± std (n seeds)`` (± the sample std over seeds, ddof 1, at the
mean's precision; none for one seed) and, where the paper reports the same method, a verdict
symbol (:mod:`drol.report.verdict`: Welch's test against the paper's numbers).
Table 1's reported columns are the paper's own printed Table 1 (``config/table1_reported.csv``);
its reproduced ± is the std over seeds of the family mean over one seed set (the seeds left
out are footnoted per cell), and its verdicts test against the paper's Table 4 over the same
tasks (:mod:`drol.report.reference`: ``paper_mean``, ``paper_std`` in ``table1.csv``).
The CSVs keep full precision.

Each table is written as ``.csv`` (tidy), ``.tex`` (booktabs), ``.md`` and ``.html`` from the
jinja2 templates in ``drol/report/templates``.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from drol.errors import UserError
from drol.grid import column_labels, paper_labels
from drol.io import atomic_write_text
from drol.report import provenance
from drol.report.aggregate import family_seed_summary, family_summary, not_done, task_summary
from drol.report.marks import BOLD_FRACTION, mark_best, one_step_labels  # noqa: F401
from drol.report.numbers import STD_RULE, csv_text, number_text, spread_text
from drol.report.reference import (
    attach_family_reference,
    discrepancy_note,
    unexplained_drol_tasks,
)
from drol.report.verdict import PAPER_SEEDS, RULE, SYMBOLS, add_verdicts, summary_line
from drol.tasks import D4RL_FAMILIES, UnknownTaskError, parse_task

log = logging.getLogger(__name__)

REPORTED = "reported"
REPRODUCED = "reproduced"
TABLE_COLUMNS = [
    "suite",
    "family",
    "task",
    "method",
    "mean",
    "std",
    "n_seeds",
    "bold",
    "underline",
    "source",
    "verdict",
    "p_value",
    "unverified_settings",  # drol.report.provenance
    "unmatched_settings",
]
TABLE1_REFERENCE_COLUMNS = ["paper_mean", "paper_std"]  # what a Table 1 verdict tests against
TABLE1_SEED_COLUMNS = ["seeds_left_out", "left_out_because"]  # footnoted under Table 1
NOT_RANKED = "not ranked"  # the note of a Table 1 cell over k < N tasks
MARKS = ["bold", "underline"]  # the paper's printed marks, optional in a reported CSV
SUITE_TITLE = {"ogbench": "OGBench", "d4rl": "D4RL"}
FORMATS = ("tex", "md", "html")


# ------------------------------------------------------------------------------ data


def _read_numbers_csv(path: str | Path, flag: str, need: list[str]) -> pd.DataFrame:
    """A reported-numbers CSV with columns ``need`` and numeric ``mean``/``std`` (NaN where
    empty); a one-line :class:`UserError` naming ``flag``, the file, row and column otherwise."""
    try:
        rep = pd.read_csv(path)
    except (OSError, ValueError) as err:  # binary junk, empty file, ragged rows
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{flag} {path}: not a readable CSV ({first})") from None
    if missing := set(need) - set(rep.columns):
        raise UserError(
            f"{flag} {path}: missing columns {sorted(missing)} (need {', '.join(need)})"
        )
    for col in ("mean", "std"):
        values = pd.to_numeric(rep[col], errors="coerce")
        bad = values.isna() & rep[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(
                f"{flag} {path}: row {i + 2}: {col}: {rep[col].iloc[i]!r} is not a number"
            )
        rep[col] = values
    for col in [c for c in MARKS if c in rep.columns]:
        values = pd.to_numeric(rep[col], errors="coerce")
        bad = ~values.isin([0, 1]) & rep[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(
                f"{flag} {path}: row {i + 2}: {col}: {rep[col].iloc[i]!r} is not 0 or 1"
            )
        rep[col] = values
    return rep


def _printed_marks(rep: pd.DataFrame) -> dict[str, pd.Series]:
    """The paper's printed ``bold``/``underline`` of a reported CSV (NaN where it has none)."""
    return {c: rep[c] if c in rep.columns else pd.Series(np.nan, index=rep.index) for c in MARKS}


def read_reported(path: str | Path) -> pd.DataFrame:
    """The paper's Table 4 as a long frame with ``suite, family, task`` resolved."""
    rep = _read_numbers_csv(path, "--reported", ["task", "method", "mean", "std"])
    suites, families = [], []
    for i, task in enumerate(rep["task"]):
        try:
            t = parse_task(str(task))
        except UserError as err:
            raise UserError(f"--reported {path}: row {i + 2}: task: {err}") from None
        suites.append(t.suite)
        families.append(t.family)
    out = pd.DataFrame(
        {
            "suite": suites,
            "family": families,
            "task": rep["task"],
            "method": rep["method"],
            "mean": rep["mean"],
            "std": rep["std"],
            "n_seeds": np.nan,
            "source": REPORTED,
            **_printed_marks(rep),
        }
    )
    return out


def reproduced_tasks(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-task rows of our table columns, in the long table format."""
    ts = task_summary(runs)
    ts = ts[ts["label"].isin(column_labels())]
    return pd.DataFrame(
        {
            "suite": ts["suite"],
            "family": ts["family"],
            "task": ts["task"],
            "method": ts["label"],
            "mean": ts["mean"],
            "std": ts["std"],
            "n_seeds": ts["n_seeds"],
            "source": REPRODUCED,
        }
    ).reset_index(drop=True)


def read_reported_table1(path: str | Path) -> pd.DataFrame:
    """The paper's printed Table 1 (``suite, family, method, mean, std``) as a long frame."""
    need = ["suite", "family", "method", "mean", "std"]
    rep = _read_numbers_csv(path, "--reported-table1", need)
    out = rep[need].assign(n_seeds=np.nan, source=REPORTED, **_printed_marks(rep))
    out["n_tasks"] = out["family"].map(family_size)
    return out


def families_from_table4(reported: pd.DataFrame) -> pd.DataFrame:
    """Fallback when the paper's Table 1 is not given: the family means of its Table 4
    (no ±: the paper's family ± cannot be derived from per-task stds)."""
    tasks = reported.rename(columns={"method": "label"})
    fam = family_summary(tasks, {f: family_size(f) for f in tasks["family"].unique()})
    fam.loc[fam["n_tasks"] < fam["n_tasks_expected"], "mean"] = np.nan
    return (
        fam.rename(columns={"label": "method"})
        .assign(std=np.nan, n_seeds=np.nan)[
            ["suite", "family", "method", "mean", "std", "n_seeds", "n_tasks"]
        ]
        .assign(source=REPORTED)
    )


def reproduced_families(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-family rows of our table columns (:func:`family_seed_summary`), with the seeds
    each leaves out as text (:func:`left_out_text`)."""
    fam = family_seed_summary(runs)
    fam = fam[fam["label"].isin(column_labels())]
    texts = [left_out_text(d) for d in fam["seeds_left_out"]]
    fam = fam.drop(columns="seeds_left_out").assign(
        seeds_left_out=[seeds for seeds, _ in texts],
        left_out_because=[because for _, because in texts],
    )
    return fam.rename(columns={"label": "method"}).assign(source=REPRODUCED).reset_index(drop=True)


def left_out_text(left_out: dict[int, tuple[str, ...]]) -> tuple[str, str]:
    """``("3;5", "seed 3 (no run on TASK); seed 5 (no run on TASK, TASK)")``, or NaNs."""
    if not left_out:
        return np.nan, np.nan
    seeds = ";".join(str(s) for s in sorted(left_out))
    because = "; ".join(f"seed {s} (no run on {', '.join(left_out[s])})" for s in sorted(left_out))
    return seeds, because


def family_size(family: str) -> int:
    """Number of tasks of a family in the paper's grid (5 per OGBench family)."""
    return len(D4RL_FAMILIES.get(family, range(5)))


def _order(df: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """Rows in the paper's task order (new tasks after their family or at the suite's end)."""
    task_order = list(dict.fromkeys(reported["task"])) if "task" in reported else []
    fam_order = list(dict.fromkeys(reported["family"]))
    for fam in df["family"]:
        if fam not in fam_order:
            fam_order.append(fam)
    has_task = "task" in df.columns
    for task in df["task"] if has_task else ():
        if task not in task_order:
            task_order.append(task)
    suite_rank = {"ogbench": 0, "d4rl": 1}
    df = df.assign(
        _s=df["suite"].map(suite_rank).fillna(2),
        _f=df["family"].map({f: i for i, f in enumerate(fam_order)}),
        _t=df["task"].map({t: i for i, t in enumerate(task_order)}) if has_task else 0,
        _src=(df["source"] == REPRODUCED).astype(int),
    )
    keys = ["_s", "_f", "_t", "_src"] if has_task else ["_s", "_f", "_src"]
    return df.sort_values(keys, kind="stable").drop(
        columns=["_s", "_f", "_t", "_src"], errors="ignore"
    )


def _concat(*frames: pd.DataFrame) -> pd.DataFrame:
    """Stack long frames, skipping empty ones (their all-NA columns carry no dtype)."""
    kept = [f for f in frames if len(f)] or [frames[0]]
    return pd.concat(kept, ignore_index=True)


def build_table4(
    reported: pd.DataFrame, reproduced: pd.DataFrame, paper_seeds: int = PAPER_SEEDS
) -> pd.DataFrame:
    """Long Table 4: every (task, method, source) cell with bold/underline and verdicts."""
    df = _concat(reported, reproduced)
    df = mark_best(df, ["task"])
    df = add_verdicts(df, "task", REPORTED, REPRODUCED, paper_seeds)
    df = provenance.annotate(df, "task", REPRODUCED)
    return _order(df, reported)[TABLE_COLUMNS].reset_index(drop=True)


def build_table1(
    reported: pd.DataFrame,
    reproduced: pd.DataFrame,
    paper_seeds: int = PAPER_SEEDS,
    *,
    table4: pd.DataFrame,
) -> pd.DataFrame:
    """Long Table 1: per (family, method, source) the mean over the family's tasks.

    ``reported`` is the paper's Table 1 (:func:`read_reported_table1`), ``reproduced`` our
    families (:func:`reproduced_families`: the tasks that have runs, ``n_tasks`` of them).
    The verdicts test ours against the paper's ``table4`` (:func:`read_reported`) over the
    same tasks (:func:`drol.report.reference.attach_family_reference`), never against the
    printed Table 1, whose ± is not the same kind of number for every column.
    """
    reproduced = attach_family_reference(reproduced, table4)
    t1 = _concat(reported, reproduced)
    extra = [*TABLE1_REFERENCE_COLUMNS, *TABLE1_SEED_COLUMNS]
    t1 = t1.reindex(columns=list(dict.fromkeys([*t1.columns, *extra])))
    t1["n_tasks_expected"] = t1["family"].map(family_size)
    t1 = mark_best(t1, ["family"], comparable=~partial_family(t1))
    t1 = add_verdicts(t1, "family", REPORTED, REPRODUCED, paper_seeds)
    t1 = provenance.annotate(t1, "family", REPRODUCED)
    cols = [c for c in TABLE_COLUMNS if c != "task"] + ["n_tasks", "n_tasks_expected", *extra]
    return _order(t1, reported)[cols].reset_index(drop=True)


def partial_family(t1: pd.DataFrame) -> pd.Series:
    """Our Table 1 cells over fewer tasks than their family has: not comparable with the
    family means of the row, so never ranked for bold."""
    n = pd.to_numeric(t1["n_tasks"], errors="coerce")
    return (t1["source"] == REPRODUCED) & (n < t1["n_tasks_expected"])


# ------------------------------------------------------------------------------ layout


@dataclass
class Cell:
    mean: float
    std: float
    bold: bool = False
    underline: bool = False
    note: str = ""  # e.g. "1/5 tasks" for a family with runs on only some of its tasks
    n: int | None = None  # seeds behind a reproduced cell, printed as "(n)"
    verdict: str = ""  # drol.report.verdict: consistent / higher / lower, or "" (untested)

    @property
    def empty(self) -> bool:
        return bool(np.isnan(self.mean))

    def number(self) -> str:
        """The mean as printed (:func:`drol.report.numbers.number_text`)."""
        return number_text(self.mean)

    def spread(self) -> str:
        """The ± at the mean's precision; '' for none (one seed, or none reported)."""
        return spread_text(self.mean, self.std)

    def seeds(self) -> str:
        return "" if self.n is None else f" ({self.n})"


def family_title(family: str, suite: str) -> str:
    """Paper-style family label: 'antmaze-large-singletask', 'D4RL antmaze'."""
    if suite == "ogbench":
        return family.removesuffix("-navigate").removesuffix("-play") + "-singletask"
    return family


def _columns(df: pd.DataFrame) -> list[tuple[str, str]]:
    present = set(zip(df["source"], df["method"], strict=True))
    paper = paper_labels()  # the paper's columns in display order, then any other it has
    cols = [(REPORTED, m) for m in paper if (REPORTED, m) in present]
    cols += [
        (REPORTED, m)
        for s, m in dict.fromkeys(zip(df["source"], df["method"], strict=True))
        if s == REPORTED and m not in paper
    ]
    cols += [(REPRODUCED, m) for m in column_labels() if (REPRODUCED, m) in present]
    return cols


def footnote_mark(i: int) -> str:
    """'a', 'b', ..., 'z', 'aa', 'ab', ...: the i-th (0-based) footnote's mark."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return (footnote_mark(i // 26 - 1) if i >= 26 else "") + letters[i % 26]


def refuse_duplicate_cells(df: pd.DataFrame, row_key: str) -> None:
    """One line naming the cells a long table holds twice (the layout would show one)."""
    dup = df[df.duplicated(["source", "method", row_key], keep=False)]
    if len(dup):
        named = sorted(
            {f"{r.method} ({r.source}) on {getattr(r, row_key)}" for r in dup.itertuples()}
        )
        raise UserError(
            f"two rows for one table cell: {'; '.join(named[:3])}; each cell must be one "
            "(method, K): pass --manifest to say which runs fill it"
        )


def _seed_footnote(r, row_label: str, footnotes: list[dict]) -> str:
    """Add the footnote of a Table 1 cell that leaves seeds out; return its mark ('' none)."""
    because = getattr(r, "left_out_because", np.nan)
    if not isinstance(because, str) or not because:
        return ""
    mark = footnote_mark(len(footnotes))
    footnotes.append(
        {
            "mark": mark,
            "text": f"{row_label}, {r.method} (ours) leaves out {because}: its mean, ± and n "
            f"use the {int(r.n_seeds)} seeds with a run on every counted task",
        }
    )
    return f"[{mark}]"


def layout(
    df: pd.DataFrame, row_key: str, title: str, caption: str, missing: pd.DataFrame | None
) -> dict:
    """Structure shared by the three templates: column groups, sections, rows of cells."""
    refuse_duplicate_cells(df, row_key)
    cols = _columns(df)
    headers = [{"name": f"{m} (ours)" if src == REPRODUCED else m, "sub": ""} for src, m in cols]
    groups = []
    for src in (REPORTED, REPRODUCED):
        span = sum(1 for s, _ in cols if s == src)
        if span:
            groups.append(
                {
                    "name": "Paper (reported)" if src == REPORTED else "This reproduction",
                    "span": span,
                }
            )
    cells = {(r.source, r.method, getattr(r, row_key)): r for r in df.itertuples(index=False)}
    sections: list[dict] = []
    footnotes: list[dict] = []
    for (suite, family), g in df.groupby(["suite", "family"], sort=False):
        rows = []
        for key in dict.fromkeys(g[row_key]):
            sample = g[g[row_key] == key].iloc[0]
            label = _row_label(key, row_key, suite, sample)
            rcells = []
            for src, m in cols:
                r = cells.get((src, m, key))
                if r is None:
                    rcells.append(Cell(np.nan, np.nan))
                    continue
                note, n = "", None
                if src == REPRODUCED and not np.isnan(r.mean):
                    n = int(r.n_seeds)
                    if row_key == "family" and r.n_tasks < r.n_tasks_expected:
                        note = f"{int(r.n_tasks)}/{int(r.n_tasks_expected)} tasks, {NOT_RANKED}"
                    mark = provenance.marks(r.unverified_settings, r.unmatched_settings)
                    seeds = _seed_footnote(r, label, footnotes) if row_key == "family" else ""
                    note = " ".join(filter(None, (note, mark, seeds)))
                rcells.append(
                    Cell(r.mean, r.std, bool(r.bold), bool(r.underline), note, n, r.verdict)
                )
            rows.append({"label": label, "cells": rcells})
        name = SUITE_TITLE.get(suite, suite) + " " + family_title(family, suite)
        sections.append({"suite": SUITE_TITLE.get(suite, suite), "name": name, "rows": rows})
    if row_key == "family":  # Table 1: one section per suite, no per-family headings
        merged: dict[str, dict] = {}
        for s in sections:
            merged.setdefault(s["suite"], {"suite": s["suite"], "name": s["suite"], "rows": []})[
                "rows"
            ] += s["rows"]
        sections = list(merged.values())
    missing_rows = [] if missing is None else missing.to_dict("records")
    return {
        "title": title,
        "caption": caption,
        "summary": summary_line(df, REPRODUCED),
        "groups": groups,
        "headers": headers,
        "sections": sections,
        "ncols": len(cols) + 1,
        "missing": missing_rows,
        "footnotes": footnotes,
    }


def _row_label(key: str, row_key: str, suite: str, sample: pd.Series) -> str:
    """A row's label: the task (with (*) on the K* task) or 'family-singletask (N tasks)'."""
    if row_key == "task":
        try:
            rep = parse_task(key).representative
        except UnknownTaskError:
            rep = False
        return key + (" (*)" if rep else "")
    return f"{family_title(key, suite)} ({int(sample['n_tasks_expected'])} tasks)"


# ------------------------------------------------------------------------------ rendering


def _tex_escape(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("*", r"$^{*}$"),
        ("≈", r"$\approx$"),
        ("↑", r"$\uparrow$"),
        ("↓", r"$\downarrow$"),
        ("α", r"$\alpha$"),
        ("×", r"$\times$"),
        ("†", r"$^\dagger$"),
        ("‡", r"$^\ddagger$"),
        ("±", r"$\pm$"),
        ("√", r"$\surd$"),
        ("Σ", r"$\Sigma$"),
        ("σ", r"$\sigma$"),
        ("²", r"$^2$"),
        (">", r"$>$"),
    ):
        s = s.replace(a, b)
    return s


def cell_tex(c: Cell) -> str:
    if c.empty:
        return "-"
    num = c.number()
    if c.bold:
        num = rf"\textbf{{{num}}}"
    if c.underline:
        num = rf"\underline{{{num}}}"
    sd = c.spread()
    small = (rf"$\pm${sd}" if sd else "") + c.seeds()
    out = num + (rf"{{\scriptsize{small}}}" if small else "")
    out += rf"\,{_tex_escape(SYMBOLS[c.verdict])}" if c.verdict else ""
    return out + (rf"\textsuperscript{{\tiny {_tex_escape(c.note)}}}" if c.note else "")


def cell_md(c: Cell) -> str:
    if c.empty:
        return "-"
    num = c.number()
    if c.bold:
        num = f"**{num}**"
    if c.underline:
        num = f"<u>{num}</u>"
    sd = c.spread()
    out = num + (f" ± {sd}" if sd else "") + c.seeds()
    out += f" {SYMBOLS[c.verdict]}" if c.verdict else ""
    return out + (f" <sup>{c.note}</sup>" if c.note else "")


def cell_html(c: Cell) -> str:
    if c.empty:
        return "-"
    num = c.number()
    if c.bold:
        num = f"<b>{num}</b>"
    if c.underline:
        num = f"<u>{num}</u>"
    sd = c.spread()
    note = f"<sup>{html.escape(c.note)}</sup>" if c.note else ""
    verdict = f"&nbsp;{SYMBOLS[c.verdict]}" if c.verdict else ""
    small = (f"&nbsp;±&nbsp;{sd}" if sd else "") + c.seeds()
    return num + (f"<small>{small}</small>" if small else "") + verdict + note


def _env(fmt: str) -> jinja2.Environment:
    # LaTeX is full of braces: its template uses << expr >> and <% statement %> instead
    delims = (
        dict(
            variable_start_string="<<",
            variable_end_string=">>",
            block_start_string="<%",
            block_end_string="%>",
            comment_start_string="<#",
            comment_end_string="#>",
        )
        if fmt == "tex"
        else {}
    )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drol.report", "templates"),
        **delims,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        cell_tex=cell_tex, cell_md=cell_md, cell_html=cell_html, tex=_tex_escape, e=html.escape
    )
    return env


def render(lay: dict, fmt: str, template: str = "table") -> str:
    """Render a layout as 'tex', 'md' or 'html' with ``templates/{template}.{fmt}.j2``."""
    return _env(fmt).get_template(f"{template}.{fmt}.j2").render(**lay)


SPREAD = (
    f"{STD_RULE}, printed at the mean's precision; the paper's ± (over its {PAPER_SEEDS} "
    "seeds) is read as the same sample std"
)
ONE_STEP_COLUMNS = "ONE_STEP_COLUMNS"  # in the captions: the paper's one-step columns
MARK_RULE = (
    "Bold: at least 0.95× the row's best, compared as printed (2.5 is bold beside 2.6, 1.6 "
    "is not beside 2.4); underlined: bold and a one-step method (ONE_STEP_COLUMNS); the "
    "paper's cells keep the marks it prints, ours are marked against the best of the whole row"
)
TABLE4_CAPTION = (
    "Full task-level results (success rate ×100, mean ± std over seeds; OGBench: mean of the "
    "last three evaluations). Left: the paper's reported numbers; right: this reproduction, "
    f"mean ± std (number of seeds). {SPREAD}. {MARK_RULE}. (*) marks the task on which "
    "DROL*'s K is chosen. " + RULE + ". " + provenance.FOOTNOTE
)
TABLE1_CAPTION = (
    "Per-family results (mean over the family's tasks of the per-task means). Left: the paper's "
    "Table 1 as printed; right: this reproduction, mean ± the std over seeds of the family mean "
    f"(number of seeds). {SPREAD}. {MARK_RULE}. A note k/N tasks marks a family with runs on "
    f"only k of its N tasks: such a cell is {NOT_RANKED} (no bold or underline, and not the "
    "row's best), its mean being over other tasks than the paper's. Our family cells use one "
    "seed set, the seeds with a run on every counted task; a seed left out is footnoted under "
    "the table ([a], [b], ...), which is why such a cell can differ from the mean of Table 4's "
    "task means (those use every seed). The verdicts test like against like: our family mean "
    "over its k tasks against the paper's Table 4 over the same k tasks, mean of the per-task "
    "means ± √(Σσ²)/k from its per-task σ (the std of the family mean, as ours; the printed ± "
    "of Table 1 is not that number for every column), in table1.csv as paper_mean, paper_std; "
    "a cell whose tasks lack a per-task ± in Table 4 (D4RL cells copied from other papers) is "
    "not tested. " + RULE + ". " + provenance.FOOTNOTE
)


def caption(text: str) -> str:
    """A caption with the one-step columns named (the registry's, in display order)."""
    return text.replace(ONE_STEP_COLUMNS, ", ".join(one_step_labels()))


COUNT_COLUMNS = ("n_seeds", "n_tasks", "n_tasks_expected")


def table_csv(df: pd.DataFrame) -> str:
    """A table as CSV: numbers at full precision, counts as integers (empty where none)."""
    out = df.copy()
    for col in [c for c in COUNT_COLUMNS if c in out.columns]:
        out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
    return csv_text(out)


def reported_table1_path(reported_csv: str | Path) -> Path | None:
    """The paper's Table 1 beside its Table 4 (``table1_reported.csv``), if there."""
    path = Path(reported_csv).with_name("table1_reported.csv")
    return path if path.is_file() else None


def write_tables(
    runs: pd.DataFrame,
    reported_csv: str | Path,
    out_dir: str | Path,
    reported_table1: str | Path | None = None,
    paper_seeds: int = PAPER_SEEDS,
) -> dict[str, Path]:
    """Write table4/table1 as .csv/.tex/.md/.html and ``missing_runs.csv``; return the paths.

    Table 1's reported columns come from ``reported_table1`` (default: ``table1_reported.csv``
    beside ``reported_csv``), else are derived from Table 4 (means only).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    reported = read_reported(reported_csv)
    reported_table1 = reported_table1 or reported_table1_path(reported_csv)
    if reported_table1 is None:
        log.warning("no table1_reported.csv: Table 1's reported columns derived from Table 4")
        reported_families = families_from_table4(reported)
    else:
        reported_families = read_reported_table1(reported_table1)
    out.mkdir(parents=True, exist_ok=True)
    t4 = build_table4(reported, reproduced_tasks(runs), paper_seeds)
    t1 = build_table1(reported_families, reproduced_families(runs), paper_seeds, table4=reported)
    unexplained = unexplained_drol_tasks(reported)
    missing = (
        not_done(runs)
        if len(runs)
        else pd.DataFrame(
            columns=["task", "method", "K", "seed", "labels", "status", "reason", "run_dir"]
        )
    )
    written: dict[str, Path] = {}
    for name, df, key, title, cap in (
        (
            "table4",
            t4,
            "task",
            "Table 4: task-level results",
            caption(TABLE4_CAPTION) + discrepancy_note(unexplained, per_family=False),
        ),
        (
            "table1",
            t1,
            "family",
            "Table 1: OGBench and D4RL results per task family",
            caption(TABLE1_CAPTION) + discrepancy_note(unexplained, per_family=True),
        ),
    ):
        path = out / f"{name}.csv"
        atomic_write_text(path, table_csv(df))
        written[f"{name}.csv"] = path
        lay = layout(df, key, title, cap, missing)
        for fmt in FORMATS:
            path = out / f"{name}.{fmt}"
            atomic_write_text(path, render(lay, fmt))
            written[f"{name}.{fmt}"] = path
    path = out / "missing_runs.csv"
    atomic_write_text(path, missing.to_csv(index=False))
    written["missing_runs.csv"] = path
    if len(missing):
        log.warning(
            "%d runs missing or failed: listed in %s and under each table", len(missing), path
        )
    return written
