"""Reproducibility and independence of the noise draws.

Simulator: draws are keyed by (seed, batch_index, layer): the same key gives bit-identical
outputs, any other key independent noise. Standalone annotated model: RandomNormalLike seeded by
node attributes, so a fresh session repeats its first run, and later runs draw anew.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import CASES, matmul, parallel_matmuls, rng
from helpers import annotated, correlation, plain_session, plan_for, prepare, run_plain
from reference import terms

from analogc.passes import NoiseModel
from analogc.runtime.simulate import Simulator

ALL = NoiseModel(shot=True, thermal=True, weight=True, k_t=0.1, k_w=0.25)
SHOT = NoiseModel(shot=True)
WEIGHT = NoiseModel(weight=True, k_w=0.25)


def _corr_bound(n: int) -> float:
    """|r| bound for n independent pairs: r has standard deviation ~1/sqrt(n); allow 5 of it."""
    return 5.0 / math.sqrt(n)


def _output_noise_z(case_name: str, batch: int = 64):
    """(simulator, feed, clean, sigma) for shot noise on a case, with a larger batch."""
    case = CASES[case_name]()
    model = prepare(case.model)
    feed = case.feed(rng(), batch)
    sigma = terms(model, feed).sigma(SHOT)
    sim = Simulator(model, plan_for([case.layer], SHOT), threads=1)
    clean = run_plain(model, feed)[0].astype(np.float64)
    return sim, feed, clean, sigma


@pytest.mark.parametrize("case_name", list(CASES))
def test_same_seed_gives_bit_identical_outputs(case_name: str) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], ALL)
    feed = case.feed(rng(), 3)
    sim = Simulator(model, plan, threads=1)
    first = sim.run(feed, scales=sim.scales(2), seed=7, batch_index=2)[0]
    sim.run(feed, scales=sim.scales(2), seed=8, batch_index=0)  # an unrelated run in between
    again = sim.run(feed, scales=sim.scales(2), seed=7, batch_index=2)[0]
    other = Simulator(model, plan, threads=1)  # a fresh session
    fresh = other.run(feed, scales=other.scales(2), seed=7, batch_index=2)[0]
    np.testing.assert_array_equal(first, again, err_msg="same seed, same session: outputs differ")
    np.testing.assert_array_equal(first, fresh, err_msg="same seed, fresh session: outputs differ")
    clean = run_plain(model, feed)[0]
    assert not np.allclose(first, clean), "the seeded run has no noise at all"


def test_different_seeds_give_uncorrelated_output_noise() -> None:
    sim, feed, clean, sigma = _output_noise_z("conv2d")
    z = [
        (sim.run(feed, scales=sim.scales(1), seed=s, batch_index=0)[0] - clean) / sigma
        for s in (1, 2)
    ]
    r = correlation(*z)
    assert abs(r) < _corr_bound(z[0].size), f"seeds 1 and 2: noise correlation r={r:.4f}"
    assert not np.array_equal(z[0], z[1]), "seeds 1 and 2 gave the same noise"


def test_different_seeds_give_uncorrelated_weight_draws() -> None:
    """With an identity input the output is the noisy weight matrix: compare its draws."""
    case = matmul(64, 48)
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], WEIGHT), threads=1)
    feed = {"x": np.eye(64, dtype=np.float32)}
    clean = run_plain(model, feed)[0].astype(np.float64)
    delta = [sim.run(feed, scales=sim.scales(1), seed=s, batch_index=0)[0] - clean for s in (1, 2)]
    r = correlation(*delta)
    assert abs(r) < _corr_bound(delta[0].size), f"seeds 1 and 2: weight draws correlate r={r:.4f}"


def test_batch_index_changes_the_draws() -> None:
    sim, feed, clean, sigma = _output_noise_z("conv_transpose2d")
    z = [
        (sim.run(feed, scales=sim.scales(1), seed=5, batch_index=b)[0] - clean) / sigma
        for b in (0, 1)
    ]
    assert not np.array_equal(z[0], z[1]), "batch_index 0 and 1 gave the same noise"
    r = correlation(*z)
    assert abs(r) < _corr_bound(z[0].size), f"batch 0 and 1: noise correlation r={r:.4f}"


def test_seed_and_batch_index_are_not_interchangeable() -> None:
    """(seed 1, batch 2) and (seed 2, batch 1) are different keys."""
    sim, feed, _, _ = _output_noise_z("matmul_batched")
    a = sim.run(feed, scales=sim.scales(1), seed=1, batch_index=2)[0]
    b = sim.run(feed, scales=sim.scales(1), seed=2, batch_index=1)[0]
    assert not np.array_equal(a, b), "(seed 1, batch 2) and (seed 2, batch 1) drew the same noise"


def test_layers_draw_independent_noise() -> None:
    """Two analog layers with the same weight and input: their noise does not correlate."""
    model = prepare(parallel_matmuls())
    sim = Simulator(model, plan_for(["first", "second"], SHOT), threads=1)
    feed = {"x": rng().standard_normal((256, 16)).astype(np.float32)}
    clean = run_plain(model, feed)
    noisy = sim.run(feed, scales=sim.scales(1), seed=0, batch_index=0)
    d1, d2 = noisy[0] - clean[0], noisy[1] - clean[1]
    r = correlation(d1, d2)
    assert abs(r) < _corr_bound(d1.size), f"layers 'first' and 'second' correlate, r={r:.4f}"


def test_a_layers_draws_do_not_depend_on_other_layers_scales() -> None:
    """Common random numbers: switching layer 'first' off or to 16 repeats leaves the noise of
    layer 'second' bit-identical."""
    model = prepare(parallel_matmuls())
    sim = Simulator(model, plan_for(["first", "second"], ALL), threads=1)
    feed = {"x": rng().standard_normal((8, 16)).astype(np.float32)}
    both = sim.run(feed, scales=sim.scales(1), seed=4, batch_index=3)
    for first_scale in (0.0, 0.25):
        scales = {"first": first_scale, "second": sim.scales(1)["second"]}
        out = sim.run(feed, scales=scales, seed=4, batch_index=3)
        np.testing.assert_array_equal(
            out[1], both[1], err_msg=f"'second' changed when 'first' had scale {first_scale}"
        )
    off = sim.run(feed, scales={"first": 0.0, "second": 0.0}, seed=4, batch_index=3)
    np.testing.assert_array_equal(off[0], run_plain(model, feed)[0], err_msg="scale 0 not clean")


@pytest.mark.parametrize("case_name", list(CASES))
def test_standalone_fresh_session_repeats_its_first_run(case_name: str) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    ann = annotated(model, plan_for([case.layer], ALL))
    feed = case.feed(rng(), 3)
    s1, s2 = plain_session(ann), plain_session(ann)
    first = s1.run(None, feed)[0]
    np.testing.assert_array_equal(
        first, s2.run(None, feed)[0], err_msg="two fresh sessions gave different first runs"
    )
    second = s1.run(None, feed)[0]
    assert not np.array_equal(first, second), "the second run of a session repeated the first"
    assert not np.allclose(first, run_plain(model, feed)[0]), "no noise in the annotated model"


def test_standalone_successive_runs_are_uncorrelated() -> None:
    case = CASES["conv2d"]()
    model = prepare(case.model)
    feed = case.feed(rng(), 64)
    sigma = terms(model, feed).sigma(SHOT)
    clean = run_plain(model, feed)[0].astype(np.float64)
    session = plain_session(annotated(model, plan_for([case.layer], SHOT)))
    z1, z2 = ((session.run(None, feed)[0] - clean) / sigma for _ in range(2))
    r = correlation(z1, z2)
    assert abs(r) < _corr_bound(z1.size), f"runs 1 and 2 of one session correlate, r={r:.4f}"


def test_standalone_plan_seed_changes_the_draws() -> None:
    case = CASES["conv2d"]()
    model = prepare(case.model)
    feed = case.feed(rng(), 64)
    sigma = terms(model, feed).sigma(SHOT)
    clean = run_plain(model, feed)[0].astype(np.float64)
    z = [
        (run_plain(annotated(model, plan_for([case.layer], SHOT, seed=s)), feed)[0] - clean) / sigma
        for s in (0, 1)
    ]
    assert not np.array_equal(z[0], z[1]), "plan seeds 0 and 1 gave the same first run"
    r = correlation(*z)
    assert abs(r) < _corr_bound(z[0].size), f"plan seeds 0 and 1 correlate, r={r:.4f}"


def test_standalone_layers_draw_independent_noise() -> None:
    model = prepare(parallel_matmuls())
    ann = annotated(model, plan_for(["first", "second"], SHOT))
    feed = {"x": rng().standard_normal((256, 16)).astype(np.float32)}
    clean = run_plain(model, feed)
    noisy = run_plain(ann, feed)
    d1, d2 = noisy[0] - clean[0], noisy[1] - clean[1]
    assert not np.array_equal(d1, d2), "both layers drew the same noise"
    r = correlation(d1, d2)
    assert abs(r) < _corr_bound(d1.size), f"standalone layers correlate, r={r:.4f}"


def test_standalone_weight_draws_change_between_runs() -> None:
    case = matmul(64, 48)
    model = prepare(case.model)
    session = plain_session(annotated(model, plan_for([case.layer], WEIGHT)))
    feed = {"x": np.eye(64, dtype=np.float32)}
    clean = run_plain(model, feed)[0].astype(np.float64)
    d1, d2 = (session.run(None, feed)[0] - clean for _ in range(2))
    r = correlation(d1, d2)
    assert abs(r) < _corr_bound(d1.size), f"weight draws of runs 1 and 2 correlate, r={r:.4f}"
