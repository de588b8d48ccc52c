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


def test_the_sampler_keeps_what_a_plain_float64_reference_keeps() -> None:
    """The sampler's reused buffers (compile fixes glibc's mmap threshold, so temporaries are
    fresh mappings) change no value: the same draws of the same generator pick the same
    samples, and the sum of squares agrees with a float64 copy's to rounding."""

    def reference(stream: list[np.ndarray], rng: np.random.Generator) -> tuple[list, float]:
        parts: list[np.ndarray] = []
        sum_sq, rate, kept = 0.0, 1.0, 0
        for a in stream:
            flat = a.reshape(-1).astype(np.float64)
            sum_sq += float(np.dot(flat, flat))
            if flat.size > _SAMPLE_PER_BATCH:
                flat = flat[rng.integers(0, flat.size, _SAMPLE_PER_BATCH)]
            if rate < 1.0:
                flat = flat[rng.random(flat.size) < rate]
            parts.append(flat)
            kept += flat.size
            while kept > _SAMPLE_TOTAL:
                rate /= 2
                parts = [p[rng.random(p.size) < 0.5] for p in parts]
                kept = sum(p.size for p in parts)
        return parts, sum_sq

    data = np.random.default_rng(3)
    # small tensors kept whole, large ones sampled, enough batches to thin twice
    stream = [
        data.standard_normal(n).astype(np.float32) * 3
        for n in [1000, 3 * _SAMPLE_PER_BATCH + 17, 200_000] * 9
    ]
    sampler = _Sampler(np.random.default_rng(5))
    for a in stream:
        sampler.add(a)
    parts, sum_sq = reference(stream, np.random.default_rng(5))
    assert sampler.rate == 0.25  # the thinning ran, twice
    assert [p.size for p in sampler.parts] == [p.size for p in parts]
    np.testing.assert_array_equal(
        np.concatenate(sampler.parts).astype(np.float64), np.concatenate(parts)
    )
    assert abs(sampler.sum_sq - sum_sq) <= 1e-12 * sum_sq
