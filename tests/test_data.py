"""Calibration data, metrics and the accuracy budget, as a user meets them.

``analogc.inputs.load_data`` resolves ``--data`` (an .npz, a folder of .npy or .npz files, a
``module:function`` reader, ``demo:calib``/``demo:test``, a Dataset, or None for synthetic
inputs) and checks it against the model's inputs; every mistake a user can make must come back
as a :class:`DataError` whose message says what is wrong and what the model expects.
"""

from __future__ import annotations

import importlib
import itertools
import math
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from analogc.budget import Acceptance, Budget
from analogc.errors import AnalogcError, ConfigError, DataError
from analogc.inputs import load_data, resolve_metric
from analogc.runtime.data import Dataset, input_specs, synthesize
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.metrics import METRICS, custom_metric, default_metric

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"
EXPECTS = "'image' float32[batch, 1, 8, 8]"
Z95 = 1.6448536269514722  # one-sided 95% normal quantile (Φ⁻¹(0.95)), from tables


# -- helpers --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cnn() -> onnx.ModelProto:
    if not CNN.exists():
        pytest.skip(f"demo model {CNN} is missing")
    return onnx.load(str(CNN))


def identity_model(inputs: Sequence[tuple[str, int, Sequence[int | str]]]) -> onnx.ModelProto:
    """A model passing each input through an Identity: only its input specs matter here."""
    graph = helper.make_graph(
        [helper.make_node("Identity", [name], [f"{name}_out"]) for name, _, _ in inputs],
        "inputs",
        [helper.make_tensor_value_info(name, t, list(shape)) for name, t, shape in inputs],
        [helper.make_tensor_value_info(f"{name}_out", t, list(shape)) for name, t, shape in inputs],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def multi() -> onnx.ModelProto:
    """Three inputs: float features, int64 token ids, a bool mask with an unknown length."""
    return identity_model(
        [
            ("x", TensorProto.FLOAT, ["N", 3]),
            ("ids", TensorProto.INT64, ["N", 5]),
            ("mask", TensorProto.BOOL, ["N", "seq"]),
        ]
    )


def images(n: int, *, dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 8, 8)).astype(dtype)


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def data_error(data: object, model: onnx.ModelProto) -> str:
    """Load ``data`` expecting a DataError; return its message."""
    with pytest.raises(DataError) as info:
        load_data(data, model)  # type: ignore[arg-type]
    message = str(info.value)
    assert isinstance(info.value, AnalogcError), "DataError must derive from AnalogcError"
    assert "\n" not in message, f"error should be one line: {message!r}"
    return message


