"""Noise statistics against DESIGN §2, per op, per term, per output element.

Each test runs the noisy model many times, normalises the noise by the standard deviation the
specification gives for that element (computed independently in ``reference.py``) and checks
that the result is standard normal: per element (so that a wrong norm near a conv border shows)
and pooled per group of elements (borders, interior, output channels).

Both runtimes are checked: the :class:`Simulator` (noise draws as graph inputs) and the
standalone annotated model (RandomNormalLike inside the functions, run by stock onnxruntime).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from builders import (
    CASES,
    Case,
    conv2d_group_dynamic,
    conv_transpose2d,
    gemm,
    make_model,
    matmul,
    matmul_attention_dynk,
    matmul_f16_tiny,
    parallel_matmuls,
    rng,
    with_seq,
)
from helpers import (
    annotated,
    assert_standard_normal,
    border_groups,
    channel_groups,
    plain_session,
    plan_for,
    prepare,
    run_plain,
    sigma_groups,
    std_bound,
    tile_feed,
)
from onnx import TensorProto, helper, numpy_helper
from reference import terms

from analogc.passes import LayerPlan, NoiseModel, Plan
from analogc.runtime.calibrate import ROBUST_PERCENTILES, calibrate
from analogc.runtime.data import Dataset
from analogc.runtime.simulate import Simulator

# Constants chosen so that the three terms have comparable size on these models (shot σ ~
# sqrt(D)·s, thermal σ ~ k_t·4s·r_x·sqrt(D), weight σ ~ sqrt(D)·k_w·4s for weights of scale s):
# a dropped or mis-scaled term in a combination then changes the total std by >15%.
K_T = 0.1
K_W = 0.25
R_X = 2.5

NOISES = {
    "shot": NoiseModel(shot=True, k_t=K_T, k_w=K_W),
    "thermal": NoiseModel(thermal=True, k_t=K_T, k_w=K_W),
    "weight": NoiseModel(weight=True, k_t=K_T, k_w=K_W),
    "shot+thermal": NoiseModel(shot=True, thermal=True, k_t=K_T, k_w=K_W),
    "all": NoiseModel(shot=True, thermal=True, weight=True, k_t=K_T, k_w=K_W),
}

BASE_BATCH = 2  # distinct examples
DRAWS = 2000  # draws per output element: per-element std bound 5/sqrt(4000) = 0.079
OUTPUT_NOISE_RUNS = 4  # output noise: 4 runs of a batch holding 500 copies of the examples


def _channel_axis(case: Case, ndim: int) -> int:
    """Axis of the output channel in y (batch first)."""
    return 1 if case.name.startswith("conv") else ndim - 1


def _layout(noise: NoiseModel) -> tuple[int, int]:
    """(runs, copies per run): weight noise is shared by a batch, so it needs separate runs."""
    if noise.weight:
        return DRAWS, 1
    return OUTPUT_NOISE_RUNS, DRAWS // OUTPUT_NOISE_RUNS


def _sample(
    case: Case,
    noise: NoiseModel,
    runtime: str,
    *,
    repeats: int = 1,
    e1: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws of (y_noisy - y_clean) / sigma_expected: [draws, batch, ...]; also sigma, taps."""
    model = prepare(case.model)
    plan = plan_for([case.layer], noise, repeats=repeats, r_x=R_X, e1=e1)
    return _normalised(case, model, noise, _runner(model, plan, runtime), energy=repeats * e1)


Runner = Callable[[dict[str, np.ndarray], int], np.ndarray]
"""(feed, run number) -> the noisy output of one run."""


def _runner(model: onnx.ModelProto, plan: Plan, runtime: str) -> Runner:
    """One Simulator (run k uses seed k) or one stock onnxruntime session for ``plan``."""
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        scales = sim.scales({name: layer.repeats for name, layer in plan.layers.items()})
        return lambda feed, k: sim.run(feed, scales=scales, seed=k, batch_index=0)[0]
    session = plain_session(annotated(model, plan))
    return lambda feed, _: session.run(None, feed)[0]


