"""report.json of ``analogc compile``: the schema other tools read, the arithmetic that ties its
numbers together (DESIGN §2), the other outputs, and determinism across reruns."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from analogc.hardware import PRESETS
from analogc.passes import read_plan
from analogc.pipeline import compile_model
from analogc.report import CompileReport as Report
from analogc.search import SearchSettings

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"
SETTINGS = SearchSettings(trials=8, seeds=2, validation_seeds=2)
ATTOJOULES_PER_PHOTON = 0.12816  # h·c/λ at 1550 nm, in aJ
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TOP_LEVEL = {
    "analogc",
    "run",
    "command",
    "mode",
    "versions",
    "model",
    "hardware",
    "noise",
    "data",
    "metric",
    "budget",
    "layers",
    "digital",
    "macs",
    "uniform",
    "dynamic",
    "saving",
    "analytic",
    "search",
    "budget_met",
    "outputs",
}
LAYER_KEYS = {
    "name": str,
    "op_type": str,
    "fan_in": (int, float),
    "macs": int,
    "operand": str,
    "r_x": float,
    "repeats": int,
    "energy_per_mac": float,
    "energy_share": float,
    "sigma": float,
    "enob": float,
    "snr_db": float,
    "uniform_repeats": int,
    "uniform_enob": float,
    "analytic_repeats": int,
    "sensitivity": float,
    "sensitivity_drop": float,
}
# numbers that legitimately differ between two identical compiles
VOLATILE = [
    ("run",),  # every measurement of the run itself (timestamp, timings, throughput)
    ("outputs",),  # paths into the output directory
    ("search", "storage"),  # the study file in the output directory
]


def compile_into(out: Path) -> tuple[Report, str]:
    if not CNN.exists():
        pytest.skip(f"demo model {CNN} is missing")
    report = compile_model(CNN, data="demo:calib", search=SETTINGS, output_dir=out, plots=True)
    return report, (out / "report.json").read_text()


def strict_json(text: str) -> dict[str, Any]:
    """json.loads that refuses NaN, Infinity and -Infinity (not JSON; many parsers reject them)."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"report.json contains the non-JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report, str]:
    out = tmp_path_factory.mktemp("report") / "out"
    report, text = compile_into(out)
    return out, report, text


@pytest.fixture(scope="module")
def doc(run: tuple[Path, Report, str]) -> dict[str, Any]:
    return strict_json(run[2])


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# -- schema ---------------------------------------------------------------------------------------
def test_no_nan_or_infinity_tokens(run: tuple[Path, Report, str]) -> None:
    strict_json(run[2])
    for token in ("NaN", "Infinity"):
        assert token not in run[2], f"{token} in report.json"


def test_written_json_is_the_returned_report(run: tuple[Path, Report, str]) -> None:
    _, report, text = run
    assert strict_json(report.to_json()) == strict_json(text), "report.json != the returned report"
    assert report.return_code in (0, 1)
    assert report.return_code == (0 if report.document["budget_met"] else 1)


def test_top_level_keys(doc: dict[str, Any]) -> None:
    missing = TOP_LEVEL - set(doc)
    assert not missing, f"report.json lacks {sorted(missing)}"
    assert doc["command"] == "compile" and doc["mode"] == "search", (doc["command"], doc["mode"])
    assert isinstance(doc["analogc"], str) and doc["analogc"], doc["analogc"]
    created = dt.datetime.fromisoformat(doc["run"]["created"])
    assert created.tzinfo is not None, f"created must carry a timezone: {doc['run']['created']}"
    assert isinstance(doc["budget_met"], bool)


def test_versions(doc: dict[str, Any]) -> None:
    versions = doc["versions"]
    for pkg in ("python", "onnx", "onnxruntime", "optuna", "numpy"):
        assert isinstance(versions.get(pkg), str) and versions[pkg], f"versions.{pkg}: {versions}"
    assert versions["numpy"] == np.__version__ and versions["onnx"] == onnx.__version__


def test_model(doc: dict[str, Any]) -> None:
    model = doc["model"]
    assert set(model) >= {"path", "sha256", "opset"}, model
    assert Path(model["path"]).name == CNN.name
    assert model["sha256"] == hashlib.sha256(CNN.read_bytes()).hexdigest(), "sha256 of the input"
    assert model["opset"] == 17


def test_hardware_and_noise(doc: dict[str, Any]) -> None:
    assert doc["hardware"] == PRESETS["optical-shot"].to_dict(), "the default hardware, in full"
    assert doc["noise"] == "shot"


