"""The paper's figures from run directories and ``drol bench`` results.

Every function takes tidy inputs (see :mod:`drol.report.aggregate`), draws one figure and
writes it as ``PREFIX.pdf`` and ``PREFIX.png`` (atomically).

* :func:`fig4_ksweep` -- score vs K per family's (*) task; default K dashed, best K circled.
* :func:`fig3_metrics` -- candidate pairwise distance, log10 centroid divergence (inset) and
  routed BC loss vs K.
* :func:`fig3_runtime` -- training and inference step time vs K, with FQL (``drol bench``).
* :func:`fig2_voronoi` -- Voronoi cells of the candidate set at one probe state across training.
* :func:`learning_curves` -- success rate vs step per task and method.
* :func:`fig_aggregate` -- rliable's IQM/mean/median/optimality gap with CIs, performance
  profile and probabilities of improvement over all reproduced runs (pairs of columns that
  are the same runs are left out, with a note).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from drol.agents.registry import get_method, method_names, methods  # noqa: E402
from drol.errors import UserError  # noqa: E402
from drol.grid import KSWEEP_LABEL, column_labels, columns  # noqa: E402
from drol.io import atomic_write_with, library_reason  # noqa: E402
from drol.report.aggregate import (  # noqa: E402
    ambiguous_labels,
    explode_labels,
    refuse_ambiguous_labels,
    task_summary,
    train_metric_summary,
)
from drol.report.aggregate import (
    learning_curves as curve_frame,
)
from drol.report.kselect import choose_k  # noqa: E402
from drol.report.numbers import STD_DDOF, STD_RULE  # noqa: E402

log = logging.getLogger(__name__)

EXTRA_COLORS = ("#000080", "#ff00ff", "#8b0000", "#ffd700")  # navy, magenta, dark red, gold


def distinct_colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` different colours: tab10's ten, then :data:`EXTRA_COLORS`, then husl hues."""
    palette = sns.color_palette("tab10", 10) + sns.color_palette(list(EXTRA_COLORS))
    if n > len(palette):
        palette += sns.color_palette("husl", n - len(palette))
    return palette[:n]


def own_colors(named: dict[str, str]) -> dict[str, tuple[float, float, float]]:
    """``named`` (key -> the agent class's colour, "" for none) as RGB, each key its own: a
    key without a colour, or with one an earlier key has (a variant inherits its base's),
    gets a colour of :func:`distinct_colors` that no other key has."""
    given = {k: to_rgb(c) for k, c in named.items() if c}
    owner = {}
    for k, c in given.items():
        owner.setdefault(c, k)
    out = {k: c for k, c in given.items() if owner[c] == k}
    free = iter(c for c in distinct_colors(2 * len(named)) if tuple(c) not in owner)
    return {k: out[k] if k in out else tuple(next(free)) for k in named}


def method_colors() -> dict[str, tuple[float, float, float]]:
    """One colour per reproduced column (its agent class's ``colour``), stable across figures."""
    return own_colors({c.label: c.colour for c in columns()})


FIG3_METRICS = ("candidate_pairwise_dist", "candidate_divergence", "bc_loss")


def _style() -> None:
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.0)


def save(fig: plt.Figure, prefix: str | Path) -> list[Path]:
    """Write ``prefix.pdf`` and ``prefix.png``; close the figure."""
    prefix = Path(prefix)
    paths = []
    for ext in ("pdf", "png"):
        path = prefix.with_name(prefix.name + f".{ext}")
        atomic_write_with(
            path,
            lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight"),
            suffix=f".{ext}",
        )
        paths.append(path)
    plt.close(fig)
    log.info("wrote %s.{pdf,png}", prefix)
    return paths


def _empty(prefix: str | Path, message: str) -> list[Path]:
    """A placeholder figure that says why there is nothing to draw (never a silent gap)."""
    log.warning("%s: %s", prefix, message)
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return save(fig, prefix)