def _normalised(
    case: Case, model: onnx.ModelProto, noise: NoiseModel, run: Runner, *, energy: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws of (y_noisy - y_clean) / sigma_expected on ``case``'s feed: [draws, batch, ...];
    also sigma and taps."""
    base = case.feed(rng(), BASE_BATCH)
    ref = terms(model, base)
    sigma = ref.sigma(noise, r_x=R_X, energy=energy)
    assert np.all(sigma > 0), "test setup: an output element has zero expected noise"
    clean = run_plain(model, base)[0]
    runs, copies = _layout(noise)
    feed = tile_feed(base, copies)
    outs = [run(feed, k) for k in range(runs)]
    y = np.stack(outs).astype(np.float64).reshape(runs * copies, *clean.shape)
    return (y - clean) / sigma, sigma, ref.taps


def _groups(case: Case, taps: np.ndarray, sigma: np.ndarray) -> dict[str, np.ndarray]:
    """Borders vs interior, each output channel, and quartiles of the expected sigma."""
    taps = np.broadcast_to(taps, sigma.shape)
    groups = border_groups(taps)
    groups.update(channel_groups(sigma.shape, _channel_axis(case, sigma.ndim)))
    groups.update(sigma_groups(sigma))
    return groups


@pytest.mark.parametrize("case_name", list(CASES))
def test_reference_matches_clean_output(case_name: str) -> None:
    """The numpy reference computes the same clean output as onnxruntime (validates it)."""
    case = CASES[case_name]()
    model = prepare(case.model)
    feed = case.feed(rng(), 3)
    ref = terms(model, feed)
    clean = run_plain(model, feed)[0]
    assert clean.shape == ref.y.shape, f"{case_name}: shape {clean.shape} vs {ref.y.shape}"
    rtol = max(1e-4, 4 * float(np.finfo(case.dtype).eps))  # float16 cases round to 11 bits
    np.testing.assert_allclose(clean, ref.y, rtol=rtol, atol=rtol * np.abs(ref.y).max())


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("noise_name", list(NOISES))
@pytest.mark.parametrize("case_name", list(CASES))
def test_noise_std_per_element(case_name: str, noise_name: str, runtime: str) -> None:
    """Every output element's noise has the std DESIGN §2 gives it, and mean 0."""
    case, noise = CASES[case_name](), NOISES[noise_name]
    z, sigma, taps = _sample(case, noise, runtime)
    # Shot and thermal noise are independent per element; weight noise is shared by all the
    # elements computed with the same weight draw, so pooled checks count only the runs.
    assert_standard_normal(
        z,
        independent=not noise.weight,
        what=f"{case_name} {noise_name} ({runtime})",
        groups=_groups(case, taps, sigma),
    )


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("noise_name", ["shot", "all"])
def test_conv_with_dynamic_spatial_dims(noise_name: str, runtime: str) -> None:
    """Grouped conv with input [N, 4, S0, S1]: border-aware norms built from Shape(x)."""
    case = conv2d_group_dynamic()
    z, sigma, taps = _sample(case, NOISES[noise_name], runtime)
    assert_standard_normal(
        z,
        independent=not NOISES[noise_name].weight,
        what=f"{case.name} {noise_name} ({runtime})",
        groups=_groups(case, taps, sigma),
    )


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
def test_float16_noise_does_not_underflow(runtime: str) -> None:
    """Tiny float16 weights and inputs: computed in float16, the shot variance
    ‖x‖²·‖w‖²/D would underflow to 0; computed in float32 and cast back, the noise has the
    std DESIGN §2 gives it."""
    case = matmul_f16_tiny()
    model = prepare(case.model)
    ref = terms(model, case.feed(rng(), BASE_BATCH))
    in_half = ref.xn2.astype(np.float16) * ref.wn2.astype(np.float16) / np.float16(ref.fan_in)
    assert not np.any(in_half), "test setup: the float16 variance should underflow to 0"
    z, sigma, taps = _sample(case, NOISES["shot"], runtime)
    assert np.all(sigma < 1e-3), "test setup: the noise should be tiny"
    assert_standard_normal(
        z, independent=True, what=f"{case.name} shot ({runtime})", groups=_groups(case, taps, sigma)
    )


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("opset", [12, 21])
@pytest.mark.parametrize(
    "case_name",
    [
        "gemm",
        "conv2d_group",
        "einsum_attention",
        "loop_matmul",
        "matmul_attention_dynk",
        "einsum_two_dynk",
    ],
)
def test_noise_at_other_opsets(case_name: str, opset: int, runtime: str) -> None:
    """Opset 18 moved reduce axes to inputs, opset 13 squeeze axes: the bodies differ from
    opset 17's. Opset 21 is the newest annotated as is (analogc.passes.load_model converts
    newer models to it); 12 the oldest the library builds."""
    base = CASES[case_name]()
    model = copy.deepcopy(base.model)
    model.opset_import[0].version = opset
    case = dataclasses.replace(base, model=model)
    z, sigma, taps = _sample(case, NOISES["all"], runtime)
    assert_standard_normal(
        z,
        independent=False,
        what=f"{case_name} all terms ({runtime}, opset {opset})",
        groups=_groups(case, taps, sigma),
    )


def test_conv_transpose_with_dynamic_spatial_dims_stays_digital() -> None:
    """Its average fan-in D = MACs / output elements depends on the run-time spatial size,
    which the annotated model's fan_in attribute cannot follow: it stays digital, with the
    reason, rather than getting a wrong noise level."""
    from analogc.errors import UnsupportedModelError
    from analogc.passes import discover

    case = conv_transpose2d(dynamic_spatial=True)
    model = prepare(case.model)
    (layer,) = discover(model).layers
    assert not layer.analog and "run-time spatial size" in (layer.reason or ""), layer
    with pytest.raises(UnsupportedModelError, match="cannot run analog"):
        Simulator(model, plan_for([case.layer], NOISES["shot"], r_x=R_X), threads=1)


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("repeats", [1, 4, 16])
@pytest.mark.parametrize("case_name", ["gemm", "conv2d_group", "conv_transpose2d"])
def test_std_scales_as_one_over_sqrt_repeats(case_name: str, repeats: int, runtime: str) -> None:
    """At N repeats every term's std is its N = 1 value over sqrt(N)."""
    case, noise = CASES[case_name](), NOISES["all"]
    z, _, _ = _sample(case, noise, runtime, repeats=repeats)
    assert_standard_normal(
        z, independent=False, what=f"{case_name} all terms, repeats={repeats} ({runtime})"
    )


@pytest.mark.parametrize("noise_name", list(NOISES))
def test_simulator_noise_is_common_random_numbers_across_repeats(noise_name: str) -> None:
    """Same seed, N repeats: the noise is exactly the N = 1 noise divided by sqrt(N)."""
    case, noise = CASES["conv2d_group"](), NOISES[noise_name]
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], noise, r_x=R_X), threads=1)
    feed = case.feed(rng(), BASE_BATCH)
    clean = run_plain(model, feed)[0].astype(np.float64)
    base = sim.run(feed, scales=sim.scales(1), seed=3, batch_index=0)[0] - clean
    for n in (4, 16):
        noisy = sim.run(feed, scales=sim.scales(n), seed=3, batch_index=0)[0] - clean
        tol = 1e-3 * np.abs(base).max()
        np.testing.assert_allclose(
            noisy * math.sqrt(n),
            base,
            atol=tol,
            err_msg=f"{noise_name}: noise at repeats={n} is not the repeats=1 noise / sqrt({n})",
        )


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
def test_e1_enters_like_repeats(runtime: str) -> None:
    """E = repeats · e1: e1 = 2.5 with 3 repeats gives the std of E = 7.5."""
    case = CASES["conv2d"]()
    z, _, _ = _sample(case, NOISES["all"], runtime, repeats=3, e1=2.5)
    assert_standard_normal(z, independent=False, what=f"conv2d, repeats 3, e1 2.5 ({runtime})")


