"""Custom analogc metrics for the benchmark models (``module:function``, higher is better)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _unit_rows(a: np.ndarray) -> np.ndarray:
    flat = a.reshape(len(a), -1).astype(np.float64)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    out: np.ndarray = flat / np.maximum(norms, 1e-30)
    return out


def retrieval_top1(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    """Per example: 1 if its noisy embedding's nearest clean embedding (cosine) is its own.

    Retrieval runs within the batch, so give analogc a batch size that covers the whole data
    set (``--batch-size`` ≥ examples) for the score to mean "top-1 among all of them".
    """
    sims = _unit_rows(noisy[0]) @ _unit_rows(clean[0]).T
    hits: np.ndarray = (sims.argmax(axis=1) == np.arange(len(sims))).astype(np.float64)
    return hits
