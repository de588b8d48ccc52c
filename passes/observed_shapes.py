"""Shapes that shape inference cannot know, stated from what a run showed.

Shape inference loses a tensor's rank after an ``If`` whose branches differ (a sample rate
choosing a path), a ``Reshape`` to a computed shape, or an op it does not know; a matrix
product fed by such a tensor stays digital ("rank of the input is unknown"). Calibration runs
the model, so those shapes are seen: :func:`unresolved_tensors` lists the tensors to watch (in
the main graph and in If branches, where shape inference cannot read the outer graph's
constants, a common way exported speech models lose ranks) and
:func:`with_observed_shapes` writes what was seen into the working copy as ``value_info``, then
infers shapes again, so the op and the ops after it become analog.

A recurrent op (LSTM, GRU, RNN) whose input X has no rank stays as it is when analogc loads
the model; once X's rank is stated it is expanded (:func:`analogc.passes.expand_recurrent`),
so its gate products run analog like the ops after it.

Two strengths: by default only the rank and the batch axis are stated (every other dimension
stays unknown), which leaves the op's lowering free to take sizes at run time, so the plan
holds for other batch sizes and sequence lengths. The batch axis is the dimension equal to
each run's number of examples when runs of different sizes show it: a time-major tensor
``[steps, batch, features]`` then counts its MACs per example, not per batch. With ``sizes``,
each dimension that was the same in every run is
stated too, for ops whose lowering needs static sizes (a ConvTranspose's average fan-in),
whose plan then holds for those sizes only (a graph input restated so declares them, and
onnxruntime refuses other sizes rather than run a plan made for another size).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import onnx
from onnx import helper

from .discover import Discovery
from .expand_recurrent import expand_recurrent
from .graph_index import GraphIndex, Shape
from .model_io import infer_shapes
from .ops import HANDLERS
from .ops.recurrent import OPS as RECURRENT_OPS
from .scopes import GraphScope, graphs, walk

__all__ = ["unresolved_tensors", "with_observed_shapes"]


def _incomplete(shape: Shape | None, batch_symbols: set[str]) -> bool:
    if shape is None:
        return True
    return any(not isinstance(d, int) and d not in batch_symbols for d in shape)


def unresolved_tensors(model: onnx.ModelProto, discovery: Discovery) -> dict[str, list[str]]:
    """Digital matrix-product ops, in the main graph or in If branches (not in loops), whose
    operands or output have a shape that is not fully known, and recurrent ops whose X has no
    rank: layer name -> those tensors."""
    digital = {x.name for x in discovery.digital}
    out: dict[str, list[str]] = {}
    for loc in walk(model):
        node, index = loc.node, loc.index
        if node.name not in digital or node.domain not in ("", "ai.onnx"):
            continue
        if any(s.op_type != "If" or s.node.domain not in ("", "ai.onnx") for s in loc.scopes):
            continue
        if node.op_type in HANDLERS and len(node.input) >= 2:
            candidates: tuple[str, ...] = (node.input[0], node.input[1], node.output[0])
        elif node.op_type in RECURRENT_OPS and index.shape(node.input[0]) is None:
            candidates = (node.input[0],)  # X: with a rank, the op can be expanded
        else:
            continue
        tensors = [
            t
            for t in candidates
            if t
            and not index.is_constant(t)
            and t in index.dtypes
            and _incomplete(index.shape(t), index.batch_symbols)
        ]
        if tensors:
            out[node.name] = tensors
    return out


def with_observed_shapes(
    model: onnx.ModelProto,
    observed: Mapping[str, Sequence[tuple[int, ...] | None]],
    *,
    examples: Sequence[int],
    sizes: bool = False,
) -> onnx.ModelProto:
    """A copy of ``model`` whose shapes state what the runs showed, inferred again; recurrent
    ops this makes expandable are expanded.

    Args:
        model: the working copy (shape-inferred, nodes named); not changed.
        observed: tensor -> its shape in each run, or None for a run that did not compute it
            (an If branch not taken); runs in the order of ``examples``. A tensor whose rank
            varied between runs, or that no run computed, is left alone.
        examples: the number of examples of each run: a dimension equal to it in every run
            is the batch (the model's batch symbol, when it has one), if the runs differ in
            size (or with ``sizes``).
        sizes: also state each dimension that was the same in every run.
    """
    result = onnx.ModelProto()
    result.CopyFrom(model)
    homes = _homes(result, observed)
    for name, runs in observed.items():
        home = homes.get(name)
        if home is None:
            continue
        seen = [(s, n) for s, n in zip(runs, examples, strict=True) if s is not None]
        dims = _stated_dims(home.index, name, seen, sizes=sizes)
        dtype = home.index.dtypes.get(name)
        if dims is None or dtype is None:
            continue
        info = helper.make_tensor_value_info(name, dtype, dims)
        # A graph input or output is restated where it is declared: with ``sizes``, that
        # says the plan holds for these sizes only (onnxruntime refuses others).
        graph = home.graph
        declared = (*graph.input, *graph.output, *graph.value_info)
        existing = next((vi for vi in declared if vi.name == name), None)
        if existing is not None:
            existing.CopyFrom(info)
        else:
            graph.value_info.append(info)
    _forget_placeholders(result, keep=set(observed))
    result = infer_shapes(result)
    return infer_shapes(result) if expand_recurrent(result).modified else result


def _homes(model: onnx.ModelProto, names: Iterable[str]) -> dict[str, GraphScope]:
    """Each tensor's graph scope: the (outermost) graph that computes it or takes it in."""
    homes: dict[str, GraphScope] = {}
    for scope in graphs(model):
        defined = {o for n in scope.graph.node for o in n.output}
        defined.update(i.name for i in scope.graph.input)
        for name in names:
            if name in defined and name not in homes:
                homes[name] = scope
    return homes


def _stated_dims(
    index: GraphIndex, name: str, seen: Sequence[tuple[tuple[int, ...], int]], *, sizes: bool
) -> list[int | str | None] | None:
    """The dimensions to state for ``name`` from the runs that computed it (shape, examples);
    None when its rank varied or no run computed it."""
    ranks = {len(s) for s, _ in seen}
    if len(ranks) != 1:
        return None
    batch = sorted(index.batch_symbols)[0] if index.batch_symbols else None
    counts = [n for _, n in seen]
    batch_shows = sizes or len(set(counts)) > 1  # else a size could equal it by chance
    known = index.shape(name)
    dims: list[int | str | None] = []
    for axis in range(ranks.pop()):
        values = [s[axis] for s, _ in seen]
        was = known[axis] if known is not None and axis < len(known) else None
        if isinstance(was, int) or was in index.batch_symbols or (was and not sizes):
            dims.append(was)  # known already: a size, the batch, or a symbol kept
        elif batch_shows and values == counts:
            dims.append(batch)  # the batch: never a fixed size (unknown if no symbol)
        elif sizes and len(set(values)) == 1:
            dims.append(int(values[0]))
        else:
            dims.append(was)
    return dims


PLACEHOLDER = "unk__"
"""How onnx's shape inference names a dimension it cannot know (``unk__3``)."""


def _forget_placeholders(model: onnx.ModelProto, *, keep: set[str]) -> None:
    """Unset the placeholder dimensions an earlier inference left in value_info (but in the
    tensors ``keep``): inferred again from the stated shapes, they carry what those show (the
    batch symbol, downstream of a tensor whose rank was unknown), which a placeholder would
    hide. Types and ranks stay (an op onnx cannot infer still has its outputs' types)."""
    for scope in graphs(model):
        for vi in scope.graph.value_info:
            if vi.name in keep or not vi.type.HasField("tensor_type"):
                continue
            for d in vi.type.tensor_type.shape.dim:
                if d.dim_param.startswith(PLACEHOLDER):
                    d.ClearField("dim_param")
