"""``report.html``: the compile report as one self-contained page to open and share.

Everything is inside the file: the charts are SVG drawn by :mod:`.svg`, the style and the small
script (tooltips, legend and zoom toggles, sortable tables) are inlined from ``assets/``, and a
Content-Security-Policy forbids the page any network access. The figures read without
JavaScript; the script adds hovering a point to see its per-layer repeats and metric.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from .format import metric_value, num
from .schema import CompileReport, LayerRow, SearchPoint
from .svg import Chart, Panel, layer_panels, nice_range

__all__ = ["compile_html"]

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
"""No fetch, font, image or script from anywhere: the page works offline, and stays private."""


def _asset(name: str) -> str:
    return resources.files("analogc.report").joinpath("assets", name).read_text(encoding="utf-8")


# -- what the charts show ------------------------------------------------------------------------
@dataclass(frozen=True)
class PlotPoint:
    """A configuration drawn on the charts, and what its tooltip says.

    Attributes:
        kind: its series: ``uniform`` (uniform curve), ``trial-ok``/``trial-over`` (evaluated
            per-layer configurations within/over budget), ``front``, ``baseline`` (the uniform
            baseline), ``chosen`` (the plan).
    """

    kind: str
    label: str
    energy: float
    metric: float
    margin: float | None
    repeats: tuple[int, ...]
    source: str = ""


class _Figures:
    """The report's numbers as people read them (units, percentages, points of a metric).

    Attributes:
        floor: the lowest metric value the budget allows: clean − allowed drop, or the
            minimum of a budget in dB (``30dB``), whose clean value is infinite (SQNR).
        by_drop: whether drops from a finite clean value are what the budget counts.
    """

    def __init__(self, report: CompileReport) -> None:
        self.report = report
        self.unit = report.hardware.energy_unit
        self.percent = report.metric.unit == "%"
        self.scale = 100.0 if self.percent else 1.0
        self.names = [x.name for x in report.layers]
        clean, budget = report.metric.clean, report.budget
        self.by_drop = math.isfinite(clean) and budget.minimum is None
        self.floor = budget.minimum if budget.minimum is not None else clean - budget.allowed_drop

    def metric(self, value: float | None) -> str:
        if value is not None and not math.isfinite(value):
            return "∞" if value > 0 else "-"
        return metric_value(value, self.report.metric.unit)

    def drop(self, value: float) -> str:
        if not math.isfinite(value):
            return "-"
        return f"{100 * value:.3g} pts" if self.percent else f"{value:.3g}"

    def energy(self, value: float) -> str:
        return f"{value:.4g} {self.unit}/MAC"

    def fields(self, point: PlotPoint) -> list[tuple[str, str]]:
        if self.by_drop:
            below = ("drop", self.drop(self.report.metric.clean - point.metric))
        else:
            below = ("above the budget's floor", self.drop(point.metric - self.floor))
        out = [
            ("Ē", self.energy(point.energy)),
            (self.report.metric.name, self.metric(point.metric)),
            below,
        ]
        if point.margin is not None and math.isfinite(point.margin):
            verdict = "within budget" if point.margin <= 0 else "over budget"
            out.append(("margin", f"{point.margin:+.3g} ({verdict})"))
        return out


def plot_points(report: CompileReport) -> list[PlotPoint]:
    """Every configuration the charts draw: the uniform curve, the per-layer configurations
    evaluated (not those whose verdict was inferred), the front, the uniform baseline and the
    plan. Empty without a search."""
    search, uniform = report.search, report.uniform
    if search is None or uniform is None:
        return []
    names = [x.name for x in report.layers]

    def point(kind: str, label: str, p: SearchPoint) -> PlotPoint:
        reps = tuple(int(p.repeats.get(n, 0)) for n in names)
        return PlotPoint(kind, label, p.energy_per_mac, p.metric, p.margin, reps, p.source)

    points = [
        point("uniform", f"uniform N = {max(p.repeats.values(), default=0)}", p)
        for p in search.uniform_curve
    ]
    for p in search.points:
        if p.source == "inferred":
            continue
        kind = "trial-ok" if p.margin <= 0 else "trial-over"
        points.append(point(kind, f"per-layer configuration ({p.source or 'search'})", p))
    points += [point("front", f"front ({p.source or 'search'})", p) for p in search.front]
    on_curve = next(
        (p for p in search.uniform_curve if set(p.repeats.values()) == {uniform.repeats}), None
    )
    points.append(
        PlotPoint(
            "baseline",
            f"uniform baseline: N = {uniform.repeats} everywhere",
            uniform.energy_per_mac,
            on_curve.metric if on_curve else report.metric.clean,
            on_curve.margin if on_curve else None,
            (uniform.repeats,) * len(names),
        )
    )
    dyn = report.dynamic
    points.append(
        PlotPoint(
            "chosen",
            "per-layer plan (chosen)",
            dyn.energy_per_mac,
            report.metric.clean if dyn.search_metric is None else dyn.search_metric,
            dyn.margin,
            tuple(x.repeats for x in report.layers),
        )
    )
    return points


SERIES = {
    "trial-over": ("per-layer, over budget", "var(--over)"),
    "trial-ok": ("per-layer, within budget", "var(--ok)"),
    "front": ("front", "var(--ok)"),
    "uniform": ("uniform precision", "var(--uniform)"),
    "baseline": ("uniform baseline", "var(--uniform)"),
    "chosen": ("per-layer plan", "var(--chosen)"),
    "clean": ("clean", "var(--ink)"),
    "budget": ("budget", "var(--budget)"),
}
SHAPES = {"baseline": ("square", 5.5), "chosen": ("star", 6.0), "front": ("circle", 4.5)}


def _draw_points(
    chart: Chart,
    points: Sequence[PlotPoint],
    kinds: Iterable[str],
    y_of: Callable[[PlotPoint], float],
    figures: _Figures,
) -> None:
    for kind in kinds:
        idx = [i for i, p in enumerate(points) if p.kind == kind]
        shape, size = SHAPES.get(kind, ("circle", 3.6))
        chart.markers(
            [(points[i].energy, y_of(points[i])) for i in idx],
            series=kind,
            shape=shape,
            size=size,
            data=[{"p": i} for i in idx],
            titles=[
                f"{points[i].label}: " + ", ".join(f"{k} {v}" for k, v in figures.fields(points[i]))
                for i in idx
            ],
        )


def tradeoff_chart(
    report: CompileReport, points: Sequence[PlotPoint], *, zoom: bool, chart_id: str
) -> Chart:
    """The metric against Ē: uniform curve, every configuration evaluated, the front, the
    uniform baseline and the plan; ``zoom`` on the budget region (else every point)."""
    figures = _Figures(report)
    s = figures.scale
    clean, floor = report.metric.clean, figures.floor
    shown = list(points)
    if zoom:  # the budget region: where the trade-off is decided
        marked = [p.metric for p in points if p.kind in ("chosen", "baseline")]
        if figures.by_drop:
            span = max(clean - floor, 1e-3 * abs(clean) or 1e-6)
            lo, hi = clean - 4 * span, clean + 0.6 * span
        else:  # a floor in dB: from 3 dB below it to 12 dB above
            span, lo, hi = 3.0, floor - 3.0, floor + 12.0
        marked = [m for m in marked if math.isfinite(m)]
        lo = min([lo, *(m - 0.2 * span for m in marked)])
        hi = max([hi, *(m + 0.2 * span for m in marked)])
        y_range = (lo * s, hi * s)
        inside = [p for p in points if y_range[0] <= p.metric * s <= y_range[1]]
        shown = inside if len(inside) >= 2 else shown
    else:
        y_range = nice_range([p.metric * s for p in points] + [clean * s, floor * s], log=False)
    chart = Chart.frame(
        chart_id,
        x_range=nice_range([p.energy for p in shown], log=True),
        y_range=y_range,
        x_log=True,
        x_label=f"energy per MAC Ē ({figures.unit})",
        y_label=f"{report.metric.name}{' (%)' if figures.percent else ''}, search seeds",
    )
    chart.hline(clean * s, series="clean", label=f"clean {figures.metric(clean)}")
    chart.hline(
        floor * s,
        series="budget",
        label=f"budget: drop ≤ {figures.drop(clean - floor)}"
        if figures.by_drop
        else f"budget: ≥ {figures.metric(floor)}",
    )
    for kind in ("front", "uniform"):
        chart.line([(p.energy, p.metric * s) for p in points if p.kind == kind], series=kind)
    # The front is a line here: its points are trials already drawn (the Pareto chart marks them).
    order = ("trial-over", "trial-ok", "uniform", "baseline", "chosen")
    _draw_points(chart, points, order, lambda p: p.metric * s, figures)
    return chart


def pareto_chart(report: CompileReport, points: Sequence[PlotPoint], *, chart_id: str) -> str:
    """The front as energy against metric drop (lower left is better), beside the uniform
    curve, with the budget and the plan; against the metric itself (upper left is better)
    when the budget is a floor in dB."""
    figures = _Figures(report)
    s = figures.scale
    clean = report.metric.clean
    shown = [p for p in points if p.kind in ("front", "uniform", "chosen", "baseline")]
    if figures.by_drop:

        def y_of(p: PlotPoint) -> float:
            return (clean - p.metric) * s

        drops = [y_of(p) for p in shown if p.kind != "uniform"]
        allowed = clean - figures.floor
        top = max([*drops, 2 * allowed * s, 1e-9])
        y_range = (min([0.0, *drops]) - 0.05 * top, top * 1.1)
        y_label = f"{report.metric.name} drop{' (points)' if figures.percent else ''}"
    else:

        def y_of(p: PlotPoint) -> float:
            return p.metric * s

        metrics = [y_of(p) for p in shown if p.kind != "uniform"] + [figures.floor * s]
        y_range = nice_range(metrics, log=False, pad=0.15)
        y_label = f"{report.metric.name}{f' ({report.metric.unit})' if report.metric.unit else ''}"
    chart = Chart.frame(
        chart_id,
        x_range=nice_range([p.energy for p in shown], log=True),
        y_range=y_range,
        x_log=True,
        x_label=f"energy per MAC Ē ({figures.unit})",
        y_label=f"{y_label}, search seeds",
        height=360,
    )
    if figures.by_drop:
        allowed = clean - figures.floor
        chart.hline(allowed * s, series="budget", label=f"allowed drop {figures.drop(allowed)}")
        chart.hline(0.0, series="clean", label="clean")
    else:
        chart.hline(figures.floor * s, series="budget", label=f"≥ {figures.metric(figures.floor)}")
    for kind in ("uniform", "front"):
        chart.line([(p.energy, y_of(p)) for p in shown if p.kind == kind], series=kind)
    order = ("uniform", "front", "baseline", "chosen")
    _draw_points(chart, points, order, y_of, figures)
    return chart.render()


def panels_chart(report: CompileReport) -> str:
    """Per layer: repeats (uniform marked), effective bits (uniform marked), energy share and,
    with a search, sensitivity."""
    layers = report.layers
    search = report.search is not None
    panels = [
        Panel(
            "repeats N",
            [x.repeats for x in layers],
            "repeats",
            log=True,
            reference=[x.uniform_repeats for x in layers] if search else None,
            reference_label="| uniform baseline" if search else "",
            fmt=lambda v: f"{v:,.0f}",
        ),
        Panel(
            "effective bits",
            [x.enob for x in layers],
            "bits",
            reference=[x.uniform_enob for x in layers] if search else None,
            reference_label="| uniform baseline" if search else "",
            fmt=lambda v: f"{v:.2f}",
        ),
        Panel(
            "energy share (%)",
            [100 * x.energy_share for x in layers],
            "share",
            fmt=lambda v: f"{v:.1f}%",
        ),
    ]
    if search:
        panels.append(
            Panel(
                "sensitivity",
                [x.sensitivity for x in layers],
                "sens",
                log=True,
                reference_label="noise power at N = 1",
                fmt=lambda v: f"{v:.3g}",
            )
        )
    return layer_panels("layers-chart", [x.name for x in layers], panels)


# -- tables and settings ---------------------------------------------------------------------
def _cell(value: Any, text: str | None = None, *, name: bool = False) -> str:
    """A table cell; numbers carry ``data-v`` so that sorting is numeric."""
    shown = num(value) if text is None else text
    sort = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        sort = f' data-v="{value if math.isfinite(value) else ""}"'
    elif value is None:
        sort = ' data-v=""'
    return f"<td{' class=name' if name else ''}{sort}>{escape(shown)}</td>"


def _table(headers: Sequence[str], rows: Iterable[str], *, sortable: bool = True) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    cls = ' class="sortable"' if sortable else ""
    return (
        f'<div class="table-wrap"><table{cls}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def layer_columns(report: CompileReport) -> list[tuple[str, Any]]:
    """(header, how to get a row's value): the per-layer table's columns."""
    search = report.search is not None
    columns: list[tuple[str, Any]] = [
        ("layer", lambda x: x.name),
        ("op", lambda x: x.op_type),
        ("D", lambda x: x.fan_in),
        ("MACs/ex", lambda x: x.macs),
        ("N", lambda x: x.repeats),
    ]
    if any(x.useful_repeats is not None for x in report.layers):
        columns += [("N max", lambda x: x.useful_repeats)]  # an ADC's floor: more is no use
    if search:
        columns += [("N uniform", lambda x: x.uniform_repeats)]
        columns += [("N analytic", lambda x: x.analytic_repeats)]
    columns += [
        ("E/MAC", lambda x: x.energy_per_mac),
        ("energy %", lambda x: round(100 * x.energy_share, 2)),
        ("σ", lambda x: x.sigma),
        ("bits", lambda x: round(x.enob, 2)),
    ]
    if search:
        columns += [("bits uniform", lambda x: round(x.uniform_enob, 2))]
    columns += [("SNR dB", lambda x: round(x.snr_db, 1))]
    if any(x.rule for x in report.layers):  # per-layer rules ([[layer]], --digital, --pin)
        columns += [("rule", lambda x: (x.rule or "") + (" (pinned)" if x.pinned else ""))]
    if search:
        columns += [
            ("sensitivity", lambda x: x.sensitivity),
            ("drop alone", lambda x: x.sensitivity_drop),
        ]
    return columns


def layer_table(report: CompileReport) -> str:
    columns = layer_columns(report)
    rows = []
    for layer in report.layers:
        cells = [_cell(get(layer), name=i == 0) for i, (_, get) in enumerate(columns)]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table([h for h, _ in columns], rows)


def _layer_fields(report: CompileReport, layer: LayerRow) -> list[tuple[str, str]]:
    return [(h, num(get(layer))) for h, get in layer_columns(report)[1:]]


def _dl(items: Iterable[tuple[str, Any]]) -> str:
    body = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v if isinstance(v, str) else num(v))}</dd>"
        for k, v in items
        if v is not None and v != ""
    )
    return f"<dl>{body}</dl>"


def settings_html(report: CompileReport) -> str:
    hw, data, budget, search = report.hardware, report.data, report.budget, report.search
    noise = hw.noise.to_dict()
    hardware = [
        ("name", hw.name),
        ("description", hw.description),
        ("e1", f"{hw.e1:g} {hw.energy_unit}/MAC per pass"),
        ("wavelength", f"{hw.wavelength_nm:g} nm" if hw.energy_unit == "photons" else None),
        ("noise", report.noise),
        *((k, v if not isinstance(v, bool) else ("on" if v else "off")) for k, v in noise.items()),
    ]
    data_items = [
        ("source", data.source + (" (synthetic)" if data.synthetic else "")),
        ("examples", data.examples),
        ("batch size", data.batch_size),
        (
            "batch axes",
            ", ".join(f"{n}: {'fixed' if a is None else a}" for n, a in data.batch_axes.items()),
        ),
        ("feeds", data.feeds),
        ("held fixed", ", ".join(f"{n} = {v.get('value')}" for n, v in data.values.items())),
    ]
    clean = report.metric.clean
    metric = [
        ("metric", report.metric.name),
        ("chosen because", report.metric.reason),
        ("clean", metric_value(clean, report.metric.unit) if math.isfinite(clean) else "∞"),
        ("max drop", budget.max_drop),
        ("allowed drop", f"{budget.allowed_drop:.6g}" if budget.minimum is None else None),
        ("minimum", metric_value(budget.minimum, report.metric.unit) if budget.minimum else None),
        ("rule", budget.rule),
        ("noise seeds", budget.seeds),
        ("static terms", ", ".join(budget.static_terms)),
        ("static drop", budget.static_drop),
        ("static feasible", budget.static_feasible),
    ]
    sections: list[tuple[str, list[tuple[str, Any]]]] = [
        ("Hardware", hardware),
        ("Data", data_items),
        ("Metric and budget", metric),
    ]
    if search is not None:
        sections.append(
            (
                "Search",
                [
                    ("strategy", f"{search.strategy} ({search.sampler})"),
                    (
                        "trials",
                        f"{search.trials}: {search.evaluated_trials} evaluated "
                        f"({search.feasible_trials} within budget), {search.skipped_trials} skipped",
                    ),
                    ("sampler seed", search.seed),
                    ("seeds", f"{search.seeds} search, {search.validation_seeds} fresh (figures)"),
                    ("max repeats", search.max_repeats),
                    ("span", search.span),
                    ("study", search.study_name),
                    ("storage", search.storage),
                ],
            )
        )
    run = report.run
    sections.append(
        (
            "Run",
            [
                ("analogc", report.analogc),
                ("created", run.created),
                ("time", f"{run.timing.total_s:.1f} s (search {run.timing.search_s:.1f} s)"),
                *report.versions.items(),
            ],
        )
    )
    return (
        '<div class="settings">'
        + "".join(
            f"<section><h3>{escape(title)}</h3>{_dl(items)}</section>" for title, items in sections
        )
        + "</div>"
    )


# -- the page ---------------------------------------------------------------------------------
def _cards(report: CompileReport, figures: _Figures) -> str:
    dyn = report.dynamic
    cards = []
    sub = f"{dyn.attojoules_per_mac:.4g} aJ/MAC" if dyn.attojoules_per_mac is not None else ""
    cards.append(("Ē per-layer plan", figures.energy(dyn.energy_per_mac), sub))
    if report.uniform is not None:
        cards.append(
            (
                "Ē uniform baseline",
                figures.energy(report.uniform.energy_per_mac),
                f"N = {report.uniform.repeats} everywhere",
            )
        )
    if report.saving is not None:
        cards.append(("energy saving", f"{100 * report.saving:.1f}%", "vs uniform, same budget"))
    ev = dyn.evaluation
    ci = f"± {figures.drop(ev.ci95)}" if figures.percent else f"± {ev.ci95:.3g}"
    cards.append(
        (
            f"{report.metric.name} with noise",
            figures.metric(ev.mean),
            f"{ci} (95% CI, {len(ev.seeds)} fresh seeds); clean {figures.metric(report.metric.clean)}",
        )
    )
    cards.append(("budget", f"max drop {report.budget.max_drop}", report.budget.rule))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
            for label, value, sub in cards
        )
        + "</div>"
    )


def _diagnosis(report: CompileReport) -> str:
    """Why the budget was not met, and what to try (absent when it was met)."""
    if not report.diagnosis:
        return ""
    items = "".join(
        f"<li>{escape(f.message)}<br><b>Try:</b> {escape(f.remedy)}</li>" for f in report.diagnosis
    )
    return f'<section class="diagnosis"><h2 id="section-why">Why the budget was not met</h2><ul>{items}</ul></section>'


def _legend(kinds: Iterable[str]) -> str:
    buttons = "".join(
        f'<button type="button" data-series="{k}" aria-pressed="true">'
        f'<span class="swatch" style="background:{SERIES[k][1]}"></span>{escape(SERIES[k][0])}'
        "</button>"
        for k in kinds
    )
    return f'<div class="legend">{buttons}</div>'


def _search_sections(report: CompileReport, points: Sequence[PlotPoint]) -> str:
    if not points:
        return (
            '<h2 id="section-tradeoff">Trade-off</h2><p class="note">Repeats were fixed '
            f"(N = {report.layers[0].repeats if report.layers else '-'} everywhere): no search, "
            "so no trade-off or front to show.</p>"
        )
    return _tradeoff_section(report, points) + _pareto_section(report, points)


def _tradeoff_section(report: CompileReport, points: Sequence[PlotPoint]) -> str:
    kinds = {p.kind for p in points}
    legend = _legend(k for k in SERIES if k in kinds or k in ("clean", "budget"))
    zoomed = tradeoff_chart(report, points, zoom=True, chart_id="tradeoff-zoom")
    full = tradeoff_chart(report, points, zoom=False, chart_id="tradeoff-all")
    zoom = (
        '<div class="zoom"><button type="button" data-view="zoom" aria-pressed="true">'
        'budget region</button><button type="button" data-view="all" aria-pressed="false">'
        "all points</button></div>"
    )
    inferred = (
        sum(1 for p in report.search.points if p.source == "inferred") if report.search else 0
    )
    note = f"; {inferred} configurations judged by monotonicity are not drawn" if inferred else ""
    return (
        '<h2 id="section-tradeoff">Trade-off</h2><p class="lead">The metric on the search seeds '
        "against energy per MAC: uniform precision (blue) and every per-layer configuration "
        f"evaluated. Hover a point to see its repeats; click to pin it{note}.</p>"
        f'<figure id="tradeoff-figure"><div class="figure-bar">{zoom}{legend}</div>'
        f"{zoomed.render(view='zoom')}{full.render(view='all', hidden=True)}</figure>"
    )


def _pareto_section(report: CompileReport, points: Sequence[PlotPoint]) -> str:
    figures = _Figures(report)
    clean = report.metric.clean

    def below(p: PlotPoint) -> float:
        return clean - p.metric if figures.by_drop else p.metric - figures.floor

    rows = [
        "<tr>"
        + _cell(p.energy, figures.energy(p.energy))
        + _cell(p.metric * figures.scale, figures.metric(p.metric))
        + _cell(below(p) * figures.scale, figures.drop(below(p)))
        + _cell(p.margin)
        + _cell("within" if (p.margin or 0) <= 0 else "over")
        + _cell(p.source)
        + "</tr>"
        for p in sorted((p for p in points if p.kind == "front"), key=lambda p: p.energy)
    ]
    legend = _legend(k for k in ("front", "uniform", "baseline", "chosen", "budget"))
    below_header = "drop" if figures.by_drop else "above floor"
    corner = "lower left" if figures.by_drop else "upper left"
    return (
        '<h2 id="section-pareto">Pareto front</h2><p class="lead">Configurations no other beats '
        f"on both energy and metric ({corner} is better); the uniform curve for comparison.</p>"
        f'<figure id="pareto-figure"><div class="figure-bar">{legend}</div>'
        f"{pareto_chart(report, points, chart_id='pareto')}</figure>"
        + _table(["Ē", report.metric.name, below_header, "margin", "budget", "source"], rows)
    )


def _json_script(data: object) -> str:
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script id="analogc-data" type="application/json">{text}</script>'


def compile_html(report: CompileReport) -> str:
    """The page for a compile report (see the module docstring)."""
    figures = _Figures(report)
    points = plot_points(report)
    verdict = "met" if report.budget_met else "not-met"
    verdict_text = "budget MET" if report.budget_met else "budget NOT MET"
    hw, data = report.hardware, report.data
    lead = (
        f"{hw.name} ({report.noise} noise) · {report.metric.name} on {data.examples} examples of "
        f"{data.source}{' (synthetic)' if data.synthetic else ''} · {report.mode}"
    )
    digital = ""
    if report.digital:
        rows = [
            "<tr>"
            + _cell(x.name, name=True)
            + _cell(x.op_type)
            + _cell(x.macs)
            + _cell(x.reason or "")
            + _cell(x.rule or "")
            + "</tr>"
            for x in report.digital
        ]
        digital = '<h2 id="section-digital">Ops left digital</h2>' + _table(
            ["op", "type", "MACs/ex", "reason", "rule"], rows
        )
    outputs = [
        Path(p).name
        for p in (report.outputs.model, report.outputs.report_json, report.outputs.report_md)
    ]
    payload = {
        "layers": figures.names,
        "points": [
            {"kind": p.kind, "label": p.label, "fields": figures.fields(p), "repeats": p.repeats}
            for p in points
        ],
        "rows": [{"name": x.name, "fields": _layer_fields(report, x)} for x in report.layers],
    }
    body = (
        f"<main><h1>analogc report: <code>{escape(report.model.path)}</code>"
        f'<span class="verdict {verdict}">{verdict_text}</span></h1>'
        f'<p class="lead">{escape(lead)}</p>{_cards(report, figures)}{_diagnosis(report)}'
        f"{_search_sections(report, points)}"
        '<h2 id="section-layers">Per-layer plan</h2><p class="lead">Repeats, effective bits, share of '
        "the network's energy"
        + (" and sensitivity (relative output noise power at N = 1)" if report.search else "")
        + ". Hover a layer for its figures; click a column to sort the table.</p>"
        f"<figure>{panels_chart(report)}</figure>{layer_table(report)}{digital}"
        f'<h2 id="section-settings">Settings</h2>{settings_html(report)}'
        f"<footer>analogc {escape(report.analogc)} · report schema {report.schema_version} · "
        f"beside this file: {escape(', '.join(outputs))}</footer></main>"
        '<div id="tooltip" role="tooltip" hidden></div>'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>analogc report: {escape(Path(report.model.path).name)}</title>"
        f"<style>{_asset('report.css')}</style></head><body>{body}"
        f"{_json_script(payload)}<script>{_asset('report.js')}</script></body></html>\n"
    )
