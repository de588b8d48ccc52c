"""Compile reports for the report.html tests: one short search and one with fixed repeats on
the demo's small CNN (shared by the page's Python and browser tests)."""

from __future__ import annotations

from pathlib import Path

import analogc

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


def searched(out: Path) -> analogc.CompileReport:
    """A real search (TPE, a few trials): every series of the trade-off plot has points.

    The normal quantile: with 4 seeds Student's t (2.35) leaves this short search a front of
    one configuration, and these pages are about how a front of several is drawn."""
    search = analogc.SearchSettings(trials=12, seeds=4, validation_seeds=4, quantile="normal")
    return analogc.compile(CNN, data="demo:calib", search=search, plots=False, output_dir=out)


def fixed(out: Path) -> analogc.CompileReport:
    """Fixed repeats: no search, so no trade-off or front."""
    return analogc.compile(CNN, data="demo:calib", repeats=16, plots=False, output_dir=out)
