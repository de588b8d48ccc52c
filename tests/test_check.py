"""``analogc check``, the CI gate: a new export planned with a baseline's settings passes when
it needs no more energy per MAC and meets the budget, fails (exit 1) otherwise, and refuses
(exit 2, one line) what would not be the same budget."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from click.testing import CliRunner, Result
from onnx import numpy_helper

import analogc
from analogc.cli import cli
from analogc.errors import ConfigError
from analogc.gate import parse_tolerance
from analogc.report import EXIT_BUDGET_NOT_MET, EXIT_OK, EXIT_USAGE
from analogc.report.check_text import MAX_LAYER_ROWS, check_text
from analogc.report.load import load_compile_report
from analogc.report.schema import BudgetInfo, CheckedPlan, CheckReport, LayerChange

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"
CALIB = MODELS / "digits_calib.npz"


def invoke(args: list[str], exit_code: int) -> Result:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == exit_code, (
        f"analogc {' '.join(args)} exited {result.exit_code}, expected {exit_code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def one_line_error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and lines[-1].startswith("analogc: error:"), result.stderr
    return lines[-1]


def _edit(report: Path, out: Path, change: Any) -> Path:
    """A copy of a report.json with ``change(document)`` applied."""
    document = json.loads(report.read_text())
    change(document)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document))
    return out


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline made by a short TPE search (as `analogc compile` writes it)."""
    out = tmp_path_factory.mktemp("searched")
    search = ["--trials", "8", "--seeds", "4"]
    invoke(["compile", str(CNN), "-d", str(CALIB), *search, "-o", str(out), "-q"], EXIT_OK)
    return out / "report.json"


