"""One clean pass over the calibration data: what the noise models and the accounting need.

Per analog layer it records the robust input range r_x (thermal noise), the robust output
range R and mean square of the clean output (effective bits, SNR), the output and operand
shapes for each batch shape (so noise draws can be made ahead of a run), and the clean model
outputs (the reference every noisy evaluation is compared with).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from analogc.passes import HANDLERS
from analogc.passes._index import GraphIndex

from .data import Dataset
from .session import make_session

ROBUST_PERCENTILES = (0.01, 99.99)
_SAMPLE_PER_BATCH = 1 << 16

Signature = tuple[tuple[str, tuple[int, ...]], ...]


def signature(feed: Mapping[str, np.ndarray]) -> Signature:
    return tuple(sorted((name, tuple(a.shape)) for name, a in feed.items()))


@dataclass(frozen=True)
class LayerShapes:
    """Shapes one layer's noise draws need for one batch shape."""

    output: tuple[int, ...]
    weight: tuple[int, ...]


class Probe:
    """The original model with each analog layer's operands and output exposed as outputs."""

    def __init__(
        self, model: onnx.ModelProto, layers: Sequence[str], *, threads: int | None = None
    ) -> None:
        index = GraphIndex(model)
        nodes = {n.name: n for n in model.graph.node}
        self.layers = list(layers)
        self.n_outputs = len(model.graph.output)
        self.output_names = [o.name for o in model.graph.output]
        probe = copy.deepcopy(model)
        existing = {o.name for o in probe.graph.output}
        self.tensors: dict[str, tuple[str, str, str]] = {}
        for name in self.layers:
            node = nodes[name]
            x, w, y = node.input[0], node.input[1], node.output[0]
            self.tensors[name] = (x, w, y)
            for t in (x, w, y):
                if t not in existing and t not in index.initializers:
                    probe.graph.output.append(
                        helper.make_tensor_value_info(
                            t, index.dtypes.get(t, onnx.TensorProto.FLOAT), None
                        )
                    )
                    existing.add(t)
        self.constants = {
            t: index.constant(t)
            for names in self.tensors.values()
            for t in names
            if index.is_constant(t)
        }
        self.session = make_session(probe, threads=threads)
        self.names = [o.name for o in self.session.get_outputs()]

    def run(self, feed: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Clean graph outputs, and every exposed tensor by name."""
        values = self.session.run(self.names, dict(feed))
        by_name = dict(zip(self.names, values, strict=True))
        for name, value in self.constants.items():
            by_name.setdefault(name, value)
        return [by_name[n] for n in self.output_names], by_name

    def shapes(self, tensors: Mapping[str, np.ndarray]) -> dict[str, LayerShapes]:
        return {
            name: LayerShapes(tuple(tensors[y].shape), tuple(tensors[w].shape))
            for name, (_, w, y) in self.tensors.items()
        }


@dataclass(frozen=True)
class LayerStats:
    """Calibration facts of one analog layer.

    Attributes:
        r_x: robust range of the input (0.01th to 99.99th percentile).
        r_y: robust range R of the clean output.
        y_ms: mean square of the clean output.
        macs: multiply-accumulates per example (from the observed shapes).
    """

    r_x: float
    r_y: float
    y_ms: float
    macs: int


@dataclass
class Calibration:
    layers: dict[str, LayerStats]
    clean_outputs: list[list[np.ndarray]]
    output_names: list[str]
    shapes: dict[Signature, dict[str, LayerShapes]]
    batch_size: int


class _Sampler:
    """Keeps a bounded random sample of a stream of tensors, for robust percentiles."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.parts: list[np.ndarray] = []
        self.sum_sq = 0.0
        self.count = 0

    def add(self, a: np.ndarray) -> None:
        flat = a.reshape(-1).astype(np.float64, copy=False)
        self.sum_sq += float(np.dot(flat, flat))
        self.count += flat.size
        if flat.size > _SAMPLE_PER_BATCH:
            flat = flat[self.rng.integers(0, flat.size, _SAMPLE_PER_BATCH)]
        self.parts.append(flat)

    def robust_range(self) -> float:
        lo, hi = np.percentile(np.concatenate(self.parts), ROBUST_PERCENTILES)
        return float(hi - lo)

    def mean_square(self) -> float:
        return self.sum_sq / max(self.count, 1)


def calibrate(
    model: onnx.ModelProto,
    layers: Sequence[str],
    dataset: Dataset,
    *,
    batch_size: int,
    probe: Probe | None = None,
    seed: int = 0,
) -> tuple[Calibration, Probe]:
    """Run the clean model once over ``dataset``; see the module docstring for what is kept."""
    probe = probe or Probe(model, layers)
    index = GraphIndex(model)
    nodes = {n.name: n for n in model.graph.node}
    rng = np.random.default_rng(seed)
    xs = {name: _Sampler(rng) for name in layers}
    ys = {name: _Sampler(rng) for name in layers}
    clean: list[list[np.ndarray]] = []
    shapes: dict[Signature, dict[str, LayerShapes]] = {}
    macs: dict[str, int] = {}
    for feed in dataset.batches(batch_size):
        outputs, tensors = probe.run(feed)
        clean.append(outputs)
        shapes.setdefault(signature(feed), probe.shapes(tensors))
        n = len(next(iter(feed.values())))
        for name in layers:
            x, _, y = probe.tensors[name]
            xs[name].add(tensors[x])
            ys[name].add(tensors[y])
            if name not in macs:
                macs[name] = _observed_macs(nodes[name], index, tensors, n)
    stats = {
        name: LayerStats(
            r_x=xs[name].robust_range(),
            r_y=ys[name].robust_range(),
            y_ms=ys[name].mean_square(),
            macs=macs[name],
        )
        for name in layers
    }
    return Calibration(stats, clean, probe.output_names, shapes, batch_size), probe


def _observed_macs(
    node: onnx.NodeProto, index: GraphIndex, tensors: Mapping[str, np.ndarray], batch: int
) -> int:
    """Per-example MACs: static when shape inference knew them, else from this batch's shapes."""
    handler = HANDLERS[node.op_type]
    static = handler.macs(node, index, index.per_example_shape)
    if static is not None:
        return static

    def shape_of(name: str) -> tuple[int, ...] | None:
        if name not in tensors:
            return index.per_example_shape(name)
        shape = tuple(tensors[name].shape)
        return (1, *shape[1:]) if shape and shape[0] == batch else shape

    observed = handler.macs(node, index, shape_of)
    return int(observed) if observed is not None else 0