_counter = itertools.count()


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write a uniquely named module into tmp_path, importable for this test only."""
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    names: list[str] = []

    def make(source: str) -> str:
        name = f"analogc_test_mod_{next(_counter)}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return name

    yield make
    for name in names:
        sys.modules.pop(name, None)


def test_data_error_is_an_analogc_error() -> None:
    assert issubclass(DataError, AnalogcError), "the CLI only turns AnalogcError into exit 2"
    assert issubclass(ConfigError, AnalogcError)


# -- .npz and demo data ---------------------------------------------------------------------------
def test_npz_with_labels_loads(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    x = images(10)
    labels = np.arange(10, dtype=np.int64) % 10
    ds = load_data(save_npz(tmp_path / "d.npz", image=x, labels=labels), cnn)
    assert len(ds) == 10, "10 examples"
    assert np.array_equal(ds.inputs["image"], x), "inputs round trip"
    assert np.array_equal(ds.labels, labels), "labels round trip"
    assert not ds.synthetic and ds.source.endswith("d.npz"), ds.source


def test_npz_without_labels_has_none(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    ds = load_data(str(save_npz(tmp_path / "d.npz", image=images(4))), cnn)
    assert ds.labels is None, "no labels array: labels must be None"


@pytest.mark.parametrize(("name", "examples"), [("demo:calib", 300), ("demo:test", 300)])
def test_demo_data(cnn: onnx.ModelProto, name: str, examples: int) -> None:
    ds = load_data(name, cnn)
    assert len(ds) == examples, f"{name} should hold {examples} examples"
    assert ds.labels is not None and ds.labels.dtype.kind == "i", "demo data has integer labels"
    assert ds.inputs["image"].shape == (examples, 1, 8, 8)


def test_dataset_object_is_validated(cnn: onnx.ModelProto) -> None:
    good = Dataset({"image": images(3)}, np.array([1, 2, 3]))
    assert load_data(good, cnn) is good, "a valid Dataset is returned as is"
    message = data_error(Dataset({"image": images(3, dtype=np.float64)}), cnn)
    assert "float64" in message and ".astype(np.float32)" in message, message


def test_missing_file(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    message = data_error(tmp_path / "nothere.npz", cnn)
    assert "nothere.npz" in message and "no such" in message, message


def test_missing_path_without_suffix(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    message = data_error(str(tmp_path / "nothere"), cnn)
    assert "nothere" in message and "no such data file or folder" in message, message


def test_not_an_npz(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_text("this is not a zip archive")
    message = data_error(bad, cnn)
    assert "bad.npz" in message and "not a readable .npz" in message, message


def test_missing_input_names_expected_input_and_shape(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    message = data_error(save_npz(tmp_path / "d.npz", img=images(4)), cnn)
    assert "missing ['image']" in message, message
    assert "unexpected ['img']" in message, message
    assert EXPECTS in message, f"message should say what the model expects: {message}"


def test_extra_array(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    path = save_npz(tmp_path / "d.npz", image=images(4), extra=np.zeros(4, np.float32))
    message = data_error(path, cnn)
    assert "unexpected ['extra']" in message and "missing" not in message, message
    assert EXPECTS in message, message


def test_wrong_dtype_suggests_astype(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    message = data_error(save_npz(tmp_path / "d.npz", image=images(4, dtype=np.float64)), cnn)
    assert "'image' is float64" in message, message
    assert ".astype(np.float32)" in message, message


def test_wrong_rank(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    x = images(4).reshape(4, 8, 8)
    message = data_error(save_npz(tmp_path / "d.npz", image=x), cnn)
    assert "[4, 8, 8]" in message and "float32[batch, 1, 8, 8]" in message, message


@pytest.mark.parametrize(("shape", "axis"), [((4, 1, 8, 7), 3), ((4, 3, 8, 8), 1)])
def test_wrong_static_dim_names_axis(
    tmp_path: Path, cnn: onnx.ModelProto, shape: tuple[int, ...], axis: int
) -> None:
    x = np.zeros(shape, np.float32)
    message = data_error(save_npz(tmp_path / "d.npz", image=x), cnn)
    assert f"(axis {axis})" in message, message
    assert str(list(shape)) in message, message


def test_batch_axis_may_have_any_size(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    assert len(load_data(save_npz(tmp_path / "d.npz", image=images(7)), cnn)) == 7


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path: Path, cnn: onnx.ModelProto, bad: float) -> None:
    x = images(4)
    x[2, 0, 3, 3] = bad
    message = data_error(save_npz(tmp_path / "d.npz", image=x), cnn)
    assert "'image'" in message and "NaN or infinite" in message, message


def test_empty_data(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    message = data_error(save_npz(tmp_path / "d.npz", image=images(0)), cnn)
    assert "0 examples" in message, message


def test_labels_wrong_length(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    path = save_npz(tmp_path / "d.npz", image=images(4), labels=np.arange(3))
    message = data_error(path, cnn)
    assert "'labels' has 3 entries" in message and "4 examples" in message, message


@pytest.mark.parametrize(
    ("labels", "described"),
    [
        (np.array([0.0, 1.0, 2.0, 3.0]), "float64[4]"),
        (np.arange(4).reshape(4, 1), "int64[4, 1]"),
        (np.zeros((4, 10), np.int64), "int64[4, 10]"),
    ],
    ids=["float", "column", "one-hot"],
)
def test_labels_must_be_1d_integers(
    tmp_path: Path, cnn: onnx.ModelProto, labels: np.ndarray, described: str
) -> None:
    message = data_error(save_npz(tmp_path / "d.npz", image=images(4), labels=labels), cnn)
    assert "1-D integer array" in message and described in message, message


def test_different_example_counts(tmp_path: Path, multi: onnx.ModelProto) -> None:
    path = save_npz(
        tmp_path / "d.npz",
        x=np.zeros((4, 3), np.float32),
        ids=np.zeros((5, 5), np.int64),
        mask=np.ones((4, 2), bool),
    )
    message = data_error(path, multi)
    assert "different numbers of examples" in message, message
    assert "'ids': 5" in message and "'x': 4" in message, message


def test_multi_input_npz(tmp_path: Path, multi: onnx.ModelProto) -> None:
    arrays = {
        "x": np.ones((6, 3), np.float32),
        "ids": np.arange(30, dtype=np.int64).reshape(6, 5),
        "mask": np.ones((6, 11), bool),  # 'seq' is symbolic: any length
    }
    ds = load_data(save_npz(tmp_path / "d.npz", **arrays), multi)
    assert len(ds) == 6 and set(ds.inputs) == set(arrays), sorted(ds.inputs)
    for name, a in arrays.items():
        assert np.array_equal(ds.inputs[name], a), name


def test_multi_input_wrong_int_dtype(tmp_path: Path, multi: onnx.ModelProto) -> None:
    path = save_npz(
        tmp_path / "d.npz",
        x=np.zeros((4, 3), np.float32),
        ids=np.zeros((4, 5), np.int32),
        mask=np.ones((4, 2), bool),
    )
    message = data_error(path, multi)
    assert "'ids' is int32" in message and ".astype(np.int64)" in message, message


# -- folders --------------------------------------------------------------------------------------
def test_folder_of_npy_with_labels(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    x = images(5)
    labels = np.array([3, 1, 4, 1, 5])
    np.save(tmp_path / "image.npy", x)
    np.save(tmp_path / "labels.npy", labels)
    ds = load_data(tmp_path, cnn)
    assert np.array_equal(ds.inputs["image"], x) and np.array_equal(ds.labels, labels)
    assert set(ds.inputs) == {"image"}, "labels.npy must not become an input"


def test_folder_with_unreadable_npy(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    (tmp_path / "image.npy").write_text("this is not an .npy file")
    message = data_error(tmp_path, cnn)
    assert "image.npy" in message, message


def test_folder_of_npy_checked_against_model(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    np.save(tmp_path / "picture.npy", images(5))
    message = data_error(tmp_path, cnn)
    assert "missing ['image']" in message and EXPECTS in message, message


def test_folder_of_npz_chunks_concatenated_in_name_order(
    tmp_path: Path, cnn: onnx.ModelProto
) -> None:
    # written out of order: the loader must sort by file name (a, b, c)
    chunks = {"c.npz": (2, 30), "a.npz": (3, 10), "b.npz": (1, 20)}
    for name, (n, label) in chunks.items():
        x = np.full((n, 1, 8, 8), label, np.float32)
        save_npz(tmp_path / name, image=x, labels=np.full(n, label, np.int64))
    ds = load_data(tmp_path, cnn)
    assert len(ds) == 6
    expected = [10, 10, 10, 20, 30, 30]
    assert ds.labels.tolist() == expected, f"chunks not concatenated a, b, c: {ds.labels}"
    assert ds.inputs["image"][:, 0, 0, 0].tolist() == expected, "inputs follow the same order"


def test_folder_of_npz_chunks_some_without_labels(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    save_npz(tmp_path / "a.npz", image=images(2), labels=np.array([0, 1]))
    save_npz(tmp_path / "b.npz", image=images(2))
    message = data_error(tmp_path, cnn)
    assert "some parts have 'labels' and some do not" in message, message


def test_folder_chunk_is_validated(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    save_npz(tmp_path / "a.npz", image=images(2))
    save_npz(tmp_path / "b.npz", image=images(2, dtype=np.float64))
    message = data_error(tmp_path, cnn)
    assert "b.npz" in message and "float64" in message, message


def test_folder_with_npy_and_npz(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    np.save(tmp_path / "image.npy", images(2))
    save_npz(tmp_path / "more.npz", image=images(2))
    message = data_error(tmp_path, cnn)
    assert "both .npy and .npz" in message, message


def test_empty_folder(tmp_path: Path, cnn: onnx.ModelProto) -> None:
    (tmp_path / "readme.txt").write_text("no arrays here")
    message = data_error(tmp_path, cnn)
    assert "no .npy or .npz files" in message, message


# -- module:function readers ----------------------------------------------------------------------
READER = """
    import numpy as np

    def batches():
        for start in (0, 4, 8):
            x = np.full((4, 1, 8, 8), start, np.float32)
            yield {"image": x, "labels": np.arange(start, start + 4)}

    def no_labels():
        for start in (0, 4):
            yield {"image": np.full((4, 1, 8, 8), start, np.float32)}

    def a_list():
        yield [np.zeros((4, 1, 8, 8), np.float32)]

    def nothing():
        return iter(())

    def mixed_labels():
        yield {"image": np.zeros((2, 1, 8, 8), np.float32), "labels": np.array([0, 1])}
        yield {"image": np.zeros((2, 1, 8, 8), np.float32)}

    def mixed_names():
        yield {"image": np.zeros((2, 1, 8, 8), np.float32)}
        yield {"picture": np.zeros((2, 1, 8, 8), np.float32)}

    def mixed_shapes():
        yield {"image": np.zeros((2, 1, 8, 8), np.float32)}
        yield {"image": np.zeros((2, 1, 4, 4), np.float32)}

    def lists():
        yield {"image": np.zeros((3, 1, 8, 8), np.float32).tolist()}