def test_e1_and_repeats_are_interchangeable_exactly() -> None:
    """(N = 4, e1 = 1) and (N = 1, e1 = 4) give bit-identical noisy outputs, both runtimes."""
    case, noise = CASES["gemm"](), NOISES["all"]
    model = prepare(case.model)
    feed = case.feed(rng(), BASE_BATCH)
    plan_n = plan_for([case.layer], noise, repeats=4, e1=1.0, r_x=R_X)
    plan_e = plan_for([case.layer], noise, repeats=1, e1=4.0, r_x=R_X)
    sim_n, sim_e = Simulator(model, plan_n, threads=1), Simulator(model, plan_e, threads=1)
    assert sim_n.scales(4) == pytest.approx({case.layer: 0.5}), "scale is not 1/sqrt(4·1)"
    assert sim_e.scales(1) == pytest.approx({case.layer: 0.5}), "scale is not 1/sqrt(1·4)"
    a = sim_n.run(feed, scales=sim_n.scales(4), seed=1, batch_index=0)[0]
    b = sim_e.run(feed, scales=sim_e.scales(1), seed=1, batch_index=0)[0]
    np.testing.assert_array_equal(a, b, err_msg="simulator: e1=4 differs from repeats=4")
    a = run_plain(annotated(model, plan_n), feed)[0]
    b = run_plain(annotated(model, plan_e), feed)[0]
    np.testing.assert_array_equal(a, b, err_msg="standalone: e1=4 differs from repeats=4")


