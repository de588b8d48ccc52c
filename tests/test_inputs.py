"""Inputs that are not one plain batch (issue 11, item 1): scalars, states with the batch on
another axis, inputs without a batch axis, feeds, ``--batch-axis`` and ``--set``.

The models here are Identity graphs: only their input specs matter. Every mistake must come
back as a one-line :class:`DataError` naming the input.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analogc.errors import AnalogcError, DataError
from analogc.inputs import load_data
from analogc.runtime.data import Dataset, Feed
from analogc.runtime.inputs import (
    InputLayout,
    batch_symbol,
    defaulted_inputs,
    infer_batch_axes,
    input_specs,
    parse_value,
)

F, I64 = TensorProto.FLOAT, TensorProto.INT64
Dims = Sequence[int | str]


def identity_model(
    inputs: Sequence[tuple[str, int, Dims]],
    outputs: Sequence[tuple[str, int, Dims]] | None = None,
    defaults: dict[str, np.ndarray] | None = None,
) -> onnx.ModelProto:
    """Each input passed through an Identity; ``defaults`` become initializers of the same
    name (an input's default value)."""
    outputs = outputs if outputs is not None else inputs
    nodes = [
        helper.make_node("Identity", [name], [out])
        for (name, _, _), (out, _, _) in zip(inputs, outputs, strict=False)
    ]
    graph = helper.make_graph(
        nodes,
        "inputs",
        [helper.make_tensor_value_info(n, t, list(s)) for n, t, s in inputs],
        [
            helper.make_tensor_value_info(out, t, list(s))
            for (name, t, s), (out, _, _) in zip(inputs, outputs, strict=False)
        ],
        [numpy_helper.from_array(v, n) for n, v in (defaults or {}).items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def vad(batch: int | str = "batch") -> onnx.ModelProto:
    """A streaming voice-activity detector's interface."""
    return identity_model(
        [("input", F, [batch, 64]), ("state", F, [2, batch, 8]), ("sr", I64, [])],
        [("prob", F, [batch, 64]), ("stateN", F, [2, batch, 8]), ("sr_out", I64, [])],
    )


def vad_arrays(n: int, *, sr: int = 16000, seed: int = 0) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(seed)
    return {
        "input": gen.standard_normal((n, 64)).astype(np.float32),
        "state": gen.standard_normal((2, n, 8)).astype(np.float32),
        "sr": np.array(sr, np.int64),
    }


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def data_error(data: object, model: onnx.ModelProto, **options: object) -> str:
    """Load ``data`` expecting a DataError; return its one-line message."""
    with pytest.raises(DataError) as info:
        load_data(data, model, **options)  # type: ignore[arg-type]
    message = str(info.value)
    assert isinstance(info.value, AnalogcError)
    assert "\n" not in message, f"error should be one line: {message!r}"
    return message


# -- batch axes from the model's symbolic dimensions -----------------------------------------------
def test_state_batched_on_axis_1_and_scalar_held_fixed() -> None:
    axes = infer_batch_axes(input_specs(vad()))
    assert axes == {"input": 0, "state": 1, "sr": None}, axes


@pytest.mark.parametrize(
    ("inputs", "outputs", "expected"),
    [
        # BERT: 'batch' and 'seq' are shared by both inputs; the name decides
        (
            [("ids", I64, ["batch", "seq"]), ("mask", I64, ["batch", "seq"])],
            [("h", F, ["batch", "seq"])],
            {"ids": 0, "mask": 0},
        ),
        # symbols without a telling name: the one more inputs share
        (
            [("a", F, ["s", "b2", 3]), ("c", F, ["b2", 4]), ("d", F, [5, "b2"])],
            [("y", F, ["s"])],
            {"a": 1, "c": 0, "d": 1},
        ),
        # time-major, single input: the symbol leading the output is the batch
        ([("x", F, ["time", "n_seq", 4])], [("y", F, ["n_seq", 3])], {"x": 1}),
        # tf2onnx-style unshared symbols: every input batched on its first axis
        ([("a", F, ["unk__1", 10]), ("b", F, ["unk__2", 5])], [], {"a": 0, "b": 0}),
        # static shapes: first axis, scalars fixed
        ([("x", F, [1, 3]), ("k", F, [])], [], {"x": 0, "k": None}),
        # an input without the shared batch symbol is held fixed (a lookup table)
        (
            [("x", F, ["N", 4]), ("m", F, ["N", 2]), ("table", F, [10, 4])],
            [],
            {"x": 0, "m": 0, "table": None},
        ),
    ],
    ids=["bert", "most-shared", "time-major", "unshared", "static", "table"],
)
def test_batch_axis_inference(
    inputs: list[tuple[str, int, Dims]],
    outputs: list[tuple[str, int, Dims]],
    expected: dict[str, int | None],
) -> None:
    model = identity_model(inputs, outputs or None)
    out_shapes = [tuple(s) for _, _, s in outputs]
    assert infer_batch_axes(input_specs(model), out_shapes) == expected


def test_batch_symbol_is_none_without_symbols() -> None:
    assert batch_symbol(input_specs(identity_model([("x", F, [1, 3])]))) is None


def test_batch_axis_overrides() -> None:
    specs = input_specs(vad())
    axes = infer_batch_axes(specs, overrides={"state": -2, "input": None})
    assert axes == {"input": None, "state": 1, "sr": None}, "negative axes count from the end"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"states": 1}, "no input 'states'"),
        ({"state": 3}, "input 'state' is float32[2, batch, 8], with axes 0 to 2"),
        ({"sr": 0}, "a scalar has none: use none"),
    ],
)
def test_batch_axis_override_errors(overrides: dict[str, int], expected: str) -> None:
    message = data_error(None, vad(), batch_axes=overrides, values={"sr": 16000})
    assert expected in message, message