"""


def test_reader_with_labels(make_module: Callable[[str], str], cnn: onnx.ModelProto) -> None:
    module = make_module(READER)
    ds = load_data(f"{module}:batches", cnn)
    assert len(ds) == 12, "three batches of four"
    assert ds.labels.tolist() == list(range(12)), "labels concatenated in batch order"
    assert ds.inputs["image"][:, 0, 0, 0].tolist() == [0] * 4 + [4] * 4 + [8] * 4
    assert ds.source == f"{module}:batches", ds.source


def test_reader_without_labels(make_module: Callable[[str], str], cnn: onnx.ModelProto) -> None:
    ds = load_data(f"{make_module(READER)}:no_labels", cnn)
    assert len(ds) == 8 and ds.labels is None


def test_reader_from_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cnn: onnx.ModelProto
) -> None:
    name = f"analogc_test_cwd_{next(_counter)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(READER))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    importlib.invalidate_caches()
    try:
        ds = load_data(f"{name}:no_labels", cnn)
    finally:
        sys.modules.pop(name, None)
    assert len(ds) == 8, "a reader module in the current directory must be importable"


def test_reader_batches_converted_with_asarray(
    make_module: Callable[[str], str], cnn: onnx.ModelProto
) -> None:
    """Nested lists become float64 arrays: the dtype check then asks for .astype."""
    message = data_error(f"{make_module(READER)}:lists", cnn)
    assert "float64" in message and ".astype(np.float32)" in message, message


def test_reader_yielding_non_dict(make_module: Callable[[str], str], cnn: onnx.ModelProto) -> None:
    spec = f"{make_module(READER)}:a_list"
    message = data_error(spec, cnn)
    assert "batch 0 is a list" in message and "dict of arrays" in message, message


def test_reader_yielding_nothing(make_module: Callable[[str], str], cnn: onnx.ModelProto) -> None:
    spec = f"{make_module(READER)}:nothing"
    message = data_error(spec, cnn)
    assert "yielded no batches" in message and spec in message, message


def test_reader_missing_module(cnn: onnx.ModelProto) -> None:
    message = data_error("analogc_no_such_module_xyz:batches", cnn)
    assert "cannot load data reader" in message and "analogc_no_such_module_xyz" in message


def test_reader_missing_function(make_module: Callable[[str], str], cnn: onnx.ModelProto) -> None:
    message = data_error(f"{make_module(READER)}:not_there", cnn)
    assert "cannot load data reader" in message and "not_there" in message, message


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        ("mixed_labels", "some parts have 'labels' and some do not"),
        ("mixed_names", "part 1 has arrays ['picture']"),
        ("mixed_shapes", "do not stack along the example axis"),
    ],
)
def test_reader_mismatched_batches(
    make_module: Callable[[str], str], cnn: onnx.ModelProto, func: str, expected: str
) -> None:
    message = data_error(f"{make_module(READER)}:{func}", cnn)
    assert expected in message, message


def test_reader_result_is_validated(make_module: Callable[[str], str]) -> None:
    module = make_module(READER)
    other = identity_model([("tokens", TensorProto.INT64, ["N", 4])])
    message = data_error(f"{module}:batches", other)
    assert "missing ['tokens']" in message and "'tokens' int64[N, 4]" in message, message


def test_reader_in_dotted_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cnn: onnx.ModelProto
) -> None:
    package = f"analogc_test_pkg_{next(_counter)}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "readers.py").write_text(textwrap.dedent(READER))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        ds = load_data(f"{package}.readers:no_labels", cnn)
    finally:
        for name in [m for m in sys.modules if m.startswith(package)]:
            sys.modules.pop(name)
    assert len(ds) == 8, "a reader in a package module (pkg.mod:func) must load"


# -- synthetic data -------------------------------------------------------------------------------
def test_synthetic_for_the_demo_model(cnn: onnx.ModelProto) -> None:
    ds = load_data(None, cnn)
    x = ds.inputs["image"]
    assert ds.synthetic and ds.labels is None, "synthetic data has no labels"
    assert x.shape == (64, 1, 8, 8) and x.dtype == np.float32, (x.shape, x.dtype)
    assert abs(float(x.mean())) < 0.1 and 0.9 < float(x.std()) < 1.1, "standard normal floats"
    assert "synthetic" in ds.source


def test_synthetic_examples_and_seed(cnn: onnx.ModelProto) -> None:
    a = load_data(None, cnn, examples=8, seed=1).inputs["image"]
    b = load_data(None, cnn, examples=8, seed=1).inputs["image"]
    c = load_data(None, cnn, examples=8, seed=2).inputs["image"]
    assert a.shape[0] == 8, "examples sets the batch axis"
    assert np.array_equal(a, b), "same seed, same data"
    assert not np.array_equal(a, c), "another seed, other data"


def test_synthetic_int_bool_and_dynamic_dims(multi: onnx.ModelProto) -> None:
    ds = load_data(None, multi, examples=10)
    x, ids, mask = ds.inputs["x"], ds.inputs["ids"], ds.inputs["mask"]
    assert x.dtype == np.float32 and x.shape == (10, 3), (x.dtype, x.shape)
    assert ids.dtype == np.int64 and ids.shape == (10, 5), (ids.dtype, ids.shape)
    assert set(np.unique(ids).tolist()) <= {0, 1}, "integer inputs are 0 or 1 (valid ids)"
    assert mask.dtype == np.bool_, mask.dtype
    assert mask.shape == (10, 16), f"the unknown 'seq' dim must become 16, got {mask.shape}"
    assert mask.any() and not mask.all(), "bools are random"


def test_synthetic_unknown_dims_become_16() -> None:
    model = identity_model([("x", TensorProto.FLOAT, ["batch", "height", 4, "width"])])
    unknown = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model.graph.input.append(unknown)  # no shape at all: rank 0 (a scalar)
    model.graph.node.append(helper.make_node("Identity", ["y"], ["y_out"]))
    specs = input_specs(model)
    ds = synthesize(specs[:1], examples=3)
    assert ds.inputs["x"].shape == (3, 16, 4, 16), ds.inputs["x"].shape
    with pytest.raises(DataError, match="scalar"):
        synthesize(specs[1:])


def test_initializers_are_not_inputs() -> None:
    model = identity_model([("x", TensorProto.FLOAT, ["N", 2])])
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [2]))
    model.graph.initializer.append(helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0]))
    assert [s.name for s in input_specs(model)] == ["x"], "an initializer is not a data input"


# -- metrics --------------------------------------------------------------------------------------
LOGITS = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])


def test_accuracy_known_values() -> None:
    labels = np.array([1, 1, 1, 0])
    scores = METRICS["accuracy"].score([LOGITS], [LOGITS], labels)
    assert scores.tolist() == [1.0, 0.0, 1.0, 1.0], scores


def test_accuracy_flattens_non_2d_logits() -> None:
    scores = METRICS["accuracy"].score([LOGITS.reshape(4, 1, 2)], [LOGITS], np.array([1, 0, 0, 0]))
    assert scores.tolist() == [1.0, 1.0, 0.0, 1.0], scores


def test_accuracy_without_labels_raises() -> None:
    with pytest.raises(DataError, match="needs labels"):
        METRICS["accuracy"].score([LOGITS], [LOGITS], None)


def test_agreement_known_values() -> None:
    clean = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scores = METRICS["agreement"].score([LOGITS], [clean], None)
    assert scores.tolist() == [1.0, 1.0, 0.0, 0.0], scores


def test_cosine_known_values() -> None:
    clean = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 2.0], [0.0, 0.0]])
    noisy = np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]])
    scores = METRICS["cosine"].score([noisy], [clean], None)
    expected = [1.0, 0.0, 1 / math.sqrt(2), -1.0, 1.0]
    assert np.allclose(scores, expected), f"{scores} != {expected}"


def test_cosine_of_zero_output_against_nonzero_is_not_perfect() -> None:
    scores = METRICS["cosine"].score([np.zeros((1, 3))], [np.ones((1, 3))], None)
    assert scores[0] == 0.0, f"a collapsed (all-zero) output must not score {scores[0]}"


def test_sqnr_known_values() -> None:
    clean = np.array([[3.0, 4.0], [1.0, 0.0]])
    noisy = np.array([[3.5, 4.0], [1.0, 0.1]])
    scores = METRICS["sqnr"].score([noisy], [clean], None)
    # 25 / 0.25 -> 20 dB; 1 / 0.01 -> 20 dB
    assert np.allclose(scores, [20.0, 20.0]), scores


def test_metric_format_and_units() -> None:
    assert METRICS["accuracy"].format(0.975) == "97.50%"
    assert METRICS["sqnr"].format(20.0) == "20 dB"
    assert METRICS["cosine"].format(0.5) == "0.5"
    assert default_metric(True).name == "accuracy" and default_metric(False).name == "agreement"


METRIC_MODULE = """
    import numpy as np

    def margin(noisy, clean, labels):
        assert isinstance(noisy, list) and isinstance(clean, list)
        return (noisy[0] - clean[0]).sum(axis=1)

    def one_score(noisy, clean, labels):
        return [0.5]
