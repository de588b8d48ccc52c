"""Noisy evaluation: one onnxruntime session for every repeats configuration.

The lowered graph takes per-layer noise scales ``1/sqrt(repeats·e1)`` and the standard-normal
draws as inputs. Draws are keyed by (noise seed, batch, layer), so every configuration compared
sees the same noise (common random numbers) and a seeded run is reproducible bit for bit, on any
number of threads: every draw is made in keyed chunks (runtime/draws.py).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import onnx
import onnxruntime as ort

from analogc.passes import Plan, SimLayer, lower_for_simulation
from analogc.passes.graph_index import GraphIndex
from analogc.passes.noise import temporal_scale
from analogc.passes.scopes import locate
from analogc.passes.split import cut_points, split_model

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

PIECES = 16
"""A run whose draws take more than the simulator's ``draw_budget`` runs the graph in this
many pieces (passes.split), each piece's draws made while the piece before it runs: it holds
about 2/PIECES of the draws at a time. Pieces cost time (on ResNet-50, 5-6% more per noisy
example than the whole graph at batches 3 and 4, 22% at batch 1, 49% at batch 8;
``bench/batch_size.py``), so only a run that would not fit otherwise is cut."""

PREFETCH = True
"""Make the next piece's draws while the current one runs (False: after it; slower)."""

