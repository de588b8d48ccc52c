"""Run the clean model and record the shapes of chosen tensors (shapes inference missed)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import onnx
from onnx import helper

from analogc.passes.graph_index import GraphIndex

from .calibrate import signature
from .data import Batch
from .session import make_session

MAX_RUNS = 8
"""Batches run to observe shapes: one per distinct input signature, at most this many."""


def distinct_batches(batches: Sequence[Batch], limit: int = MAX_RUNS) -> list[Batch]:
    """One batch per distinct set of input shapes, in order, at most ``limit``."""
    seen, out = set(), []
    for batch in batches:
        key = signature(batch.feed)
        if key not in seen:
            seen.add(key)
            out.append(batch)
        if len(out) == limit:
            break
    return out


def observe_shapes(
    model: onnx.ModelProto,
    tensors: Sequence[str],
    batches: Sequence[Batch],
    *,
    threads: int | None = None,
) -> dict[str, list[tuple[int, ...]]]:
    """Each main-graph tensor's shape in each of ``batches`` (a clean onnxruntime run)."""
    index = GraphIndex(model)
    probe = copy.deepcopy(model)
    present = {o.name for o in probe.graph.output}
    names = [t for t in dict.fromkeys(tensors) if t in index.dtypes]
    for name in names:
        if name not in present:
            probe.graph.output.append(helper.make_tensor_value_info(name, index.dtypes[name], None))
    session = make_session(probe, threads=threads, arena=False, optimize=False)
    del probe
    out: dict[str, list[tuple[int, ...]]] = {name: [] for name in names}
    for batch in batches:
        for name, value in zip(names, session.run(names, batch.feed), strict=True):
            out[name].append(tuple(int(d) for d in value.shape))
    return out
