"""report.html in a real headless browser (Debian's Chromium, driven by Playwright): it
renders, its console stays clean, it asks for nothing over the network, and hovering a point
shows that configuration's repeats.

Needs ``pip install -e ".[browser]"`` (Playwright, without a browser download) and Chromium at
``/usr/bin/chromium`` (or ``ANALOGC_CHROMIUM``); skipped otherwise, except where
``ANALOGC_REQUIRE_BROWSER=1`` (CI) makes that a failure. Screenshots go to the test's tmp
folder and, when ``ANALOGC_ARTIFACTS`` names a folder, there too (CI prints where).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_pages import searched

import analogc

CHROMIUM = Path(os.environ.get("ANALOGC_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("ANALOGC_REQUIRE_BROWSER") == "1"
# Flags known to work here as root with a closed network (no sandbox, no background fetches).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'Playwright is not installed (pip install -e ".[browser]")'
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ANALOGC_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A Chromium context with a fresh profile (one per module: starting one takes seconds)."""
    reason = _missing()
    if reason:
        if REQUIRED:
            pytest.fail(f"ANALOGC_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> analogc.CompileReport:
    return searched(tmp_path_factory.mktemp("page"))


class Page:
    """A loaded report.html, with everything the page logged and asked for."""

    def __init__(self, context: Any, path: Path) -> None:
        self.page = context.new_page()
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def tooltip(self) -> str:
        tip = self.page.locator("#tooltip")
        tip.wait_for(state="visible", timeout=2000)
        return str(tip.inner_text())

    def keep(self, tmp_path: Path, name: str, *, full_page: bool = False) -> Path:
        """A screenshot, kept as a test artefact."""
        path = tmp_path / name
        self.page.screenshot(path=str(path), full_page=full_page)
        artefacts = os.environ.get("ANALOGC_ARTIFACTS")
        if artefacts:
            Path(artefacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(artefacts) / name)
        return path


@pytest.fixture
def page(browser: Any, report: analogc.CompileReport) -> Iterator[Page]:
    loaded = Page(browser, Path(report.outputs.report_html or ""))
    yield loaded
    loaded.page.close()


def test_renders_with_a_clean_console_and_no_network(
    page: Page, report: analogc.CompileReport, tmp_path: Path
) -> None:
    p = page.page
    assert p.title().startswith("analogc report: digits_cnn.onnx")
    for chart in ("#tradeoff-zoom", "#pareto", "#layers-chart"):
        box = p.locator(chart).bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 150, (chart, box)
    assert p.locator("#tradeoff-all").is_hidden()  # the second zoom level waits for its button
    assert report.search is not None
    front = p.locator("#section-pareto ~ .table-wrap table.sortable").first
    assert front.locator("tbody tr").count() == len(report.search.front) > 1
    layers = p.locator("#section-layers ~ .table-wrap table.sortable").first
    assert layers.locator("tbody tr").count() == len(report.layers) == 4  # the CNN's 4 ops
    shot = page.keep(tmp_path, "report-html.png", full_page=True)
    assert shot.stat().st_size > 20_000
    assert page.console == [], page.console
    assert page.requests == [page.url], page.requests  # the page itself, nothing else


def test_hovering_a_point_shows_its_repeats_and_metric(
    page: Page, report: analogc.CompileReport, tmp_path: Path
) -> None:
    p = page.page
    p.locator("#tradeoff-zoom .pt.chosen").hover()
    text = page.tooltip()
    assert "per-layer plan (chosen)" in text
    assert f"{report.dynamic.energy_per_mac:.4g} photons/MAC" in text
    assert report.metric.name in text
    for layer in report.layers:
        assert f"{layer.name}\nN = {layer.repeats}" in text, text
    page.keep(tmp_path, "report-html-hover.png")

    # Another configuration: the tooltip follows the point under the mouse.
    search = report.search
    assert search is not None
    evaluated = [x for x in search.points if x.source != "inferred"]
    p.locator(".zoom button[data-view=all]").click()
    for series in ("chosen", "baseline", "uniform"):  # markers over the trials: hidden
        p.locator(f"#tradeoff-figure .legend button[data-series={series}]").click()
    # The last trial drawn is on top of any other it overlaps.
    target = p.locator("#tradeoff-all .pt.trial-ok, #tradeoff-all .pt.trial-over").last
    target.hover()
    index = int(target.get_attribute("data-p") or -1)
    first_trial = len(search.uniform_curve)  # the uniform curve's points come first
    shown = evaluated[index - first_trial]
    text = page.tooltip()
    assert "per-layer configuration" in text
    for name, n in shown.repeats.items():
        assert f"{name}\nN = {n}" in text, text

    # A layer of the per-layer chart shows its figures.
    p.locator("#layers-chart .row").nth(1).hover()
    text = page.tooltip()
    layer = report.layers[1]
    assert text.startswith(layer.name) and f"N\n{layer.repeats:,}" in text.replace(" ", "\n")
    p.mouse.move(2, 2)
    p.locator("#tooltip").wait_for(state="hidden", timeout=2000)
    assert page.console == [], page.console


def test_click_pins_and_escape_unpins(page: Page) -> None:
    p = page.page
    p.locator("#pareto .pt.chosen").click()
    p.mouse.move(2, 2)
    assert "per-layer plan (chosen)" in page.tooltip()  # still there: pinned
    p.keyboard.press("Escape")
    p.locator("#tooltip").wait_for(state="hidden", timeout=2000)


def test_legend_zoom_and_sorting(page: Page, report: analogc.CompileReport) -> None:
    p = page.page
    uniform = p.locator("#tradeoff-zoom .pt.uniform").first
    assert uniform.is_visible()
    legend = p.locator("#tradeoff-figure .legend button[data-series=uniform]")
    legend.click()
    assert uniform.is_hidden() and p.locator("#tradeoff-zoom .line.uniform").is_hidden()
    legend.click()
    assert uniform.is_visible()
    p.locator(".zoom button[data-view=all]").click()
    assert p.locator("#tradeoff-all").is_visible() and p.locator("#tradeoff-zoom").is_hidden()
    table = p.locator("#section-layers ~ .table-wrap table").first
    table.locator("th", has_text="N").first.click()
    first = table.locator("tbody tr").first.locator("td").first.inner_text()
    assert first == min(report.layers, key=lambda x: x.repeats).name
    table.locator("th", has_text="N").first.click()
    first = table.locator("tbody tr").first.locator("td").first.inner_text()
    assert first == max(report.layers, key=lambda x: x.repeats).name
    assert page.console == [], page.console
