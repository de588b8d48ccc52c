"""report.html, read as a file: self-contained, complete, escaped, well-formed. (What a
browser makes of it is tests/test_report_html_browser.py.)"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_pages import fixed, searched

import analogc
from analogc.report import compile_html
from analogc.report.html import plot_points
from analogc.report.load import load_compile_report
from analogc.report.schema import SearchPoint
from analogc.report.svg import Scale, fmt_tick, nice_range


@pytest.fixture(scope="module")
def searched_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[analogc.CompileReport, str]:
    report = searched(tmp_path_factory.mktemp("searched"))
    assert report.outputs.report_html is not None
    return report, Path(report.outputs.report_html).read_text()


@pytest.fixture(scope="module")
def fixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[analogc.CompileReport, str]:
    report = fixed(tmp_path_factory.mktemp("fixed"))
    assert report.outputs.report_html is not None
    return report, Path(report.outputs.report_html).read_text()


class _Page(HTMLParser):
    """Collects what a page would load from elsewhere, its scripts and its data."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[tuple[str, str, str]] = []
        self.tags: Counter[str] = Counter()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.csp: str | None = None
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        named = dict(attrs)
        for key in ("src", "href", "srcset", "action", "data", "poster", "xlink:href"):
            if named.get(key) is not None:
                self.references.append((tag, key, str(named[key])))
        if tag == "meta" and named.get("http-equiv") == "Content-Security-Policy":
            self.csp = named.get("content")
        if tag == "script":
            self._script = named

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts.append((self._script, data))
            self._script = None


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _data(page: str) -> dict[str, Any]:
    (text,) = [t for attrs, t in _parse(page).scripts if attrs.get("id") == "analogc-data"]
    data: dict[str, Any] = json.loads(text)
    return data


def test_written_beside_the_other_outputs(searched_run: tuple[analogc.CompileReport, str]) -> None:
    report, page = searched_run
    path = Path(report.outputs.report_html or "")
    assert path.name == "report.html" and path.parent == Path(report.outputs.report_json).parent
    stored = json.loads(Path(report.outputs.report_json).read_text())
    assert stored["outputs"]["report_html"] == str(path)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


@pytest.mark.parametrize("which", ["searched_run", "fixed_run"])
def test_self_contained(which: str, request: pytest.FixtureRequest) -> None:
    """Nothing loaded from elsewhere, and a policy that forbids it anyway."""
    _, page = request.getfixturevalue(which)
    parsed = _parse(page)
    assert parsed.csp is not None and "default-src 'none'" in parsed.csp
    assert "connect-src" not in parsed.csp  # falls back to 'none'
    assert parsed.references == [("link", "href", "data:,")], parsed.references  # the favicon
    assert all(not attrs.get("src") for attrs, _ in parsed.scripts)
    assert parsed.tags["script"] == 2 and parsed.tags["style"] == 1
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert not re.search(r"@import|url\((?!#)", page), "CSS must not fetch anything"
    assert not re.search(r"https?://", page.replace("http://www.w3.org/2000/svg", ""))


def test_every_configuration_is_drawn_with_its_repeats(
    searched_run: tuple[analogc.CompileReport, str],
) -> None:
    report, page = searched_run
    search, uniform = report.search, report.uniform
    assert search is not None and uniform is not None
    data = _data(page)
    names = [x.name for x in report.layers]
    assert data["layers"] == names
    kinds = Counter(p["kind"] for p in data["points"])
    evaluated = [p for p in search.points if p.source != "inferred"]
    assert kinds["uniform"] == len(search.uniform_curve) > 0
    assert kinds["trial-ok"] + kinds["trial-over"] == len(evaluated) > 0
    assert kinds["trial-ok"] == sum(1 for p in evaluated if p.margin <= 0)
    assert kinds["front"] == len(search.front) > 0
    assert kinds["baseline"] == kinds["chosen"] == 1
    trials = [p for p in data["points"] if p["kind"].startswith("trial")]
    assert [p["repeats"] for p in trials] == [[p.repeats[n] for n in names] for p in evaluated]
    (chosen,) = [p for p in data["points"] if p["kind"] == "chosen"]
    assert chosen["repeats"] == [x.repeats for x in report.layers]
    (baseline,) = [p for p in data["points"] if p["kind"] == "baseline"]
    assert baseline["repeats"] == [uniform.repeats] * len(names)
    assert dict(chosen["fields"])["Ē"] == f"{report.dynamic.energy_per_mac:.4g} photons/MAC"
    # Each point is a marker pointing at its entry: in both views of the trade-off plot (the
    # front as a line through trials), and in the Pareto plot (the front, uniform and plan).
    for view in ("tradeoff-zoom", "tradeoff-all", "pareto"):
        drawn = [int(i) for i in re.findall(r'data-p="(\d+)"', _svg(page, view))]
        assert len(drawn) == len(set(drawn)) and set(drawn) <= set(range(len(data["points"])))
        expected = {
            i
            for i, p in enumerate(data["points"])
            if (p["kind"] != "front") == (view != "pareto") or p["kind"] in ("chosen", "baseline")
        }
        if view == "pareto":
            expected |= {i for i, p in enumerate(data["points"]) if p["kind"] == "uniform"}
        if view != "tradeoff-zoom":
            assert set(drawn) == expected, view
    assert '<polyline class="line front s-front"' in _svg(page, "tradeoff-all")