# -- the failures: a scalar input, a state input [2, batch, 128] --------------------------
def test_npz_with_scalar_and_state_loads(tmp_path: Path) -> None:
    arrays = vad_arrays(5)
    ds = load_data(save_npz(tmp_path / "d.npz", **arrays, labels=np.arange(5)), vad())
    assert len(ds) == 5, "examples counted on each input's own batch axis"
    assert ds.batch_axes == {"input": 0, "state": 1, "sr": None}
    batches = ds.split(2)
    assert [b.examples for b in batches] == [2, 2, 1]
    for k, b in enumerate(batches):
        lo, hi = 2 * k, 2 * k + b.examples
        assert np.array_equal(b.feed["state"], arrays["state"][:, lo:hi]), "state sliced on axis 1"
        assert np.array_equal(b.feed["input"], arrays["input"][lo:hi])
        assert b.feed["sr"] is arrays["sr"] or np.array_equal(b.feed["sr"], arrays["sr"])
        assert b.feed["sr"].shape == (), "the scalar is passed unchanged"
        assert b.labels.tolist() == list(range(lo, hi)), "labels follow the examples"


def test_dataset_with_a_scalar_needs_no_model() -> None:
    """The first report: ``len() of unsized object`` in Dataset.__post_init__."""
    ds = Dataset({"x": np.zeros((3, 2), np.float32), "sr": np.array(8000)})
    assert len(ds) == 3 and ds.batch_axes["sr"] is None


def test_plain_dataset_is_laid_out_by_the_model() -> None:
    """A Dataset built without batch axes takes the model's (the state's batch on axis 1)."""
    ds = load_data(Dataset(vad_arrays(4)), vad())
    assert ds.batch_axes["state"] == 1 and len(ds) == 4


def test_static_model_needs_batch_axis_and_says_so(tmp_path: Path) -> None:
    """Exported for batch 1 with static shapes: the state's axis 0 (size 2) is not the batch."""
    path = save_npz(tmp_path / "d.npz", **vad_arrays(1))
    message = data_error(path, vad(batch=1))
    assert "different static batch sizes" in message and "'state': 2" in message, message
    assert "--batch-axis" in message, message
    ds = load_data(path, vad(batch=1), batch_axes={"state": 1})
    assert len(ds) == 1 and ds.static_batch == 1


def test_input_without_batch_axis_is_held_fixed(tmp_path: Path) -> None:
    model = identity_model([("x", F, ["N", 4]), ("m", F, ["N", 2]), ("table", F, [10, 4])])
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    x, m = np.ones((6, 4), np.float32), np.zeros((6, 2), np.float32)
    ds = load_data(save_npz(tmp_path / "d.npz", x=x, m=m, table=table), model)
    assert len(ds) == 6
    assert all(b.feed["table"] is ds.inputs["table"] for b in ds.split(4)), "table unchanged"
    bad = save_npz(tmp_path / "bad.npz", x=x, m=m, table=table[:6])
    message = data_error(bad, model)
    assert "'table'" in message and "(axis 0)" in message, "a fixed input's every axis is checked"