def test_simulator_scales() -> None:
    """scales(N) = 1/sqrt(N·e1) per layer; None means clean (all 0); mappings per layer."""
    case = CASES["matmul"]()
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], NOISES["shot"], e1=2.0), threads=1)
    assert sim.scales(None) == {case.layer: 0.0}
    assert sim.scales(8) == pytest.approx({case.layer: 1 / math.sqrt(16)})
    assert sim.scales({case.layer: 2}) == pytest.approx({case.layer: 0.5})


CONSTANT_WEIGHT_CASES = [name for name in CASES if CASES[name]().constant_weight]


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("case_name", CONSTANT_WEIGHT_CASES)
def test_weight_noise_is_shared_by_the_batch(case_name: str, runtime: str) -> None:
    """Identical examples in one batch get identical outputs; another run draws anew."""
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISES["weight"], r_x=R_X)
    feed = tile_feed(case.feed(rng(), 1), 6)
    clean = run_plain(model, feed)[0]
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        first, second = (
            sim.run(feed, scales=sim.scales(1), seed=s, batch_index=0)[0] for s in (0, 1)
        )
    else:
        session = plain_session(annotated(model, plan))
        first, second = (session.run(None, feed)[0] for _ in range(2))
    for out, label in ((first, "first run"), (second, "second run")):
        assert not np.allclose(out, clean), f"{label}: no weight noise at all"
        for i in range(1, len(out)):
            np.testing.assert_array_equal(
                out[i], out[0], err_msg=f"{label}: example {i} saw another weight draw than 0"
            )
    assert not np.allclose(first[0], second[0]), "the weight draw did not change between runs"


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
def test_output_noise_is_independent_per_example(runtime: str) -> None:
    """Shot noise is drawn per output element: identical examples get different outputs."""
    case = CASES["conv2d"]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISES["shot"])
    feed = tile_feed(case.feed(rng(), 1), 2)
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        out = sim.run(feed, scales=sim.scales(1), seed=0, batch_index=0)[0]
    else:
        out = run_plain(annotated(model, plan), feed)[0]
    assert not np.any(out[0] == out[1]), "two identical examples got the same output noise"


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("which", ["matmul", "gemm", "gemm_neg_alpha"])
def test_weight_noise_per_weight_entry(which: str, runtime: str) -> None:
    """With an identity input the output *is* the noisy weight matrix: every entry W_ij gets an
    independent N(0, (k_w·r_w,i)²/E) draw; for Gemm the noise is on alpha·B (|alpha| in r_w)."""
    k, n, repeats = 24, 16, 4
    if which == "matmul":
        case, alpha = matmul(k, n), 1.0
    else:
        alpha = 1.5 if which == "gemm" else -0.75
        case = gemm(k, n, alpha=alpha, beta=0.5)
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISES["weight"], repeats=repeats)
    feed = {"x": np.eye(k, dtype=np.float32)}
    clean = run_plain(model, feed)[0].astype(np.float64)  # row j = alpha·W[j, :] (+ bias)
    runs = 60
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        scales = sim.scales(repeats)
        outs = [sim.run(feed, scales=scales, seed=s, batch_index=0)[0] for s in range(runs)]
    else:
        session = plain_session(annotated(model, plan))
        outs = [session.run(None, feed)[0] for _ in range(runs)]
    delta = np.stack(outs).astype(np.float64) - clean  # [runs, K, n]: effective weight noise
    r_w = terms(model, feed).rw[0]  # per output channel i, |alpha| included
    z = delta / (K_W * r_w / math.sqrt(repeats))
    n_total = z.size  # every entry of every run is an independent draw
    assert abs(z.std() - 1) < std_bound(n_total), (
        f"{which} ({runtime}): weight-noise std is {z.std():.4f} x k_w·r_w/sqrt(E)"
    )
    for i in range(n):
        col = z[:, :, i]
        assert abs(col.std() - 1) < std_bound(col.size), (
            f"{which} ({runtime}): output channel {i}: weight-noise std {col.std():.3f} x "
            f"k_w·r_w,i/sqrt(E) (r_w,i = {r_w[i]:.3f})"
        )
    # Independent entries: neighbouring weights and consecutive runs are uncorrelated.
    pairs = [
        ("adjacent rows j, j+1", z[:, :-1, :], z[:, 1:, :]),
        ("adjacent channels i, i+1", z[:, :, :-1], z[:, :, 1:]),
        ("consecutive runs", z[:-1], z[1:]),
    ]
    for label, a, b in pairs:
        r = float(np.mean(a * b))  # mean 0, std 1 by the checks above
        assert abs(r) < 5 / math.sqrt(a.size), f"{which} ({runtime}): {label} correlate, r={r:.3f}"