def _grid(
    n: int, ncols: int = 4, size: tuple[float, float] = (3.2, 2.6)
) -> tuple[plt.Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def short_task(task: str) -> str:
    """'cube-single-play-singletask-task2-v0' -> 'cube-single task2'."""
    name = task.replace("-singletask", "").removesuffix("-v0")
    for part in ("-navigate", "-play"):
        name = name.replace(part, "")
    return name.replace("-task", " task")


# ------------------------------------------------------------------------------ Fig. 4


def sweep_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The K-sweep runs: labelled ``K-sweep`` by the manifest, else drol runs on (*) tasks."""
    labelled = runs[runs["labels"].fillna("").str.split(";").apply(lambda s: KSWEEP_LABEL in s)]
    if len(labelled):
        return labelled
    rep = runs[(runs["method"] == "drol") & runs["representative"].astype(bool)]
    return rep[rep.groupby("task")["K"].transform("nunique") > 1]


def ksweep_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, K): mean/std of the score over done seeds of the sweep runs."""
    sw = sweep_runs(runs)
    sw = sw.assign(labels=[f"K={k}" for k in sw["K"]])  # one summary row per (task, K)
    ts = task_summary(sw)
    return ts.sort_values(["task", "K"]).reset_index(drop=True)


def best_k(summary: pd.DataFrame, default_k: int = 16) -> dict[str, int]:
    """Best K per task, by the same rule as ``drol select-k`` (:func:`choose_k`)."""
    out = {}
    for task, g in summary.dropna(subset=["mean"]).groupby("task"):
        out[task] = choose_k(
            {int(k): float(m) for k, m in zip(g["K"], g["mean"], strict=True)}, default_k
        )
    return out


def fig4_ksweep(runs: pd.DataFrame, prefix: str | Path, default_k: int = 16) -> list[Path]:
    """Score vs K per family (its (*) task): mean ± sample std over seeds (ddof 1)."""
    _style()
    summ = ksweep_summary(runs)
    summ = summ.dropna(subset=["mean"])
    if summ.empty:
        return _empty(prefix, "Fig. 4: no finished K-sweep runs")
    tasks = list(dict.fromkeys(summ["task"]))
    best = best_k(summ, default_k)
    fig, axes = _grid(len(tasks), ncols=4)
    for ax, task in zip(axes.flat, tasks, strict=False):
        g = summ[summ["task"] == task]
        ax.errorbar(g["K"], g["mean"], yerr=g["std"], marker="o", ms=4, capsize=2, color="#1f77b4")
        ax.axvline(default_k, ls="--", color="gray", lw=1, label=f"default K={default_k}")
        b = g[g["K"] == best[task]].iloc[0]
        ax.plot(
            [b["K"]],
            [b["mean"]],
            "o",
            ms=13,
            mfc="none",
            mec="red",
            mew=1.8,
            label=f"best K={best[task]}",
        )
        ax.set_xscale("log", base=2)
        ks = sorted(set(g["K"]) | {default_k})
        ax.set_xticks(ks, [str(k) for k in ks])
        n = int(g["n_seeds"].min())
        ax.set_title(f"{g['family'].iloc[0]} ({short_task(task).split()[-1]}, n={n})", fontsize=9)
        ax.set_xlabel("K")
        ax.set_ylabel("score")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"Sensitivity to the number of candidates K\n(mean score; {STD_RULE})", y=1.0)
    fig.tight_layout()
    return save(fig, prefix)


# ------------------------------------------------------------------------------ Fig. 3


def fig3_metrics(
    runs: pd.DataFrame, prefix: str | Path, max_tasks: int = 3, last_frac: float = 0.2
) -> list[Path]:
    """Candidate pairwise distance and routed BC loss vs K (inset: log10 centroid divergence)."""
    _style()
    sw = sweep_runs(runs)
    summ = train_metric_summary(sw, FIG3_METRICS, last_frac=last_frac)
    if summ.empty:
        return _empty(prefix, "Fig. 3 (top): no finished K-sweep runs with train.csv")
    agg = summ.groupby(["task", "K"], as_index=False)[list(FIG3_METRICS)].mean()
    tasks = list(dict.fromkeys(agg["task"]))[:max_tasks]
    fig, axes = _grid(len(tasks), ncols=3, size=(3.6, 2.8))
    for ax, task in zip(axes.flat, tasks, strict=False):
        g = agg[agg["task"] == task].sort_values("K")
        ax.plot(
            g["K"],
            g["candidate_pairwise_dist"],
            "o-",
            color="#1f77b4",
            label="Cand. pairwise dist.",
        )
        ax.set_xscale("log", base=2)
        ax.set_xticks(g["K"], [str(k) for k in g["K"]])
        ax.set_xlabel("K")
        ax.set_ylabel("Cand. pairwise dist.", color="#1f77b4")
        ax2 = ax.twinx()
        ax2.plot(g["K"], g["bc_loss"], "s-", color="#d62728", label="BC loss")
        ax2.set_ylabel("routed BC loss", color="#d62728")
        ax2.grid(False)
        ins = ax.inset_axes([0.12, 0.55, 0.35, 0.35])
        div = np.log10(np.clip(g["candidate_divergence"].astype(float), 1e-12, None))
        ins.plot(g["K"], div, ".-", color="#2ca02c")
        ins.set_xscale("log", base=2)
        ins.set_xticks([])
        ins.tick_params(labelsize=6)
        ins.set_title("log10 Cand. Div.", fontsize=6)
        ax.set_title(short_task(task), fontsize=9)
    fig.tight_layout()
    return save(fig, prefix)


