"""Keyed standard-normal draws (runtime/draws.py): reproducible, N(0, 1), independent.

Every layer draws chunk by chunk from a keyed counter-based generator (SplitMix64 hashes read
as 16-bit indices into a table of the normal's equal-probability bins), on any number of
threads.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import matmul, parallel_matmuls, rng
from helpers import plan_for, prepare, run_plain
from reference import terms

from analogc.passes import NoiseModel
from analogc.runtime.draws import (
    CHUNK,
    CHUNK_STREAM,
    counter_normals,
    keyed_normals,
    normal_table,
)
from analogc.runtime.simulate import Simulator

SHOT = NoiseModel(shot=True)
DEMO_MODEL = Path(__file__).resolve().parents[2] / "models" / "digits_resnet.onnx"
BIG = (4 * CHUNK + 12_345,)  # full chunks and a partial one


def _drawn(key: tuple[int, ...], shapes: list[tuple[int, ...]], threads: int = 1):
    """Arrays of ``keyed_normals`` with every job run on ``threads`` threads."""
    arrays, jobs = keyed_normals(key, shapes)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda job: job(), jobs))
    return arrays


def _five_sigma(n: int) -> float:
    """Bound on |mean| of n N(0, 1) draws, and on |r| of n independent pairs: 5 / sqrt(n)
    (each has standard deviation 1/sqrt(n); 5 of it fails by chance with p ~ 6e-7)."""
    return 5.0 / math.sqrt(n)


def _chunk_seed(key: tuple[int, ...]) -> int:
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0])


def test_small_layers_draw_one_keyed_chunk_per_array() -> None:
    """An array of at most CHUNK elements is one chunk, keyed by (key, stream, draw, 0)."""
    shapes = [(64, 16, 8, 8), (16, 16, 3, 3)]
    arrays, jobs = keyed_normals((7, 2, 3), shapes)
    assert len(jobs) == 2
    for job in jobs:
        job()
    for i, (a, shape) in enumerate(zip(arrays, shapes, strict=True)):
        expected = np.empty(math.prod(shape), np.float32)
        counter_normals(_chunk_seed((7, 2, 3, CHUNK_STREAM, i, 0)), expected)
        np.testing.assert_array_equal(a.reshape(-1), expected)


def test_the_table_is_the_normal_in_equally_likely_bins() -> None:
    """Antisymmetric, unit variance, sorted, and its distribution function within one bin
    (1/65,536) of the normal's at every value it takes; kurtosis within 1e-3 of 3."""
    table = normal_table().astype(np.float64)
    m = table.size
    assert m == 1 << 16 and normal_table().dtype == np.float32
    np.testing.assert_array_equal(table, -table[::-1])
    assert abs(np.mean(table**2) - 1) < 1e-6
    assert np.all(np.diff(table) > 0)
    from statistics import NormalDist

    phi = np.array([NormalDist().cdf(v) for v in table[:: m // 512]])
    k = np.arange(0, m, m // 512)
    # value k sits inside bin k: the normal puts between k/m and (k+1)/m below it
    assert np.all(phi >= k / m - 1e-9) and np.all(phi <= (k + 1) / m + 1e-9)
    assert abs(np.mean(table**4) - 3) < 1e-3
    assert 4.3 < table.max() < 4.5


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_chunked_draws_do_not_depend_on_threads_or_order(threads: int) -> None:
    shapes = [BIG, (CHUNK // 2,)]
    reference = _drawn((7, 2, 3), shapes, threads=1)
    arrays, jobs = keyed_normals((7, 2, 3), shapes)
    assert len(jobs) == math.ceil(BIG[0] / CHUNK) + 1, "one job per chunk of each draw"
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda job: job(), reversed(jobs)))
    for a, b in zip(arrays, reference, strict=True):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_chunked_draws_are_standard_normal() -> None:
    """Mean within 5/sqrt(n) of 0 and std within 5·sqrt(1/(2n)) of 1 (the standard errors
    of a sample mean and a sample std of N(0, 1)), pooled and chunk by chunk."""
    (z,) = _drawn((1, 0, 0), [BIG])
    z64 = z.astype(np.float64)
    pieces = [("all", z64)] + [
        (f"chunk {c}", z64[s : s + CHUNK]) for c, s in enumerate(range(0, z.size, CHUNK))
    ]
    for what, x in pieces:
        n = x.size
        assert abs(x.mean()) < _five_sigma(n), f"{what}: mean {x.mean():.5f} over {n}"
        assert abs(x.std() - 1) < 5 / math.sqrt(2 * n), f"{what}: std {x.std():.5f} over {n}"
    # a normal tail: P(|z| > 3) = 0.0027, binomial standard error sqrt(p(1-p)/n)
    tail = np.mean(np.abs(z64) > 3)
    assert abs(tail - 0.0027) < 5 * math.sqrt(0.0027 / z.size), f"P(|z|>3) = {tail:.5f}"


def test_chunked_draws_are_independent_across_keys_and_chunks() -> None:
    (base,) = _drawn((1, 0, 0), [BIG])
    others = {
        "seed": _drawn((2, 0, 0), [BIG])[0],
        "batch": _drawn((1, 1, 0), [BIG])[0],
        "layer": _drawn((1, 0, 1), [BIG])[0],
        "next chunk": np.roll(base, -CHUNK),
    }
    for what, other in others.items():
        r = np.corrcoef(base.astype(np.float64), other.astype(np.float64))[0, 1]
        assert abs(r) < _five_sigma(base.size), f"{what}: correlation {r:.5f}"
    second = _drawn((1, 0, 0), [BIG, BIG])[1]  # the layer's second draw
    r = np.corrcoef(base.astype(np.float64), second.astype(np.float64))[0, 1]
    assert abs(r) < _five_sigma(base.size), f"second draw: correlation {r:.5f}"


def test_simulator_chunked_layer_is_reproducible_across_thread_counts() -> None:
    """A layer with 2M output elements (chunked): same outputs on 1 and 2 threads, and the
    output noise is N(0, sigma²) to within the sample's standard errors."""
    case = matmul(k=4, n=256)
    model = prepare(case.model)
    feed = case.feed(rng(), 8192)
    plan = plan_for([case.layer], SHOT)
    outs = [
        Simulator(model, plan, threads=t).run(feed, scales={case.layer: 1.0}, seed=3, batch_index=1)
        for t in (1, 2)
    ]
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    clean = run_plain(model, feed)[0].astype(np.float64)
    z = (outs[0][0] - clean) / terms(model, feed).sigma(SHOT)
    assert z.size > CHUNK
    assert abs(z.mean()) < _five_sigma(z.size), f"mean {z.mean():.5f}"
    assert abs(z.std() - 1) < 0.01, f"std {z.std():.5f}"  # float32 rounding of y is ~1e-7·|y|


def test_counter_normals_match_normal_probabilities() -> None:
    """P(|z| < 1), P(|z| < 2), P(|z| < 3) within 5 binomial standard errors of the normal
    distribution's, no value beyond the table's, lengths that are not a multiple of 4 filled
    to the end, and the four draws of one hash uncorrelated."""
    z = np.empty(CHUNK - 1, np.float32)
    z[-1] = np.nan
    counter_normals(12345, z)
    assert np.all(np.isfinite(z)) and np.abs(z).max() <= normal_table().max()
    for k, p in ((1, 0.682689), (2, 0.954500), (3, 0.997300)):
        got = np.mean(np.abs(z) < k)
        assert abs(got - p) < 5 * math.sqrt(p * (1 - p) / z.size), f"P(|z|<{k}) = {got:.5f}"
    fields = z[: (z.size // 4) * 4].reshape(-1, 4).astype(np.float64)
    for i, j in ((0, 1), (1, 2), (2, 3), (0, 3)):
        r = np.corrcoef(fields[:, i], fields[:, j])[0, 1]
        assert abs(r) < _five_sigma(fields.shape[0]), f"fields {i}, {j}: correlation {r:.5f}"


def _splitmix_table(key: int, size: int) -> np.ndarray:
    """counter_normals as its docstring defines it, written plainly."""
    hashes = -(-size // 4)
    with np.errstate(over="ignore"):
        z = np.arange(1, hashes + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z += np.uint64(key)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    shifts = np.arange(4, dtype=np.uint64) * np.uint64(16)
    index = ((z[:, None] >> shifts[None, :]) & np.uint64(0xFFFF)).reshape(-1)[:size]
    return normal_table()[index.astype(np.intp)]


@pytest.mark.parametrize("key", [0, 12345, 2**63 + 7, 2**64 - 1])
@pytest.mark.parametrize("size", [CHUNK, CHUNK - 1, 1001, 1])
def test_counter_normals_are_splitmix64_and_the_table(key: int, size: int) -> None:
    """The values the docstring defines, bit for bit (the fast path views each 64-bit hash as
    four little-endian 16-bit fields, and adds precomputed counter offsets)."""
    got = np.empty(size, np.float32)
    counter_normals(key, got)
    np.testing.assert_array_equal(got, _splitmix_table(key, size))


@pytest.mark.parametrize("shapes", [[(64, 16, 8, 8), (16, 16, 3, 3)], [BIG, (CHUNK // 2,)]])
def test_draws_into_a_reused_buffer_are_the_same(shapes: list[tuple[int, ...]]) -> None:
    """``out=`` views of one buffer, dirty from earlier use, get exactly the fresh arrays'
    values (single stream and chunks alike)."""
    fresh = _drawn((7, 2, 3), shapes)
    buffer = np.full(sum(math.prod(s) for s in shapes) + 5, np.nan, np.float32)
    views, offset = [], 0
    for shape in shapes:
        views.append(buffer[offset : offset + math.prod(shape)].reshape(shape))
        offset += math.prod(shape)
    arrays, jobs = keyed_normals((7, 2, 3), shapes, out=views)
    for job in jobs:
        job()
    for a, b, view in zip(arrays, fresh, views, strict=True):
        assert a is view
        np.testing.assert_array_equal(a, b)


def test_simulator_reuses_one_buffer_for_draws_it_does_not_keep() -> None:
    """With no cache, every run draws into the same memory (its pages are not faulted in
    again run after run) and gives the outputs a caching simulator gives, seed for seed."""
    case = matmul(k=4, n=256)
    model = prepare(case.model)
    feed = case.feed(rng(), 64)
    plan = plan_for([case.layer], SHOT)
    scales = {case.layer: 1.0}
    reusing = Simulator(model, plan, cache_bytes=0)
    caching = Simulator(model, plan)
    addresses = set()
    for seed in (0, 1, 0):
        got = reusing.run(feed, scales=scales, seed=seed, batch_index=0)[0]
        np.testing.assert_array_equal(
            got, caching.run(feed, scales=scales, seed=seed, batch_index=0)[0]
        )
        assert len(reusing._spares) == 1 and reusing._spares[0][0].size == 64 * 256
        addresses.add(reusing._spares[0][0].ctypes.data)
    assert len(addresses) == 1, "a new buffer was made for a run of the same size"
    first = reusing.run(feed, scales=scales, seed=5, batch_index=0)[0]
    again = reusing.run(feed, scales=scales, seed=5, batch_index=0)[0]
    np.testing.assert_array_equal(first, again)


def _counted_draws(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The keys the simulator draws from (keyed_normals calls), from now on."""
    from analogc.runtime import simulate

    calls: list[tuple[int, ...]] = []
    real = simulate.keyed_normals

    def counting(key: tuple[int, ...], *args: Any, **kwargs: Any) -> Any:
        calls.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(simulate, "keyed_normals", counting)
    return calls


def test_a_run_on_the_same_batch_and_seed_reuses_the_draws_the_buffer_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another configuration on the same (seed, batch) uses the draws still in the buffer,
    drawing nothing, and gives what a simulator drawing afresh gives; another seed or batch
    draws again."""

    case = matmul(k=4, n=256)
    model = prepare(case.model)
    feed = case.feed(rng(), 64)
    plan = plan_for([case.layer], SHOT)
    runs = [(0, 0, 1.0), (0, 0, 0.25), (0, 1, 0.25), (1, 1, 0.25), (1, 1, 1.0)]
    wanted = [
        Simulator(model, plan, cache_bytes=0).run(
            feed, scales={case.layer: scale}, seed=seed, batch_index=batch
        )[0]
        for seed, batch, scale in runs
    ]
    reusing = Simulator(model, plan, cache_bytes=0)
    calls = _counted_draws(monkeypatch)
    for (seed, batch, scale), want in zip(runs, wanted, strict=True):
        got = reusing.run(feed, scales={case.layer: scale}, seed=seed, batch_index=batch)[0]
        np.testing.assert_array_equal(got, want)
    assert [k[:2] for k in calls] == [(0, 0), (0, 1), (1, 1)], calls


def test_a_run_in_pieces_draws_each_piece_once_for_every_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run in pieces, configurations evaluated together share each layer's draws (one
    keyed_normals call per layer; the chip's with temporal noise off too), give what the whole
    graph gives for each alone, and reuse
    two buffers run after run (one piece runs while the next one's draws are made)."""
    from analogc.runtime import simulate

    model = prepare(parallel_matmuls())
    plan = plan_for(["first", "second"], NoiseModel(shot=True, programming=True, k_p=0.05))
    feed = {"x": rng().standard_normal((64, 16)).astype(np.float32)}
    whole = Simulator(model, plan, cache_bytes=0, pieces=1)
    split = Simulator(model, plan, cache_bytes=0, pieces=2)
    assert (whole.pieces, split.pieces) == (1, 2)
    configurations = [
        whole.scales(1),
        {"first": 0.0, "second": 0.5},
        {"first": 0.25, "second": 0.0},
        whole.scales(None),  # the programmed chip alone
    ]
    wanted = [whole.run(feed, scales=c, seed=3, batch_index=2) for c in configurations]
    clean = run_plain(model, feed)
    assert all(not np.array_equal(w, c) for w, c in zip(wanted[3], clean, strict=True)), (
        "the programmed chip was left out with temporal noise off"
    )
    calls = _counted_draws(monkeypatch)
    got = split.run_together(feed, configurations, seed=3, batch_index=2)
    assert sorted(calls) == [(3, 2, 0), (3, 2, 1)], calls
    monkeypatch.setattr(simulate, "PREFETCH", False)  # each piece's draws after the one before
    after = split.run_together(feed, configurations, seed=3, batch_index=2)
    monkeypatch.setattr(simulate, "PREFETCH", True)
    for want, out, late in zip(wanted, got, after, strict=True):
        for w, o, a in zip(want, out, late, strict=True):
            np.testing.assert_array_equal(o, w)
            np.testing.assert_array_equal(a, w)
    addresses = set()
    for seed in range(4):
        split.run(feed, scales=configurations[0], seed=seed, batch_index=0)
        assert len(split._spares) <= simulate.SPARES
        addresses |= {spare.ctypes.data for spare, _ in split._spares}
    assert len(addresses) <= simulate.SPARES, "new buffers were made for runs of the same size"


def test_a_simulator_runs_in_pieces_when_a_runs_draws_exceed_its_budget() -> None:
    """Pieces by default only where one run's draws (at a batch size calibration saw) exceed
    the draw budget; held draws are then those of two pieces, not of the run."""
    from analogc.runtime.calibrate import signature

    model = prepare(parallel_matmuls())
    plan = plan_for(["first", "second"], SHOT)
    feed = {"x": rng().standard_normal((64, 16)).astype(np.float32)}
    probe = Simulator(model, plan)
    shapes = {signature(feed): probe.noise_shapes(feed)}
    run_bytes = probe.held_draw_bytes(feed)
    outputs = [4 * math.prod(probe.noise_shapes(feed)[n].output) for n in ("first", "second")]
    assert run_bytes == sum(outputs)  # both layers' output draws, float32
    assert Simulator(model, plan, shapes=shapes, draw_budget=run_bytes).pieces == 1
    assert Simulator(model, plan, shapes=shapes).pieces == 1  # no budget: whole
    split = Simulator(model, plan, shapes=shapes, draw_budget=run_bytes - 1)
    assert split.pieces == 2
    assert split.held_draw_bytes(feed) == run_bytes  # two pieces of one layer each
    assert Simulator(model, plan, draw_budget=0).pieces == 1  # no batch size known: whole


def test_compile_runs_in_pieces_only_when_the_memory_budget_binds() -> None:
    """CalibratedModel gives its simulator half the memory budget for draws: the demo runs
    whole under the default budget and in pieces under one its draws exceed."""
    from analogc.calibrated import CalibratedModel, open_model
    from analogc.hardware import load_hardware
    from analogc.inputs import load_data
    from analogc.runtime.metrics import METRICS

    loaded = open_model(DEMO_MODEL)
    data = load_data("demo:calib", loaded.model)

    def calibrated(budget: int) -> CalibratedModel:
        return CalibratedModel(
            loaded,
            load_hardware("optical-shot"),
            data,
            metric=METRICS["agreement"],
            batch_size=8,
            threads=1,
            memory_budget=budget,
        )

    assert calibrated(512 << 20).simulator.pieces == 1
    small = calibrated(16 << 10)  # batch 1, whose draws (22 KB) exceed half of it
    assert small.calibration.batch_size == 1
    assert small.simulator.pieces > 1