SPARES = 2
"""Reusable draw buffers kept (a run in pieces fills one while the other is in use)."""


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
        pieces: run the graph in up to this many consecutive pieces, each with its own draws
            (the same values: draws are keyed by layer); default: :data:`PIECES` when one
            run's draws at a known batch size exceed ``draw_budget``, else whole.
        draw_budget: bytes one run's draws may take before the graph runs in pieces (None:
            no limit).
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
        pieces: int | None = None,
        draw_budget: int | None = None,
    ) -> None:
        self.plan = plan
        self.layers = list(plan.layers)
        self.n_outputs = len(model.graph.output)
        lowered = copy.deepcopy(model)
        library = FunctionLibrary(
            noise=plan.noise, opset=GraphIndex(model).opset, mode="simulate", stats=stats
        )
        _, self.interface = lower_for_simulation(lowered, plan, library)
        self.output_names = [o.name for o in model.graph.output]
        self.terms = plan.noise.terms
        if stats:  # one variance per term per layer, layer by layer
            self.output_names += [v for x in self.interface.layers for v in x.variances.values()]
        self._probe = probe
        self._model = model
        self._shapes: dict[Signature, dict[str, LayerShapes]] = {
            k: dict(v) for k, v in (shapes or {}).items()
        }
        self._pieces = self._split(lowered, pieces, threads, draw_budget)
        self.session = (
            make_session(lowered, threads=threads, arena=False) if self._pieces is None else None
        )
        del lowered
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
        self._spares: list[_Spare] = []
        """Memory for the draws of runs that keep none, reused run after run: its pages are
        touched once, not faulted in again by every run (with glibc's mmap threshold fixed,
        analogc.runtime.memory, a ResNet-50 run's fresh arrays made drawing ~1.8x slower).
        Two at most: a run in pieces draws the next piece into one while the other serves the
        current piece."""
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads or default_threads())

    def _split(
        self,
        lowered: onnx.ModelProto,
        pieces: int | None,
        threads: int | None,
        draw_budget: int | None,
    ) -> list[_PieceRun] | None:
        """The sessions of the graph's pieces, or None to run it whole."""
        sizes = [
            {
                x.name: float(_draw_bytes(x, sh[x.name]))
                for x in self.interface.layers
                if x.name in sh
            }
            for sh in self._shapes.values()
        ]
        largest = max(sizes, key=lambda s: sum(s.values()), default={})
        if pieces is None:
            over = draw_budget is not None and sum(largest.values()) > draw_budget
            pieces = PIECES if over else 1
        if pieces < 2:
            return None
        weights: dict[str, float] = {}
        for layer in self.interface.layers:
            temporal = [d for d in layer.draws.values() if d.per == "run"]
            for draw in temporal:  # unknown shapes: every layer alike
                weights[draw.input] = largest.get(layer.name, 1.0) / len(temporal)
        cuts = cut_points(lowered, weights, pieces)
        if not cuts:
            return None
        runs: list[_PieceRun] = []
        made: set[str] = set()
        for piece in split_model(lowered, cuts):
            reads = set(piece.inputs)
            runs.append(
                _PieceRun(
                    session=make_session(piece.model, threads=threads, arena=False),
                    inputs=piece.inputs,
                    outputs=piece.outputs,
                    layers=tuple(
                        i
                        for i, layer in enumerate(self.interface.layers)
                        if any(d.input in reads for d in layer.draws.values() if d.per == "run")
                    ),
                    forget=(),
                )
            )
            made |= set(piece.outputs)
        if not set(self.output_names) <= made:  # an output no node makes (an input, a weight)
            return None
        last_reader = {name: j for j, run in enumerate(runs) for name in run.inputs if name in made}
        keep = set(self.output_names)
        return [
            dataclasses.replace(
                run,
                forget=tuple(n for n, j2 in last_reader.items() if j2 == j and n not in keep),
            )
            for j, run in enumerate(runs)
        ]

    @property
    def pieces(self) -> int:
        """How many pieces a run is made of (1: the graph runs whole)."""
        return 1 if self._pieces is None else len(self._pieces)

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

    def held_draw_bytes(self, feed: Mapping[str, np.ndarray]) -> int:
        """Bytes of draws a run on ``feed`` with every layer noisy holds at once: the whole
        run's, or in pieces the most two consecutive pieces take (one runs while the next
        one's draws are made)."""
        shapes = self.noise_shapes(feed)
        if self._pieces is None:
            return self._run_bytes(shapes)
        layers = self.interface.layers
        held = [
            sum(_draw_bytes(layers[p], shapes[layers[p].name]) for p in piece.layers)
            for piece in self._pieces
        ]
        return max(a + b for a, b in itertools.pairwise([*held, 0]))

    def _draws(
        self,
        seed: int,
        batch_index: int,
        wanted: list[tuple[int, SimLayer, LayerShapes]],
        *,
        keep: bool,
    ) -> _Pending:
        """The standard-normal draws of each wanted layer for one (seed, batch), by draw name:
        the same for every configuration (common random numbers), so they are kept while
        memory allows. Missing draws are made on the pool, chunk by chunk
        (:func:`keyed_normals`): the values do not depend on the thread count; they are being
        made when this returns (:meth:`_Pending.wait`), so that a run in pieces draws the next
        piece's noise while the current one runs. Draws not kept are made in a reusable
        buffer, to be given back once the session has run (:meth:`_give_back_spare`)."""
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

        def keep_made() -> None:
            for made_key, draws in made:
                self._keep(made_key, draws, keep=keep)

        return _Pending(
            found,
            [self._pool.submit(job) for job in jobs],
            keep_made,
            None if carver is None else (carver.buffer, missing),
        )

    def _take_spare(self) -> tuple[np.ndarray | None, tuple[object, ...] | None]:
        """The reusable draw buffer last given back and the draws it holds (their keys), if
        one is free."""
        with self._lock:
            return self._spares.pop() if self._spares else (None, None)

    def _give_back_spare(self, spare: _Spare | None) -> None:
        """Once the session has run: the buffer serves the next run (and still holds this
        run's draws: a run of another configuration on the same batch and seed uses them)."""
        if spare is not None:
            with self._lock:
                self._spares.append(spare)
                del self._spares[:-SPARES]

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
        return self.run_together(feed, [scales], seed=seed, batch_index=batch_index)[0]

    def run_together(
        self,
        feed: Mapping[str, np.ndarray],
        configurations: Sequence[Mapping[str, float]],
        *,
        seed: int,
        batch_index: int,
    ) -> list[list[np.ndarray]]:
        """What :meth:`run` gives for each configuration's scales, on the same batch and seed:
        a graph run in pieces makes each piece's draws once for all of them."""
        shapes = self.noise_shapes(feed)
        shared = dict(feed)
        own: list[dict[str, np.ndarray]] = [{} for _ in configurations]
        noisy: set[int] = set()
        for position, layer in enumerate(self.interface.layers):
            for values, scales in zip(own, configurations, strict=True):
                scale = float(scales.get(layer.name, 0.0))
                values[layer.scale] = np.asarray(scale, np.float32)
                if scale > 0:
                    noisy.add(position)
                else:  # a chip's draws stay: the static terms do not scale
                    for draw in layer.draws.values():
                        if draw.per == "run":
                            values[draw.input] = _zeros(draw.rank)
            if layer.has_chip_draws:  # static: on whatever the temporal scale
                for name, value in self._chip(seed, position, layer).items():
                    shared[layer.draws[name].input] = value
        # Keep draws only when the cache can hold many runs like this one: a cache holding a
        # few runs of a large model saves little time for the memory it takes.
        wanted = [(p, self.interface.layers[p]) for p in sorted(noisy)]
        run_bytes = sum(_draw_bytes(layer, shapes[layer.name]) for _, layer in wanted)
        keep = run_bytes * CACHED_RUNS_MIN <= self.cache_bytes
        if self._pieces is None:
            assert self.session is not None
            whole = _PieceRun(self.session, tuple(shared), tuple(self.output_names), (), ())
            pieces = [dataclasses.replace(whole, layers=tuple(sorted(noisy)))]
        else:
            pieces = self._pieces

        def start(piece: _PieceRun) -> tuple[list[tuple[int, SimLayer]], _Pending]:
            layers = [(p, self.interface.layers[p]) for p in piece.layers if p in noisy]
            wanted = [(p, x, shapes[x.name]) for p, x in layers]
            return layers, self._draws(seed, batch_index, wanted, keep=keep)

        following = start(pieces[0])
        for j, piece in enumerate(pieces):
            layers, pending = following
            draws, buffer = pending.wait()
            made: dict[str, np.ndarray] = {}
            for (_, layer), values in zip(layers, draws, strict=True):
                for name, value in values.items():
                    made[layer.draws[name].input] = value
            try:
                if j + 1 < len(pieces) and PREFETCH:  # made while this piece runs
                    following = start(pieces[j + 1])
                for values in own:
                    if self._pieces is None:
                        inputs = {**shared, **made, **values}
                    else:
                        inputs = {}
                        for name in piece.inputs:
                            for source in (values, made, shared):  # a config's zeros first
                                if name in source:
                                    inputs[name] = source[name]
                                    break
                    outputs = piece.session.run(list(piece.outputs), inputs)
                    values.update(zip(piece.outputs, outputs, strict=True))
                    for name in piece.forget:
                        del values[name]
            finally:
                self._give_back_spare(buffer)
            if j + 1 < len(pieces) and not PREFETCH:
                following = start(pieces[j + 1])
        return [[values[name] for name in self.output_names] for values in own]


class _Pending:
    """Draws being made on the pool: :meth:`wait` gives them once every chunk is made."""

    def __init__(
        self,
        found: list[dict[str, np.ndarray]],
        futures: list[Future[None]],
        then: Callable[[], None],
        spare: _Spare | None,
    ) -> None:
        self.found, self.futures, self.then, self.spare = found, futures, then, spare

    def wait(self) -> tuple[list[dict[str, np.ndarray]], _Spare | None]:
        for future in self.futures:
            future.result()
        self.then()
        return self.found, self.spare


@dataclasses.dataclass(frozen=True)
class _PieceRun:
    """One piece of the graph, ready to run (passes.split.Piece with its session).

    Attributes:
        layers: positions of the layers whose draws it takes.
        forget: the earlier pieces' tensors no piece after it reads (dropped once it ran).
    """

    session: ort.InferenceSession
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    layers: tuple[int, ...]
    forget: tuple[str, ...]


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