@pytest.mark.parametrize("noise_name", list(NOISES))
@pytest.mark.parametrize("case_name", list(CASES))
def test_stats_output_is_mean_variance_at_unit_energy(case_name: str, noise_name: str) -> None:
    """Simulator(stats=True) returns, per enabled term, the mean over elements of that term's
    sigma_expected² at E = 1, whatever the scales of the run; they add up to the total."""
    case, noise = CASES[case_name](), NOISES[noise_name]
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], noise, r_x=R_X), stats=True, threads=1)
    feed = case.feed(rng(), 3)
    reference = terms(model, feed)
    flags = _flags(noise)
    total = float(reference.variances(**flags, r_x=R_X, energy=1.0).mean())
    for repeats in (None, 1, 16):
        outs = sim.run(feed, scales=sim.scales(repeats), seed=0, batch_index=0)
        n = len(model.graph.output)
        assert len(outs) == n + len(noise.terms), f"{n} outputs and one variance per term"
        for term, out in zip(noise.terms, outs[n:], strict=True):
            alone = {**flags, "shot": False, "thermal": False, "weight": False, term: True}
            expected = float(reference.variances(**alone, r_x=R_X, energy=1.0).mean())
            var = float(np.asarray(out))
            assert var == pytest.approx(expected, rel=1e-4), (
                f"{case_name} {noise_name}: {term} variance {var:.6g}, expected mean sigma² "
                f"at E=1 {expected:.6g} (scales for repeats={repeats})"
            )
        summed = sum(float(np.asarray(o)) for o in outs[n:])
        assert summed == pytest.approx(total, rel=1e-4), (summed, total)


def _flags(noise: NoiseModel) -> dict[str, object]:
    return {
        "shot": noise.shot,
        "thermal": noise.thermal,
        "weight": noise.weight,
        "k_t": noise.k_t,
        "k_w": noise.k_w,
    }


def test_stats_outputs_follow_plan_order() -> None:
    """Two layers: one variance output per analog layer, in plan order."""
    model = prepare(parallel_matmuls())
    noise = NOISES["thermal"]
    sim_ab = Simulator(model, plan_for(["first", "second"], noise, r_x=1.0), stats=True)
    sim_b = Simulator(model, plan_for(["second"], noise, r_x=3.0), stats=True)
    feed = {"x": rng().standard_normal((4, 16)).astype(np.float32)}
    outs_ab = sim_ab.run(feed, scales=sim_ab.scales(1), seed=0, batch_index=0)
    outs_b = sim_b.run(feed, scales=sim_b.scales(1), seed=0, batch_index=0)
    assert len(outs_ab) == 4, "two model outputs and two variances expected"
    assert len(outs_b) == 3, "two model outputs and one variance expected"
    # Same weights, thermal noise only: variance ∝ r_x², so layer 'second' at r_x=3 is 9x.
    assert float(outs_ab[2]) == pytest.approx(float(outs_ab[3]), rel=1e-6)
    assert float(outs_b[2]) == pytest.approx(9 * float(outs_ab[3]), rel=1e-5)


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
def test_each_layer_gets_its_own_repeats_and_r_x(runtime: str) -> None:
    """Two layers with the same weight: 'first' at 1 repeat, 'second' at 16 repeats and twice
    the input range; each output's noise has its own layer's std."""
    model = prepare(parallel_matmuls())
    noise = NOISES["shot+thermal"]
    repeats = {"first": 1, "second": 16}
    plan = Plan(
        noise=noise,
        layers={
            "first": LayerPlan(repeats=repeats["first"], r_x=R_X),
            "second": LayerPlan(repeats=repeats["second"], r_x=2 * R_X),
        },
    )
    base = {"x": rng().standard_normal((2, 16)).astype(np.float32)}
    feed = tile_feed(base, 500)
    clean = run_plain(model, base)
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        outs = [sim.run(feed, scales=sim.scales(repeats), seed=s, batch_index=0) for s in range(4)]
    else:
        session = plain_session(annotated(model, plan))
        outs = [session.run(None, feed) for _ in range(4)]
    for k, (name, r_x) in enumerate((("first", R_X), ("second", 2 * R_X))):
        single = prepare(parallel_matmuls())
        ref = terms(_only(single, name), base)
        sigma = ref.sigma(noise, r_x=r_x, energy=repeats[name])
        y = np.stack([o[k] for o in outs]).astype(np.float64).reshape(-1, *clean[k].shape)
        assert_standard_normal(
            (y - clean[k]) / sigma, independent=True, what=f"layer {name} ({runtime})"
        )


