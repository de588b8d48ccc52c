"""Every corpus model: ``analogc inspect`` accounts for all its MACs; annotated, it passes
``full_check``, runs in stock onnxruntime and reproduces the original at zero noise; the
simulation graph does too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from corpus import ENTRIES, Entry
from onnx.reference import ReferenceEvaluator

from analogc.errors import UnsupportedModelError
from analogc.passes import (
    LayerPlan,
    NoiseModel,
    Plan,
    annotate,
    discover,
    expand_recurrent,
    infer_shapes,
    is_annotated,
    load_model,
    name_nodes,
    save_model,
)
from analogc.pipeline import inspect_model, inspect_text
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.simulate import Simulator

ZERO = NoiseModel(thermal=True, weight=True, k_t=0.0, k_w=0.0)
ALL = NoiseModel(shot=True, thermal=True, weight=True)
IDS = [e.name for e in ENTRIES]
SIMULATED = [e for e in ENTRIES if e.simulate]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def _saved(entry: Entry, folder: Path) -> Path:
    where = folder / entry.name
    if not where.exists():
        where.mkdir()
        entry.save(where)
    return next(p for p in where.iterdir() if p.suffix == ".onnx")


def _prepared(path: Path) -> onnx.ModelProto:
    """As analogc's commands load a model: recurrent ops expanded, so their products run analog."""
    model = infer_shapes(load_model(path))
    if expand_recurrent(model).modified:
        model = infer_shapes(model)
    name_nodes(model)
    return model


def _plan(model: onnx.ModelProto, noise: NoiseModel) -> Plan:
    names = [x.name for x in discover(model).analog]
    return Plan(noise=noise, layers={n: LayerPlan(repeats=2, r_x=1.5) for n in names}, seed=1)


def _annotated(path: Path, noise: NoiseModel, out: Path) -> Path:
    model = _prepared(path)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    annotate(model, _plan(model, noise), FunctionLibrary(noise=noise, opset=opset))
    save_model(model, out)
    return out