def read_bench(paths: Sequence[str | Path]) -> pd.DataFrame:
    """``drol bench --json`` outputs as one frame (one row per file)."""
    rows = []
    for p in paths:
        text = Path(p).read_text().strip()
        if text:
            rows.append(json.loads(text.splitlines()[-1]))
    return pd.DataFrame(rows)


def bench_label(method: str, K: int) -> str:
    """``FQL`` for a method without candidates, ``DROL(16)`` etc. for one with K of them."""
    cls = get_method(method)
    return f"{cls.label}({int(K)})" if cls.uses_candidates else cls.label


def bench_machine(bench: pd.DataFrame) -> str:
    """Where the benchmarks ran: CPU model, threads, and the most load other processes put
    on the machine during any of them (``drol.speed.load``)."""

    def values(col: str) -> list:
        return sorted({str(v) for v in bench[col].dropna()}) if col in bench else []

    parts = [" / ".join(values("cpu_model")) or "CPU unknown"]
    threads = values("threads")
    parts.append(f"{'/'.join(threads) or '?'} thread(s)")
    if "other_busy_cpus" in bench and bench["other_busy_cpus"].notna().any():
        most = float(bench["other_busy_cpus"].max())
        cpus = "/".join(values("machine_cpus")) or "?"
        parts.append(f"other processes: at most {most:.2f} of {cpus} CPUs busy")
    else:
        parts.append("load beside it not recorded")
    return "; ".join(parts)