def test_data_and_metric(doc: dict[str, Any]) -> None:
    data = doc["data"]
    assert set(data) >= {"source", "examples", "synthetic", "batch_size"}, data
    assert data["source"].endswith("digits_calib.npz"), data["source"]
    assert data["examples"] == 300 and data["synthetic"] is False and data["batch_size"] == 256
    metric = doc["metric"]
    assert set(metric) >= {"name", "clean", "unit"}, metric
    assert metric["name"] == "accuracy" and metric["unit"] == "%", metric
    assert metric["clean"] == pytest.approx(0.97), "models/README: digits_cnn calib accuracy 97.00%"


def test_budget(doc: dict[str, Any]) -> None:
    budget = doc["budget"]
    assert set(budget) >= {"max_drop", "allowed_drop", "rule", "confidence", "seeds"}, budget
    assert budget["max_drop"] == "1%"
    assert budget["allowed_drop"] == pytest.approx(0.01 * doc["metric"]["clean"]), "1% of clean"
    assert budget["confidence"] == 0.95 and budget["seeds"] == SETTINGS.seeds
    # One-sided Student t for the search seeds (1 degree of freedom over 2 seeds: 6.314).
    assert budget["quantile"] == "student-t", budget
    assert budget["quantile_value"] == pytest.approx(6.3138, abs=1e-4), budget
    assert "6.314" in budget["rule"] and "Student t, 1 df" in budget["rule"], budget["rule"]


def test_layer_keys_and_types(doc: dict[str, Any]) -> None:
    layers = doc["layers"]
    assert [layer["name"] for layer in layers] == [
        "/conv1/Conv",
        "/conv2/Conv",
        "/fc1/Gemm",
        "/fc2/Gemm",
    ], "digits_cnn has four analog ops, in graph order"
    for layer in layers:
        missing = set(LAYER_KEYS) - set(layer)
        assert not missing, f"layer {layer.get('name')} lacks {sorted(missing)}"
        for key, kind in LAYER_KEYS.items():
            value = layer[key]
            assert isinstance(value, kind) and not isinstance(value, bool), (
                f"{layer['name']}.{key} = {value!r} is not {kind}"
            )
            if kind is not str:
                assert math.isfinite(value), f"{layer['name']}.{key} = {value}"
        assert layer["repeats"] >= 1 and layer["uniform_repeats"] >= 1
        assert layer["analytic_repeats"] >= 1
        assert layer["r_x"] > 0 and layer["sigma"] > 0 and layer["sensitivity"] >= 0
        assert layer["operand"] == "constant", "every op of digits_cnn has constant weights"


def _expected_facts(model: onnx.ModelProto) -> dict[str, tuple[int, int]]:
    """(fan-in D, MACs per example) of each Conv/Gemm, from weights and inferred shapes."""
    model = onnx.shape_inference.infer_shapes(model)
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    shapes = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in [*model.graph.value_info, *model.graph.output]
    }
    facts = {}
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = weights[node.input[1]]
            d = math.prod(w[1:])
        elif node.op_type == "Gemm":
            w = weights[node.input[1]]
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            d = w[1] if trans_b else w[0]
        else:
            continue
        facts[node.name] = (d, d * math.prod(shapes[node.output[0]][1:]))
    return facts


def test_layer_fan_in_and_macs(doc: dict[str, Any]) -> None:
    expected = _expected_facts(onnx.load(str(CNN)))
    got = {layer["name"]: (layer["fan_in"], layer["macs"]) for layer in doc["layers"]}
    assert got == expected, f"(D, MACs) per layer: {got} != {expected}"
    assert doc["macs"]["analog"] == sum(m for _, m in expected.values()), doc["macs"]
    assert doc["macs"]["digital"] == 0 and doc["macs"]["digital_unknown"] == 0
    assert doc["digital"] == [], "digits_cnn runs every matrix product in analog"


