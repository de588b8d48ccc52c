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
        self.clean_outputs = calibration.clean_outputs
        self.labels = [b.labels for b in split]
        # A metric whose reference is the clean outputs themselves (SQNR) is infinite there;
        # scoring them would only measure the metric's own numerical ceiling.
        self.clean = math.inf if metric.infinite_clean else self.score(self.clean_outputs)
        self.runs = 0  # noisy batch evaluations so far (throughput accounting)
        self.example_passes = 0  # noisy example forward passes: Σ over runs of batch examples

    def score(self, outputs: Sequence[Sequence[np.ndarray]]) -> float:
        scores = [
            self.metric.score(self._batch_first(out), self._batch_first(clean), labels)
            for out, clean, labels in zip(outputs, self.clean_outputs, self.labels, strict=True)
        ]
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
        result = []
        for b, feed in enumerate(self.batches):
            result.append(self.simulator.run(feed, scales=scales, seed=seed, batch_index=b))
            self.runs += 1
            self.example_passes += self.batch_examples[b]
        return result

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
        """Within: every evaluation runs on every k-th example of each batch (k the largest
        stride leaving at least ``examples``; strided, not the first ones, so that sorted data
        keeps its mix), scored against those examples' own clean outputs; yields how many.
        ``examples`` 0, or at least the data's: every example."""
        full = (self.batches, self.batch_examples, self.clean_outputs, self.labels, self.clean)
        step = subset_stride(self.batch_examples, examples)
        if step > 1 and self.can_subset():
            self._take_every(step)
        try:
            yield self.examples
        finally:
            self.batches, self.batch_examples, self.clean_outputs, self.labels, self.clean = full

    def _take_every(self, step: int) -> None:
        axes = self.dataset.batch_axes
        n_out = len(self.clean_outputs[0])
        out_axes = [a or 0 for a in [*self.output_axes, *[0] * n_out][:n_out]]

        def every(a: np.ndarray, axis: int) -> np.ndarray:
            index = [slice(None)] * np.ndim(a)
            index[axis] = slice(None, None, step)
            return np.ascontiguousarray(a[tuple(index)])

        self.batches = [
            {k: v if (axis := axes.get(k)) is None else every(v, axis) for k, v in feed.items()}
            for feed in self.batches
        ]
        self.batch_examples = [len(range(0, n, step)) for n in self.batch_examples]
        self.clean_outputs = [
            [every(y, axis) for y, axis in zip(out, out_axes, strict=True)]
            for out in self.clean_outputs
        ]
        self.labels = [None if lab is None else lab[::step] for lab in self.labels]
        self.clean = math.inf if self.metric.infinite_clean else self.score(self.clean_outputs)

    def evaluate(self, repeats: Mapping[str, int] | int, seeds: Sequence[int]) -> Evaluation:
        """The metric under noise at ``repeats``, once per seed."""
        scales = self.simulator.scales(repeats)
        return self.evaluate_scales(scales, seeds)

    def evaluate_scales(self, scales: Mapping[str, float], seeds: Sequence[int]) -> Evaluation:
        values = tuple(self.score(self.outputs(scales, seed)) for seed in seeds)
        return Evaluation(self.metric.name, self.clean, values, tuple(seeds))


def subset_stride(batch_examples: Sequence[int], examples: int) -> int:
    """The largest k for which every k-th example of each batch leaves at least ``examples``
    (1: all of them). The largest, so that asking again for the count it leaves gives the same
    k (a report records the count; ``analogc check`` asks for it again)."""
    total = sum(batch_examples)
    if not 0 < examples < total:
        return 1
    # total // examples leaves at least total / k >= examples; past the largest batch, every
    # stride keeps each batch's first example only: the same subset.
    k = min(max(1, total // examples), max(batch_examples))
    while k < max(batch_examples) and _kept(batch_examples, k + 1) >= examples:
        k += 1
    return k


def _kept(batch_examples: Sequence[int], k: int) -> int:
    return sum(-(-n // k) for n in batch_examples)