def test_layers_table_settings_and_figures(searched_run: tuple[analogc.CompileReport, str]) -> None:
    report, page = searched_run
    for layer in report.layers:
        assert f">{layer.name}</td>" in page and f">{layer.name}</text>" in page
    data = _data(page)
    row = dict(data["rows"][0]["fields"])
    first = report.layers[0]
    assert row["N"] == f"{first.repeats:,}" and row["bits"] == f"{round(first.enob, 2):.4g}"
    assert row["sensitivity"] and row["N uniform"] == f"{first.uniform_repeats:,}"
    for heading in ("Trade-off", "Pareto front", "Per-layer plan", "Settings"):
        assert f">{heading}</h2>" in page
    for text in ("effective bits", "energy share (%)", "sensitivity", "repeats N"):
        assert f">{text}</text>" in _svg(page, "layers-chart")
    search = report.search
    assert search is not None
    for setting in (report.hardware.name, report.budget.rule, search.study_name, "TPESampler"):
        assert setting.replace("·", "·") in page, setting
    assert "budget MET" in page and f"{100 * (report.saving or 0):.1f}%" in page


def test_fixed_repeats_page_has_no_trade_off(fixed_run: tuple[analogc.CompileReport, str]) -> None:
    report, page = fixed_run
    assert report.search is None
    assert "no search, so no trade-off or front to show" in page
    assert _data(page)["points"] == [] and "tradeoff-zoom" not in page
    assert ">repeats N</text>" in _svg(page, "layers-chart") and ">sensitivity<" not in page


def test_every_svg_is_well_formed_xml(searched_run: tuple[analogc.CompileReport, str]) -> None:
    _, page = searched_run
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(svgs) == 4  # trade-off (two zoom levels), Pareto, per-layer panels
    for svg in svgs:
        ET.fromstring(svg)  # raises on a tag left open or an unescaped name


def test_names_are_escaped_everywhere(searched_run: tuple[analogc.CompileReport, str]) -> None:
    report, _ = searched_run
    evil = '</script><script>alert("x")</script><b a="&'
    layers = [dataclasses.replace(report.layers[0], name=evil), *report.layers[1:]]
    hostile = dataclasses.replace(
        report, layers=layers, model=dataclasses.replace(report.model, path=evil)
    )
    page = compile_html(hostile)
    assert evil not in page and "<script>alert" not in page and '<b a="' not in page
    assert _data(page)["layers"][0] == evil  # the JSON still carries the real name
    for svg in re.findall(r"<svg .*?</svg>", page, flags=re.S):
        ET.fromstring(svg)


def test_rendered_again_from_report_json(searched_run: tuple[analogc.CompileReport, str]) -> None:
    """report.json read back gives the same report, hence the same page."""
    report, page = searched_run
    loaded = load_compile_report(report.outputs.report_json)
    assert loaded.document == report.document
    assert compile_html(loaded) == page
    assert len(plot_points(loaded)) == len(_data(page)["points"])


def _svg(page: str, chart_id: str) -> str:
    match = re.search(rf'<svg id="{chart_id}".*?</svg>', page, flags=re.S)
    assert match, f"no chart {chart_id}"
    return match.group(0)


