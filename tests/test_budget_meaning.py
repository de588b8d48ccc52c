"""Budgets that mean what their author meant (issue 12): ``--max-drop 1`` on a bounded metric is
refused instead of allowing 100 points, and SQNR gets a budget it can meet: the lowest SQNR
allowed, in dB, against an infinite clean reference (not a 304 dB floor artefact)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from analogc.budget import Budget
from analogc.cli import cli
from analogc.errors import ConfigError
from analogc.pipeline import compile_model
from analogc.report import EXIT_USAGE, compile_markdown, compile_text
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.metrics import METRICS
from analogc.runtime.stats import z_one_sided
from analogc.search import SearchSettings

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


def usage_error(args: list[str]) -> str:
    result: Result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == EXIT_USAGE, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and lines[-1].startswith("analogc: error:"), result.stderr
    return lines[-1]


# -- a drop at or above a bounded metric's scale ---------------------------------------------
@pytest.mark.parametrize(
    ("metric", "max_drop"),
    [("auto", "1"), ("accuracy", "1"), ("agreement", "1"), ("cosine", "1"), ("accuracy", "5")],
)
def test_absolute_drop_of_the_whole_scale_is_refused(
    tmp_path: Path, metric: str, max_drop: str
) -> None:
    line = usage_error(
        [
            "compile",
            str(CNN),
            "-d",
            "demo:calib",
            "--metric",
            metric,
            "--max-drop",
            max_drop,
            "-n",
            "4",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert f"--max-drop {max_drop} is an absolute drop" in line, line
    assert f"{max_drop}%" in line and f"{float(max_drop) / 100:g}" in line, line
    assert not (tmp_path / "o").exists(), "refused before anything was written"


@pytest.mark.parametrize("name", ["accuracy", "agreement", "cosine"])
def test_bounded_metrics_declare_their_scale(name: str) -> None:
    metric = METRICS[name]
    Budget.parse("0.99").check(metric)  # 99 points: large, but it means something
    Budget.parse("100%").check(metric)  # relative: at most the whole clean value
    with pytest.raises(ConfigError, match="whole scale"):
        Budget.parse("1").check(metric)


def test_custom_and_unbounded_metrics_take_any_absolute_drop() -> None:
    from analogc.runtime.metrics import Metric

    unbounded = Metric("loss", lambda noisy, clean, labels: np.zeros(len(noisy[0])), unit="")
    Budget.parse("5").check(unbounded)


# -- SQNR: an infinite clean reference and a budget in dB ------------------------------------
def test_sqnr_of_exact_outputs_is_a_scale_free_ceiling() -> None:
    """An exact example scores float32's resolution, 10·log10(2^48) dB, at any output scale
    (the old 1e-30 clamp made it 300 dB at scale 1 and 180 dB at scale 1e-6)."""
    ceiling = 10 * math.log10(2.0**48)
    for scale in (1e-6, 1.0, 1e6):
        y = scale * np.array([[3.0, 4.0], [1.0, 2.0]])
        assert np.allclose(METRICS["sqnr"].score([y], [y], None), ceiling), scale


def test_sqnr_budget_is_a_minimum_in_db() -> None:
    budget = Budget.parse("30dB")
    assert budget.minimum and budget.value == 30.0 and str(budget) == "30dB"
    budget.check(METRICS["sqnr"])
    values = (31.0, 33.0, 32.0)
    evaluation = Evaluation("sqnr", math.inf, values, (0, 1, 2))
    acceptance = budget.acceptance(clean=math.inf, quantile="normal")  # the z rule
    se = float(np.std(values, ddof=1)) / math.sqrt(3)
    expected = 30.0 - 32.0 + z_one_sided(0.95) * se  # floor − mean + z·SE
    assert acceptance.floor == 30.0 and acceptance.allowed == 0.0
    assert acceptance.margin(evaluation) == pytest.approx(expected), "margin below the floor"
    assert acceptance.feasible(evaluation)
    assert not Budget.parse("31.5dB").acceptance(math.inf).feasible(evaluation)
    assert "≥ 30" in acceptance.rule, acceptance.rule


@pytest.mark.parametrize(("metric", "max_drop"), [("sqnr", "1%"), ("sqnr", "3")])
def test_sqnr_refuses_a_drop_from_its_infinite_clean_value(
    tmp_path: Path, metric: str, max_drop: str
) -> None:
    line = usage_error(
        [
            "compile",
            str(CNN),
            "-d",
            "demo:calib",
            "--metric",
            metric,
            "--max-drop",
            max_drop,
            "-n",
            "4",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert "infinite" in line and "--max-drop 30dB" in line, line


def test_budget_in_db_is_only_for_a_metric_in_db(tmp_path: Path) -> None:
    line = usage_error(
        [
            "compile",
            str(CNN),
            "-d",
            "demo:calib",
            "--max-drop",
            "30dB",
            "-n",
            "4",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert "lowest SQNR" in line and "'accuracy'" in line, line


@pytest.mark.parametrize("text", ["dB", "xdB", "infdB", "nandB"])
def test_budget_in_db_must_be_a_finite_number(text: str) -> None:
    with pytest.raises(ConfigError, match="dB"):
        Budget.parse(text)


@pytest.fixture(scope="module")
def sqnr_report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("sqnr") / "out"
    # Explored on every example: the curve's margins are then those of the data the plan
    # is confirmed on (on a subset they are the subset's).
    search = SearchSettings(strategy="uniform", seeds=2, validation_seeds=4, explore_examples=0)
    report = compile_model(
        CNN, data="demo:calib", metric="sqnr", max_drop="20dB", search=search, output_dir=out
    )
    return out, report


def test_sqnr_search_meets_a_floor_in_db(sqnr_report) -> None:  # type: ignore[no-untyped-def]
    out, report = sqnr_report
    assert report.budget_met and report.budget.minimum == 20.0
    assert math.isinf(report.metric.clean), "the clean outputs are the reference"
    curve = sorted(report.search.uniform_curve, key=lambda p: p.energy_per_mac)
    # The plan is the smallest uniform N whose SQNR clears 20 dB (with its margin); the N
    # below it does not, and SQNR grows about 10·log10(2) = 3 dB per doubling of N.
    chosen = report.layers[0].repeats
    assert all((p.margin <= 0) == (p.repeats[report.layers[0].name] >= chosen) for p in curve)
    assert report.dynamic.evaluation.mean > 20.0
    doubled = [p for p in curve if p.repeats[report.layers[0].name] in (chosen, 2 * chosen)]
    if len(doubled) == 2:
        assert doubled[1].metric - doubled[0].metric == pytest.approx(3.0, abs=1.0)
    document = json.loads((out / "report.json").read_text())
    assert document["metric"]["clean"] is None and document["budget"]["minimum"] == 20.0
    text = compile_text(report)
    assert "clean +∞ dB" in text and "budget: sqnr at least 20 dB" in text, text
    assert "+∞ dB" in compile_markdown(report)
    assert (out / "tradeoff.png").exists()