"""


def test_custom_metric(make_module: Callable[[str], str]) -> None:
    spec = f"{make_module(METRIC_MODULE)}:margin"
    metric = custom_metric(spec)
    assert metric.name == spec
    noisy, clean = np.array([[1.0, 2.0], [0.0, 0.0]]), np.zeros((2, 2))
    assert metric.score([noisy], [clean], None).tolist() == [3.0, 0.0]


def test_custom_metric_wrong_number_of_scores(make_module: Callable[[str], str]) -> None:
    metric = custom_metric(f"{make_module(METRIC_MODULE)}:one_score")
    with pytest.raises(DataError, match="returned 1 scores for a batch of 4 examples"):
        metric.score([LOGITS], [LOGITS], None)


@pytest.mark.parametrize("spec", ["analogc_no_such_metric_xyz:f", ":f", "math:no_such_function"])
def test_custom_metric_cannot_load(spec: str) -> None:
    with pytest.raises(DataError, match="cannot load metric"):
        custom_metric(spec)


def test_resolve_metric() -> None:
    labelled = Dataset({"image": images(2)}, np.array([0, 1]))
    unlabelled = Dataset({"image": images(2)})
    assert resolve_metric("auto", labelled).name == "accuracy", "auto with labels"
    assert resolve_metric("auto", unlabelled).name == "agreement", "auto without labels"
    assert resolve_metric("sqnr", unlabelled).unit == "dB"
    with pytest.raises(ConfigError, match="unknown metric 'top5'"):
        resolve_metric("top5", labelled)
    with pytest.raises(DataError, match="needs labels"):
        resolve_metric("accuracy", unlabelled)


def test_resolve_custom_metric(make_module: Callable[[str], str]) -> None:
    spec = f"{make_module(METRIC_MODULE)}:margin"
    assert resolve_metric(spec, Dataset({"image": images(2)})).name == spec


# -- budget and acceptance ------------------------------------------------------------------------
def test_budget_relative() -> None:
    budget = Budget.parse("1%")
    assert budget.relative and budget.value == pytest.approx(0.01)
    assert budget.allowed_drop(0.9) == pytest.approx(0.009), "1% of a clean 0.9"
    assert budget.allowed_drop(-20.0) == pytest.approx(0.2), "relative to |clean|"
    assert str(budget) == "1%"


@pytest.mark.parametrize("text", ["0.01", 0.01, " 0.01 "])
def test_budget_absolute(text: str | float) -> None:
    budget = Budget.parse(text)
    assert not budget.relative and budget.value == pytest.approx(0.01)
    assert budget.allowed_drop(0.9) == pytest.approx(0.01), "absolute: independent of clean"
    assert str(budget) == "0.01"


@pytest.mark.parametrize("text", ["0", "0%", "100%"])
def test_budget_limits_accepted(text: str) -> None:
    Budget.parse(text)


@pytest.mark.parametrize("text", ["lots", "-1", "200%", "-1%", "inf", "nan", "", "%"])
def test_budget_invalid(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Budget.parse(text)
    assert repr(text.strip()) in str(info.value), str(info.value)


def evaluation(clean: float, values: Sequence[float]) -> Evaluation:
    return Evaluation("accuracy", clean, tuple(values), tuple(range(len(values))))


def test_acceptance_bound_is_mean_drop_plus_z_se() -> None:
    ev = evaluation(0.9, [0.88, 0.89, 0.87, 0.86])
    drops = [0.02, 0.01, 0.03, 0.04]
    mean = sum(drops) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in drops) / 3)
    expected = mean + Z95 * sd / math.sqrt(4)
    acceptance = Acceptance(allowed=0.05, quantile="normal")
    assert acceptance.z == pytest.approx(Z95, abs=1e-9), "z at one-sided 95%"
    assert acceptance.bound(ev) == pytest.approx(expected, rel=1e-9)
    assert acceptance.margin(ev) == pytest.approx(expected - 0.05, rel=1e-9)
    assert "1.645" in acceptance.rule and "95%" in acceptance.rule, acceptance.rule


def test_acceptance_feasible_on_either_side_of_the_bound() -> None:
    ev = evaluation(0.9, [0.88, 0.89, 0.87, 0.86])
    bound = Acceptance(allowed=1.0).bound(ev)
    assert Acceptance(allowed=bound + 1e-6).feasible(ev), "bound below the allowed drop"
    assert not Acceptance(allowed=bound - 1e-6).feasible(ev), "bound above the allowed drop"
    mean_drop = float(np.mean(ev.drops))
    assert not Acceptance(allowed=mean_drop).feasible(ev), "the mean alone is not enough"


def test_acceptance_single_seed_has_no_se() -> None:
    ev = evaluation(1.0, [0.75])  # exact in binary: drop 0.25
    acceptance = Acceptance(allowed=0.25)
    assert acceptance.bound(ev) == 0.25, "one seed: SE 0, bound = its drop"
    assert acceptance.margin(ev) == 0.0
    assert acceptance.feasible(ev), "drop equal to the budget is accepted (margin <= 0)"
    assert not Acceptance(allowed=0.2).feasible(ev)


def test_acceptance_other_confidence() -> None:
    ev = evaluation(1.0, [0.9, 0.8])  # drops 0.1, 0.2: mean 0.15, SE 0.05
    acceptance = Acceptance(allowed=0.3, confidence=0.99, quantile="normal")
    assert acceptance.z == pytest.approx(2.3263478740408408, abs=1e-9)
    assert acceptance.bound(ev) == pytest.approx(0.15 + 2.3263478740408408 * 0.05)