FIXED_N = 256
"""Repeats of the fixed baseline: well inside the 1% budget (a drop of ~0.2 points), so a
re-export with slightly moved weights meets it too, whatever the noise draws."""


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline with fixed repeats (quick: no search)."""
    out = tmp_path_factory.mktemp("fixed")
    n = str(FIXED_N)
    invoke(["compile", str(CNN), "-d", str(CALIB), "-n", n, "-o", str(out), "-q"], EXIT_OK)
    return out / "report.json"


def test_same_model_passes_and_replays_the_search(searched: Path, tmp_path: Path) -> None:
    base = load_compile_report(searched)
    result = invoke(
        ["check", str(CNN), "--baseline", str(searched), "-o", str(tmp_path / "new"), "-q"],
        EXIT_OK,  # no --data: the baseline's data is still where it was
    )
    text = result.stdout
    assert "(same model)" in text and "per-layer repeats: the same in all 4 layers" in text
    assert f"OK: Ē {base.dynamic.energy_per_mac:.4g} → {base.dynamic.energy_per_mac:.4g}" in text
    new = load_compile_report(tmp_path / "new" / "report.json")
    assert new.search is not None and base.search is not None
    assert (new.search.strategy, new.search.trials, new.search.seeds) == ("tpe", 8, 4)
    assert new.budget == base.budget and new.hardware == base.hardware
    assert [x.repeats for x in new.layers] == [x.repeats for x in base.layers]
    assert (tmp_path / "new" / "report.html").is_file()
    assert len(text.splitlines()) <= 25, "the diff fits on one screen"


def test_more_energy_than_the_baseline_fails_with_a_diff(searched: Path, tmp_path: Path) -> None:
    """A baseline plan cheaper than the new one (here: its figures edited down) is a regression."""

    def cheaper(doc: dict[str, Any]) -> None:
        doc["dynamic"]["energy_per_mac"] *= 0.8
        doc["layers"][0]["repeats"] = max(1, doc["layers"][0]["repeats"] // 2)

    baseline = _edit(searched, tmp_path / "base" / "report.json", cheaper)
    args = ["check", str(CNN), "-b", str(baseline), "-d", str(CALIB), "-o", str(tmp_path / "n")]
    result = invoke([*args, "-q"], EXIT_BUDGET_NOT_MET)
    text = result.stdout
    assert "REGRESSION: the new plan needs 25.0% more energy per MAC than the baseline" in text
    first = load_compile_report(searched).layers[0]
    halved = max(1, first.repeats // 2)
    change = f"{first.repeats - halved:+,} ({100 * (first.repeats / halved - 1):+.0f}%)"
    assert f"{first.name}" in text and change in text, text
    assert "OK:" not in text
    # A tolerance above the increase accepts it.
    invoke([*args, "-q", "--tolerance", "30%"], EXIT_OK)
    # --json: the same verdict, machine-readable, alone on stdout.
    result = invoke([*args, "-q", "--json"], EXIT_BUDGET_NOT_MET)
    document = json.loads(result.stdout)
    assert document["command"] == "check" and document["passed"] is False
    assert document["energy_change"] == pytest.approx(0.25)
    assert document["regressions"] == [
        line.removeprefix("REGRESSION: ") for line in text.splitlines() if "REGRESSION" in line
    ]
    assert document["layers"][0] == {"name": first.name, "baseline": halved, "new": first.repeats}
    assert document["settings"]["max_drop"] == "1%" and document["settings"]["trials"] == 8
    assert document["new"]["report"] == str(tmp_path / "n" / "report.json")


def test_a_plan_over_budget_fails(fixed: Path, tmp_path: Path) -> None:
    """With fixed repeats the check replays them; a budget they do not meet is a regression."""

    def tighter(doc: dict[str, Any]) -> None:
        doc["budget"]["max_drop"] = "0.0001%"

    baseline = _edit(fixed, tmp_path / "base" / "report.json", tighter)
    out = tmp_path / "new"
    result = invoke(["check", str(CNN), "-b", str(baseline), "-o", str(out), "-q"], 1)
    assert "REGRESSION: the new plan does not meet the budget (max drop 0.0001%" in result.stdout
    assert "needs" not in result.stdout  # same repeats: same energy
    new = load_compile_report(out / "report.json")
    assert new.mode == "fixed" and {x.repeats for x in new.layers} == {FIXED_N}


def test_another_export_is_compared_layer_by_layer(fixed: Path, tmp_path: Path) -> None:
    """A re-export whose weights moved: planned and compared (fixed repeats: same energy)."""
    model = onnx.load(CNN)
    rng = np.random.default_rng(3)
    for init in model.graph.initializer:
        weights = numpy_helper.to_array(init)
        if weights.ndim > 1:
            noisy = weights + 0.02 * weights.std() * rng.standard_normal(weights.shape)
            init.CopyFrom(numpy_helper.from_array(noisy.astype(weights.dtype), init.name))
    path = tmp_path / "retrained.onnx"
    onnx.save(model, path)
    report = analogc.check(path, fixed, output_dir=tmp_path / "new")
    assert isinstance(report, CheckReport) and report.passed, report.regressions
    assert report.new.sha256 != report.baseline.sha256 and report.energy_change == 0.0
    assert [(x.baseline, x.new) for x in report.layers] == [(FIXED_N, FIXED_N)] * 4
    assert "(same model)" not in check_text(report)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "SUB"], r"budget was measured on 300 examples .* this data has 100: not the same"),
        (["-b", "nope.json"], "nope.json: no such report"),
        (["-b", "EVAL"], "not the report.json of `analogc compile`"),
        (["-b", "OLD"], "report schema version 1, this analogc reads version 3"),
        (["-b", "NODATA"], r"its calibration data \(/gone/calib.npz\) is not here; give the same"),
        (["-o", "BASEDIR"], "would overwrite the baseline"),
        (["--tolerance", "-1%"], "tolerance '-1%' must be >= 0"),
    ],
)
def test_what_is_not_the_same_budget_is_refused(
    fixed: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    subset = tmp_path / "sub.npz"
    with np.load(CALIB) as npz:
        np.savez(subset, image=npz["image"][:100], labels=npz["labels"][:100])
    evaluated = tmp_path / "eval.json"
    evaluated.write_text(json.dumps({"command": "eval", "schema_version": 2}))
    old = _edit(fixed, tmp_path / "old" / "report.json", lambda d: d.pop("schema_version"))

    def gone(doc: dict[str, Any]) -> None:
        doc["data"]["source"] = "/gone/calib.npz"

    nodata = _edit(fixed, tmp_path / "nodata" / "report.json", gone)
    where = {
        "SUB": str(subset),
        "EVAL": str(evaluated),
        "OLD": str(old),
        "NODATA": str(nodata),
        "BASEDIR": str(fixed.parent),
    }
    args = [where.get(a, a) for a in args]
    if "-b" not in args:
        args += ["-b", str(fixed)]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "new")]
    result = invoke(["check", str(CNN), *args, "-q"], EXIT_USAGE)
    assert re.search(message, one_line_error(result)), result.stderr
    assert not (tmp_path / "new" / "report.json").exists()


def test_baseline_is_never_modified(fixed: Path, tmp_path: Path) -> None:
    before = fixed.read_bytes()
    copy = tmp_path / "base" / "report.json"
    copy.parent.mkdir()
    shutil.copy(fixed, copy)
    invoke(["check", str(CNN), "-b", str(copy), "-o", str(tmp_path / "new"), "-q"], EXIT_OK)
    assert copy.read_bytes() == before


def test_tolerance_and_long_diffs() -> None:
    assert parse_tolerance("2%") == pytest.approx(0.02) and parse_tolerance(0.05) == 0.05
    with pytest.raises(ConfigError, match="not a number"):
        parse_tolerance("two")
    many = [LayerChange(f"layer{i}", 10, 10 + i) for i in range(1, 41)] + [
        LayerChange("gone", 5, None),
        LayerChange("same", 7, 7),
    ]
    text = check_text(_check_report(many))
    rows = [line for line in text.splitlines() if line.startswith(("layer", "gone"))]
    assert len(rows) == MAX_LAYER_ROWS + 1  # + the header
    assert "gone" in text and "removed" in text  # the biggest change comes first
    assert f"({40 - MAX_LAYER_ROWS + 1} more changed, 1 unchanged)" in text


def _check_report(layers: list[LayerChange]) -> CheckReport:
    side = CheckedPlan("r.json", "m.onnx", "abc", 10.0, 0.9, 0.01, 0.95, True)
    return CheckReport(
        passed=True,
        regressions=[],
        tolerance=0.0,
        metric="accuracy",
        metric_unit="%",
        energy_unit="photons",
        budget=BudgetInfo("1%", 0.0095, "rule", 0.95, 8),
        baseline=side,
        new=side,
        energy_change=0.0,
        layers=layers,
        settings={},
    )


def test_a_budget_in_db_is_replayed(tmp_path: Path) -> None:
    """SQNR with a floor in dB: the baseline's floor, and a clean value that is the reference."""
    base = tmp_path / "base"
    make = ["compile", str(CNN), "-d", str(CALIB), "-n", "64", "--metric", "sqnr"]
    invoke([*make, "--max-drop", "15dB", "-o", str(base), "-q"], EXIT_OK)
    args = ["check", str(CNN), "-b", str(base / "report.json"), "-o", str(tmp_path / "new")]
    result = invoke([*args, "-q"], EXIT_OK)
    assert "max drop 15dB of sqnr" in result.stdout and "nan" not in result.stdout
    assert re.search(r"sqnr clean\s+∞\s+∞", result.stdout), result.stdout
    new = load_compile_report(tmp_path / "new" / "report.json")
    assert new.budget.minimum == 15.0 and new.metric.name == "sqnr"


def test_layer_rules_and_pins_are_replayed(tmp_path: Path) -> None:
    """--digital and --pin change the plan: the check applies the baseline's."""
    base = tmp_path / "base"
    rules = ["--digital", "/fc2/*", "--pin", "/conv1/*=300"]
    invoke(["compile", str(CNN), "-d", str(CALIB), "-n", "128", *rules, "-o", str(base), "-q"], 0)
    report = analogc.check(CNN, base / "report.json", output_dir=tmp_path / "new")
    assert report.passed, report.regressions
    new = load_compile_report(tmp_path / "new" / "report.json")
    assert [(x.name, x.repeats, x.pinned) for x in new.layers] == [
        ("/conv1/Conv", 300, True),
        ("/conv2/Conv", 128, False),
        ("/fc1/Gemm", 128, False),
    ]
    assert [x.name for x in new.digital] == ["/fc2/Gemm"]
    assert report.settings["rules"] == ["--digital[1]", "--pin[1]"]
    page = (tmp_path / "new" / "report.html").read_text()
    assert "--pin[1] (pinned)" in page and "--digital[1]" in page  # the rule columns
