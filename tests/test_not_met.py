"""A budget that is not met says why and what to try (issue 12): fixed repeats say that
nothing was searched, and a search that climbs to the repeat limit says whether near-tied
scores or too few examples are to blame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner, Result
from onnx import TensorProto, helper, numpy_helper

from analogc.cli import cli
from analogc.report import EXIT_BUDGET_NOT_MET

MODELS = Path(__file__).resolve().parents[1] / "models"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == EXIT_BUDGET_NOT_MET, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def test_fixed_repeats_say_the_plan_misses_and_write_the_plots(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = invoke(
        [
            "compile",
            str(MODELS / "digits_cnn.onnx"),
            "-d",
            "demo:calib",
            "-n",
            "2",
            "-o",
            str(out),
            "-q",
        ]
    )
    last = result.stderr.splitlines()[-1]
    assert "this plan does not meet the budget" in last and "nothing was searched" in last
    assert "best configuration found" not in result.stderr, "nothing was searched"
    assert "why: this plan (N = 2 in every layer, from --repeats)" in result.stdout
    assert "try: raise --repeats" in result.stdout
    document = json.loads((out / "report.json").read_text())
    assert [x["cause"] for x in document["diagnosis"]] == ["fixed_repeats"]
    for name in ("tradeoff.png", "precision.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
        assert name in result.stdout.splitlines()[-1], "listed under wrote"
    assert document["outputs"]["tradeoff_plot"] and document["outputs"]["study"] is None
    assert "## Why the budget was not met" in (out / "report.md").read_text()


def tied_model() -> onnx.ModelProto:
    """Four class scores in two exactly tied pairs (columns 0 = 1, 2 = 3 = −0): every
    example's top two scores tie, so noise flips its class at any precision."""
    w = np.random.default_rng(3).standard_normal((8, 1)).astype(np.float32)
    weights = np.concatenate([w, w, -w, -w], axis=1)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["scores"], name="classifier")],
        "tied",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def tied_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    folder = tmp_path_factory.mktemp("tied")
    onnx.save(tied_model(), folder / "tied.onnx")
    out = folder / "out"
    result = invoke(
        [
            "compile",
            str(folder / "tied.onnx"),
            "--strategy",
            "uniform",
            "--seeds",
            "2",
            "-o",
            str(out),
            "-q",
        ]
    )
    return out, result


def test_search_at_the_repeat_limit_says_why(tied_run: tuple[Path, Result]) -> None:
    out, result = tied_run
    document = json.loads((out / "report.json").read_text())
    causes = [x["cause"] for x in document["diagnosis"]]
    assert causes == ["too_few_examples", "repeat_limit", "near_ties"], causes
    text = result.stdout
    assert "why: even N = 65,536 in every layer (the repeat limit) misses the budget" in text
    assert "examples change class even at N = 65,536" in text and "near ties" in text
    assert "typical of random inputs" in text and "give real calibration data" in text
    assert "less than one example in 64" in text and "--max-drop 0.016" in text, text
    assert "are exactly tied" in text
    assert "NOT met" in result.stderr.splitlines()[-1]


def test_diagnosis_is_in_report_md(tied_run: tuple[Path, Result]) -> None:
    out, _ = tied_run
    markdown = (out / "report.md").read_text()
    assert "## Why the budget was not met" in markdown and "near ties" in markdown


def test_met_budget_has_no_diagnosis(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "compile",
            str(MODELS / "digits_cnn.onnx"),
            "-d",
            "demo:calib",
            "-n",
            "4096",
            "-o",
            str(tmp_path / "o"),
            "-q",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "o" / "report.json").read_text())["diagnosis"] is None
    assert "why:" not in result.stdout