def fig3_runtime(bench: pd.DataFrame, prefix: str | Path) -> list[Path]:
    """Training and inference step time (ms) of each benchmarked method (candidate methods
    at each K)."""
    _style()
    if bench.empty:
        return _empty(prefix, "Fig. 3 (bottom): no drol bench results")
    b = bench.copy()
    b["name"] = [bench_label(m, k) for m, k in zip(b["method"], b["K"], strict=True)]
    order = {m: i for i, m in enumerate(method_names())}
    b["order"] = [
        (order.get(m, len(order)), int(k)) for m, k in zip(b["method"], b["K"], strict=True)
    ]
    b = b.sort_values("order")
    fig, axes = plt.subplots(1, 2, figsize=(max(7.5, 0.6 * len(b) + 2), 2.8))
    palette = own_colors({name: cls.colour for name, cls in methods().items()})
    colors = [palette.get(m, "#7f7f7f") for m in b["method"]]
    for ax, col, title in (
        (axes[0], "train_step_ms", "training step"),
        (axes[1], "inference_ms", "inference step"),
    ):
        ax.bar(b["name"], b[col], color=colors)
        for x, y in enumerate(b[col]):
            ax.text(x, y, f"{y:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_ylabel("ms")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    dev = ", ".join(sorted(set(map(str, b.get("device", pd.Series(["?"]))))))
    fig.suptitle(
        f"Step time (batch {int(b['batch_size'].iloc[0])}, hidden {int(b['hidden'].iloc[0])}, {dev}); (K) = K candidates\n"
        + bench_machine(b),
        fontsize=9,
    )
    fig.tight_layout()
    return save(fig, prefix)


# ------------------------------------------------------------------------------ Fig. 2


def _project(points: np.ndarray, basis: np.ndarray | None, center: np.ndarray | None) -> np.ndarray:
    return points if basis is None else (points - center) @ basis


def pick_steps(owners: np.ndarray, n: int = 3) -> list[int]:
    """Log indices to show: the first, the one with most hand-offs, the last."""
    L = owners.shape[0]
    if n >= L:
        return list(range(L))
    flips = np.r_[0, (owners[1:] != owners[:-1]).mean(axis=-1)]
    mid = int(np.argmax(flips[1:-1])) + 1 if L > 2 else 1
    return sorted({0, mid, L - 1})


PROBE_KEYS = ("steps", "candidates", "owners", "data_actions")


def read_probes(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``steps (L,), candidates (L, P, K, A), owners (L, P, M), data_actions (P, M, A)`` of a
    probes.npz (docs/run_format.md); a one-line :class:`UserError` naming the file otherwise."""
    fix = "rerun drol train on that run directory to rewrite it"
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in PROBE_KEYS if k not in z.files]
            if missing:
                raise UserError(f"{path}: lacks {missing} (not a drol probes.npz); {fix}")
            steps, cands, owners, data = (np.asarray(z[k]) for k in PROBE_KEYS)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - any unreadable file: zip, npy header, pickles
        raise UserError(
            f"{path}: not a readable probes.npz ({library_reason(err)}); {fix}"
        ) from None
    ok = (
        steps.ndim == 1
        and cands.ndim == 4
        and owners.ndim == 3
        and data.ndim == 3
        and cands.shape[0] == len(steps) == owners.shape[0]
        and cands.shape[1] == owners.shape[1] == data.shape[0]
        and owners.shape[2] == data.shape[1]
        and cands.shape[3] == data.shape[2]
        and np.issubdtype(owners.dtype, np.integer)
        and np.issubdtype(cands.dtype, np.floating)
        and np.issubdtype(data.dtype, np.floating)
        and (owners.size == 0 or (owners.min() >= 0 and owners.max() < cands.shape[2]))
        and np.isfinite(cands).all()
        and np.isfinite(data).all()
    )
    if not ok:
        raise UserError(
            f"{path}: arrays of the wrong shape, type or range (steps {steps.shape}, candidates "
            f"{cands.shape}, owners {owners.shape}, data_actions {data.shape}); {fix}"
        )
    return steps, cands, owners, data


def fig2_voronoi(
    probes_npz: str | Path, prefix: str | Path, probe: int | None = None, n_panels: int = 3
) -> list[Path]:
    """Voronoi cells of the candidate set at one probe state at several training steps.

    2-D actions are drawn as they are; larger action spaces are projected on the first two
    principal components of the probe's dataset actions (cells then are those of the
    projected candidates).
    """
    _style()
    path = Path(probes_npz)
    if not path.is_file():
        return _empty(prefix, f"Fig. 2: no probe diagnostics ({path})")
    steps, cands, owners, data = read_probes(path)
    if len(steps) == 0:
        return _empty(prefix, "Fig. 2: probes.npz holds no logs")
    L, P, K, A = cands.shape
    if probe is not None and not 0 <= probe < P:
        raise UserError(f"--probe {probe}: {path} holds probe states 0..{P - 1}")
    if probe is None:  # the probe state whose ownership changed most: hand-off is visible there
        probe = int(np.argmax((owners[1:] != owners[:-1]).mean(axis=(0, 2)))) if L > 1 else 0
    c, o, d = cands[:, probe], owners[:, probe], data[probe]
    basis = center = None
    if A > 2:
        center = d.mean(axis=0)
        _, _, vt = np.linalg.svd(d - center, full_matrices=False)
        basis = vt[:2].T
    d2, c2 = _project(d, basis, center), _project(c, basis, center)
    allp = np.concatenate([d2, c2.reshape(-1, 2)])
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-3)
    lo, hi = lo - pad, hi + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    idx = pick_steps(o, n_panels)
    cmap = plt.get_cmap("tab20", max(K, 2))
    fig, axes = plt.subplots(1, len(idx), figsize=(3.4 * len(idx), 3.4), squeeze=False)
    for j, (ax, li) in enumerate(zip(axes[0], idx, strict=True)):
        cc = c2[li]
        cell = ((grid[:, None, :] - cc[None]) ** 2).sum(-1).argmin(1).reshape(gx.shape)
        ax.imshow(
            cell,
            origin="lower",
            extent=(lo[0], hi[0], lo[1], hi[1]),
            cmap=cmap,
            vmin=-0.5,
            vmax=max(K, 2) - 0.5,
            alpha=0.35,
            aspect="auto",
            interpolation="nearest",
        )
        ax.scatter(
            d2[:, 0],
            d2[:, 1],
            c=o[li],
            cmap=cmap,
            vmin=-0.5,
            vmax=max(K, 2) - 0.5,
            s=8,
            edgecolors="none",
        )
        ax.scatter(
            cc[:, 0],
            cc[:, 1],
            c=np.arange(K),
            cmap=cmap,
            vmin=-0.5,
            vmax=max(K, 2) - 0.5,
            s=60,
            marker="*",
            edgecolors="k",
            linewidths=0.6,
        )
        if j > 0:
            prev = c2[idx[j - 1]]
            for k in range(K):
                ax.annotate(
                    "",
                    xy=cc[k],
                    xytext=prev[k],
                    arrowprops=dict(arrowstyle="->", color="k", lw=0.6, alpha=0.6),
                )
        spread = float(((cc[:, None] - cc[None]) ** 2).sum(-1).sum() / max(K * (K - 1), 1) / 2)
        title = f"step {int(steps[li])}: spread {spread:.3f}"
        if j > 0:
            handoff = float((o[li] != o[idx[j - 1]]).mean())
            moved = float(np.linalg.norm(cc - c2[idx[j - 1]], axis=-1).mean())
            title += f"\nhand-off {100 * handoff:.0f}% of data, moved {moved:.3f}"
        ax.set_title(title, fontsize=8)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel("a[0]" if basis is None else "PC 1")
        ax.set_ylabel("a[1]" if basis is None else "PC 2")
        ax.grid(False)
    fig.suptitle(
        f"Voronoi cells of the {K} candidates at probe state {probe} (colours: owner)", fontsize=9
    )
    fig.tight_layout()
    return save(fig, prefix)


# ------------------------------------------------------------------------------ curves


def learning_curves(
    runs: pd.DataFrame, prefix: str | Path, labels: Sequence[str] | None = None
) -> list[Path]:
    """Success rate (×100) vs training step, mean ± sample std over seeds (ddof 1; no band
    for one seed), per task and column; each column one (method, K) per task."""
    refuse_ambiguous_labels(runs)
    labels = list(column_labels() if labels is None else labels)
    curves = curve_frame(runs[runs["status"].isin(["done", "running"])])
    tasks = list(dict.fromkeys(explode_labels(runs).query("label in @labels")["task"]))
    return plot_learning_curves(curves, prefix, labels, tasks)


def plot_learning_curves(
    curves: pd.DataFrame,
    prefix: str | Path,
    labels: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
) -> list[Path]:
    """:func:`learning_curves` from its tidy frame (``task, label, seed, step, success``), e.g.
    a committed ``learning_curves.csv``."""
    _style()
    labels = list(column_labels() if labels is None else labels)
    curves = curves[curves["label"].isin(labels)]
    if clash := ambiguous_labels(curves):
        raise UserError(f"learning curves: {clash}; one curve must be one (method, K)")
    if curves.empty:
        return _empty(prefix, "learning curves: no eval.csv in any run")
    tasks = list(dict.fromkeys(curves["task"])) if tasks is None else list(tasks)
    tasks = [t for t in tasks if t in set(curves["task"])]
    fig, axes = _grid(len(tasks), ncols=4)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for label in labels:
            g = curves[(curves["task"] == task) & (curves["label"] == label)]
            if g.empty:
                continue
            s = curve_bands(g)
            color = method_colors().get(label)
            ax.plot(s["step"], s["mean"], label=f"{label} (n={int(s['count'].max())})", color=color)
            if s["std"].notna().any():  # one seed: no band (its std is undefined)
                ax.fill_between(
                    s["step"], s["mean"] - s["std"], s["mean"] + s["std"], alpha=0.2, color=color
                )
        ax.set_title(short_task(task), fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("success (%)")
        ax.set_ylim(-3, 103)
        ax.legend(fontsize=6)
    fig.suptitle(f"Success rate during training\n(mean over seeds; band: {STD_RULE})", fontsize=9)
    fig.tight_layout()
    return save(fig, prefix)


def curve_bands(g: pd.DataFrame) -> pd.DataFrame:
    """``step, mean, std, count`` of one curve's seeds: std the sample std (ddof 1), NaN
    where one seed has that step."""
    s = g.groupby("step")["success"].agg(["mean", "count"]).reset_index()
    s["std"] = g.groupby("step")["success"].std(ddof=STD_DDOF).to_numpy()
    return s


METRIC_AXES = {"Optimality gap": "gap to 100% success (percentage points)"}


def _mark_degenerate(ax, lows: list[float], highs: list[float]) -> None:
    """Write 'zero width' beside each interval of zero width (too few runs to show any)."""
    from drol.report.aggregate_stats import DEGENERATE, degenerate

    for y, (low, high) in enumerate(zip(lows, highs, strict=True)):
        if degenerate(low, high):
            ax.annotate(
                DEGENERATE,
                (high, y),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=6,
                va="center",
                color="dimgray",
            )


def _interval(ax, y: float, estimate: float, low: float, high: float, color) -> None:
    """One horizontal confidence interval at row ``y``: a bar from ``low`` to ``high`` and a
    tick at the point estimate."""
    ax.barh(y, high - low, left=low, height=0.6, color=color, alpha=0.75)
    ax.plot([estimate] * 2, [y - 0.3, y + 0.3], color="k", lw=1.5)


def fig_aggregate(
    runs: pd.DataFrame,
    prefix: str | Path,
    reps: int = 2000,
    seed: int = 0,
    aggregate: str | Path | None = None,
) -> list[Path]:
    """rliable's view of all reproduced runs: IQM / mean / median / optimality gap with 95%
    stratified-bootstrap CIs (top), the performance profile and the probabilities of
    improvement of DROL(16) and DROL* (bottom).

    ``aggregate``: the ``aggregate.csv`` of ``drol stats`` on the same runs, whose interval
    estimates and probabilities are drawn rather than bootstrapped again (only the profile
    is computed here)."""
    from drol.report.aggregate_stats import (
        IMPROVEMENT,
        METRICS,
        column_scores,
        improvement_pairs,
        performance_profiles,
        read_aggregate,
        scores_table,
    )

    _style()
    scores = column_scores(runs)
    if not scores:
        return _empty(prefix, "aggregate statistics: no finished runs")
    if aggregate is None:
        table = scores_table(scores, reps, seed)
    else:
        table = read_aggregate(aggregate, list(scores))
    est = table[table["statistic"] != IMPROVEMENT]
    poi = table[table["statistic"] == IMPROVEMENT].reset_index(drop=True)
    kept, notes = improvement_pairs(scores)
    poi = poi[poi["method"].isin(kept)].reset_index(drop=True)  # an older aggregate.csv
    prof = performance_profiles(scores, reps, seed)
    colors = method_colors()
    labels = list(scores)
    fig = plt.figure(figsize=(12, 6.5))
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.3])
    for i, name in enumerate(METRICS):
        ax = fig.add_subplot(grid[0, i])
        g = est[est["statistic"] == name].set_index("method").loc[labels]
        for y, (label, r) in enumerate(g.iterrows()):
            _interval(ax, y, r["estimate"], r["ci_low"], r["ci_high"], colors[label])
        ax.set_yticks(range(len(labels)), labels if i == 0 else [""] * len(labels))
        ax.invert_yaxis()
        ax.set_title(name + (" (lower is better)" if name == "Optimality gap" else ""), fontsize=9)
        ax.set_xlabel(METRIC_AXES.get(name, "success (%)"))
        _mark_degenerate(ax, list(g["ci_low"]), list(g["ci_high"]))
    ax = fig.add_subplot(grid[1, :2])
    for label in labels:
        g = prof[prof["method"] == label]
        ax.plot(g["tau"], g["fraction"], color=colors[label], label=label)
        ax.fill_between(g["tau"], g["ci_low"], g["ci_high"], color=colors[label], alpha=0.2)
    ax.set_xlabel(r"success threshold $\tau$ (%)")
    ax.set_ylabel(r"fraction of runs with score $> \tau$")
    ax.set_title("Performance profile", fontsize=9)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[1, 2:])
    if poi.empty:
        ax.axis("off")
        empty = "no pair of different runs to compare" if notes else "no DROL column to compare"
        ax.text(0.5, 0.5, empty, ha="center", va="center")
    else:
        for y, r in enumerate(poi.itertuples(index=False)):
            other = r.method.split(" > ", 1)[1]
            _interval(ax, y, r.estimate, r.ci_low, r.ci_high, colors.get(other))
        ax.set_yticks(range(len(poi)), list(poi["method"]))
        _mark_degenerate(ax, list(poi["ci_low"]), list(poi["ci_high"]))
        ax.invert_yaxis()
        ax.axvline(0.5, color="grey", ls="--", lw=1)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("P(X > Y)")
        ax.set_title("Probability of improvement", fontsize=9)
    if notes:  # pairs of columns that are the same runs: never drawn as a comparison
        ax.text(
            0.0,
            -0.32 if not poi.empty else 0.2,
            "Columns that share runs: " + "; ".join(notes),
            transform=ax.transAxes,
            fontsize=7,
            wrap=True,
            va="top",
        )
    fig.suptitle(
        f"Aggregate statistics over every run (rliable, 95% stratified-bootstrap CIs, {reps} "
        "replicates; 'degenerate: zero width': too few runs to show any uncertainty)",
        fontsize=10,
    )
    fig.tight_layout()
    return save(fig, prefix)