def _only(model, name: str):
    """``model`` with only node ``name`` (the reference needs a single analog node)."""
    keep = [n for n in model.graph.node if n.name == name]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def _branch_model():
    """If(mean(x) > 0) { y = (2·Relu(x)) @ W } else { y = x @ W }: the then branch's input is
    computed inside the branch."""

    def vi(name):
        return helper.make_tensor_value_info(
            name, TensorProto.FLOAT, ["N", 4 if name != "x" else 6]
        )

    w = numpy_helper.from_array(rng().standard_normal((6, 4)).astype(np.float32), "W")
    then = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["h"], name="relu"),
            helper.make_node("Mul", ["h", "two"], ["h2"], name="double"),
            helper.make_node("MatMul", ["h2", "W"], ["t"], name="mm_then"),
        ],
        "then",
        [],
        [vi("t")],
    )
    other = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["e"], name="mm_else")], "else", [], [vi("e")]
    )
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], name="mean", keepdims=0),
        helper.make_node("Greater", ["m", "zero"], ["c"], name="positive"),
        helper.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other),
    ]
    consts = [
        w,
        numpy_helper.from_array(np.asarray(2.0, np.float32), "two"),
        numpy_helper.from_array(np.asarray(0.0, np.float32), "zero"),
    ]
    return make_model(nodes, [vi("x")], [vi("y")], consts)


def test_calibration_sees_inside_subgraphs() -> None:
    """r_x of an op inside an If branch is measured on the tensor computed in the branch; a
    branch calibration never took still gets a full pool of draws (no repeated noise)."""
    model = prepare(_branch_model())
    x = (rng().standard_normal((40, 6)) + 1.0).astype(np.float32)  # every batch: then branch
    calibration, probe = calibrate(
        model, ["mm_then", "mm_else"], Dataset({"x": x}, None, source="test"), batch_size=8
    )
    lo, hi = np.percentile(2 * np.maximum(x, 0), ROBUST_PERCENTILES)
    assert calibration.layers["mm_then"].r_x == pytest.approx(hi - lo, rel=1e-6)
    lo, hi = np.percentile(x, ROBUST_PERCENTILES)
    assert calibration.layers["mm_else"].r_x == pytest.approx(hi - lo, rel=1e-6)
    assert calibration.layers["mm_then"].macs == calibration.layers["mm_else"].macs == 6 * 4

    sim = Simulator(
        model,
        plan_for(["mm_then", "mm_else"], NOISES["shot"]),
        probe=probe,
        shapes=calibration.shapes,
        threads=1,
    )
    feed = {"x": -x[:8]}  # the else branch, never seen in calibration
    clean = run_plain(model, feed)[0]
    noise = sim.run(feed, scales=sim.scales(1), seed=0, batch_index=0)[0] - clean
    assert len(np.unique(noise)) == noise.size, "draws were reused within one run"


# -- contraction length known only at run time ----------------------------------------------------
# D = S differs by 3x: a D frozen at one length gives a std off by sqrt(3) at the other.
DYNK_LENGTHS = (3, 9)


def _dynk_call(model: onnx.ModelProto) -> onnx.NodeProto:
    """The annotated model's analog call, checked to be a DynK one without a fan_in."""
    (call,) = [n for n in model.graph.node if n.domain == "ai.analogc"]
    assert call.op_type.startswith(("AnalogMatMulDynK", "AnalogMatVecDynK", "AnalogEinsumDynK"))
    assert "fan_in" not in {a.name for a in call.attribute}, "a DynK call carries a fan_in"
    meta = {e.key: e.value for e in call.metadata_props}
    assert meta["pkg.analogc.fan_in"].startswith("run-time"), meta
    return call


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("noise_name", ["shot", "thermal", "all"])
@pytest.mark.parametrize("case_name", ["matmul_attention_dynk", "einsum_attention_dynk"])
def test_dynamic_k_noise_at_two_sequence_lengths(
    case_name: str, noise_name: str, runtime: str
) -> None:
    """One annotated model (one session, one Simulator) fed two sequence lengths: each gets
    the std of its own D = S (shot ∝ 1/sqrt(D), thermal ∝ sqrt(D)), per element."""
    case, noise = CASES[case_name](), NOISES[noise_name]
    model = prepare(case.model)
    plan = plan_for([case.layer], noise, r_x=R_X)
    _dynk_call(annotated(model, plan))
    run = _runner(model, plan, runtime)
    for seq in DYNK_LENGTHS:
        fed = with_seq(case, seq)
        z, sigma, taps = _normalised(fed, model, noise, run)
        assert z.shape[-2] == seq, f"test setup: output {z.shape[1:]} is not for S = {seq}"
        assert_standard_normal(
            z,
            independent=not noise.weight,
            what=f"{case_name} {noise_name} ({runtime}), S = {seq}",
            groups=_groups(fed, taps, sigma),
        )


