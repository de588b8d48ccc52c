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
from analogc.passes.discover import iteration_count
from analogc.passes.graph_index import GraphIndex, numel
from analogc.passes.scopes import Exposer, Located, locate

from .data import Dataset
from .session import make_session

ROBUST_PERCENTILES = (0.01, 99.99)
_POOL = 1 << 16  # draws per pool when a subgraph layer's size is unknown
_SAMPLE_PER_BATCH = 1 << 16
_SAMPLE_TOTAL = 1 << 19
_SUM_CHUNK = 1 << 16  # float64 values summed at a time

Signature = tuple[tuple[str, tuple[int, ...]], ...]


def signature(feed: Mapping[str, np.ndarray]) -> Signature:
    return tuple(sorted((name, tuple(a.shape)) for name, a in feed.items()))


@dataclass(frozen=True)
class LayerShapes:
    """Shapes one layer's noise draws need for one batch shape."""

    output: tuple[int, ...]
    weight: tuple[int, ...]


class Probe:
    """The original model with each analog layer's operands and output exposed as outputs.

    A layer inside a subgraph has its tensors exposed through the control nodes above it (an
    If output, or a Loop/Scan scan output that stacks one value per iteration on axis 0);
    its noise draws come from flat pools (see :func:`analogc.passes.lower_for_simulation`)
    whose sizes :meth:`shapes` reports.
    """

    def __init__(
        self, model: onnx.ModelProto, layers: Sequence[str], *, threads: int | None = None
    ) -> None:
        found = locate(model)
        self.layers = list(layers)
        self.n_outputs = len(model.graph.output)
        self.output_names = [o.name for o in model.graph.output]
        probe = copy.deepcopy(model)
        in_probe = locate(probe)
        exposer = Exposer(probe)
        existing = {o.name for o in probe.graph.output}
        self.tensors: dict[str, tuple[str, str, str]] = {}
        self.stacked: dict[str, tuple[int, int, int]] = {}
        self.pooled: set[str] = set()
        self.located: dict[str, Located] = {name: found[name] for name in self.layers}
        constants: dict[str, np.ndarray | None] = {}
        for name in self.layers:
            loc, node = in_probe[name], in_probe[name].node
            index = loc.index
            names, stacked = [], []
            for position, t in enumerate((node.input[0], node.input[1], node.output[0])):
                if index.is_constant(t):
                    # Weights only lend their shape (noise draws, MACs): no copy of the data.
                    stand_in = _shape_only(found[name].index, t) if position == 1 else None
                    constants[t] = (
                        stand_in if stand_in is not None else found[name].index.constant(t)
                    )
                    names.append(t)
                    stacked.append(0)
                    continue
                dtype = index.dtypes.get(t, onnx.TensorProto.FLOAT)
                if loc.scopes:
                    exposed, levels = exposer.expose(t, loc.scopes, dtype, index.rank(t))
                    names.append(exposed)
                    stacked.append(levels)
                    continue
                if t not in existing:
                    probe.graph.output.append(helper.make_tensor_value_info(t, dtype, None))
                    existing.add(t)
                names.append(t)
                stacked.append(0)
            self.tensors[name] = (names[0], names[1], names[2])
            self.stacked[name] = (stacked[0], stacked[1], stacked[2])
            if loc.scopes:
                self.pooled.add(name)
        self.constants = {t: v for t, v in constants.items() if v is not None}
        self.session = make_session(probe, threads=threads, arena=False, optimize=False)
        self.names = [o.name for o in self.session.get_outputs()]

    def run(
        self, feed: Mapping[str, np.ndarray], examples: int | None = None
    ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Clean graph outputs, and every exposed tensor by name.

        Args:
            examples: how many examples the feed holds (default: the first axis of its first
                array that has one).
        """
        values = self.session.run(self.names, dict(feed))
        self._batch = (
            examples
            if examples is not None
            else next((len(a) for a in feed.values() if np.ndim(a)), 1)
        )
        by_name = dict(zip(self.names, values, strict=True))
        for name, value in self.constants.items():
            by_name.setdefault(name, value)
        return [by_name[n] for n in self.output_names], by_name

    def iterations(self, name: str, tensors: Mapping[str, np.ndarray]) -> int:
        """How many times layer ``name`` ran in this run (1 outside loops; 0: not at all)."""
        y = tensors[self.tensors[name][2]]
        if self.stacked[name][2]:
            return int(y.shape[0])
        return 0 if y.size == 0 and name in self.pooled else 1

    def shapes(self, tensors: Mapping[str, np.ndarray]) -> dict[str, LayerShapes]:
        """Noise shapes per layer: the tensors' own, or pool sizes for subgraph layers."""
        out = {}
        for name, (_, w, y) in self.tensors.items():
            if name not in self.pooled:
                out[name] = LayerShapes(tuple(tensors[y].shape), tuple(tensors[w].shape))
                continue
            runs = self.iterations(name, tensors)
            if runs == 0:  # not run in this batch: size the pools from the static shapes
                out[name] = self._static_pools(name)
                continue
            w_size = tensors[w].size * (1 if self.stacked[name][1] else runs)
            out[name] = LayerShapes((max(1, tensors[y].size),), (max(1, w_size),))
        return out

    def _static_pools(self, name: str) -> LayerShapes:
        """Pool sizes for a subgraph layer that calibration did not see run (e.g. an If branch
        no calibration batch took): from its static shapes, else a fixed 65536 draws."""
        loc = self.located[name]
        index, node = loc.index, loc.node
        trips = iteration_count(loc) or 1
        y, w = index.per_example_shape(node.output[0]), index.static_shape(node.input[1])
        y_size = numel(y) * getattr(self, "_batch", 1) * trips if y is not None else _POOL
        w_size = numel(w) * trips if w is not None else _POOL
        return LayerShapes((max(1, y_size),), (max(1, w_size),))


@dataclass(frozen=True)
class LayerStats:
    """Calibration facts of one analog layer.

    Attributes:
        r_x: robust range of the input (0.01th to 99.99th percentile).
        r_y: robust range R of the clean output.
        y_ms: mean square of the clean output.
        macs: multiply-accumulates per example (from the observed shapes).
        x_absmax, y_absmax: robust abs-max (99.99th percentile of |·|) of input and output.
        y_absmax_channels: the output's abs-max per output channel (None when the op's
            channels are not one axis of its output, or it sits in a subgraph).
    """

    r_x: float
    r_y: float
    y_ms: float
    macs: int
    x_absmax: float = 0.0
    y_absmax: float = 0.0
    y_absmax_channels: tuple[float, ...] | None = None


@dataclass
class Calibration:
    layers: dict[str, LayerStats]
    clean_outputs: list[list[np.ndarray]]
    output_names: list[str]
    shapes: dict[Signature, dict[str, LayerShapes]]
    batch_size: int


def _shape_only(index: GraphIndex, name: str) -> np.ndarray | None:
    """A zero-memory stand-in with the tensor's shape (a broadcast view), if it is static."""
    shape = index.shape(name)
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return np.broadcast_to(np.zeros((), np.float32), tuple(int(d) for d in shape))  # type: ignore[arg-type]


class _Scratch:
    """Buffers every sampler reuses, batch after batch.

    compile fixes glibc's mmap threshold at 128 KiB (:mod:`analogc.runtime.memory`), so every
    larger temporary is a fresh mapping whose pages fault in again: the float64 copies and
    samples of the 65M values a ResNet-50 batch of 3 exposes took ~0.4 s per batch that way,
    as long as the batch's own run.
    """

    def __init__(self) -> None:
        self.wide = np.empty(_SUM_CHUNK, np.float64)
        self.uniform = np.empty(_SAMPLE_PER_BATCH, np.float64)
        self.keep = np.empty(_SAMPLE_PER_BATCH, np.bool_)

    def thinned(self, part: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
        """The values of ``part`` each kept with probability ``rate`` (the draws of
        ``rng.random(part.size) < rate``, made in place)."""
        uniform, keep = self.uniform[: part.size], self.keep[: part.size]
        rng.random(out=uniform)
        np.less(uniform, rate, out=keep)
        return part[keep]


def _sum_squares(flat: np.ndarray, wide: np.ndarray) -> float:
    """Sum of squares in float64, through ``wide`` a chunk at a time (no float64 copy)."""
    total = 0.0
    for start in range(0, flat.size, wide.size):
        chunk = flat[start : start + wide.size]
        buffer = wide[: chunk.size]
        np.copyto(buffer, chunk)
        total += float(np.dot(buffer, buffer))
    return total


class _Sampler:
    """Keeps a bounded random sample of a stream of tensors, for robust percentiles.

    Each batch gives at most :data:`_SAMPLE_PER_BATCH` values; past :data:`_SAMPLE_TOTAL`
    kept, every value kept so far and every later one is kept with half the probability
    (again each time the total is reached), so every batch keeps its weight and the sample
    its size: 512 ResNet-50 images in batches of 3 would otherwise keep 11M values for each
    of 108 tensors (9 GB). The sample keeps the tensors' own dtype (float32: half the memory)
    and is widened to float64 for the percentiles.
    """

    def __init__(
        self, rng: np.random.Generator, scratch: _Scratch | None = None, *, squares: bool = True
    ) -> None:
        self.rng = rng
        self.scratch = scratch or _Scratch()
        self.squares = squares
        """Keep the sum of squares (:meth:`mean_square`): a pass over every value, which the
        layer inputs' samplers skip (only the outputs' mean square is used)."""
        self.parts: list[np.ndarray] = []
        self.sum_sq = 0.0
        self.count = 0
        self.rate = 1.0
        self.kept = 0

    def add(self, a: np.ndarray) -> None:
        if a.size == 0:  # a subgraph layer that did not run in this batch
            return
        flat = a.reshape(-1)
        if self.squares:
            self.sum_sq += _sum_squares(flat, self.scratch.wide)
        self.count += flat.size
        if flat.size > _SAMPLE_PER_BATCH:
            flat = np.take(flat, self.rng.integers(0, flat.size, _SAMPLE_PER_BATCH))
        if self.rate < 1.0:
            flat = self.scratch.thinned(flat, self.rng, self.rate)
        self.parts.append(flat if flat.base is None else flat.copy())
        self.kept += flat.size
        while self.kept > _SAMPLE_TOTAL:
            self.rate /= 2
            self.parts = [self.scratch.thinned(p, self.rng, 0.5) for p in self.parts]
            self.kept = sum(p.size for p in self.parts)

    def _sample(self) -> np.ndarray:
        return np.concatenate(self.parts).astype(np.float64)

    def robust_range(self) -> float:
        if not self.parts:
            return 0.0
        lo, hi = np.percentile(self._sample(), ROBUST_PERCENTILES)
        return float(hi - lo)

    def robust_absmax(self) -> float:
        if not self.parts:
            return 0.0
        return float(np.percentile(np.abs(self._sample()), ROBUST_PERCENTILES[1]))

    def mean_square(self) -> float:
        if not self.squares:
            raise ValueError("this sampler does not keep the sum of squares")
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
    rng = np.random.default_rng(seed)
    scratch = _Scratch()
    xs = {name: _Sampler(rng, scratch, squares=False) for name in layers}
    ys = {name: _Sampler(rng, scratch) for name in layers}
    clean: list[list[np.ndarray]] = []
    shapes: dict[Signature, dict[str, LayerShapes]] = {}
    macs: dict[str, int] = {}
    axes = {name: _output_channel_axis(probe, name) for name in layers}
    channel_max: dict[str, np.ndarray] = {}
    for batch in dataset.split(batch_size):
        feed, n = batch.feed, batch.examples
        outputs, tensors = probe.run(feed, n)
        clean.append(outputs)
        _merge_shapes(shapes.setdefault(signature(feed), {}), probe.shapes(tensors))
        for name in layers:
            x, _, y = probe.tensors[name]
            xs[name].add(tensors[x])
            ys[name].add(tensors[y])
            axis = axes[name]
            if axis is not None:
                _channel_max(channel_max, name, tensors[y], axis)
            observed = _observed_macs(probe, name, tensors, n)
            macs[name] = max(macs.get(name, 0), observed)
        del outputs, tensors  # before the next batch's run allocates its own
    stats = {
        name: LayerStats(
            r_x=xs[name].robust_range(),
            r_y=ys[name].robust_range(),
            y_ms=ys[name].mean_square(),
            macs=macs[name],
            x_absmax=xs[name].robust_absmax(),
            y_absmax=ys[name].robust_absmax(),
            y_absmax_channels=None
            if name not in channel_max
            else tuple(float(v) for v in channel_max[name]),
        )
        for name in layers
    }
    return Calibration(stats, clean, probe.output_names, shapes, batch_size), probe


def _output_channel_axis(probe: Probe, name: str) -> int | None:
    """The axis of the layer's output that indexes its output channels, when it has one and
    the layer's weights are stored (per-channel converter ranges need it)."""
    loc = probe.located[name]
    node, index = loc.node, loc.index
    handler = HANDLERS[node.op_type]
    if loc.scopes or handler.operand(node, index) != "constant":
        return None
    return handler.lower(node, index, "probe").family.output_channel_axis


def _channel_max(found: dict[str, np.ndarray], name: str, y: np.ndarray, axis: int) -> None:
    """Running max of |y| per output channel: max(max y, −min y), reduced in place over the
    other axes (exactly max |y|; moving the channel axis last copied every activation, a
    sixth of a ResNet-50's calibration time)."""
    if y.size == 0 or y.ndim == 0:
        return
    others = tuple(i for i in range(y.ndim) if i != axis % y.ndim)
    per_channel = np.maximum(y.max(axis=others), -y.min(axis=others))
    old = found.get(name)
    found[name] = per_channel if old is None else np.maximum(old, per_channel)


def _merge_shapes(known: dict[str, LayerShapes], new: Mapping[str, LayerShapes]) -> None:
    """Keep, per layer, the larger pool of draws (a subgraph layer may run more in one batch
    than in another of the same shape); tensor shapes of main-graph layers do not vary."""
    for name, shape in new.items():
        old = known.get(name)
        if old is None or len(old.output) != 1 or len(shape.output) != 1:
            known.setdefault(name, shape)
            continue
        known[name] = LayerShapes(
            (max(old.output[0], shape.output[0]),), (max(old.weight[0], shape.weight[0]),)
        )


def _observed_macs(probe: Probe, name: str, tensors: Mapping[str, np.ndarray], batch: int) -> int:
    """Per-example MACs: static when shape inference knew them, else from this batch's shapes
    (one iteration's shapes times the iterations, inside a loop)."""
    loc = probe.located[name]
    node, index = loc.node, loc.index
    handler = HANDLERS[node.op_type]
    static = handler.macs(node, index, index.per_example_shape)
    trips = iteration_count(loc)
    if static is not None and trips is not None:
        return static * trips
    runs = probe.iterations(name, tensors)
    if runs == 0:
        return 0
    exposed = dict(
        zip((node.input[0], node.input[1], node.output[0]), probe.tensors[name], strict=True)
    )
    levels = dict(
        zip((node.input[0], node.input[1], node.output[0]), probe.stacked[name], strict=True)
    )

    def shape_of(t: str) -> tuple[int, ...] | None:
        if t not in exposed or exposed[t] not in tensors:
            return index.per_example_shape(t)
        shape = tuple(tensors[exposed[t]].shape)[levels[t] :]
        declared = index.shape(t)
        if declared and len(declared) == len(shape) and set(declared) & index.batch_symbols:
            # The batch where shape inference put it (second in a time-major [seq, batch, I]).
            return tuple(
                1 if d in index.batch_symbols else n for d, n in zip(declared, shape, strict=True)
            )
        return (1, *shape[1:]) if shape and shape[0] == batch else shape

    observed = static if static is not None else handler.macs(node, index, shape_of)
    return int(observed) * runs if observed is not None else 0
