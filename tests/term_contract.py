"""The contract every noise term meets, as checks a test runs for one registered term.

``tests/test_noise_terms.py`` runs them for every term in :data:`analogc.passes.noise.TERMS`;
``tests/test_docs_noise_term.py`` for the example term of ``docs/adding-a-noise-term.md``. A
term's expected output-referred variance at E = 1 comes from an independent numpy reference
(``TERM_REFERENCES``: computed from :mod:`reference`, not from analogc), so the checks are:

* per output element, on a MatMul, a grouped Conv (borders) and a Gemm, in analogc's
  simulator and in the standalone annotated model run by stock onnxruntime, the noise divided
  by the reference std is standard normal (bounds set by the sample size: ``helpers.py``);
* a term reduced by repeats has that std over sqrt(N) at N repeats (others keep it);
* the simulator's per-term variance statistic is the reference's mean;
* noise off (scale 0) reproduces the clean model exactly; the annotated model passes
  ``onnx.checker`` with ``full_check``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from builders import CASES, Case, rng
from helpers import (
    annotated,
    assert_standard_normal,
    plain_session,
    plan_for,
    prepare,
    run_plain,
    tile_feed,
)
from reference import Terms, terms

from analogc.passes.noise import TERMS, NoiseModel
from analogc.runtime.simulate import Simulator

Reference = Callable[[Terms, NoiseModel, float], np.ndarray]
"""(reference terms of the op, noise model, r_x) -> output-referred variance at E = 1."""

TERM_REFERENCES: dict[str, Reference] = {
    "shot": lambda t, noise, r_x: t.xn2 * t.wn2 / t.fan_in,
    "thermal": lambda t, noise, r_x: (noise["k_t"] * t.rw * r_x) ** 2 * t.fan_in,
    "weight": lambda t, noise, r_x: t.xn2 * (noise["k_w"] * t.rw) ** 2,
    "readout": lambda t, noise, r_x: (noise["out_noise"] * t.xamax * t.wamax) ** 2,
    "programming": lambda t, noise, r_x: t.xn2 * (noise["k_p"] * t.wamax) ** 2,
}
"""The Gaussian terms' references (DESIGN §2, §2.1), written independently of analogc: the
output-referred variance at E = 1. Static and deterministic terms are checked exactly against
``static_reference.EXACT``."""

CONTRACT_CASES = ["matmul", "conv2d_group", "gemm"]
R_X = 2.5
DRAWS = 2000  # per output element: per-element std bound 5/sqrt(4000) = 0.079
BASE_BATCH = 2


def term_noise(name: str) -> NoiseModel:
    """The noise model with only term ``name`` on, its constants at their defaults."""
    return NoiseModel(**{name: True})


def reference_sigma(
    name: str, reference: Reference, ref: Terms, noise: NoiseModel, *, repeats: int = 1
) -> np.ndarray:
    variance = reference(ref, noise, R_X)
    if TERMS[name].reduced_by_repeats:
        variance = variance / repeats
    return np.sqrt(np.broadcast_to(variance, ref.y.shape))


def _runner(
    model: onnx.ModelProto, noise: NoiseModel, case: Case, runtime: str, repeats: int
) -> Callable[[dict[str, np.ndarray], int], np.ndarray]:
    plan = plan_for([case.layer], noise, repeats=repeats, r_x=R_X)
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        scales = sim.scales(repeats)
        return lambda feed, k: sim.run(feed, scales=scales, seed=k, batch_index=0)[0]
    session = plain_session(annotated(model, plan))
    return lambda feed, _: session.run(None, feed)[0]


def check_statistics(
    name: str, reference: Reference, case_name: str, runtime: str, *, repeats: int = 1
) -> None:
    """The noise of term ``name`` on case ``case_name`` has the reference std per element
    (over runs; for a per-chip term, over chips: the simulator's noise seeds)."""
    case, noise = CASES[case_name](), term_noise(name)
    model = prepare(case.model)
    base = case.feed(rng(), BASE_BATCH)
    sigma = reference_sigma(name, reference, terms(model, base), noise, repeats=repeats)
    assert np.all(sigma > 0), "test setup: an output element has zero expected noise"
    clean = run_plain(model, base)[0]
    shared = TERMS[name].acts_in("weight")  # one weight draw per run, shared by the batch
    runs, copies = (DRAWS, 1) if shared else (4, DRAWS // 4)
    run = _runner(model, noise, case, runtime, repeats)
    feed = tile_feed(base, copies)
    y = np.stack([run(feed, k) for k in range(runs)]).astype(np.float64)
    z = (y.reshape(runs * copies, *clean.shape) - clean) / sigma
    what = f"term {name!r} on {case_name} ({runtime}, repeats={repeats})"
    assert_standard_normal(z, independent=not shared, what=what)


def check_stats_output(name: str, reference: Reference, case_name: str) -> None:
    """The simulator's variance statistic of the term is the reference's mean at E = 1."""
    case, noise = CASES[case_name](), term_noise(name)
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], noise, r_x=R_X), stats=True, threads=1)
    feed = case.feed(rng(), 3)
    expected = float(np.mean(reference_sigma(name, reference, terms(model, feed), noise) ** 2))
    outs = sim.run(feed, scales=sim.scales(1), seed=0, batch_index=0)
    variance = float(np.asarray(outs[len(model.graph.output)]))
    assert np.isclose(variance, expected, rtol=1e-4), (name, case_name, variance, expected)


def check_noise_off_and_checker(name: str, case_name: str) -> None:
    """Scale 0 gives the clean outputs bit for bit; the annotated model passes full_check."""
    case, noise = CASES[case_name](), term_noise(name)
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], noise, r_x=R_X), threads=1)
    feed = case.feed(rng(), 3)
    clean = run_plain(model, feed)[0]
    off = sim.run(feed, scales=sim.scales(None), seed=0, batch_index=0)[0]
    np.testing.assert_allclose(off, clean, rtol=1e-6, atol=1e-6, err_msg=f"{name}: noise off")
    deploy = annotated(model, plan_for([case.layer], noise, r_x=R_X))
    onnx.checker.check_model(deploy, full_check=True)
    assert plain_session(deploy).run(None, feed)[0].shape == clean.shape
