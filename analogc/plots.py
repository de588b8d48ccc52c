"""The two pictures a person would rather look at: the trade-off and the per-layer precision."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analogc.passes.model_io import write_bytes_atomic
from analogc.report.schema import CompileReport


def _save(fig: Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def write_plots(report: CompileReport) -> None:
    """``tradeoff.png`` and ``precision.png`` of a compile report (with fixed repeats too: the
    plan's point against the budget, and its per-layer precision)."""
    search, uniform = report.search, report.uniform
    outputs = report.outputs
    assert outputs.tradeoff_plot and outputs.precision_plot
    names = [layer.name for layer in report.layers]
    clean = report.metric.clean
    floor = (
        report.budget.minimum
        if report.budget.minimum is not None
        else clean - report.budget.allowed_drop
    )
    dynamic = report.dynamic
    # With fixed repeats nothing ran on the search seeds: the plan's mean on the fresh ones.
    plan_metric = (
        dynamic.search_metric if dynamic.search_metric is not None else dynamic.evaluation.mean
    )
    uniform_chosen = None
    if search is not None and uniform is not None:
        point = next(
            (p for p in search.uniform_curve if p.repeats[names[0]] == uniform.repeats), None
        )
        if point is not None:
            uniform_chosen = (uniform.energy_per_mac, point.metric)
    figure = tradeoff_figure(
        uniform=[]
        if search is None
        else [(p.energy_per_mac, p.metric) for p in search.uniform_curve],
        trials=[]
        if search is None
        else [
            (p.energy_per_mac, p.metric, p.margin <= 0)
            for p in search.points
            if p.source != "inferred"
        ],
        front=[] if search is None else [(p.energy_per_mac, p.metric) for p in search.front],
        chosen=(dynamic.energy_per_mac, plan_metric),
        chosen_label="per-layer (chosen)" if search is not None else "this plan (--repeats)",
        uniform_chosen=uniform_chosen,
        clean=clean,
        floor=floor,
        unit=report.hardware.energy_unit,
        metric=report.metric.name,
        percent=report.metric.unit == "%",
        seeds="search seeds" if search is not None else "fresh seeds",
    )
    _save(figure, Path(outputs.tradeoff_plot))
    repeats = {x.name: x.repeats for x in report.layers}
    precision_plot(
        Path(outputs.precision_plot),
        layers=names,
        dynamic=repeats,
        uniform=uniform.repeats if uniform is not None else None,
        enob={x.name: x.enob for x in report.layers},
        enob_uniform={x.name: x.uniform_enob for x in report.layers} if uniform else None,
        energy_share={x.name: x.energy_share for x in report.layers},
    )


def tradeoff_figure(
    *,
    uniform: Sequence[tuple[float, float]],
    trials: Sequence[tuple[float, float, bool]],
    front: Sequence[tuple[float, float]],
    chosen: tuple[float, float],
    chosen_label: str = "per-layer (chosen)",
    uniform_chosen: tuple[float, float] | None,
    clean: float,
    floor: float,
    unit: str,
    metric: str,
    percent: bool,
    seeds: str = "search seeds",
) -> Figure:
    """Metric against energy per MAC: uniform precision curve vs per-layer configurations.

    The view is zoomed on the budget region (a few budgets below clean, or around the floor
    of a minimum budget), and the energy axis on the configurations visible there, so that a
    uniform curve starting at N = 1 does not push everything of interest into a corner; the
    legend sits outside the axes, where it hides nothing.
    """
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    pct = 100.0 if percent else 1.0
    _draw_searched(ax, trials, front, uniform, pct)
    if math.isfinite(clean):
        ax.axhline(clean * pct, c="k", lw=0.8, ls=":", label="clean")
    ax.axhline(floor * pct, c="tab:red", lw=0.8, ls="--", label="budget")
    if uniform_chosen is not None:
        ax.scatter(
            [uniform_chosen[0]],
            [uniform_chosen[1] * pct],
            marker="s",
            s=70,
            c="tab:blue",
            zorder=5,
            edgecolors="k",
            label="uniform baseline",
        )
    ax.scatter(
        [chosen[0]],
        [chosen[1] * pct],
        marker="*",
        s=160,
        c="tab:orange",
        zorder=6,
        edgecolors="k",
        label=chosen_label,
    )
    ax.set_xscale("log")
    ax.set_xlabel(f"energy per MAC Ē ({unit})")
    ax.set_ylabel(f"{metric}{' (%)' if percent else ''}")
    marked = [chosen, *([uniform_chosen] if uniform_chosen else [])]
    low, high = _metric_window(clean, floor, [m for _, m in marked])
    ax.set_ylim(low * pct, high * pct)
    points = [*((e, m) for e, m, _ in trials), *uniform, *front, *marked]
    ax.set_xlim(*_energy_window(points, low, high, always=[chosen[0]]))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    ax.set_title(f"Precision/energy trade-off ({seeds})")
    return fig


def _draw_searched(
    ax: Axes,
    trials: Sequence[tuple[float, float, bool]],
    front: Sequence[tuple[float, float]],
    uniform: Sequence[tuple[float, float]],
    pct: float,
) -> None:
    """The per-layer trials (within budget or not), their front and the uniform curve."""
    for ok, size, colour, alpha, label in (
        (False, 12, "0.75", 1.0, "per-layer trials (over budget)"),
        (True, 14, "tab:green", 0.6, "per-layer trials (within budget)"),
    ):
        shown = [(e, m * pct) for e, m, within in trials if within == ok]
        if shown:
            xs, ys = zip(*shown, strict=True)
            ax.scatter(xs, ys, s=size, c=colour, alpha=alpha, label=label)
    if front:
        f = sorted(front)
        ax.plot(
            [e for e, _ in f],
            [m * pct for _, m in f],
            "-",
            c="tab:green",
            lw=1.5,
            label="per-layer front",
        )
    if uniform:
        u = sorted(uniform)
        ax.plot(
            [e for e, _ in u],
            [m * pct for _, m in u],
            "o-",
            c="tab:blue",
            ms=4,
            label="uniform precision",
        )


def _metric_window(clean: float, floor: float, shown: Sequence[float] = ()) -> tuple[float, float]:
    """The metric range shown: from 4 budgets below clean to a little above it (from 3 dB
    below to 12 dB above the floor of a minimum budget, whose clean value is infinite),
    widened to show the ``shown`` values (the plan, the uniform baseline)."""
    if not math.isfinite(clean):
        low, high = floor - 3.0, floor + 12.0
    else:
        span = max(clean - floor, 1e-3 * abs(clean) or 1e-6)
        low, high = clean - 4 * span, clean + 0.6 * span
    values = [v for v in shown if math.isfinite(v)]
    pad = 0.05 * (max([high, *values]) - min([low, *values]))
    return min([low, *(v - pad for v in values)]), max([high, *(v + pad for v in values)])


def _energy_window(
    points: Sequence[tuple[float, float]], low: float, high: float, *, always: Sequence[float]
) -> tuple[float, float]:
    """Energy limits covering the points inside the metric window (and ``always``), with a
    margin of a quarter decade on each side."""
    energies = [e for e, m in points if low <= m <= high and e > 0] + [e for e in always if e > 0]
    if not energies:
        energies = [e for e, _ in points if e > 0] or [1.0]
    lo, hi = min(energies), max(energies)
    margin = 10**0.25
    return lo / margin, hi * margin


def tradeoff_plot(path: Path, **kwargs: Any) -> None:
    """:func:`tradeoff_figure`, written to ``path`` as a PNG."""
    _save(tradeoff_figure(**kwargs), path)


def precision_plot(
    path: Path,
    *,
    layers: Sequence[str],
    dynamic: Mapping[str, int],
    uniform: int | None,
    enob: Mapping[str, float],
    enob_uniform: Mapping[str, float] | None,
    energy_share: Mapping[str, float],
) -> None:
    """Per-layer repeats and effective bits, per-layer choice against uniform (when there is
    a uniform baseline: not with fixed repeats)."""
    n = len(layers)
    fig, axes = plt.subplots(3, 1, figsize=(max(6.0, 0.45 * n + 2), 7.5), sharex=True)
    x = range(n)
    axes[0].bar(x, [dynamic[name] for name in layers], color="tab:orange", label="per-layer")
    if uniform is not None:
        axes[0].axhline(uniform, c="tab:blue", ls="--", label=f"uniform N={uniform}")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("repeats N")
    axes[0].legend(fontsize=7)
    axes[1].plot(x, [enob[name] for name in layers], "o-", c="tab:orange", label="per-layer")
    if enob_uniform is not None:
        axes[1].plot(
            x, [enob_uniform[name] for name in layers], "s--", c="tab:blue", ms=4, label="uniform"
        )
    axes[1].set_ylabel("effective bits")
    axes[1].legend(fontsize=7)
    axes[2].bar(x, [100 * energy_share[name] for name in layers], color="tab:gray")
    axes[2].set_ylabel("energy share (%)")
    axes[2].set_xticks(list(x))
    axes[2].set_xticklabels(layers, rotation=60, ha="right", fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_title("Per-layer precision")
    _save(fig, path)
