"""Small SVG charts for ``report.html``, drawn here rather than by a plotting library in the
page: the file stays small and self-contained, and its figures show without JavaScript (the
page's script only adds tooltips, toggles and sorting).

Markers carry ``data-*`` attributes naming what they show (a point, a layer); the page's
script looks those up in the JSON embedded beside the charts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["Chart", "Panel", "Scale", "fmt_tick", "layer_panels", "nice_range"]

Point = tuple[float, float]


def fmt_tick(value: float) -> str:
    """An axis label: few digits, thousands separators, no exponent below a million."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-")
    if magnitude >= 1000 and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"


def nice_range(values: Iterable[float], *, log: bool, pad: float = 0.05) -> tuple[float, float]:
    """A range holding ``values`` with a margin (a factor on a log axis)."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = min(finite), max(finite)
    if log:
        factor = 10 ** max(pad * 4, 0.05)
        lo, hi = lo / factor, hi * factor
        return (lo, hi) if hi / lo >= 3 else (math.sqrt(lo * hi) / 1.8, math.sqrt(lo * hi) * 1.8)
    span = hi - lo or abs(hi) or 1.0
    return lo - pad * span, hi + pad * span


@dataclass(frozen=True)
class Scale:
    """Data values ``lo..hi`` onto pixels ``start..stop``, linear or logarithmic."""

    lo: float
    hi: float
    start: float
    stop: float
    log: bool = False

    def __call__(self, value: float) -> float:
        if self.log:
            a, b, v = math.log10(self.lo), math.log10(self.hi), math.log10(max(value, 1e-300))
        else:
            a, b, v = self.lo, self.hi, value
        t = (v - a) / (b - a) if b != a else 0.5
        return round(self.start + t * (self.stop - self.start), 2)

    def contains(self, value: float) -> bool:
        return math.isfinite(value) and self.lo <= value <= self.hi

    def ticks(self) -> list[float]:
        """About five round values inside the range (1-2-5 steps; decades on log axes)."""
        if self.log:
            first, last = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
            decades = range(first, last + 1)
            steps = (
                (1.0,)
                if last - first > 3
                else (1.0, 2.0, 5.0)
                if last - first > 1
                else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
            )
            values = [m * 10.0**d for d in decades for m in steps]
        else:
            raw = (self.hi - self.lo) / 5
            base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
            step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
            k = math.ceil(self.lo / step)
            values = [round(i * step, 12) for i in range(k, math.floor(self.hi / step) + 1)]
        return [v for v in values if self.lo <= v <= self.hi]

    def labels(self) -> list[tuple[float, str]]:
        """The ticks with their labels: on a linear axis, as many decimals as the step needs
        (20.05, 20.10, ... rather than 20.1, 20.1, ...)."""
        ticks = self.ticks()
        if self.log or len(ticks) < 2:
            return [(v, fmt_tick(v)) for v in ticks]
        step = ticks[1] - ticks[0]
        if step >= 1 or max(abs(v) for v in ticks) >= 1e6:
            return [(v, fmt_tick(v)) for v in ticks]
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        return [(v, f"{v:.{decimals}f}") for v in ticks]


def _attrs(attrs: Mapping[str, object]) -> str:
    return "".join(
        f' {k}="{escape(str(v), quote=True)}"' for k, v in attrs.items() if v is not None
    )


def _marker(shape: str, x: float, y: float, size: float) -> tuple[str, dict[str, object]]:
    """The SVG element and geometry attributes of a marker centred on (x, y)."""
    if shape == "circle":
        return "circle", {"cx": x, "cy": y, "r": size}
    if shape == "square":
        return "rect", {"x": x - size, "y": y - size, "width": 2 * size, "height": 2 * size}
    if shape == "diamond":
        points = [
            (x, y - size * 1.3),
            (x + size * 1.3, y),
            (x, y + size * 1.3),
            (x - size * 1.3, y),
        ]
    elif shape == "star":
        points = [
            (
                x + (size * 1.6 if i % 2 == 0 else size * 0.7) * math.sin(i * math.pi / 5),
                y - (size * 1.6 if i % 2 == 0 else size * 0.7) * math.cos(i * math.pi / 5),
            )
            for i in range(10)
        ]
    else:
        raise ValueError(f"unknown marker {shape!r}")
    return "polygon", {"points": " ".join(f"{px:.2f},{py:.2f}" for px, py in points)}


@dataclass
class Chart:
    """A scatter/line chart: axes, grid, reference lines, series of markers and lines.

    Attributes:
        chart_id: unique in the page (clip path and series names derive from it).
        x_label, y_label: axis titles (with units).
    """

    chart_id: str
    x: Scale
    y: Scale
    x_label: str
    y_label: str
    width: int = 720
    height: int = 420
    _back: list[str] = field(default_factory=list)
    _data: list[str] = field(default_factory=list)

    @classmethod
    def frame(
        cls,
        chart_id: str,
        *,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        x_log: bool,
        y_log: bool = False,
        x_label: str,
        y_label: str,
        width: int = 720,
        height: int = 420,
    ) -> Chart:
        left, right, top, bottom = 70, width - 16, 14, height - 48
        return cls(
            chart_id,
            Scale(*x_range, left, right, x_log),
            Scale(*y_range, bottom, top, y_log),
            x_label,
            y_label,
            width,
            height,
        )

    def hline(self, value: float, *, series: str, label: str) -> None:
        """A horizontal reference line (clean score, budget) with its label."""
        if not self.y.contains(value):
            return
        y = self.y(value)
        self._back.append(
            f'<g class="s-{series}"><line class="ref {series}" x1="{self.x.start}" '
            f'x2="{self.x.stop}" y1="{y}" y2="{y}"/><text class="ref-label" x="{self.x.start + 4}" '
            f'y="{y - 4}">{escape(label)}</text></g>'
        )

    def line(self, points: Sequence[Point], *, series: str) -> None:
        """A polyline through ``points`` (in data units), in x order."""
        shown = sorted((x, y) for x, y in points if math.isfinite(x) and math.isfinite(y))
        if len(shown) < 2:
            return
        coords = " ".join(f"{self.x(x)},{self.y(y)}" for x, y in shown)
        self._data.append(f'<polyline class="line {series} s-{series}" points="{coords}"/>')

    def markers(
        self,
        points: Sequence[Point],
        *,
        series: str,
        shape: str = "circle",
        size: float = 4.0,
        data: Sequence[Mapping[str, object]] | None = None,
        titles: Sequence[str] | None = None,
        extra_class: Callable[[int], str] | None = None,
    ) -> None:
        """One marker per point; ``data`` gives each its ``data-*`` attributes and ``titles``
        its native tooltip (shown even without JavaScript)."""
        out = []
        for i, (x, y) in enumerate(points):
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            tag, geometry = _marker(shape, self.x(x), self.y(y), size)
            cls = f"pt {series} s-{series}" + (f" {extra_class(i)}" if extra_class else "")
            attrs: dict[str, object] = {"class": cls, **geometry}
            for key, value in (data[i] if data else {}).items():
                attrs[f"data-{key}"] = value
            title = f"<title>{escape(titles[i])}</title>" if titles else ""
            out.append(f"<{tag}{_attrs(attrs)}>{title}</{tag}>")
        self._data.append("".join(out))

    def _axes(self) -> str:
        x, y = self.x, self.y
        parts = [
            f'<rect class="plot-bg" x="{x.start}" y="{y.stop}" '
            f'width="{x.stop - x.start}" height="{y.start - y.stop}"/>'
        ]
        for v, label in x.labels():
            px = x(v)
            parts.append(
                f'<line class="grid" x1="{px}" x2="{px}" y1="{y.stop}" y2="{y.start}"/>'
                f'<text class="tick" x="{px}" y="{y.start + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        for v, label in y.labels():
            py = y(v)
            parts.append(
                f'<line class="grid" x1="{x.start}" x2="{x.stop}" y1="{py}" y2="{py}"/>'
                f'<text class="tick" x="{x.start - 6}" y="{py + 4}" text-anchor="end">'
                f"{escape(label)}</text>"
            )
        parts.append(
            f'<text class="axis-label" x="{(x.start + x.stop) / 2}" y="{self.height - 8}" '
            f'text-anchor="middle">{escape(self.x_label)}</text>'
            f'<text class="axis-label" transform="translate(16 {(y.start + y.stop) / 2}) '
            f'rotate(-90)" text-anchor="middle">{escape(self.y_label)}</text>'
        )
        return "".join(parts)

    def render(self, *, view: str | None = None, hidden: bool = False) -> str:
        """The ``<svg>``; ``view`` names it among other views of one figure (zoom levels)."""
        x, y = self.x, self.y
        clip = f"{self.chart_id}-clip"
        extra = _attrs({"data-view": view})
        return (
            f'<svg id="{escape(self.chart_id)}" class="chart{" hidden" if hidden else ""}"{extra} '
            f'viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{escape(self.y_label)} against '
            f'{escape(self.x_label)}"><defs><clipPath id="{clip}"><rect x="{x.start - 8}" '
            f'y="{y.stop - 8}" width="{x.stop - x.start + 16}" height="{y.start - y.stop + 16}"/>'
            f"</clipPath></defs>{self._axes()}"
            f'<g clip-path="url(#{clip})">{"".join(self._back)}{"".join(self._data)}</g></svg>'
        )


@dataclass(frozen=True)
class Panel:
    """One column of :func:`layer_panels`: a bar per layer, optionally a reference mark per
    layer (the uniform baseline's value).

    Attributes:
        fmt: how a value is written in the row's title.
    """

    title: str
    values: Sequence[float | None]
    series: str
    log: bool = False
    reference: Sequence[float | None] | None = None
    reference_label: str = ""
    fmt: Callable[[float], str] = fmt_tick


def layer_panels(
    chart_id: str, names: Sequence[str], panels: Sequence[Panel], *, row_height: int = 20
) -> str:
    """Small multiples: one row per layer (its name on the left), one bar chart per panel.
    Each row is a ``<g class="row" data-layer="i">`` for the page's tooltip."""
    label_w = min(max((len(n) for n in names), default=8) * 6.6 + 12, 280)
    panel_w, gap, top = 170, 18, 34
    width = int(label_w + len(panels) * (panel_w + gap))
    height = top + row_height * len(names) + 26
    scales = []
    for k, panel in enumerate(panels):
        values = [v for v in panel.values if v is not None] + [
            v for v in panel.reference or () if v is not None
        ]
        start = label_w + k * (panel_w + gap)
        if panel.log:
            lo, hi = nice_range(values, log=True, pad=0.02)
            lo = min(lo, 1.0) if min(values, default=1.0) >= 1.0 else lo
        else:
            lo, hi = 0.0, max([v for v in values if math.isfinite(v)] + [1e-12]) * 1.08
        scales.append(Scale(lo, hi, start, start + panel_w, panel.log))
    parts = []
    for k, (panel, scale) in enumerate(zip(panels, scales, strict=True)):
        parts.append(
            f'<text class="panel-title" x="{scale.start}" y="14">{escape(panel.title)}</text>'
        )
        if panel.reference_label:
            parts.append(
                f'<text class="panel-note" x="{scale.start}" y="27">{escape(panel.reference_label)}'
                "</text>"
            )
        bottom = top + row_height * len(names)
        for v in scale.ticks()[:: 2 if len(scale.ticks()) > 6 else 1]:
            px = scale(v)
            parts.append(
                f'<line class="grid" x1="{px}" x2="{px}" y1="{top}" y2="{bottom}"/>'
                f'<text class="tick" x="{px}" y="{bottom + 14}" text-anchor="middle">'
                f"{escape(fmt_tick(v))}</text>"
            )
        del k
    for i, name in enumerate(names):
        y = top + i * row_height
        row = [
            f'<g class="row" data-layer="{i}"><rect class="row-bg" x="0" y="{y}" '
            f'width="{width}" height="{row_height}"/><text class="row-label" x="{label_w - 8}" '
            f'y="{y + row_height * 0.7}" text-anchor="end">{escape(name)}</text>'
        ]
        title = [name]
        for panel, scale in zip(panels, scales, strict=True):
            value = panel.values[i]
            if value is not None and math.isfinite(value):
                x0, x1 = scale.start, scale(min(max(value, scale.lo), scale.hi))
                row.append(
                    f'<rect class="bar {panel.series}" x="{x0}" y="{y + 4}" '
                    f'width="{max(x1 - x0, 0.5):.2f}" height="{row_height - 8}"/>'
                )
                title.append(f"{panel.title}: {panel.fmt(value)}")
            ref = panel.reference[i] if panel.reference else None
            if ref is not None and math.isfinite(ref) and scale.contains(ref):
                rx = scale(ref)
                row.append(
                    f'<line class="ref-mark" x1="{rx}" x2="{rx}" y1="{y + 1}" '
                    f'y2="{y + row_height - 1}"/>'
                )
        row.insert(1, f"<title>{escape(' · '.join(title))}</title>")
        row.append("</g>")
        parts.append("".join(row))
    return (
        f'<svg id="{escape(chart_id)}" class="chart panels" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="per-layer figures">{"".join(parts)}</svg>'
    )
