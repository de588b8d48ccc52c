"""Noisy evaluation: one onnxruntime session for every repeats configuration.

The lowered graph takes per-layer noise scales ``1/sqrt(repeats·e1)`` and the standard-normal
draws as inputs. Draws are keyed by (noise seed, batch, layer), so every configuration compared
sees the same noise (common random numbers) and a seeded run is reproducible bit for bit, on any
number of threads: every draw is made in keyed chunks (runtime/draws.py).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx

from analogc.passes import Plan, SimLayer, lower_for_simulation
from analogc.passes.graph_index import GraphIndex
from analogc.passes.noise import temporal_scale
from analogc.passes.scopes import locate

from .calibrate import LayerShapes, Probe, Signature, signature
from .draws import Job, keyed_normals
from .functions import FunctionLibrary
from .session import default_threads, make_session


def _zeros(rank: int) -> np.ndarray:
    """A zero that broadcasts against a tensor of this rank (noise off, no draws made)."""
    return np.zeros((1,) * rank, np.float32)


CHIP_STREAM = 0x5EED
"""Separates a programmed chip's random stream from the runs' (keyed by batch index)."""

CACHED_RUNS_MIN = 16
"""Draws are kept only if the cache could hold at least this many runs of the same size."""


class Simulator:
    """Runs the model with analog noise on the layers of ``plan``.

    Args:
        model: the original model (shape-inferred, nodes named).
        plan: noise model, e1 and the analog layers (their repeats are not used here:
            pass ``scales`` to :meth:`run`).
        probe: a calibration probe, used to learn noise shapes for unseen batch shapes.
        shapes: noise shapes already known per batch signature (from calibration).
        stats: also return each layer's mean output-referred noise variance at E = 1.
        threads: onnxruntime intra-op threads, and threads drawing the noise.
        cache_bytes: memory for keeping draws between runs (each (seed, batch, layer) draw
            is reused by every configuration evaluated on it); 0 disables the cache.
    """

    def __init__(
        self,
        model: onnx.ModelProto,
        plan: Plan,
        *,
        probe: Probe | None = None,
        shapes: Mapping[Signature, Mapping[str, LayerShapes]] | None = None,
        stats: bool = False,
        threads: int | None = None,
        cache_bytes: int = 256 << 20,
    ) -> None:
        self.plan = plan
        self.layers = list(plan.layers)
        self.n_outputs = len(model.graph.output)
        lowered = copy.deepcopy(model)
        library = FunctionLibrary(
            noise=plan.noise, opset=GraphIndex(model).opset, mode="simulate", stats=stats
        )
        _, self.interface = lower_for_simulation(lowered, plan, library)
        self.session = make_session(lowered, threads=threads, arena=False)
        del lowered
        self.output_names = [o.name for o in model.graph.output]
        self.terms = plan.noise.terms
        if stats:  # one variance per term per layer, layer by layer
            self.output_names += [v for x in self.interface.layers for v in x.variances.values()]
        self._probe = probe
        self._model = model
        self._shapes: dict[Signature, dict[str, LayerShapes]] = {
            k: dict(v) for k, v in (shapes or {}).items()
        }
        self.cache_bytes = cache_bytes
        full_runs = [self._run_bytes(layer_shapes) for layer_shapes in self._shapes.values()]
        if full_runs and max(full_runs) * CACHED_RUNS_MIN > cache_bytes:
            # Whole runs of this model do not fit many times over: keep nothing, not even the
            # small one-layer runs of a sensitivity scan (they would only fill memory).
            self.cache_bytes = 0
        self._cache: dict[tuple[object, ...], dict[str, np.ndarray]] = {}
        self._chips: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        found = locate(model)
        self._weight_shapes = {
            name: found[name].index.static_shape(found[name].node.input[1]) or ()
            for name in self.layers
        }
        self._cached_bytes = 0
        self._spare: _Spare | None = (np.empty(0, np.float32), None)
        """Memory for the draws of a run that keeps none, reused run after run: its pages are
        touched once, not faulted in again by every run (with glibc's mmap threshold fixed,
        analogc.runtime.memory, a ResNet-50 run's fresh arrays made drawing ~1.8x slower)."""
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads or default_threads())

    def scales(self, repeats: Mapping[str, int] | int | None) -> dict[str, float]:
        """Temporal noise scale per layer: 1/sqrt(N·e1); ``None`` means clean (all zero)."""
        if repeats is None:
            return dict.fromkeys(self.layers, 0.0)
        if isinstance(repeats, int):
            repeats = dict.fromkeys(self.layers, repeats)
        return {name: temporal_scale(repeats[name], self.plan.e1_of(name)) for name in self.layers}

    def noise_shapes(self, feed: Mapping[str, np.ndarray]) -> dict[str, LayerShapes]:
        key = signature(feed)
        if key not in self._shapes:
            if self._probe is None:
                self._probe = Probe(self._model, self.layers)
            _, tensors = self._probe.run(feed)
            self._shapes[key] = self._probe.shapes(tensors)
        return self._shapes[key]

    def _run_bytes(self, shapes: Mapping[str, LayerShapes]) -> int:
        """Bytes of the draws one run with every layer noisy needs."""
        return sum(
            _draw_bytes(layer, shapes[layer.name])
            for layer in self.interface.layers
            if layer.name in shapes
        )

    def _draws(
        self,
        seed: int,
        batch_index: int,
        wanted: list[tuple[int, SimLayer, LayerShapes]],
        *,
        keep: bool,
    ) -> tuple[list[dict[str, np.ndarray]], _Spare | None]:
        """The standard-normal draws of each wanted layer for one (seed, batch), by draw name:
        the same for every configuration (common random numbers), so they are kept while
        memory allows. Missing draws are made on the pool, chunk by chunk
        (:func:`keyed_normals`): the values do not depend on the thread count. Draws not kept
        are made in the reusable buffer, returned with them to be given back once the session
        has run (:meth:`_give_back_spare`)."""
        found: list[dict[str, np.ndarray]] = []
        made: list[tuple[tuple[object, ...], dict[str, np.ndarray]]] = []
        jobs: list[Job] = []
        keys = [(seed, batch_index, p, sh.output, sh.weight) for p, _, sh in wanted]
        missing = tuple(k for k in keys if k not in self._cache)
        spare, holds = (None, None) if keep else self._take_spare()
        carver = None if keep else _Carver(spare, sum(_draw_bytes(*w[1:]) for w in wanted) // 4)
        # the buffer still holds these very draws (the previous run's, same seed and batch):
        # carved again in the same order, they are used as they are
        again = carver is not None and carver.buffer is spare and holds == missing
        for key, (position, layer, shapes) in zip(keys, wanted, strict=True):
            cached = self._cache.get(key)
            if cached is None:
                names = [n for n, d in layer.draws.items() if d.per == "run"]
                wanted_shapes = [_shape(layer.draws[n].like, shapes) for n in names]
                out = None if carver is None else [carver.take(s) for s in wanted_shapes]
                fill: list[Job] = []
                if again and out is not None:
                    arrays = out
                else:
                    arrays, fill = keyed_normals(
                        (seed, batch_index, position), wanted_shapes, out=out
                    )
                cached = dict(zip(names, arrays, strict=True))
                jobs += fill
                made.append((key, cached))
            found.append(cached)
        for _ in self._pool.map(lambda job: job(), jobs):
            pass
        for made_key, draws in made:
            self._keep(made_key, draws, keep=keep)
        if carver is None:
            return found, None
        return found, (carver.buffer, missing)

    def _take_spare(self) -> tuple[np.ndarray | None, tuple[object, ...] | None]:
        """The reusable draw buffer and the draws it holds (their keys), if no other run
        holds it."""
        with self._lock:
            spare, self._spare = self._spare, None
        return (None, None) if spare is None else spare

    def _give_back_spare(self, spare: _Spare | None) -> None:
        """Once the session has run: the buffer serves the next run (and still holds this
        run's draws: a run of another configuration on the same batch and seed uses them)."""
        if spare is not None:
            with self._lock:
                self._spare = spare

    def _keep(self, key: tuple[object, ...], draws: dict[str, np.ndarray], *, keep: bool) -> None:
        """Cache one layer's draws if ``keep`` and the cache has room."""
        size = sum(a.nbytes for a in draws.values())
        with self._lock:
            if keep and self._cached_bytes + size <= self.cache_bytes:
                self._cache[key] = draws
                self._cached_bytes += size

    def chip_draws(self, seed: int, layer: str) -> dict[str, np.ndarray]:
        """The standard-normal draws of chip ``seed`` for ``layer`` (programming error,
        drift), by draw name: what every run with that noise seed uses."""
        position = self.layers.index(layer)
        return dict(self._chip(seed, position, self.interface.layers[position]))

    def _chip(self, seed: int, position: int, layer: SimLayer) -> dict[str, np.ndarray]:
        """One programmed chip's draws for one layer (noise seed ``seed`` is the chip): the
        same in every batch, every run and every configuration."""
        key = (seed, position)
        cached = self._chips.get(key)
        if cached is not None:
            return cached
        shape = self._weight_shapes[layer.name]
        draws = {
            name: np.random.default_rng([seed, position, CHIP_STREAM, i]).standard_normal(
                shape, np.float32
            )
            for i, (name, draw) in enumerate(layer.draws.items())
            if draw.per == "chip"
        }
        size = sum(a.nbytes for a in draws.values())
        with self._lock:
            if self._cached_bytes + size <= self.cache_bytes:
                self._chips[key] = draws
                self._cached_bytes += size
        return draws

    def run(
        self,
        feed: Mapping[str, np.ndarray],
        *,
        scales: Mapping[str, float],
        seed: int,
        batch_index: int,
    ) -> list[np.ndarray]:
        """Model outputs (then the variance outputs, with ``stats``) for one batch.

        Args:
            feed: the model inputs for this batch.
            scales: per-layer noise scale; 0 switches the layer's noise off.
            seed: noise seed; with ``batch_index`` it fixes every draw.
            batch_index: position of this batch in the data set.
        """
        shapes = self.noise_shapes(feed)
        inputs = dict(feed)
        wanted: list[tuple[int, SimLayer, LayerShapes]] = []
        for position, layer in enumerate(self.interface.layers):
            scale = float(scales.get(layer.name, 0.0))
            inputs[layer.scale] = np.asarray(scale, np.float32)
            if scale > 0:
                wanted.append((position, layer, shapes[layer.name]))
            else:
                for draw in layer.draws.values():
                    inputs[draw.input] = _zeros(draw.rank)
            if layer.has_chip_draws:  # static: on whatever the temporal scale
                for name, value in self._chip(seed, position, layer).items():
                    inputs[layer.draws[name].input] = value
        # Keep draws only when the cache can hold many runs like this one: a cache holding a
        # few runs of a large model saves little time for the memory it takes.
        run_bytes = sum(_draw_bytes(layer, sh) for _, layer, sh in wanted)
        keep = run_bytes * CACHED_RUNS_MIN <= self.cache_bytes
        draws, buffer = self._draws(seed, batch_index, wanted, keep=keep)
        for (_, layer, _), made in zip(wanted, draws, strict=True):
            for name, value in made.items():
                inputs[layer.draws[name].input] = value
        try:
            outputs: list[np.ndarray] = self.session.run(self.output_names, inputs)
        finally:
            self._give_back_spare(buffer)
        return outputs


_Spare = tuple[np.ndarray, tuple[object, ...] | None]
"""The reusable draw buffer, and the keys of the draws it holds (None: not known)."""


class _Carver:
    """Hands out consecutive float32 arrays of a buffer (a new one when it is too small)."""

    def __init__(self, buffer: np.ndarray | None, elements: int) -> None:
        if buffer is None or buffer.size < elements:
            buffer = np.empty(elements, np.float32)
        self.buffer = buffer
        self.offset = 0

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape, dtype=np.int64))
        view = self.buffer[self.offset : self.offset + size].reshape(shape)
        self.offset += size
        return view


def _shape(like: str, shapes: LayerShapes) -> tuple[int, ...]:
    return shapes.output if like == "output" else shapes.weight


def _draw_bytes(layer: SimLayer, shapes: LayerShapes) -> int:
    """Bytes of one layer's temporal draws for one run."""
    return sum(
        4 * int(np.prod(_shape(d.like, shapes))) for d in layer.draws.values() if d.per == "run"
    )
