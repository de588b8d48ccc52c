"""Score repeats configurations over several noise seeds, against the clean model."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .calibrate import Calibration
from .data import Dataset
from .metrics import Metric
from .simulate import Simulator
from .stats import mean_ci95


@dataclass(frozen=True)
class Evaluation:
    """A metric over noise seeds (common random numbers: seed k is the same draw everywhere).

    Attributes:
        metric: the metric's name.
        clean: its value without noise (+inf for a metric against the clean outputs: SQNR).
        values: its value with noise, one per seed.
        seeds: the noise seeds.
    """

    metric: str
    clean: float
    values: tuple[float, ...]
    seeds: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def ci95(self) -> float:
        """Half-width of the 95% confidence interval of the mean."""
        return mean_ci95(np.asarray(self.values))[1]

    @property
    def drops(self) -> np.ndarray:
        return self.clean - np.asarray(self.values)

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "clean": self.clean,
            "mean": self.mean,
            "ci95": self.ci95,
            "values": list(self.values),
            "seeds": list(self.seeds),
        }


class Evaluator:
    """Holds the simulator, the batches and the clean reference; scores configurations.

    Args:
        simulator: a :class:`Simulator` over the analog layers.
        dataset: the examples (the same ones calibration ran on).
        calibration: clean outputs of those batches.
        metric: what to score.
        output_axes: each output's batch axis (None: it has none); metrics get outputs with
            the batch first (a time-major ``[T, batch, C]`` output, a state ``[2, batch, H]``).
    """

    def __init__(
        self,
        simulator: Simulator,
        dataset: Dataset,
        calibration: Calibration,
        metric: Metric,
        *,
        output_axes: Sequence[int | None] | None = None,
    ) -> None:
        self.simulator = simulator
        self.dataset = dataset
        self.metric = metric
        self.output_axes = list(output_axes or [])
        self.batch_size = calibration.batch_size
        split = dataset.split(self.batch_size)
        self.batches = [b.feed for b in split]
        self.batch_examples = [b.examples for b in split]  # the batch sizes actually run
        self.batch_sources = [b.source for b in split]  # the feed each batch was cut from
        self.batch_ids: list[int | None] = list(range(len(split)))
        """Each batch's position in the full data (its draws' key), or None for a batch a
        subset packed from several (drawn under its own position)."""
        self.clean_outputs = calibration.clean_outputs
        self.labels = [b.labels for b in split]
        # A metric whose reference is the clean outputs themselves (SQNR) is infinite there;
        # scoring them would only measure the metric's own numerical ceiling.
        self.clean = math.inf if metric.infinite_clean else self.score(self.clean_outputs)
        self.runs = 0  # noisy batch evaluations so far (throughput accounting)
        self.example_passes = 0  # noisy example forward passes: Σ over runs of batch examples
        self._scored: dict[tuple[tuple[float, ...], int, int], np.ndarray] = {}
        """Example scores per (scales, seed, batch of the full data), made inside a subset of
        whole batches: a configuration explored on them is confirmed on the others only (the
        same draws, the same batch: the same scores)."""
        self.keep_scores = False
        """Whether scores made now are kept (inside a subset of whole batches)."""

    def score(self, outputs: Sequence[Sequence[np.ndarray]]) -> float:
        if len(outputs) != len(self.clean_outputs):
            raise ValueError(f"{len(outputs)} batches of outputs for {len(self.batches)} batches")
        scores = [self.example_scores(out, b) for b, out in enumerate(outputs)]
        return float(np.concatenate(scores).mean())

    def _batch_first(self, outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [
            np.moveaxis(y, axis, 0) if axis else y
            for y, axis in zip(outputs, [*self.output_axes, *[0] * len(outputs)], strict=False)
        ]

    def first_output(self, outputs: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """The first output of every batch, batch first, one flattened row per example (what
        the built-in metrics score)."""
        rows = [self._batch_first(out)[0] for out in outputs]
        return np.concatenate([r.reshape(len(r), -1) for r in rows]).astype(np.float64)

    def outputs(self, scales: Mapping[str, float], seed: int) -> list[list[np.ndarray]]:
        return [self.batch_outputs(scales, seed, b) for b in range(len(self.batches))]

    def batch_outputs(self, scales: Mapping[str, float], seed: int, b: int) -> list[np.ndarray]:
        """Batch ``b`` under noise: what :meth:`outputs` gives for it (the same draws), alone."""
        result = self.simulator.run(
            self.batches[b], scales=scales, seed=seed, batch_index=self._draw_key(b)
        )
        self.runs += 1
        self.example_passes += self.batch_examples[b]
        return result

    def batch_outputs_together(
        self, scales: Sequence[Mapping[str, float]], seed: int, b: int
    ) -> list[list[np.ndarray]]:
        """What :meth:`batch_outputs` gives for each of ``scales``: a model run in pieces makes
        each piece's draws once for all of them (Simulator.run_together)."""
        result = self.simulator.run_together(
            self.batches[b], scales, seed=seed, batch_index=self._draw_key(b)
        )
        self.runs += len(scales)
        self.example_passes += len(scales) * self.batch_examples[b]
        return result

    def forget_scores(self) -> None:
        """Drop the scores kept from subsets of whole batches (what is scored next runs)."""
        self._scored.clear()

    def _draw_key(self, b: int) -> int:
        """The batch index batch ``b``'s draws are keyed by: its place in the full data."""
        own = self.batch_ids[b]
        return b if own is None else own

    def _score_key(
        self, scales: Mapping[str, float], seed: int, b: int
    ) -> tuple[tuple[float, ...], int, int] | None:
        own = self.batch_ids[b]
        if own is None:
            return None
        return tuple(float(scales.get(n, 0.0)) for n in self.simulator.layers), seed, own

    def batch_scores_together(
        self, scales: Sequence[Mapping[str, float]], seed: int, b: int
    ) -> list[np.ndarray]:
        """For each of ``scales``, the metric of each example of batch ``b`` under noise:
        recalled when a subset of whole batches scored this batch of the full data so before;
        the others run together."""
        keys = [self._score_key(s, seed, b) for s in scales]
        found: list[np.ndarray | None] = [None if k is None else self._scored.get(k) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        if todo:
            if len(todo) == 1:
                runs = [self.batch_outputs(scales[todo[0]], seed, b)]
            else:
                runs = self.batch_outputs_together([scales[i] for i in todo], seed, b)
            for i, outputs in zip(todo, runs, strict=True):
                scores = found[i] = self.example_scores(outputs, b)
                key = keys[i]
                if key is not None and self.keep_scores:
                    self._scored[key] = scores
        return [f for f in found if f is not None]

    def example_scores(self, outputs: Sequence[np.ndarray], b: int) -> np.ndarray:
        """The metric of each example of batch ``b`` (the mean over every batch's is
        :meth:`score`)."""
        clean = self._batch_first(self.clean_outputs[b])
        return np.asarray(self.metric.score(self._batch_first(outputs), clean, self.labels[b]))

    @property
    def examples(self) -> int:
        """The examples an evaluation runs now (fewer inside :meth:`subset`)."""
        return sum(self.batch_examples)

    def can_subset(self) -> bool:
        """Whether every example can be left out on its own: a batch axis on every batched
        output, and no static batch size the model insists on."""
        n = len(self.clean_outputs[0]) if self.clean_outputs else 0
        axes = [*self.output_axes, *[0] * n][:n]
        return self.dataset.static_batch is None and all(a is not None for a in axes)

    @contextlib.contextmanager
    def subset(self, examples: int) -> Iterator[int]:
        """Within: every evaluation runs on every k-th example of the data (k the largest
        stride leaving at least ``examples``; strided, not the first ones, so that sorted data
        keeps its mix), regrouped into batches as large as the full data's, scored against
        those examples' own clean outputs; yields how many. ``examples`` 0, or at least the
        data's: every example.

        Data in at least :data:`WHOLE_BATCHES_FROM` batches keeps whole batches instead (every
        k-th batch): each keeps its draws, so what a configuration scored on them is not run
        again on the full data (:meth:`batch_scores_together`)."""
        full = {name: getattr(self, name) for name in _SUBSET_STATE}
        whole = len(self.batches) >= WHOLE_BATCHES_FROM
        step = subset_stride(self.batch_examples, examples, whole_batches=whole)
        if step > 1 and self.can_subset():
            (self._take_batches if whole else self._take_every)(step)
        try:
            yield self.examples
        finally:
            for name, value in full.items():
                setattr(self, name, value)

    def _take_batches(self, step: int) -> None:
        """Keeps batches 0, k, 2k, ... of the data as they are."""
        for name in ("batches", "batch_examples", "batch_sources", "clean_outputs", "labels"):
            setattr(self, name, getattr(self, name)[::step])
        self.batch_ids = self.batch_ids[::step]
        self.keep_scores = True
        self.clean = math.inf if self.metric.infinite_clean else self.score(self.clean_outputs)

    def _take_every(self, step: int) -> None:
        """Keeps examples 0, k, 2k, ... of the data, and packs them into batches of the size
        the full data ran (feed by feed: feeds may differ in shape). Striding within batches
        alone would keep at least one example of every batch: with the memory budget's
        batches of 3, no fewer than a third of the data."""
        axes = self.dataset.batch_axes
        n_out = len(self.clean_outputs[0])
        out_axes = [a or 0 for a in [*self.output_axes, *[0] * n_out][:n_out]]
        size = max(self.batch_examples)
        starts = np.cumsum([0, *self.batch_examples[:-1]])
        picks = [
            np.arange(-s % step, n, step) for s, n in zip(starts, self.batch_examples, strict=True)
        ]
        groups: dict[int, list[int]] = {}
        for b, source in enumerate(self.batch_sources):
            if len(picks[b]):
                groups.setdefault(source, []).append(b)

        def packed(
            arrays: Sequence[np.ndarray], members: Sequence[int], axis: int
        ) -> list[np.ndarray]:
            """Batch ``members``' kept examples, concatenated and cut into batches."""
            kept = np.concatenate([np.take(arrays[b], picks[b], axis=axis) for b in members], axis)
            index: list[slice] = [slice(None)] * kept.ndim
            pieces = []
            for start in range(0, kept.shape[axis], size):
                index[axis] = slice(start, start + size)
                pieces.append(np.ascontiguousarray(kept[tuple(index)]))
            return pieces

        batches: list[dict[str, np.ndarray]] = []
        examples: list[int] = []
        sources: list[int] = []
        clean: list[list[np.ndarray]] = []
        labels: list[np.ndarray | None] = []
        for source, members in groups.items():
            first = self.batches[members[0]]
            inputs = {
                name: packed([f[name] for f in self.batches], members, axis)
                for name in first
                if (axis := axes.get(name)) is not None
            }
            outputs = [
                packed([out[j] for out in self.clean_outputs], members, axis)
                for j, axis in enumerate(out_axes)
            ]
            kept = sum(len(picks[b]) for b in members)
            count = -(-kept // size)
            examples += [min(size, kept - i * size) for i in range(count)]
            for i in range(count):
                batches.append({n: inputs[n][i] if n in inputs else a for n, a in first.items()})
                clean.append([pieces[i] for pieces in outputs])
                sources.append(source)
            if self.labels[members[0]] is None:
                labels += [None] * count
            else:
                labels += packed(self.labels, members, 0)  # type: ignore[arg-type]
        self.batches = batches
        self.batch_examples = examples
        self.batch_sources = sources
        self.batch_ids = [None] * len(batches)
        self.clean_outputs = clean
        self.labels = labels
        self.clean = math.inf if self.metric.infinite_clean else self.score(self.clean_outputs)

    def evaluate(self, repeats: Mapping[str, int] | int, seeds: Sequence[int]) -> Evaluation:
        """The metric under noise at ``repeats``, once per seed."""
        scales = self.simulator.scales(repeats)
        return self.evaluate_scales(scales, seeds)

    def evaluate_scales(self, scales: Mapping[str, float], seeds: Sequence[int]) -> Evaluation:
        return self._evaluate_scales_together([scales], seeds)[0]

    def evaluate_together(
        self, configurations: Sequence[Mapping[str, int] | int], seeds: Sequence[int]
    ) -> list[Evaluation]:
        """What :meth:`evaluate` gives for each configuration, run batch by batch: every
        configuration in turn on one batch and seed, so that a model whose draws are too large
        to keep makes each batch's draws once for all of them, not once each."""
        return self._evaluate_scales_together(
            [self.simulator.scales(c) for c in configurations], seeds
        )

    def _evaluate_scales_together(
        self, scales: Sequence[Mapping[str, float]], seeds: Sequence[int]
    ) -> list[Evaluation]:
        values: list[list[float]] = [[] for _ in scales]
        for seed in seeds:
            scores: list[list[np.ndarray]] = [[] for _ in scales]
            for b in range(len(self.batches)):
                for i, batch in enumerate(self.batch_scores_together(scales, seed, b)):
                    scores[i].append(batch)
            for i, per_batch in enumerate(scores):
                values[i].append(float(np.concatenate(per_batch).mean()))  # as :meth:`score`
        return [Evaluation(self.metric.name, self.clean, tuple(v), tuple(seeds)) for v in values]


_SUBSET_STATE = (
    "batches",
    "batch_examples",
    "batch_sources",
    "batch_ids",
    "keep_scores",
    "clean_outputs",
    "labels",
    "clean",
)
"""What :meth:`Evaluator.subset` replaces, and puts back."""

WHOLE_BATCHES_FROM = 64
"""Data in at least this many batches is subset by whole batches (every k-th), which keep
their draws and scores, so that the confirmation on every example runs only the batches
exploration left out; with fewer, a subset of whole batches would be coarse (every other of
the demo's two batches is one of them): examples are strided and packed instead."""


def subset_stride(
    batch_examples: Sequence[int], examples: int, *, whole_batches: bool = False
) -> int:
    """The largest k for which every k-th example (``whole_batches``: every k-th batch) of the
    data leaves at least ``examples`` (1: all of them). The largest, so that asking again for
    the count it leaves gives the same k (a report records the count; ``analogc check`` asks
    for it again)."""
    total = sum(batch_examples)
    if not 0 < examples < total:
        return 1
    if whole_batches:
        return max(
            k for k in range(1, len(batch_examples) + 1) if sum(batch_examples[::k]) >= examples
        )
    k = total // examples  # keeps ⌈total / k⌉ ≥ examples
    while k < total and -(-total // (k + 1)) >= examples:
        k += 1  # (from k = total on, every stride keeps the first example alone)
    return k
