"""``--metric auto`` fits the model's output and says what it chose and why (issue 12): top-1
agreement over 80 flattened values of a ``[batch, 5, 16]`` output meant nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from analogc.cli import cli
from analogc.errors import ConfigError
from analogc.metric_choice import choose_metric
from analogc.report import EXIT_OK, EXIT_USAGE
from analogc.runtime.data import Dataset

K = 8


def projection_model(per_example: tuple[int, ...]) -> onnx.ModelProto:
    """x [batch, 8] @ W -> reshaped to [batch, *per_example]."""
    size = int(np.prod(per_example))
    w = np.random.default_rng(0).standard_normal((K, size)).astype(np.float32)
    shape = np.array([-1, *per_example], dtype=np.int64)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["y"], name="proj"),
            helper.make_node("Reshape", ["y", "shape"], ["out"], name="reshape"),
        ],
        "projection",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", K])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", *per_example])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(shape, "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


UNLABELLED = Dataset({"x": np.zeros((4, K), np.float32)})


@pytest.mark.parametrize(
    ("per_example", "metric", "words"),
    [
        ((5, 16), "cosine", ["[batch, 5, 16]", "not one score per class"]),
        ((10,), "agreement", ["[batch, 10]", "class scores", "--metric cosine"]),
    ],
)
def test_auto_picks_from_the_output_shape_and_says_why(
    per_example: tuple[int, ...], metric: str, words: list[str]
) -> None:
    chosen = choose_metric("auto", UNLABELLED, projection_model(per_example))
    assert chosen.metric.name == metric
    assert chosen.reason is not None and all(w in chosen.reason for w in words), chosen.reason


def test_auto_with_labels_is_accuracy_and_says_so() -> None:
    labelled = Dataset({"x": np.zeros((4, K), np.float32)}, np.zeros(4, np.int64))
    chosen = choose_metric("auto", labelled, projection_model((10,)))
    assert chosen.metric.name == "accuracy" and "labels" in (chosen.reason or "")


@pytest.mark.parametrize("per_example", [(), (1,)])
def test_auto_refuses_one_value_per_example(per_example: tuple[int, ...]) -> None:
    """[batch] or [batch, 1]: agreement would always be 1, cosine only a sign test."""
    with pytest.raises(ConfigError, match=r"one value per example.*--metric sqnr"):
        choose_metric("auto", UNLABELLED, projection_model(per_example))


def test_given_metric_has_no_reason() -> None:
    chosen = choose_metric("cosine", UNLABELLED, projection_model((10,)))
    assert chosen.metric.name == "cosine" and chosen.reason is None


def test_compile_says_which_metric_and_why(tmp_path: Path) -> None:
    path = tmp_path / "seq.onnx"
    onnx.save(projection_model((5, 16)), path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["compile", str(path), "-n", "64", "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK, result.stderr
    assert "metric: cosine (auto: no labels; output 'out' is [batch, 5, 16]" in result.stderr
    assert "chosen by --metric auto:" in result.stdout and "[batch, 5, 16]" in result.stdout
    document = json.loads((out / "report.json").read_text())
    assert document["metric"]["name"] == "cosine"
    assert "[batch, 5, 16]" in document["metric"]["reason"]
    assert "[batch, 5, 16]" in (out / "report.md").read_text()


def test_compile_refuses_auto_on_a_scalar_output(tmp_path: Path) -> None:
    path = tmp_path / "scalar.onnx"
    onnx.save(projection_model((1,)), path)
    result = CliRunner().invoke(cli, ["compile", str(path), "-n", "4"], catch_exceptions=False)
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.splitlines()[-1].startswith("analogc: error: --metric auto")
