"""onnxruntime's CalibrationDataReader as calibration data: what people who quantize with
onnxruntime already have is accepted by ``analogc.compile`` and ``analogc.evaluate``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnxruntime.quantization import CalibrationDataReader

import analogc
from analogc.errors import DataError

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


def _demo_arrays() -> tuple[np.ndarray, np.ndarray]:
    with np.load(MODELS / "digits_calib.npz") as npz:
        return npz["image"], npz["labels"]


class DigitsReader(CalibrationDataReader):  # type: ignore[misc]
    """The reader onnxruntime's quantization examples write: one dict per batch, then None."""

    def __init__(self, batch: int, *, labels: bool = False) -> None:
        images, classes = _demo_arrays()
        self.batches = [
            {"image": images[i : i + batch]}
            | ({"labels": classes[i : i + batch]} if labels else {})
            for i in range(0, len(images), batch)
        ]
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = iter(self.batches)


class DuckReader:
    """No onnxruntime base class: only ``get_next()``, as onnxruntime's duck typing allows."""

    def __init__(self, batches: list[object]) -> None:
        self.batches = list(batches)

    def get_next(self) -> object:
        return self.batches.pop(0) if self.batches else None


def _compile(data: object, out: Path, **options: object) -> analogc.CompileReport:
    return analogc.compile(CNN, data=data, repeats=6, plots=False, output_dir=out, **options)


def test_ort_reader_gives_the_same_plan_as_the_same_arrays(tmp_path: Path) -> None:
    images, _ = _demo_arrays()
    assert isinstance(DigitsReader(32), CalibrationDataReader)
    by_reader = _compile(DigitsReader(32), tmp_path / "reader")
    by_arrays = _compile(analogc.Dataset({"image": images}), tmp_path / "arrays")
    assert by_reader.data.examples == len(images) == 300  # 10 batches of 32 and one of 12, joined
    assert by_reader.data.source == "DigitsReader.get_next()"
    assert by_reader.metric.name == "agreement"  # no labels in the reader: agreement
    assert by_reader.metric.clean == by_arrays.metric.clean
    assert by_reader.dynamic.evaluation.values == by_arrays.dynamic.evaluation.values
    assert [x.r_x for x in by_reader.layers] == [x.r_x for x in by_arrays.layers]


def test_reader_batches_may_carry_labels(tmp_path: Path) -> None:
    report = _compile(DigitsReader(100, labels=True), tmp_path / "reader")
    demo = _compile("demo:calib", tmp_path / "demo")
    assert report.metric.name == "accuracy"
    assert report.metric.clean == demo.metric.clean
    assert report.dynamic.evaluation.values == demo.dynamic.evaluation.values


def test_evaluate_takes_a_reader_and_feeds_keep_batches_apart(tmp_path: Path) -> None:
    _compile("demo:calib", tmp_path)
    annotated = tmp_path / "digits_cnn.analog.onnx"
    by_reader = analogc.evaluate(annotated, data=DigitsReader(64, labels=True), seeds=2)
    by_file = analogc.evaluate(annotated, data="demo:calib", seeds=2)
    assert by_reader.evaluation.values == by_file.evaluation.values
    as_feeds = analogc.evaluate(annotated, data=DigitsReader(64), seeds=2, feeds=True)
    assert as_feeds.data.feeds == 5 and as_feeds.data.examples == 300


def test_duck_typed_reader_is_accepted(tmp_path: Path) -> None:
    images, _ = _demo_arrays()
    reader = DuckReader([{"image": images[:150]}, {"image": images[150:]}])
    report = _compile(reader, tmp_path)
    assert report.data.examples == 300 and report.data.source == "DuckReader.get_next()"


def test_reader_errors_are_one_line_data_errors(tmp_path: Path) -> None:
    used = DigitsReader(64)
    while used.get_next() is not None:  # already read to the end, e.g. by quantize_static
        pass
    with pytest.raises(
        DataError, match=r"yielded no batches \(already read to the end\? call its rewind"
    ):
        _compile(used, tmp_path)
    with pytest.raises(DataError, match="batch 1 is a list, expected a dict of arrays"):
        _compile(DuckReader([{"image": _demo_arrays()[0]}, [1, 2]]), tmp_path)
    with pytest.raises(DataError, match=r"missing \['image'\]; unexpected \['pixels'\]"):
        _compile(DuckReader([{"pixels": _demo_arrays()[0]}]), tmp_path)
