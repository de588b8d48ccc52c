"""The terms repeats do not reduce (DESIGN §2.1): converters, weight levels, programming error,
drift. Exact against ``static_reference.py`` in both runtimes; programming error per chip;
the drift law; effective bits capped by the ADC; the search's floor; budgets the static terms
alone break."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from builders import CASES, rng
from helpers import annotated, plain_session, plan_for, prepare, run_plain
from onnx import numpy_helper
from static_reference import EXACT, op_data
from term_contract import CONTRACT_CASES

import analogc
from analogc.accounting import LayerFacts, account
from analogc.errors import ConfigError
from analogc.passes import LayerPlan, NoiseModel
from analogc.runtime.simulate import Simulator

MODELS = Path(__file__).resolve().parents[1] / "models"

VARIANTS: dict[str, dict[str, dict[str, object]]] = {
    "dac": {
        "calibrated": {"dac_bits": 4},
        "per_vector": {"dac_bits": 5, "dac_range": "per_vector"},
    },
    "levels": {"3 bits": {"weight_bits": 3}},
    "adc": {
        "per op": {"adc_bits": 4, "adc_headroom": 0.8},
        "per channel": {"adc_bits": 5, "adc_per_channel": True},
        "full scale": {"adc_bits": 6, "adc_range": "full_scale", "adc_bound": 3.0},
    },
    "programming": {"k_p 0.05": {"k_p": 0.05}},
    "pcm_programming": {"aihwkit": {}, "per channel": {"g_scale": "channel", "g_max": 10.0}},
    "drift": {
        "1 day": {"drift_t": 86400.0},
        "compensated": {"drift_t": 3600.0, "drift_compensation": True},
    },
}
CASES_X = [(t, v) for t, vs in VARIANTS.items() for v in vs]


def test_every_static_term_has_an_exact_reference_and_a_variant() -> None:
    from analogc.passes.noise import TERMS

    static = {n for n, t in TERMS.items() if not t.reduced_by_repeats}
    assert static == set(EXACT) == set(VARIANTS), (static, set(EXACT), set(VARIANTS))


def _setup(term: str, variant: str, case_name: str):  # type: ignore[no-untyped-def]
    case = CASES[case_name]()
    model = prepare(case.model)
    noise = NoiseModel(**{term: True, **VARIANTS[term][variant]})
    x = case.feed(rng(), 3)["x"]
    clean = run_plain(model, {"x": x})[0]
    axis = 1 if case_name.startswith("conv") else -1
    per_channel = np.abs(np.moveaxis(clean, axis, -1)).reshape(-1, clean.shape[axis]).max(0)
    facts = {
        "x_absmax": float(0.8 * np.abs(x).max()),
        "y_absmax": float(0.9 * np.abs(clean).max()),
        "y_absmax_channels": tuple(float(v) for v in 0.9 * per_channel),
    }
    plan = plan_for([case.layer], noise, **facts)
    return case, model, noise, x, plan, op_data(case_name, model, x)


@pytest.mark.parametrize("case_name", CONTRACT_CASES)
@pytest.mark.parametrize(("term", "variant"), CASES_X)
def test_simulator_matches_the_exact_reference(term: str, variant: str, case_name: str) -> None:
    case, model, noise, x, plan, op = _setup(term, variant, case_name)
    sim = Simulator(model, plan, threads=1)
    for seed in (0, 1):
        got = sim.run({"x": x}, scales=sim.scales(1), seed=seed, batch_index=0)[0]
        draws = sim.chip_draws(seed, case.layer)
        want = EXACT[term](op, noise, plan.layers[case.layer], draws)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{term} {variant}")


@pytest.mark.parametrize("case_name", CONTRACT_CASES)
@pytest.mark.parametrize(("term", "variant"), CASES_X)
def test_annotated_model_matches_the_exact_reference(
    term: str, variant: str, case_name: str
) -> None:
    """The deployable model: one programmed chip (its draws stored in the model)."""
    case, model, noise, x, plan, op = _setup(term, variant, case_name)
    deploy = annotated(model, plan)
    onnx.checker.check_model(deploy, full_check=True)
    stored = {
        t.name.rsplit("/", 1)[-1]: numpy_helper.to_array(t).astype(np.float32)
        for t in deploy.graph.initializer
        if t.name.rsplit("/", 1)[-1].startswith("eps_")
    }
    session = plain_session(deploy)
    got = session.run(None, {"x": x})[0]
    want = EXACT[term](op, noise, plan.layers[case.layer], stored)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{term} {variant}")
    again = session.run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, again, err_msg="a static term changed between runs")


def test_programming_error_is_one_draw_per_chip() -> None:
    """Identical across batches, runs and repeats of one noise seed; independent across
    seeds; the deployable model is one chip per plan seed."""
    case = CASES["matmul"]()
    model = prepare(case.model)
    noise = NoiseModel(programming=True, shot=True, k_p=0.05)
    sim = Simulator(model, plan_for([case.layer], noise), threads=1)
    x = case.feed(rng(), 400)["x"]
    clean = run_plain(model, {"x": x})[0]
    static = sim.scales(None)  # temporal noise off: what is left is the chip
    a = sim.run({"x": x}, scales=static, seed=3, batch_index=0)[0]
    b = sim.run({"x": x}, scales=static, seed=3, batch_index=5)[0]
    np.testing.assert_array_equal(a, b, err_msg="a chip changed between batches")
    noisy = sim.run({"x": x}, scales=sim.scales(64), seed=3, batch_index=0)[0]
    again = sim.run({"x": x}, scales=sim.scales(64), seed=3, batch_index=0)[0]
    np.testing.assert_array_equal(noisy, again)
    c = sim.run({"x": x}, scales=static, seed=4, batch_index=0)[0]
    da, dc = (a - clean).ravel(), (c - clean).ravel()
    assert np.any(da != 0) and np.any(dc != 0)
    r = np.corrcoef(da, dc)[0, 1]
    assert abs(r) < 5 / np.sqrt(len(da)) + 0.05, f"chips 3 and 4 correlate: r = {r:.3f}"
    chips = [plain_session(annotated(model, plan_for([case.layer], noise, seed=s))) for s in (0, 1)]
    assert not np.array_equal(chips[0].run(None, {"x": x})[0], chips[1].run(None, {"x": x})[0])


def test_drift_law_and_its_compensation() -> None:
    """With σ_ν = 0 every weight drifts by ((t+t0)/t0)^(−ν̄); the compensation undoes it."""
    case = CASES["gemm"]()
    model = prepare(case.model)
    x = case.feed(rng(), 4)["x"]
    clean = run_plain(model, {"x": x})[0]
    b = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "B"))
    c = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "C"))
    factor = ((86400.0 + 20.0) / 20.0) ** -0.05
    for compensation in (False, True):
        noise = NoiseModel(
            drift=True,
            drift_t=86400.0,
            drift_nu=0.05,
            drift_nu_std=0.0,
            drift_compensation=compensation,
        )
        got = plain_session(annotated(model, plan_for([case.layer], noise))).run(None, {"x": x})[0]
        want = 1.5 * x @ (b * factor).T + 0.5 * c
        if compensation:
            want = want / factor
            np.testing.assert_allclose(got, want, rtol=1e-4)
            assert not np.allclose(got, clean, rtol=1e-4)  # the bias is compensated too
        else:
            np.testing.assert_allclose(got, want, rtol=1e-4)


def test_effective_bits_never_exceed_the_adc() -> None:
    fact = LayerFacts(
        name="l", op_type="Conv", macs=10, fan_in=9.0, sigma1=1e-6, r_y=2.0, y_ms=1.0, max_bits=6.0
    )
    (layer,) = account([fact], {"l": 4096}, e1=1.0).layers
    assert layer.enob == 6.0
    assert fact.useful_repeats(1.0, 1 << 16) == 1 << 16  # no floor known: every repeat helps
    floored = LayerFacts(**{**fact.__dict__, "sigma1": 0.5, "floor_variance": 0.01})
    assert floored.useful_repeats(1.0, 1 << 16) == 25  # 0.5² / (N · 1) <= 0.01 from N = 25


def _hardware(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hw.toml"
    path.write_text(text)
    return path


def test_uniform_search_stops_at_the_adc_floor(tmp_path: Path) -> None:
    hw = _hardware(
        tmp_path,
        'name = "coarse-adc"\n[noise]\nthermal = true\nk_t = 0.05\nadc = true\nadc_bits = 4\n',
    )
    search = analogc.SearchSettings(strategy="uniform", seeds=2, validation_seeds=2)
    report = analogc.compile(
        MODELS / "digits_cnn.onnx",
        data="demo:calib",
        hardware=hw,
        max_drop="30%",
        search=search,
        plots=False,
        output_dir=tmp_path / "out",
    )
    assert report.budget.static_terms == ["adc"] and report.budget.static_feasible
    assert report.uniform is not None
    points = report.search.uniform_curve  # type: ignore[union-attr]
    top = max(p.repeats[report.layers[0].name] for p in points)
    assert top < 1 << 16, "the uniform search went past every layer's ADC floor"
    for layer in report.layers:
        assert layer.enob <= 4.0 + 1e-9, (layer.name, layer.enob)


def test_budget_the_static_terms_alone_break(tmp_path: Path) -> None:
    hw = _hardware(tmp_path, 'name = "2-bit"\n[noise]\nshot = true\nadc = true\nadc_bits = 2\n')
    report = analogc.compile(
        MODELS / "digits_cnn.onnx",
        data="demo:calib",
        hardware=hw,
        plots=False,
        output_dir=tmp_path / "out",
    )
    assert report.return_code == 1 and report.mode == "static-limited"
    assert report.budget.static_feasible is False and report.search is None
    assert report.budget.static_drop is not None
    assert report.budget.static_drop > report.budget.allowed_drop


def test_cli_says_the_static_terms_not_repeats_stopped_the_search(tmp_path: Path) -> None:
    """No --repeats was given: the closing line blames the static terms, not --repeats."""
    from click.testing import CliRunner

    from analogc.cli import cli

    hw = _hardware(tmp_path, 'name = "2-bit"\n[noise]\nshot = true\nadc = true\nadc_bits = 2\n')
    args = ["compile", str(MODELS / "digits_cnn.onnx"), "-d", "demo:calib", "-H", str(hw)]
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "no repeats can meet the budget" in last and "--repeats" not in last


@pytest.mark.parametrize(
    ("noise", "message"),
    [
        ({"adc": True, "adc_bits": 1}, "adc adc_bits must be >= 2"),
        ({"drift": True, "drift_t": -5.0}, "drift drift_t must be >= 0"),
        ({"dac": True, "dac_range": "maybe"}, "dac_range must be one of"),
        ({"adc": "yes"}, "adc must be true or false"),
        ({"adc": True, "adc_bits": "8"}, "adc_bits must be a number"),
    ],
)
def test_bad_converter_settings_name_the_key(noise: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NoiseModel(**noise)


def test_layer_plan_round_trips_its_facts_and_overrides() -> None:
    layer = LayerPlan(
        repeats=3,
        r_x=1.0,
        x_absmax=2.0,
        y_absmax_channels=(1.0, 2.0),
        noise=NoiseModel(adc=True),
        e1=2.5,
    )
    assert LayerPlan.from_dict(layer.to_dict()) == layer
