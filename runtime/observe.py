"""Run the clean model and record the shapes of chosen tensors (shapes inference missed)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import onnx

from analogc.passes.scopes import Exposer, defining_depth, locate

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
    tensors: Mapping[str, Sequence[str]],
    batches: Sequence[Batch],
    *,
    threads: int | None = None,
) -> dict[str, list[tuple[int, ...] | None]]:
    """The shape of each tensor in each of ``batches`` (a clean onnxruntime run), or None
    where its If branch was not taken.

    Args:
        model: the working copy (not changed).
        tensors: layer name -> tensors to watch (in the main graph or in If branches).
        batches: the runs.
    """
    probe = copy.deepcopy(model)
    found = locate(probe)
    exposer = Exposer(probe)
    exposed: dict[str, str] = {}
    branch: set[str] = set()
    for layer, names in tensors.items():
        loc = found[layer]
        for name in names:
            dtype = loc.index.dtypes.get(name)
            if dtype is None or name in exposed:
                continue
            depth = defining_depth(name, loc.scopes, probe.graph)
            exposed[name], _ = exposer.expose(name, loc.scopes, dtype, None)
            if depth:
                branch.add(name)
    session = make_session(probe, threads=threads, arena=False, optimize=False)
    del probe
    outputs = list(dict.fromkeys(exposed.values()))
    out: dict[str, list[tuple[int, ...] | None]] = {name: [] for name in exposed}
    for batch in batches:
        values = dict(zip(outputs, session.run(outputs, batch.feed), strict=True))
        for name, output in exposed.items():
            shape = tuple(int(d) for d in values[output].shape)
            # An If branch not taken gives analogc's empty stand-in instead.
            out[name].append(None if name in branch and shape == (0,) else shape)
    return out
