"""The per-layer search against a closed-form optimum, resume, and an infeasible budget."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import onnx
import optuna
import pytest
from synthetic import K_T, K, branches_model, cosine_drop_coefficients, optimum

from analogc.hardware import HardwareConfig
from analogc.passes import NoiseModel
from analogc.pipeline import compile_model
from analogc.report import EXIT_BUDGET_NOT_MET, EXIT_OK, compile_text
from analogc.runtime.data import Dataset
from analogc.search import SearchSettings

BUDGET = 0.002  # allowed drop of the mean cosine similarity to the clean output
THERMAL = HardwareConfig(name="thermal-test", noise=NoiseModel(thermal=True, k_t=K_T))


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray], Dataset]:
    model, weights = branches_model()
    path = tmp_path_factory.mktemp("branches") / "branches.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(1).standard_normal((256, K)).astype(np.float32)
    return path, weights, Dataset({"x": x}, source="gaussian")


def _compile(path: Path, data: Dataset, out: Path, **search: object):
    settings = SearchSettings(**{"trials": 40, "seeds": 4, "validation_seeds": 4, **search})  # type: ignore[arg-type]
    return compile_model(
        path,
        hardware=THERMAL,
        data=data,
        metric="cosine",
        max_drop=BUDGET,
        output_dir=out,
        search=settings,
    )


def test_search_lands_near_the_closed_form_optimum(branches, tmp_path: Path) -> None:
    path, weights, data = branches
    report = _compile(path, data, tmp_path / "out")
    d = report.document
    r_x = {layer["name"]: layer["r_x"] for layer in d["layers"]}
    macs = {layer["name"]: layer["macs"] for layer in d["layers"]}
    a = cosine_drop_coefficients(weights, data.inputs["x"], r_x)
    best_n, best_e = optimum(a, macs, BUDGET)
    uniform_e = sum(a.values()) / BUDGET  # N with Σ a/N = B in every layer

    found = d["dynamic"]["energy_per_mac"]
    analytic = d["analytic"]["energy_per_mac"]
    assert report.return_code == EXIT_OK and d["budget_met"]
    # Integer repeats, a one-sided bound over 4 seeds and the first-order drop model: 10%.
    assert found == pytest.approx(best_e, rel=0.10), (found, best_e)
    assert analytic == pytest.approx(best_e, rel=0.10), (
        "the analytic warm start alone should be close"
    )
    assert found <= analytic + 1e-9, "the search must never end worse than its warm start"
    assert d["uniform"]["repeats"] == pytest.approx(uniform_e, rel=0.10)
    assert d["saving"] == pytest.approx(1 - best_e / uniform_e, abs=0.08)
    for layer in d["layers"]:
        assert layer["repeats"] == pytest.approx(best_n[layer["name"]], rel=0.25), layer["name"]
    # The most sensitive, cheapest layer gets the most repeats.
    assert max(d["layers"], key=lambda layer: layer["repeats"])["name"] == "branch0"


def test_same_seed_reproduces_the_same_numbers(branches, tmp_path: Path) -> None:
    path, _, data = branches
    a = _compile(path, data, tmp_path / "a", trials=15).document
    b = _compile(path, data, tmp_path / "b", trials=15).document
    assert [x["repeats"] for x in a["layers"]] == [x["repeats"] for x in b["layers"]]
    assert a["dynamic"]["evaluation"]["values"] == b["dynamic"]["evaluation"]["values"]
    assert a["uniform"]["repeats"] == b["uniform"]["repeats"]


def test_rerun_resumes_the_study_and_keeps_finished_trials(branches, tmp_path: Path) -> None:
    path, _, data = branches
    out = tmp_path / "out"
    first = _compile(path, data, out, trials=12).document
    storage, name = first["search"]["storage"], first["search"]["study_name"]
    before = _finished(optuna.load_study(study_name=name, storage=storage))
    second = _compile(path, data, out, trials=20).document
    after = _finished(optuna.load_study(study_name=name, storage=storage))
    assert second["search"]["study_name"] == name
    assert len(before) == 12 and len(after) == 20
    assert [t.params for t in after[: len(before)]] == [t.params for t in before]
    # Setup (uniform baseline, sensitivities, analytic) is read back, not recomputed.
    assert second["run"]["search"]["evaluations"] < first["run"]["search"]["evaluations"]


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state.is_finished()]


def test_killed_search_resumes(branches, tmp_path: Path) -> None:
    """A process killed mid-search loses no finished trial: the rerun continues from them."""
    import sqlite3
    import subprocess
    import sys
    import time

    path, _, data = branches
    npz = tmp_path / "x.npz"
    np.savez(npz, x=data.inputs["x"])
    hw = tmp_path / "hw.toml"
    hw.write_text(f"name = 'thermal-test'\n[noise]\nthermal = true\nk_t = {K_T}\n")
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "analogc",
        "compile",
        str(path),
        "-d",
        str(npz),
        "-H",
        str(hw),
        "-o",
        str(out),
        "--metric",
        "cosine",
        "--max-drop",
        str(BUDGET),
        "--seeds",
        "4",
        "-q",
    ]
    proc = subprocess.Popen(
        [*args, "--trials", "100000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    db = out / "study.db"
    storage = f"sqlite:///{db.resolve()}"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and done < 5 and proc.poll() is None:
        time.sleep(0.5)
        if not db.exists():
            continue
        try:  # read-only, so this test never creates the schema under the running process
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                done = con.execute(
                    "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
                ).fetchone()[0]
        except sqlite3.Error:
            continue
    proc.kill()
    proc.wait()
    assert done >= 5, "the search did not get going"
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    kept = [t.params for t in study.trials if t.state.is_finished()]
    # Killed mid-search: nothing but the study (and its lock) in the output folder, no partial
    # model, report or temporary file.
    leftovers = sorted(p.name for p in out.iterdir() if not p.name.startswith("study.db"))
    assert leftovers == [], f"a killed compile left {leftovers}"
    result = subprocess.run([*args, "--trials", str(len(kept) + 3)], capture_output=True, text=True)
    assert result.returncode in (EXIT_OK, EXIT_BUDGET_NOT_MET), result.stderr
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    finished = [t.params for t in study.trials if t.state.is_finished()]
    assert finished[: len(kept)] == kept
    assert len(finished) >= len(kept) + 1


def test_infeasible_budget_writes_best_found_and_says_so(branches, tmp_path: Path) -> None:
    path, _, data = branches
    out = tmp_path / "out"
    # At most 2 repeats per layer cannot reach a 0.002 drop (the uniform optimum needs ~27).
    report = _compile(path, data, out, trials=6, max_repeats=2)
    d = report.document
    assert report.return_code == EXIT_BUDGET_NOT_MET
    assert d["budget_met"] is False
    assert d["uniform"]["feasible"] is False and d["saving"] is None
    assert (out / "branches.analog.onnx").exists() and (out / "report.json").exists()
    assert "NOT MET" in compile_text(report)
    assert all(1 <= layer["repeats"] <= 2 for layer in d["layers"])


def test_pareto_front_is_non_dominated(branches, tmp_path: Path) -> None:
    path, _, data = branches
    d = _compile(path, data, tmp_path / "out", trials=24, pareto=True).document
    front = d["search"]["front"]
    assert d["search"]["sampler"] == "NSGAIISampler" and len(front) >= 2
    energies = [p["energy_per_mac"] for p in front]
    metrics = [p["metric"] for p in front]
    assert energies == sorted(energies)
    assert all(m2 > m1 for m1, m2 in itertools.pairwise(metrics)), "cheaper points must be worse"
    assert math.isfinite(d["dynamic"]["energy_per_mac"])
