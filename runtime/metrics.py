"""Task metrics: per-example scores of noisy outputs against labels or the clean model.

Every metric is "higher is better" and scores each example, so evaluation can stream batches
and the report can give a mean and a confidence interval.
"""

from __future__ import annotations

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
    """

    name: str
    score: Scores
    needs_labels: bool = False
    unit: str = "%"

    def format(self, value: float) -> str:
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
    return (_logits(noisy).argmax(axis=1) == labels).astype(np.float64)


def _agreement(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    return (_logits(noisy).argmax(axis=1) == _logits(clean).argmax(axis=1)).astype(np.float64)


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1).astype(np.float64)


def _cosine(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    a, b = _flat(noisy[0]), _flat(clean[0])
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    # Two zero vectors agree perfectly; a zero against a non-zero vector does not.
    both_zero = (np.linalg.norm(a, axis=1) == 0) & (np.linalg.norm(b, axis=1) == 0)
    return np.divide((a * b).sum(axis=1), denom, out=both_zero.astype(np.float64), where=denom > 0)


def _sqnr(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    a, b = _flat(noisy[0]), _flat(clean[0])
    signal = (b * b).sum(axis=1)
    err = ((a - b) ** 2).sum(axis=1)
    return 10 * np.log10(np.maximum(signal, 1e-30) / np.maximum(err, 1e-30))


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", _top1, needs_labels=True),
    "agreement": Metric("agreement", _agreement),
    "cosine": Metric("cosine", _cosine, unit=""),
    "sqnr": Metric("sqnr", _sqnr, unit="dB"),
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

    return Metric(spec, scores, unit="")
