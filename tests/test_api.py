"""The Python API at the package root: typed settings in, typed reports out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import analogc
from analogc.errors import ConfigError

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


def test_every_public_name_resolves() -> None:
    for name in analogc.__all__:
        assert getattr(analogc, name) is not None, name
    with pytest.raises(AttributeError):
        analogc.no_such_name  # noqa: B018


def test_compile_with_settings_object_and_keywords(tmp_path: Path) -> None:
    settings = analogc.CompileSettings(data="demo:calib", repeats=12, plots=False)
    by_object = analogc.compile(CNN, settings, output_dir=tmp_path / "a")
    by_keywords = analogc.compile(
        CNN, data="demo:calib", repeats=12, plots=False, output_dir=tmp_path / "b"
    )
    assert isinstance(by_object, analogc.CompileReport)
    assert [x.repeats for x in by_object.layers] == [12] * 4
    assert by_object.dynamic.energy_per_mac == by_keywords.dynamic.energy_per_mac == 12.0
    assert by_object.search is None and by_object.uniform is None  # no search: null sections
    document = json.loads((tmp_path / "a" / "report.json").read_text())
    assert document == by_object.document and document["schema_version"] == 3
    assert document["search"] is None and document["layers"][0]["sensitivity"] is None


@pytest.mark.parametrize("strategy", ["uniform", "analytic"])
def test_setup_strategies_plan_on_their_own(tmp_path: Path, strategy: str) -> None:
    search = analogc.SearchSettings(strategy=strategy, seeds=2, validation_seeds=2)
    report = analogc.compile(
        CNN, data="demo:calib", search=search, plots=False, output_dir=tmp_path
    )
    assert report.search is not None and report.search.strategy == strategy
    assert report.search.trials == 0  # no Optuna trials: the setup's answer is the plan
    repeats = {x.name: x.repeats for x in report.layers}
    if strategy == "uniform":
        assert set(repeats.values()) == {report.uniform.repeats}  # type: ignore[union-attr]
    else:
        assert repeats == report.analytic.repeats  # type: ignore[union-attr]
    assert report.budget_met == report.dynamic.feasible


def test_inspect_evaluate_strip(tmp_path: Path) -> None:
    inspected = analogc.inspect(CNN)
    assert isinstance(inspected, analogc.InspectReport) and inspected.macs.analog > 0
    analogc.compile(CNN, data="demo:calib", repeats=8, plots=False, output_dir=tmp_path)
    annotated = tmp_path / "digits_cnn.analog.onnx"
    evaluated = analogc.evaluate(annotated, data="demo:test", seeds=2)
    assert isinstance(evaluated, analogc.EvalReport) and len(evaluated.evaluation.values) == 2
    assert analogc.strip(annotated, tmp_path / "plain.onnx").exists()


def test_settings_are_checked_on_construction() -> None:
    with pytest.raises(ConfigError, match="repeats"):
        analogc.CompileSettings(repeats=0)
    with pytest.raises(ConfigError, match="seeds"):
        analogc.EvaluateSettings(seeds=0)
    with pytest.raises(ConfigError, match="unknown search strategy 'x'; choose from tpe"):
        analogc.SearchSettings(strategy="x")
