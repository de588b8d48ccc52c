"""The calibration's robust ranges come from a bounded sample: its size stays bounded however
many batches the data has, and every batch keeps its weight in it (runtime.calibrate)."""

from __future__ import annotations

import numpy as np

from analogc.runtime.calibrate import _SAMPLE_PER_BATCH, _SAMPLE_TOTAL, _Sampler


def test_the_sample_stays_bounded_and_every_batch_keeps_its_weight() -> None:
    sampler = _Sampler(np.random.default_rng(0))
    batches = 40  # 40 × 65,536 per batch would be 2.6M values kept
    data = np.random.default_rng(1)
    for b in range(batches):
        # the first half of the batches around 0, the second around 100: a sample that
        # favoured early or late batches would move the median and the quartiles
        sampler.add(
            data.standard_normal(3 * _SAMPLE_PER_BATCH).astype(np.float32) + 100 * (b >= 20)
        )
    kept = np.concatenate(sampler.parts)
    assert _SAMPLE_TOTAL // 2 < kept.size <= _SAMPLE_TOTAL
    share_late = float(np.mean(kept > 50))
    # binomial share of ~400k kept values: 0.5 ± 0.004 at 5 sigma
    assert abs(share_late - 0.5) < 0.004, share_late
    # percentiles of the bounded sample agree with those of all the data
    assert abs(sampler.robust_absmax() - 103.54) < 0.3  # 99.98th of N(100, 1): z = 3.54
    assert sampler.mean_square() == sampler.sum_sq / (batches * 3 * _SAMPLE_PER_BATCH)


def test_a_short_stream_is_kept_whole_per_batch() -> None:
    """Below the total nothing is thinned (the demo's two batches sample as they always did)."""
    sampler = _Sampler(np.random.default_rng(0))
    for _ in range(2):
        sampler.add(np.ones(5 * _SAMPLE_PER_BATCH, np.float32))
    assert [p.size for p in sampler.parts] == [_SAMPLE_PER_BATCH, _SAMPLE_PER_BATCH]
    assert sampler.rate == 1.0


def test_channel_max_is_the_running_max_of_abs_per_channel() -> None:
    from analogc.runtime.calibrate import _channel_max

    rng = np.random.default_rng(2)
    found: dict[str, np.ndarray] = {}
    batches = [rng.standard_normal((3, 5, 4, 4)).astype(np.float32) * s for s in (1, 7, 2)]
    for y in batches:
        _channel_max(found, "conv", y, 1)
        _channel_max(found, "last", np.moveaxis(y, 1, -1), -1)  # a Gemm/MatMul layout
    every = np.concatenate(batches)
    expected = np.abs(np.moveaxis(every, 1, -1)).reshape(-1, 5).max(axis=0)
    np.testing.assert_array_equal(found["conv"], expected)
    np.testing.assert_array_equal(found["last"], expected)
