"""A metric for the workers tests: top-1 accuracy that takes a while per batch, so that a
trial is still evaluating when the test kills its worker (the small CNN's trials are otherwise
over in a few hundredths of a second on a quiet machine)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

DELAY_S = 0.1


def slow_accuracy(
    noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: np.ndarray | None
) -> np.ndarray:
    time.sleep(DELAY_S)
    assert labels is not None
    logits = noisy[0].reshape(len(noisy[0]), -1)
    hits: np.ndarray = (logits.argmax(axis=1) == labels).astype(np.float64)
    return hits