@pytest.mark.parametrize("mode", ["standalone", "simulate"])
def test_dynamic_k_bfloat16_at_two_sequence_lengths(mode: str) -> None:
    """bfloat16 operands (onnxruntime has no CPU bfloat16 MatMul: onnx.reference runs the
    annotated and the simulation graph): the DynK body's noise has the std of D = S."""
    from onnx.reference import ReferenceEvaluator

    from analogc.passes import annotate, lower_for_simulation
    from analogc.runtime.functions import FunctionLibrary

    case, noise = matmul_attention_dynk(dtype=ml_dtypes.bfloat16), NOISES["shot+thermal"]
    model = prepare(case.model)
    plan = plan_for([case.layer], noise, r_x=R_X)
    library = FunctionLibrary(noise=noise, opset=17, mode=mode)
    lowered = copy.deepcopy(model)
    if mode == "standalone":
        annotate(lowered, plan, library)
        assert _dynk_call(lowered).op_type == "AnalogMatMulDynKBF16"
        layer = None
    else:
        _, interface = lower_for_simulation(lowered, plan, library)
        (layer,) = interface.layers
    noisy, plain = ReferenceEvaluator(lowered), ReferenceEvaluator(model)
    copies = 250
    for seq in DYNK_LENGTHS:
        base = with_seq(case, seq).feed(rng(), BASE_BATCH)
        sigma = terms(model, base).sigma(noise, r_x=R_X)
        clean = plain.run(None, base)[0].astype(np.float64)
        feed = tile_feed(base, copies)
        if layer is not None:
            assert "eps_y" in layer.draws
            feed[layer.scale] = np.asarray(1.0, np.float32)
            shape = (copies * BASE_BATCH, *clean.shape[1:])
            eps = np.random.default_rng(seq).standard_normal(shape, np.float32)
            feed[layer.draws["eps_y"].input] = eps
        y = noisy.run(None, feed)[0].astype(np.float64).reshape(copies, *clean.shape)
        assert_standard_normal(
            (y - clean) / sigma, independent=True, what=f"bfloat16 DynK ({mode}), S = {seq}"
        )


def _matvec_dynk() -> onnx.ModelProto:
    """x [N, 3, S] @ v [S]: a 1-D second operand (an unbatched input) with S symbolic."""
    node = helper.make_node("MatMul", ["x", "v"], ["y"], name="layer")
    vi = helper.make_tensor_value_info
    return make_model(
        [node],
        [vi("x", TensorProto.FLOAT, ["N", 3, "S"]), vi("v", TensorProto.FLOAT, ["S"])],
        [vi("y", TensorProto.FLOAT, ["N", 3])],
    )


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("noise_name", ["shot+thermal", "weight"])
def test_dynamic_k_matvec_at_two_sequence_lengths(noise_name: str, runtime: str) -> None:
    """A 1-D operand of symbolic length lowers to AnalogMatVecDynK: D = S at run time."""
    noise = NOISES[noise_name]
    model = prepare(_matvec_dynk())
    plan = plan_for(["layer"], noise, r_x=R_X)
    assert _dynk_call(annotated(model, plan)).op_type == "AnalogMatVecDynK"
    run = _runner(model, plan, runtime)
    runs, copies = _layout(noise)
    for seq in DYNK_LENGTHS:
        gen = rng()
        base = {
            "x": gen.standard_normal((BASE_BATCH, 3, seq)).astype(np.float32),
            "v": (1.5 * gen.standard_normal(seq)).astype(np.float32),
        }
        sigma = terms(model, base).sigma(noise, r_x=R_X)
        clean = run_plain(model, base)[0]
        feed = {"x": np.concatenate([base["x"]] * copies), "v": base["v"]}
        y = np.stack([run(feed, k) for k in range(runs)]).astype(np.float64)
        z = (y.reshape(runs * copies, *clean.shape) - clean) / sigma
        what = f"matvec DynK {noise_name} ({runtime}), S = {seq}"
        assert_standard_normal(z, independent=not noise.weight, what=what)