# -- feeds -----------------------------------------------------------------------------------------
def streaming_model() -> onnx.ModelProto:
    return identity_model(
        [("chunk", F, ["batch", "T"]), ("sr", I64, [])],
        [("out", F, ["batch", "T"]), ("sr_out", I64, [])],
    )


def write_feeds(
    folder: Path, sizes: Sequence[tuple[int, int]], *, rates: Sequence[int] = ()
) -> Path:
    folder.mkdir(exist_ok=True)
    gen = np.random.default_rng(1)
    for i, (n, t) in enumerate(sizes):
        save_npz(
            folder / f"feed{i:02d}.npz",
            chunk=gen.standard_normal((n, t)).astype(np.float32),
            sr=np.array(rates[i] if rates else 16000, np.int64),
            labels=np.full(n, i, np.int64),
        )
    return folder


def test_folder_of_feeds_runs_each_feed_as_it_is(tmp_path: Path) -> None:
    folder = write_feeds(tmp_path / "feeds", [(3, 32), (5, 48), (1, 20)])
    ds = load_data(folder, streaming_model(), feeds=True)
    assert len(ds) == 9 and len(ds.feeds) == 3 and not ds.joined
    assert ds.labels.tolist() == [0] * 3 + [1] * 5 + [2], "labels per feed, in file order"
    batches = ds.split(4)
    assert [(b.examples, b.feed["chunk"].shape[1]) for b in batches] == [
        (3, 32),
        (4, 48),
        (1, 48),
        (1, 20),
    ], "a feed is never mixed with another; a feed larger than the batch is cut"
    assert [b.labels.tolist() for b in batches] == [[0] * 3, [1] * 4, [1], [2]]


def test_feeds_may_set_a_fixed_input_each(tmp_path: Path) -> None:
    folder = write_feeds(tmp_path / "feeds", [(2, 8), (2, 8)], rates=[16000, 8000])
    ds = load_data(folder, streaming_model(), feeds=True)
    assert [int(b.feed["sr"]) for b in ds.split(8)] == [16000, 8000]


def test_chunks_that_do_not_stack_suggest_feeds(tmp_path: Path) -> None:
    folder = write_feeds(tmp_path / "feeds", [(3, 32), (5, 48)])
    message = data_error(folder, streaming_model())
    assert "do not stack" in message and "--feeds" in message, message


def test_chunks_with_different_fixed_values_suggest_feeds(tmp_path: Path) -> None:
    folder = write_feeds(tmp_path / "feeds", [(2, 8), (2, 8)], rates=[16000, 8000])
    message = data_error(folder, streaming_model())
    assert "input 'sr' is held fixed" in message and "--feeds" in message, message


def test_chunks_with_equal_fixed_values_are_joined(tmp_path: Path) -> None:
    folder = write_feeds(tmp_path / "feeds", [(2, 8), (3, 8)])
    ds = load_data(folder, streaming_model())
    assert ds.joined and len(ds) == 5 and ds.inputs["sr"].shape == ()


def test_feed_is_validated_and_named(tmp_path: Path) -> None:
    folder = write_feeds(tmp_path / "feeds", [(2, 8), (2, 8)])
    save_npz(folder / "feed01.npz", chunk=np.zeros((2, 8), np.float64), sr=np.array(16000))
    message = data_error(folder, streaming_model(), feeds=True)
    assert "feed01.npz" in message and "float64" in message, message


def test_feeds_need_a_folder_or_reader(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "one.npz", chunk=np.zeros((2, 8), np.float32), sr=np.array(1))
    message = data_error(path, streaming_model(), feeds=True)
    assert "--feeds needs a folder" in message, message


_counter = itertools.count()

READER = """
    import numpy as np

    def feeds():
        for n, t in ((2, 16), (3, 24)):
            yield {
                "chunk": np.ones((n, t), np.float32),
                "sr": np.array(16000),
                "labels": np.arange(n),
            }
"""