# -- arithmetic (DESIGN §2) -----------------------------------------------------------------------
def test_energy_shares_sum_to_one(doc: dict[str, Any]) -> None:
    shares = [layer["energy_share"] for layer in doc["layers"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-9), shares
    assert all(0 < s < 1 for s in shares), shares
    total = sum(layer["repeats"] * layer["macs"] for layer in doc["layers"])
    for layer in doc["layers"]:
        expected = layer["repeats"] * layer["macs"] / total
        assert layer["energy_share"] == pytest.approx(expected, rel=1e-9), layer["name"]


def test_energy_per_mac(doc: dict[str, Any]) -> None:
    e1 = doc["hardware"]["e1"]
    layers = doc["layers"]
    macs = sum(layer["macs"] for layer in layers)
    for layer in layers:
        assert layer["energy_per_mac"] == pytest.approx(layer["repeats"] * e1), layer["name"]
    expected = e1 * sum(layer["repeats"] * layer["macs"] for layer in layers) / macs
    dyn = doc["dynamic"]
    assert dyn["energy_per_mac"] == pytest.approx(expected, rel=1e-12), "Ē = Σ N·MAC / Σ MAC"
    assert dyn["passes_per_mac"] == pytest.approx(expected / e1, rel=1e-12)
    uniform = doc["uniform"]
    assert all(layer["uniform_repeats"] == uniform["repeats"] for layer in layers)
    assert uniform["energy_per_mac"] == pytest.approx(uniform["repeats"] * e1)
    analytic = doc["analytic"]
    assert analytic["repeats"] == {layer["name"]: layer["analytic_repeats"] for layer in layers}
    expected_analytic = e1 * sum(layer["analytic_repeats"] * layer["macs"] for layer in layers)
    assert analytic["energy_per_mac"] == pytest.approx(expected_analytic / macs, rel=1e-12)


def test_joules(doc: dict[str, Any]) -> None:
    for part in ("dynamic", "uniform"):
        block = doc[part]
        photons = block["energy_per_mac"]
        assert block["attojoules_per_mac"] == pytest.approx(
            photons * ATTOJOULES_PER_PHOTON, rel=1e-4
        ), f"{part}: aJ/MAC = photons/MAC × 0.12816"
        assert block["joules_per_mac"] == pytest.approx(block["attojoules_per_mac"] * 1e-18)


def test_saving(doc: dict[str, Any]) -> None:
    assert doc["uniform"]["feasible"] is True, "the uniform baseline met the budget"
    expected = 1 - doc["dynamic"]["energy_per_mac"] / doc["uniform"]["energy_per_mac"]
    assert doc["saving"] == pytest.approx(expected, rel=1e-12), "saving = 1 − Ē_dyn/Ē_uniform"
    assert 0 <= doc["saving"] < 1, doc["saving"]


def test_enob_follows_repeats(doc: dict[str, Any]) -> None:
    """σ ∝ 1/sqrt(N): the uniform ENOB follows from the per-layer σ and ENOB."""
    for layer in doc["layers"]:
        output_range = math.sqrt(12) * layer["sigma"] * (2 ** layer["enob"] - 1)
        sigma_uniform = layer["sigma"] * math.sqrt(layer["repeats"] / layer["uniform_repeats"])
        expected = math.log2(1 + output_range / (math.sqrt(12) * sigma_uniform))
        assert layer["uniform_enob"] == pytest.approx(expected, rel=1e-9), layer["name"]


@pytest.mark.parametrize("part", ["dynamic", "uniform"])
def test_evaluations(doc: dict[str, Any], part: str) -> None:
    evaluation = doc[part]["evaluation"]
    assert set(evaluation) >= {"mean", "ci95", "values", "seeds"}, evaluation
    values, seeds = evaluation["values"], evaluation["seeds"]
    assert len(values) == SETTINGS.validation_seeds, f"{part}: one value per validation seed"
    assert seeds == SETTINGS.fresh_seeds, f"{part}: fresh seeds {seeds}, not the search's"
    assert not set(seeds) & set(SETTINGS.search_seeds), "validation reuses search seeds"
    assert evaluation["mean"] == pytest.approx(sum(values) / len(values), rel=1e-12)
    assert evaluation["ci95"] >= 0 and all(0 <= v <= 1 for v in values), evaluation
    assert evaluation["clean"] == doc["metric"]["clean"]


def test_dynamic_block(doc: dict[str, Any]) -> None:
    dyn = doc["dynamic"]
    for key in ("energy_per_mac", "joules_per_mac", "attojoules_per_mac", "passes_per_mac"):
        assert number(dyn.get(key)), f"dynamic.{key} = {dyn.get(key)!r}"
    assert dyn["feasible"] is doc["budget_met"], "budget_met is the chosen point's verdict"
    assert dyn["analog_macs"] == doc["macs"]["analog"]


def test_search_block(doc: dict[str, Any]) -> None:
    search = doc["search"]
    keys = {"sampler", "trials", "evaluated_trials", "skipped_trials", "feasible_trials"}
    keys |= {"study_name", "storage", "seed", "seeds", "validation_seeds", "front"}
    assert set(search) >= keys, f"search lacks {sorted(keys - set(search))}"
    assert search["sampler"] == "TPESampler"
    assert search["trials"] == SETTINGS.trials, search["trials"]
    assert 1 <= search["evaluated_trials"] <= search["trials"] - search["skipped_trials"]
    assert 0 <= search["feasible_trials"] <= search["evaluated_trials"]
    run = doc["run"]["search"]
    assert isinstance(run["evaluations"], int) and run["evaluations"] > 0
    assert run["evals_per_s"] == pytest.approx(run["evaluations"] / run["wall_s"])
    assert search["seed"] == 0 and search["seeds"] == SETTINGS.seeds
    assert search["validation_seeds"] == SETTINGS.validation_seeds
    assert search["storage"].startswith("sqlite:///") and search["storage"].endswith("study.db")
    assert isinstance(search["study_name"], str) and search["study_name"].startswith("digits_cnn")
    front = search["front"]
    assert front, "the front has at least the chosen configuration"
    names = {layer["name"] for layer in doc["layers"]}
    for point in front:
        assert set(point) >= {"energy_per_mac", "metric", "margin", "repeats"}, point
        assert set(point["repeats"]) == names, point["repeats"]
    energies = [p["energy_per_mac"] for p in front]
    metrics = [p["metric"] for p in front]
    assert energies == sorted(energies) and metrics == sorted(metrics), "front: more E, more metric"


def test_timing(doc: dict[str, Any]) -> None:
    timing = doc["run"]["timing"]
    assert set(timing) >= {"calibration_s", "search_s", "total_s"}, timing
    assert all(number(v) and v >= 0 for v in timing.values()), timing
    assert timing["total_s"] >= timing["calibration_s"] + timing["search_s"] - 1e-6, timing


# -- the other outputs ----------------------------------------------------------------------------
def test_outputs_exist(run: tuple[Path, Report, str], doc: dict[str, Any]) -> None:
    out = run[0]
    outputs = doc["outputs"]
    expected = {
        "model",
        "report_json",
        "report_md",
        "tradeoff_plot",
        "precision_plot",
        "study",
        "report_html",
    }
    assert set(outputs) == expected, outputs
    for key, path in outputs.items():
        assert Path(path).is_file(), f"outputs.{key} = {path} does not exist"
        assert Path(path).parent == out, f"outputs.{key} is outside the output directory"
    for key in ("tradeoff_plot", "precision_plot"):
        head = Path(outputs[key]).read_bytes()[:8]
        assert head == PNG_MAGIC, f"{key} is not a PNG: {head!r}"


def test_report_md_mentions_every_layer(doc: dict[str, Any]) -> None:
    text = Path(doc["outputs"]["report_md"]).read_text()
    for layer in doc["layers"]:
        assert layer["name"] in text, f"report.md does not mention {layer['name']}"
    assert "tradeoff.png" in text and "precision.png" in text


def test_annotated_model_carries_the_report_plan(doc: dict[str, Any]) -> None:
    model = onnx.load(doc["outputs"]["model"])
    plan = read_plan(model)
    assert plan is not None, "the annotated model carries no plan"
    for layer in doc["layers"]:
        lp = plan.layers[layer["name"]]
        assert lp.repeats == layer["repeats"], layer["name"]
        assert lp.r_x == pytest.approx(layer["r_x"]), layer["name"]
    assert plan.e1 == doc["hardware"]["e1"]


# -- determinism ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rerun(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report, str]:
    out = tmp_path_factory.mktemp("report_again") / "out"
    report, text = compile_into(out)
    return out, report, text


def _stable(document: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for path in VOLATILE:
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent.pop(path[-1])
    return document


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{where}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def test_rerun_gives_the_same_report(
    run: tuple[Path, Report, str], rerun: tuple[Path, Report, str]
) -> None:
    first, second = strict_json(run[2]), strict_json(rerun[2])
    assert first["outputs"] != second["outputs"], "the rerun must write to a new directory"
    assert first["search"]["storage"] != second["search"]["storage"], "a new study, not a resume"
    differences = _differences(_stable(first), _stable(second))
    assert not differences, "reports differ:\n" + "\n".join(differences[:20])


def test_rerun_gives_a_byte_identical_model(
    run: tuple[Path, Report, str], rerun: tuple[Path, Report, str]
) -> None:
    a = Path(strict_json(run[2])["outputs"]["model"]).read_bytes()
    b = Path(strict_json(rerun[2])["outputs"]["model"]).read_bytes()
    assert a == b, (
        f"annotated models differ ({len(a)} vs {len(b)} bytes; sha256 "
        f"{hashlib.sha256(a).hexdigest()[:12]} vs {hashlib.sha256(b).hexdigest()[:12]})"
    )
