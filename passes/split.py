"""Cut a graph into consecutive pieces that run one after another.

Why: the simulation graph takes every noise draw as a graph input, so one session run holds the
draws of every layer at once (on ResNet-50, two thirds of a noisy run's memory). Run piece by
piece, a run holds only the current piece's draws, made just before it runs, and the tensors
that cross from one piece to the next.

Each piece is a model of its own: the main graph's nodes in [start, stop), the initializers
they use, as inputs the graph inputs they use and the earlier pieces' tensors they read, as
outputs what a later piece reads and the graph outputs it makes. A node's subgraphs (If, Loop,
Scan) stay whole; the outer-scope values they read count as the node's inputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import onnx


@dataclass(frozen=True)
class Piece:
    """One piece of a split graph.

    Attributes:
        model: the piece as a model of its own (the source model's functions, opsets and
            metadata).
        inputs: what it reads: graph inputs of the source model and tensors of earlier pieces.
        outputs: what it makes for later pieces and the source model's outputs it computes.
    """

    model: onnx.ModelProto
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def references(node: onnx.NodeProto) -> set[str]:
    """The names a node reads: its inputs and, in its subgraphs, every value they use (the
    outer-scope ones among them; names defined inside cannot shadow outer ones in ONNX)."""
    names = {n for n in node.input if n}
    for attribute in node.attribute:
        for graph in _subgraphs(attribute):
            for inner in graph.node:
                names |= references(inner)
            names |= {o.name for o in graph.output}
    return names


def _subgraphs(attribute: onnx.AttributeProto) -> Iterable[onnx.GraphProto]:
    if attribute.type == onnx.AttributeProto.GRAPH:
        yield attribute.g
    elif attribute.type == onnx.AttributeProto.GRAPHS:
        yield from attribute.graphs


def _reads(nodes: Sequence[onnx.NodeProto]) -> tuple[list[set[str]], dict[str, int]]:
    """What each node reads, and the position of the last node reading each name."""
    uses = [references(node) for node in nodes]
    last_use = {name: i for i, names in enumerate(uses) for name in names}
    return uses, last_use


def cut_points(
    model: onnx.ModelProto, input_weights: Mapping[str, float], pieces: int
) -> list[int]:
    """Node positions that cut the main graph into up to ``pieces`` pieces, each reading about
    an equal share of the weighted graph inputs (the noise draws, by size).

    A cut lies where every tensor crossing it has a declared type (the next piece takes it as
    an input): the first such place whose weight before it is nearest the share. Fewer cuts
    when there are no such places; none when the weights sit in one node.
    """
    graph = model.graph
    nodes = list(graph.node)
    typed = {v.name for v in [*graph.input, *graph.output, *graph.value_info]}
    uses, last_use = _reads(nodes)
    for output in graph.output:
        last_use[output.name] = len(nodes)
    seen: set[str] = set()
    weight_before = [0.0]  # weight_before[p]: weight read by nodes[:p]
    for names in uses:
        new = {n for n in names if n in input_weights and n not in seen}
        seen |= new
        weight_before.append(weight_before[-1] + sum(input_weights[n] for n in new))
    total = weight_before[-1]
    if pieces < 2 or total <= 0 or len(graph.sparse_initializer):
        return []
    live: set[str] = set()  # made by nodes[:p], read at or after p
    valid: list[int] = []
    for p in range(1, len(nodes)):
        live -= {n for n in live if last_use.get(n, -1) < p}
        live |= {o for o in nodes[p - 1].output if o and last_use.get(o, -1) >= p}
        if 0 < weight_before[p] < total and live <= typed:
            valid.append(p)
    cuts: list[int] = []
    for k in range(1, pieces):
        after = weight_before[cuts[-1]] if cuts else 0.0
        options = [p for p in valid if weight_before[p] > after]
        if not options:
            break
        target = total * k / pieces
        cuts.append(min(options, key=lambda p: (abs(weight_before[p] - target), p)))
    return cuts


def split_model(model: onnx.ModelProto, cuts: Sequence[int]) -> Iterable[Piece]:
    """The pieces between ``cuts`` (node positions, increasing), made one at a time (each
    holds its own copy of the initializers it uses: take them one by one when they are
    large)."""
    graph = model.graph
    nodes = list(graph.node)
    bounds = [0, *cuts, len(nodes)]
    initializers = {t.name: t for t in graph.initializer}
    declared = {v.name: v for v in [*graph.input, *graph.output, *graph.value_info]}
    graph_inputs = {v.name for v in graph.input}
    graph_outputs = {o.name for o in graph.output}
    uses, last_use = _reads(nodes)
    made_by = {o: i for i, node in enumerate(nodes) for o in node.output if o}
    for start, stop in itertools.pairwise(bounds):
        read = set().union(*uses[start:stop]) if stop > start else set()
        outside = sorted(
            n
            for n in read
            if (n in graph_inputs and n not in made_by) or made_by.get(n, stop) < start
        )
        made = [o for node in nodes[start:stop] for o in node.output if o]
        out = [o for o in made if o in graph_outputs or last_use.get(o, -1) >= stop]
        piece_graph = onnx.GraphProto(name=f"{graph.name}/{start}-{stop}")
        piece_graph.node.extend(nodes[start:stop])
        piece_graph.input.extend(declared[n] for n in outside)
        piece_graph.initializer.extend(
            initializers[n] for n in sorted(read) if n in initializers and n not in made_by
        )
        piece_graph.output.extend(declared[o] for o in out)
        known = read | set(made)
        piece_graph.value_info.extend(
            v
            for v in graph.value_info
            if v.name in known and v.name not in out and v.name not in outside
        )
        piece = onnx.ModelProto(
            ir_version=model.ir_version,
            producer_name=model.producer_name,
            producer_version=model.producer_version,
            domain=model.domain,
            model_version=model.model_version,
            graph=piece_graph,
        )
        piece.opset_import.extend(model.opset_import)
        piece.functions.extend(model.functions)
        piece.metadata_props.extend(model.metadata_props)
        yield Piece(piece, tuple(outside), tuple(out))