# -- the chart helpers ---------------------------------------------------------------------------
def test_scales_map_ends_and_tick_inside() -> None:
    linear = Scale(0.0, 10.0, 100.0, 300.0)
    assert (linear(0.0), linear(5.0), linear(10.0)) == (100.0, 200.0, 300.0)
    assert linear.ticks() == [0, 2, 4, 6, 8, 10]
    log = Scale(1.0, 1000.0, 0.0, 300.0, log=True)
    assert (log(1.0), log(10.0), log(1000.0)) == (0.0, 100.0, 300.0)
    assert log.ticks() == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    wide = Scale(0.5, 2e5, 0.0, 1.0, log=True)
    assert wide.ticks() == [1, 10, 100, 1000, 10000, 100000]
    down = Scale(96.0, 99.5, 400.0, 10.0)  # y axes run upwards
    assert down(96.0) == 400.0 and down(99.5) == 10.0 and all(96 <= t <= 99.5 for t in down.ticks())


def test_ranges_and_tick_labels() -> None:
    lo, hi = nice_range([10.0, 100.0], log=True)
    assert lo < 10.0 and hi > 100.0
    lo, hi = nice_range([5.0, 5.0], log=True)
    assert lo < 5.0 < hi and hi / lo >= 3
    assert nice_range([], log=False) == (0.0, 1.0)
    assert [fmt_tick(v) for v in (0, 0.5, 12.5, 2000, 1e6, 1e-4)] == [
        "0",
        "0.5",
        "12.5",
        "2,000",
        "1e6",
        "1e-4",
    ]


def test_other_metrics_and_verdicts_render(searched_run: tuple[analogc.CompileReport, str]) -> None:
    """A metric without a percent unit, a budget not met, a search that evaluated nothing."""
    report, _ = searched_run
    assert report.search is not None
    cosine = dataclasses.replace(report.metric, name="cosine", unit="")
    empty = dataclasses.replace(report.search, points=[], front=[])
    page = compile_html(dataclasses.replace(report, metric=cosine, budget_met=False, search=empty))
    assert "budget NOT MET" in page and "cosine drop, search seeds" in page
    assert f"{report.metric.clean:.4g}" in page  # a plain number, not a percentage
    kinds = Counter(p["kind"] for p in _data(page)["points"])
    assert kinds["trial-ok"] == kinds["trial-over"] == kinds["front"] == 0 and kinds["chosen"] == 1
    for svg in re.findall(r"<svg .*?</svg>", page, flags=re.S):
        ET.fromstring(svg)


def test_budget_in_db_diagnosis_and_converter_caps(
    searched_run: tuple[analogc.CompileReport, str],
) -> None:
    """SQNR with a floor in dB (clean is infinite), a diagnosis, layers capped by an ADC."""
    from analogc.report.schema import Finding

    report, _ = searched_run
    search = report.search
    assert search is not None

    def in_db(p: SearchPoint) -> SearchPoint:
        return dataclasses.replace(p, metric=18.0 + p.metric)  # ~19 dB: around the floor

    sqnr = dataclasses.replace(
        report,
        metric=dataclasses.replace(report.metric, name="sqnr", unit="dB", clean=math.inf),
        budget=dataclasses.replace(report.budget, max_drop="19dB", allowed_drop=0.0, minimum=19.0),
        search=dataclasses.replace(
            search,
            points=[in_db(p) for p in search.points],
            front=[in_db(p) for p in search.front],
            uniform_curve=[in_db(p) for p in search.uniform_curve],
        ),
        dynamic=dataclasses.replace(report.dynamic, search_metric=19.5),
        layers=[dataclasses.replace(x, useful_repeats=300) for x in report.layers],
        diagnosis=[Finding("repeat_limit", "the layers hit N max", "use a finer ADC")],
    )
    page = compile_html(sqnr)
    assert "budget: ≥ 19 dB" in page and "above floor" in page and "upper left" in page
    assert "nan" not in page.lower().replace("nanometre", "")
    assert ">Why the budget was not met</h2>" in page and "use a finer ADC" in page
    assert "<th>N max</th>" in page and ">300</td>" in page
    for view in ("tradeoff-zoom", "pareto"):  # the floor is drawn, the clean line is not
        svg = _svg(page, view)
        assert 'class="ref budget"' in svg and 'class="ref clean"' not in svg
        ET.fromstring(svg)
    fields = dict(next(p for p in _data(page)["points"] if p["kind"] == "chosen")["fields"])
    assert fields["above the budget's floor"] == "0.5" and fields["sqnr"] == "19.5 dB"


def test_tick_labels_show_the_step() -> None:
    assert [t for _, t in Scale(19.98, 20.22, 0.0, 1.0).labels()] == [
        "20.00",
        "20.05",
        "20.10",
        "20.15",
        "20.20",
    ]
    assert [t for _, t in Scale(1.0, 100.0, 0.0, 1.0, log=True).labels()][:3] == ["1", "2", "5"]