def _run(entry: Entry, path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    if entry.runner == "reference":
        return ReferenceEvaluator(onnx.load(str(path))).run(None, feed)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def _close(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what}: output {i} {g.dtype}{g.shape}"
        if not np.issubdtype(w.dtype, np.floating) and w.dtype.kind != "V":
            np.testing.assert_array_equal(g, w, err_msg=f"{what}: output {i}")
            continue
        # rtol 1e-5, or two units in the last place of a narrower type: once a weight is no
        # longer a constant, onnxruntime may pick another kernel (another summation order).
        rtol = max(1e-5, 2 * float(ml_dtypes.finfo(w.dtype).eps))
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        atol = rtol * max(0.1, float(np.abs(w64).max()))
        np.testing.assert_allclose(g64, w64, rtol=rtol, atol=atol, err_msg=f"{what}: output {i}")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_inspect_accounts_for_every_mac(entry: Entry, folder: Path) -> None:
    """Analog MACs + digital MACs (each with a reason) = the hand count; nothing unknown
    except the ops whose MACs depend on run-time shapes."""
    report = inspect_model(_saved(entry, folder))
    rows = report.document["layers"]
    for row in rows:
        assert row["analog"] or row["reason"], f"{row['name']}: digital without a reason"
    analog = sum(r["macs"] for r in rows if r["analog"] and r["macs"] is not None)
    digital = sum(r["macs"] for r in rows if not r["analog"] and r["macs"] is not None)
    unknown = {r["name"] for r in rows if r["macs"] is None}
    assert sum(r["analog"] for r in rows) == entry.analog_ops, [
        (r["name"], r["reason"]) for r in rows
    ]
    assert analog == entry.analog, f"analog MACs {analog}, hand count {entry.analog}"
    assert digital == entry.digital, f"digital MACs {digital}, hand count {entry.digital}"
    assert unknown == set(entry.unknown), f"MACs unknown for {unknown}"
    assert inspect_text(report)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_annotated_model_checks_runs_and_reproduces(entry: Entry, folder: Path) -> None:
    path = _saved(entry, folder)
    out = _annotated(path, ZERO, folder / entry.name / "annotated" / "zero.onnx")
    onnx.checker.check_model(str(out), full_check=True)
    assert is_annotated(onnx.load(str(out), load_external_data=False))
    if entry.runner == "none":
        return  # over 2 GB: checked by path, not run
    feed = entry.feed()
    clean = _run(entry, path, feed)
    _close(_run(entry, out, feed), clean, f"{entry.name} at zero noise")

    noisy_path = _annotated(path, ALL, folder / entry.name / "annotated" / "noisy.onnx")
    noisy = _run(entry, noisy_path, feed)
    floats = [
        i for i, c in enumerate(clean) if np.issubdtype(c.dtype, np.floating) or c.dtype.kind == "V"
    ]
    assert all(np.all(np.isfinite(noisy[i].astype(np.float64))) for i in floats)
    assert any(
        not np.array_equal(noisy[i].astype(np.float64), clean[i].astype(np.float64)) for i in floats
    ), f"{entry.name}: the annotated model adds no noise"


@pytest.mark.parametrize("entry", SIMULATED, ids=[e.name for e in SIMULATED])
def test_simulation_graph_reproduces_at_zero_noise(entry: Entry, folder: Path) -> None:
    model = _prepared(_saved(entry, folder))
    feed = entry.feed()
    sim = Simulator(model, _plan(model, ALL), threads=1)
    clean = _run(dataclasses.replace(entry, runner="ort"), _saved(entry, folder), feed)
    _close(sim.run(feed, scales=sim.scales(None), seed=0, batch_index=0), clean, entry.name)
    noisy = sim.run(feed, scales=sim.scales(1), seed=0, batch_index=0)
    assert all(np.all(np.isfinite(np.asarray(o, np.float64))) for o in noisy if o.dtype.kind == "f")


def test_an_annotated_corpus_model_is_refused(folder: Path) -> None:
    entry = next(e for e in ENTRIES if e.name == "control_flow")
    out = _annotated(_saved(entry, folder), ALL, folder / "again" / "annotated.onnx")
    model = _prepared(out)
    with pytest.raises(UnsupportedModelError, match="already annotated"):
        annotate(model, _plan(model, ALL), FunctionLibrary(noise=ALL, opset=17))


@pytest.mark.parametrize("entry", SIMULATED, ids=[e.name for e in SIMULATED])
def test_simulation_in_pieces_gives_the_whole_graphs_outputs(entry: Entry, folder: Path) -> None:
    """A graph run piece by piece (each piece's draws made just before it) computes what it
    computes whole: the same draws, keyed by layer, and the same operations."""
    model = _prepared(_saved(entry, folder))
    feed = entry.feed()
    plan = _plan(model, ALL)
    whole = Simulator(model, plan, threads=1, pieces=1)
    split = Simulator(model, plan, threads=1, pieces=3)
    assert whole.pieces == 1
    if len(plan.layers) > 1 and split.pieces == 1:
        pytest.fail(f"{entry.name}: {len(plan.layers)} layers and no place to cut")
    scales = [whole.scales(1), whole.scales(None), {next(iter(plan.layers)): 0.5}]
    expected = [whole.run(feed, scales=s, seed=2, batch_index=1) for s in scales]
    together = split.run_together(feed, scales, seed=2, batch_index=1)
    alone = [split.run(feed, scales=s, seed=2, batch_index=1) for s in scales]
    for want, got, one in zip(expected, together, alone, strict=True):
        for w, g, o in zip(want, got, one, strict=True):
            np.testing.assert_allclose(
                np.asarray(g, np.float64), np.asarray(w, np.float64), 1e-5, 1e-6
            )
            np.testing.assert_array_equal(g, o)