@pytest.fixture
def reader_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def make(source: str) -> str:
        name = f"analogc_test_inputs_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return name

    yield make
    for name in names:
        sys.modules.pop(name, None)


def test_reader_yielding_feeds(reader_module: Callable[[str], str]) -> None:
    spec = f"{reader_module(READER)}:feeds"
    ds = load_data(spec, streaming_model(), feeds=True)
    assert [b.feed["chunk"].shape for b in ds.split(8)] == [(2, 16), (3, 24)]
    assert ds.labels.tolist() == [0, 1, 0, 1, 2]
    message = data_error(spec, streaming_model())
    assert "--feeds" in message, "without --feeds the batches must stack: " + message


def test_dataset_of_feeds_from_python() -> None:
    feeds = [Feed(vad_arrays(n, seed=n), np.arange(n)) for n in (1, 3)]
    ds = load_data(Dataset(feeds=feeds, source="mine"), vad())
    assert len(ds) == 4 and ds.batch_axes["state"] == 1
    assert [b.examples for b in ds.split(2)] == [1, 2, 1]
    head = ds.head(2)
    assert len(head) == 2 and [b.examples for b in head.split(8)] == [1, 1]


# -- --set and default values ---------------------------------------------------------------------
def test_set_fills_a_scalar_the_data_lacks(tmp_path: Path) -> None:
    arrays = vad_arrays(3)
    del arrays["sr"]
    path = save_npz(tmp_path / "d.npz", **arrays)
    message = data_error(path, vad())
    assert "missing ['sr']" in message and "--set sr=VALUE" in message, message
    ds = load_data(path, vad(), values={"sr": "8000"})
    assert ds.inputs["sr"].dtype == np.int64 and int(ds.inputs["sr"]) == 8000


def test_set_replaces_the_datas_value(tmp_path: Path) -> None:
    ds = load_data(save_npz(tmp_path / "d.npz", **vad_arrays(3)), vad(), values={"sr": 8000})
    assert all(int(b.feed["sr"]) == 8000 for b in ds.split(2))


@pytest.mark.parametrize(
    ("dtype", "shape", "text", "expected"),
    [
        (np.int64, (), "16000", np.array(16000)),
        (np.int64, (), "1.6e4", np.array(16000)),
        (np.float32, (1,), "0.5", np.array([0.5], np.float32)),
        (np.bool_, (), "true", np.array(True)),
        (np.float32, (2, 1), "1, 2", np.array([[1.0], [2.0]], np.float32)),
        (np.float32, ("k",), "3", np.array([3.0], np.float32)),
    ],
)
def test_parse_value_by_dtype(
    dtype: type, shape: tuple[int | str, ...], text: str, expected: np.ndarray
) -> None:
    spec = next(iter(input_specs(identity_model([("v", _onnx_type(dtype), shape)]))))
    value = parse_value(spec, text)
    assert value.dtype == np.dtype(dtype) and value.shape == expected.shape, value
    assert np.array_equal(value, expected)


def _onnx_type(dtype: type) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"sr": "16k"}, "--set sr=16k: not a int64 value for input 'sr'"),
        ({"sr": "0.5"}, "not a int64 value"),
        ({"sr": "1,2"}, "2 value(s) given, input 'sr' is int64[]"),
        ({"rate": "1"}, "no input 'rate'"),
        ({"state": "0"}, "input 'state' float32[2, batch, 8] is batched (axis 1)"),
    ],
)
def test_set_errors_name_the_input(values: dict[str, str], expected: str) -> None:
    message = data_error(None, vad(), values=values)
    assert expected in message, message


def test_synthetic_data_needs_a_value_for_a_scalar() -> None:
    message = data_error(None, vad())
    assert "input 'sr' is a scalar" in message and "--set sr=VALUE" in message, message


def test_synthetic_data_respects_axes_and_values() -> None:
    ds = load_data(None, vad(), examples=6, values={"sr": "16000"})
    assert ds.synthetic and len(ds) == 6
    assert ds.inputs["state"].shape == (2, 6, 8) and ds.inputs["input"].shape == (6, 64)
    assert int(ds.inputs["sr"]) == 16000
    assert all(int(b.feed["sr"]) == 16000 for b in ds.split(4))


