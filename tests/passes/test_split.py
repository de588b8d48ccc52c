"""passes.split: a graph cut into pieces that run one after another computes what it did."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from analogc.passes.split import cut_points, split_model


def _chain(layers: int, typed: bool = True) -> onnx.ModelProto:
    """x -> MatMul -> Relu -> ... with one extra input per layer (weighted like a draw) and a
    skip connection from x to the last Add."""
    rng = np.random.default_rng(0)
    nodes, inits, inputs, infos = [], [], [helper.make_tensor_value_info("x", 1, ["N", 4])], []
    h = "x"
    for i in range(layers):
        inits.append(
            numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), f"w{i}")
        )
        inputs.append(helper.make_tensor_value_info(f"d{i}", TensorProto.FLOAT, ["N", 4]))
        nodes += [
            helper.make_node("MatMul", [h, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"d{i}"], [f"a{i}"]),
            helper.make_node("Relu", [f"a{i}"], [f"h{i}"]),
        ]
        if typed:
            infos += [helper.make_tensor_value_info(f"{t}{i}", 1, ["N", 4]) for t in "mah"]
        h = f"h{i}"
    nodes.append(helper.make_node("Add", [h, "x"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "chain",
        inputs,
        [helper.make_tensor_value_info("y", 1, ["N", 4])],
        inits,
        value_info=infos,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _feed(layers: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    feed = {"x": rng.standard_normal((3, 4)).astype(np.float32)}
    feed |= {f"d{i}": rng.standard_normal((3, 4)).astype(np.float32) for i in range(layers)}
    return feed


def _run_pieces(model: onnx.ModelProto, cuts: list[int], feed: dict[str, np.ndarray]) -> np.ndarray:
    values = dict(feed)
    for piece in split_model(model, cuts):
        onnx.checker.check_model(piece.model, full_check=True)
        outputs = ReferenceEvaluator(piece.model).run(None, {n: values[n] for n in piece.inputs})
        values |= dict(zip(piece.outputs, outputs, strict=True))
    return values["y"]


def test_pieces_compute_what_the_graph_computes() -> None:
    model = _chain(6)
    feed = _feed(6)
    cuts = cut_points(model, {f"d{i}": 1.0 for i in range(6)}, 3)
    # each cut right after the Add reading the second draw of a share (three nodes per layer)
    assert cuts == [5, 11]
    whole = ReferenceEvaluator(model).run(None, feed)[0]
    np.testing.assert_allclose(_run_pieces(model, cuts, feed), whole, rtol=1e-6)


def test_weights_decide_where_the_cuts_fall() -> None:
    """Layer 0's input weighs as much as the other five together: the one cut comes right
    after the node that reads it."""
    model = _chain(6)
    weights = {"d0": 5.0, **{f"d{i}": 1.0 for i in range(1, 6)}}
    assert cut_points(model, weights, 2) == [2]
    assert cut_points(model, weights, 1) == []
    assert cut_points(model, {}, 4) == []


def test_no_cut_where_an_untyped_tensor_crosses() -> None:
    """A piece takes what crosses as a typed input: with no value_info inside the chain, only
    cuts whose crossing tensors are all graph inputs or outputs remain (none here)."""
    assert cut_points(_chain(6, typed=False), {f"d{i}": 1.0 for i in range(6)}, 3) == []


def test_a_piece_takes_the_skip_connection_and_its_own_weights_only() -> None:
    model = _chain(4)
    pieces = list(split_model(model, [6]))
    first, second = pieces
    assert set(first.inputs) == {"x", "d0", "d1"} and first.outputs == ("h1",)
    assert set(second.inputs) == {"x", "h1", "d2", "d3"} and second.outputs == ("y",)
    assert {t.name for t in second.model.graph.initializer} == {"w2", "w3"}
