"""Task metrics: per-example scores of noisy outputs against labels or the clean model.

Every metric is "higher is better" and scores each example, so evaluation can stream batches
and the report can give a mean and a confidence interval. A metric also says what a budget on
it can mean: its ``scale`` (an absolute drop at or above it is a mistake: ``--max-drop 1``
on accuracy is 100 points) and whether the clean model has a finite score at all (SQNR
compares noisy outputs with the clean ones, so the clean model's own SQNR is infinite and a
budget is the lowest SQNR allowed, never a drop).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analogc.errors import DataError

Scores = Callable[[Sequence[np.ndarray], Sequence[np.ndarray], "np.ndarray | None"], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """A named per-example score.

    Attributes:
        name: identifier used on the command line and in reports.
        score: (noisy outputs, clean outputs, labels or None) -> one score per example.
        needs_labels: True if the metric compares with labels.
        unit: how to print it: ``%`` (a fraction shown in percent), ``dB`` or ``""``.
        scale: the metric's full scale (1 for a fraction or a cosine): an absolute drop at or
            above it allows anything, so a budget that large is refused; None if unbounded.
        infinite_clean: the clean model scores +inf (its outputs are the reference, as for
            SQNR): a budget is then the lowest score allowed, not a drop from clean.
        self_contained: each example's score depends on that example alone, so a subset of
            the data scores the same way (the built-in metrics); a ``module:function`` may
            score an example against the rest of its batch (retrieval among the batch's
            embeddings), which a subset would make easier.
    """

    name: str
    score: Scores
    needs_labels: bool = False
    unit: str = "%"
    scale: float | None = None
    infinite_clean: bool = False
    self_contained: bool = True

    def format(self, value: float) -> str:
        if math.isinf(value):
            return f"{'+' if value > 0 else '-'}∞{(' ' + self.unit) if self.unit != '%' else ''}"
        return (
            f"{100 * value:.2f}%"
            if self.unit == "%"
            else f"{value:.4g}{(' ' + self.unit) if self.unit else ''}"
        )


def _logits(outputs: Sequence[np.ndarray]) -> np.ndarray:
    y = outputs[0]
    return y.reshape(len(y), -1) if y.ndim != 2 else y


def _top1(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    if labels is None:
        raise DataError(
            "metric 'accuracy' needs labels: add a 'labels' array to the data, or use --metric agreement"
        )
    hits: np.ndarray = _logits(noisy).argmax(axis=1) == labels
    return hits.astype(np.float64)


def _agreement(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    same: np.ndarray = _logits(noisy).argmax(axis=1) == _logits(clean).argmax(axis=1)
    return same.astype(np.float64)


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1).astype(np.float64)


def _cosine(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    a, b = _flat(noisy[0]), _flat(clean[0])
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    # Two zero vectors agree perfectly; a zero against a non-zero vector does not.
    both_zero = (np.linalg.norm(a, axis=1) == 0) & (np.linalg.norm(b, axis=1) == 0)
    cosine: np.ndarray = np.divide(
        (a * b).sum(axis=1), denom, out=both_zero.astype(np.float64), where=denom > 0
    )
    return cosine


SQNR_RESOLUTION = 2.0**-48
"""Noise power below this fraction of the signal power is float32 rounding (a relative error
of 2^-24): an example that exact scores 10·log10(2^48) ≈ 144.5 dB, a ceiling that does not
depend on the output's scale."""


def _sqnr(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    a, b = _flat(noisy[0]), _flat(clean[0])
    signal = np.maximum((b * b).sum(axis=1), 1e-30)
    err = np.maximum(((a - b) ** 2).sum(axis=1), signal * SQNR_RESOLUTION)
    decibels: np.ndarray = 10 * np.log10(signal / err)
    return decibels


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", _top1, needs_labels=True, scale=1.0),
    "agreement": Metric("agreement", _agreement, scale=1.0),
    "cosine": Metric("cosine", _cosine, unit="", scale=1.0),
    "sqnr": Metric("sqnr", _sqnr, unit="dB", infinite_clean=True),
}


def default_metric(has_labels: bool) -> Metric:
    return METRICS["accuracy" if has_labels else "agreement"]


def custom_metric(spec: str) -> Metric:
    """``module:function`` scoring each example: ``f(noisy_outputs, clean_outputs, labels)``
    gets lists of output arrays (one per model output, batch first) and labels or None, and
    returns one score per example, higher is better."""
    import importlib
    import sys

    module_name, _, func_name = spec.partition(":")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise DataError(f"cannot load metric {spec!r}: {exc}") from exc

    def scores(
        noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
    ) -> np.ndarray:
        values = np.asarray(func(list(noisy), list(clean), labels), dtype=np.float64).reshape(-1)
        if len(values) != len(noisy[0]):
            raise DataError(
                f"metric {spec!r} returned {len(values)} scores for a batch of {len(noisy[0])} examples"
            )
        return values

    return Metric(spec, scores, unit="", self_contained=False)
