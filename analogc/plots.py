"""The two pictures a person would rather look at: the trade-off and the per-layer precision."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from analogc.passes.model_io import write_bytes_atomic
from analogc.report.schema import CompileReport


def _save(fig: plt.Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def write_plots(report: CompileReport) -> None:
    """``tradeoff.png`` and ``precision.png`` of a compile report with a search."""
    search, uniform = report.search, report.uniform
    assert search is not None and uniform is not None, "plots need a search"
    outputs = report.outputs
    assert outputs.tradeoff_plot and outputs.precision_plot
    names = [layer.name for layer in report.layers]
    uniform_point = next(
        (p for p in search.uniform_curve if p.repeats[names[0]] == uniform.repeats), None
    )
    clean = report.metric.clean
    tradeoff_plot(
        Path(outputs.tradeoff_plot),
        uniform=[(p.energy_per_mac, p.metric) for p in search.uniform_curve],
        trials=[
            (p.energy_per_mac, p.metric, p.margin <= 0)
            for p in search.points
            if p.source != "inferred"
        ],
        front=[(p.energy_per_mac, p.metric) for p in search.front],
        chosen=(
            report.dynamic.energy_per_mac,
            clean if report.dynamic.search_metric is None else report.dynamic.search_metric,
        ),
        uniform_chosen=(uniform.energy_per_mac, uniform_point.metric if uniform_point else clean),
        clean=clean,
        floor=clean - report.budget.allowed_drop,
        unit=report.hardware.energy_unit,
        metric=report.metric.name,
    )
    precision_plot(
        Path(outputs.precision_plot),
        layers=names,
        dynamic={x.name: x.repeats for x in report.layers},
        uniform=uniform.repeats,
        enob={x.name: x.enob for x in report.layers},
        enob_uniform={x.name: x.uniform_enob for x in report.layers},
        energy_share={x.name: x.energy_share for x in report.layers},
    )


def tradeoff_plot(
    path: Path,
    *,
    uniform: Sequence[tuple[float, float]],
    trials: Sequence[tuple[float, float, bool]],
    front: Sequence[tuple[float, float]],
    chosen: tuple[float, float],
    uniform_chosen: tuple[float, float],
    clean: float,
    floor: float,
    unit: str,
    metric: str,
) -> None:
    """Metric against energy per MAC: uniform precision curve vs per-layer configurations."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    pct = 100.0 if metric in ("accuracy", "agreement") else 1.0
    if trials:
        feas = [(e, m * pct) for e, m, ok in trials if ok]
        infeas = [(e, m * pct) for e, m, ok in trials if not ok]
        if infeas:
            ax.scatter(
                *zip(*infeas, strict=True), s=12, c="0.75", label="per-layer trials (over budget)"
            )
        if feas:
            ax.scatter(
                *zip(*feas, strict=True),
                s=14,
                c="tab:green",
                alpha=0.6,
                label="per-layer trials (within budget)",
            )
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
    ax.axhline(clean * pct, c="k", lw=0.8, ls=":", label="clean")
    ax.axhline(floor * pct, c="tab:red", lw=0.8, ls="--", label="budget")
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
        label="per-layer (chosen)",
    )
    ax.set_xscale("log")
    ax.set_xlabel(f"energy per MAC Ē ({unit})")
    ax.set_ylabel(f"{metric}{' (%)' if pct == 100 else ''}")
    # Zoom on the budget region: the interesting trade-off is within a few budgets of clean.
    span = max(clean - floor, 1e-3 * abs(clean) or 1e-6) * pct
    ax.set_ylim(clean * pct - 4 * span, clean * pct + 0.6 * span)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Precision/energy trade-off (search seeds)")
    _save(fig, path)


def precision_plot(
    path: Path,
    *,
    layers: Sequence[str],
    dynamic: Mapping[str, int],
    uniform: int,
    enob: Mapping[str, float],
    enob_uniform: Mapping[str, float],
    energy_share: Mapping[str, float],
) -> None:
    """Per-layer repeats and effective bits, per-layer choice against uniform."""
    n = len(layers)
    fig, axes = plt.subplots(3, 1, figsize=(max(6.0, 0.45 * n + 2), 7.5), sharex=True)
    x = range(n)
    axes[0].bar(x, [dynamic[name] for name in layers], color="tab:orange", label="per-layer")
    axes[0].axhline(uniform, c="tab:blue", ls="--", label=f"uniform N={uniform}")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("repeats N")
    axes[0].legend(fontsize=7)
    axes[1].plot(x, [enob[name] for name in layers], "o-", c="tab:orange", label="per-layer")
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