def test_synthetic_static_batch_runs_batches_of_that_size() -> None:
    model = identity_model([("x", F, [1, 4])])
    ds = load_data(None, model, examples=5)
    assert len(ds) == 5 and all(b.feed["x"].shape == (1, 4) for b in ds.split(64))
    model = identity_model([("x", F, [2, 4])])
    assert len(load_data(None, model, examples=5)) == 4, "whole batches of 2"


def test_static_batch_size_is_kept_for_data(tmp_path: Path) -> None:
    """A model exported for batch 1 runs every example on its own, whatever --batch-size."""
    path = save_npz(tmp_path / "d.npz", **vad_arrays(3))
    ds = load_data(path, vad(batch=1), batch_axes={"state": 1})
    assert [b.feed["state"].shape for b in ds.split(256)] == [(2, 1, 8)] * 3
    model = identity_model([("x", F, [2, 4])])
    message = data_error(save_npz(tmp_path / "odd.npz", x=np.zeros((3, 4), np.float32)), model)
    assert "3 examples" in message and "batches of exactly 2" in message, message


def sr_default_model() -> onnx.ModelProto:
    return identity_model(
        [("input", F, ["batch", 64]), ("sr", I64, [])],
        defaults={"sr": np.array(16000, np.int64)},
    )


def test_default_value_is_used_and_reported() -> None:
    model = sr_default_model()
    assert [s.name for s in defaulted_inputs(model)] == ["sr"]
    ds = load_data(None, model, examples=4)
    assert "sr" not in ds.inputs, "the model's default is used: nothing to feed"
    layout = InputLayout.of(model)
    assert layout.settings([f.inputs for f in ds.feeds]) == {
        "sr": {"value": 16000, "from": "default"}
    }


def test_set_overrides_a_default_and_is_reported() -> None:
    model = sr_default_model()
    ds = load_data(None, model, examples=4, values={"sr": "8000"})
    assert int(ds.inputs["sr"]) == 8000
    layout = InputLayout.of(model, values={"sr": "8000"})
    assert layout.settings([f.inputs for f in ds.feeds]) == {"sr": {"value": 8000, "from": "--set"}}


def test_data_may_give_a_defaulted_input(tmp_path: Path) -> None:
    model = sr_default_model()
    path = save_npz(tmp_path / "d.npz", input=np.zeros((2, 64), np.float32), sr=np.array(8000))
    ds = load_data(path, model)
    layout = InputLayout.of(model)
    assert layout.settings([f.inputs for f in ds.feeds]) == {"sr": {"value": 8000, "from": "data"}}


def test_weights_listed_as_inputs_are_not_settings() -> None:
    """IR 3 lists every weight as an input with a default: those are not settings."""
    model = identity_model(
        [("x", F, ["N", 2]), ("w", F, [2])], defaults={"w": np.ones(2, np.float32)}
    )
    assert defaulted_inputs(model) == []


# -- outputs: metrics see the batch first ---------------------------------------------------------
def test_output_batch_axes() -> None:
    from analogc.runtime.inputs import output_batch_axes

    assert output_batch_axes(vad()) == [0, 1, None], "prob, stateN [2, batch, 8], a scalar"
    assert output_batch_axes(identity_model([("x", F, [1, 3])])) == [0], "static: first axis"


def test_metric_scores_examples_of_a_time_major_output(tmp_path: Path) -> None:
    """The first output is [2, N, 3] (batch on axis 1): accuracy is per example."""
    from analogc.pipeline import compile_model

    weight = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["y"], name="proj"),
        helper.make_node("Unsqueeze", ["y", "zero"], ["y1"]),
        helper.make_node("Concat", ["y1", "y1"], ["steps"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "time_major",
        [helper.make_tensor_value_info("x", F, ["N", 4])],
        [helper.make_tensor_value_info("steps", F, [2, "N", 3])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(np.array([0]), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "tm.onnx"))
    x = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    labels = np.arange(7) % 6
    np.savez(tmp_path / "d.npz", x=x, labels=labels)
    report = compile_model(
        tmp_path / "tm.onnx", data=tmp_path / "d.npz", repeats=4, output_dir=tmp_path / "out"
    )
    logits = np.moveaxis(np.stack([x @ weight] * 2), 1, 0).reshape(7, -1)
    expected = float((logits.argmax(axis=1) == labels).mean())
    assert report.document["metric"]["clean"] == pytest.approx(expected), "one score per example"