@pytest.mark.parametrize(
    ("case_name", "macs_of"),
    [
        ("matmul_attention_dynk", lambda s: s * (2 * s * 4)),  # K = S, output [2, S, 4]
        ("einsum_two_dynk", lambda s: 3 * s * 4),  # i·j = 3S contracted, output [4]
    ],
)
def test_calibration_measures_dynamic_k_macs(case_name: str, macs_of) -> None:
    """Discovery cannot count a DynK op's MACs; calibration counts them from the shapes it
    sees (per example)."""
    for seq in (4, 7):
        case = with_seq(CASES[case_name](), seq)
        model = prepare(case.model)
        data = Dataset(case.feed(rng(), 10), None, source="test")
        calibration, _ = calibrate(model, [case.layer], data, batch_size=4)
        assert calibration.layers[case.layer].macs == macs_of(seq), f"S = {seq}"


def _attention_model(d: int = 8) -> onnx.ModelProto:
    """x [N, S, d] -> q, k, v projections -> softmax(q·kᵀ/sqrt(d))·v -> output projection."""
    gen = rng()
    names = ("Wq", "Wk", "Wv", "Wo")
    inits = [
        numpy_helper.from_array((gen.standard_normal((d, d)) / math.sqrt(d)).astype(np.float32), n)
        for n in names
    ]
    inits.append(numpy_helper.from_array(np.asarray(1 / math.sqrt(d), np.float32), "scale"))
    nodes = [
        helper.make_node("MatMul", ["x", "Wq"], ["q"], name="q"),
        helper.make_node("MatMul", ["x", "Wk"], ["k"], name="k"),
        helper.make_node("MatMul", ["x", "Wv"], ["v"], name="v"),
        helper.make_node("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
        helper.make_node("Mul", ["s", "scale"], ["ss"], name="scaled"),
        helper.make_node("Softmax", ["ss"], ["p"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["c"], name="context"),
        helper.make_node("MatMul", ["c", "Wo"], ["y"], name="out"),
    ]
    vi = helper.make_tensor_value_info
    return make_model(
        nodes,
        [vi("x", TensorProto.FLOAT, ["N", "S", d])],
        [vi("y", TensorProto.FLOAT, ["N", "S", d])],
        inits,
    )


def test_compile_report_counts_dynamic_k_macs(tmp_path: Path) -> None:
    """compile on a dynamic-sequence attention model: the context product A·V runs analog,
    the report has its MACs as calibration observed them (synthetic data: S = 16) and no D,
    and the annotated model runs at another sequence length."""
    from analogc.pipeline import compile_model

    path = tmp_path / "attention.onnx"
    onnx.save_model(_attention_model(), str(path))
    report = compile_model(path, repeats=4, output_dir=tmp_path / "out", plots=False)
    rows = {row["name"]: row for row in report.data["layers"]}
    assert set(rows) == {"q", "k", "v", "scores", "context", "out"}, "all six run analog"
    s, d = 16, 8
    expected = {"q": d * s * d, "scores": d * s * s, "context": s * s * d, "out": d * s * d}
    for name, macs in expected.items():
        assert rows[name]["macs"] == macs, f"{name}: {rows[name]['macs']} MACs, expected {macs}"
    assert rows["context"]["fan_in"] is None and rows["scores"]["fan_in"] == d
    assert all(row["repeats"] == 4 for row in rows.values())
    table = report.layer_table()
    line = next(line for line in table.splitlines() if line.startswith("context"))
    assert line.split()[2] == "-", f"D of the DynK layer: {line}"
    annotated_model = onnx.load(str(tmp_path / "out" / "attention.analog.onnx"))
    ops = {n.name: n.op_type for n in annotated_model.graph.node}
    assert ops["context"] == "AnalogMatMulDynK" and ops["scores"] == "AnalogMatMul", ops
    x = rng().standard_normal((2, 5, d)).astype(np.float32)
    clean = run_plain(prepare(onnx.load(str(path))), {"x": x})[0]
    noisy = run_plain(annotated_model, {"x": x})[0]
    assert noisy.shape == clean.shape == (2, 5, d) and not np.allclose(noisy, clean)
