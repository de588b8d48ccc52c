"""Several ``analogc compile`` processes on one ``--storage``/``--study-name`` share one Optuna
study: they split the trial budget instead of each running it in full, and none of them crashes.

What is asserted, and why: the study must end with at least ``--trials`` finished trials (the
budget is for the study, not per process: SearchSettings.trials, "trials in total") and at most
``--trials + workers - 1``. Each worker checks the count only after finishing a trial
(``MaxTrialsCallback``), so when one worker sees the budget reached, each other worker may still
be finishing one trial it had started: 2 workers, 16 trials -> 16 or 17 finished trials.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from analogc.pipeline import compile_model
from analogc.search import SearchSettings

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"
TRIALS = 16
WORKERS = 2
TIMEOUT_S = 180


def finished_trials(storage: str, study_name: str) -> tuple[int, dict[str, int]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage)
    states = collections.Counter(t.state.name for t in study.trials)
    return sum(1 for t in study.trials if t.state.is_finished()), dict(states)


@pytest.fixture(scope="module")
def cnn() -> Path:
    if not CNN.exists():
        pytest.skip(f"demo model {CNN} is missing")
    return CNN


def test_two_processes_share_one_study(tmp_path: Path, cnn: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = []
    for worker in range(WORKERS):
        cmd = [
            sys.executable,
            "-m",
            "analogc",
            "compile",
            str(cnn),
            "-d",
            "demo:calib",
            "--trials",
            str(TRIALS),
            "--seeds",
            "2",
            "-q",
            "--storage",
            storage,
            "--study-name",
            "coop",
            "-o",
            str(tmp_path / f"out{worker}"),
        ]
        procs.append(
            subprocess.Popen(
                cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT_S)
            results.append((proc.returncode, out.decode(), err.decode()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for worker, (code, out, err) in enumerate(results):
        assert code in (0, 1), (
            f"worker {worker} exited {code} (0: budget met, 1: not met; 2/3 are errors)\n"
            f"--- stdout\n{out[-2000:]}\n--- stderr\n{err[-4000:]}"
        )
    finished, states = finished_trials(storage, "coop")
    # A worker checks the count only after finishing a trial, so when one sees TRIALS the other
    # may still be finishing one: at most WORKERS - 1 extra.
    assert TRIALS <= finished <= TRIALS + WORKERS - 1, (
        f"the shared study has {finished} finished trials, expected {TRIALS}"
        f"..{TRIALS + WORKERS - 1} ({WORKERS} workers, --trials {TRIALS}); states: {states}"
    )
    assert "RUNNING" not in states, f"trials left running after both workers exited: {states}"
    reports = [
        json.loads((tmp_path / f"out{w}" / "report.json").read_text()) for w in range(WORKERS)
    ]
    assert {r["search"]["study_name"] for r in reports} == {"coop"}
    uniform = {r["uniform"]["repeats"] for r in reports}
    assert len(uniform) == 1, f"the workers did not share the study's setup: uniform N {uniform}"


def test_one_process_runs_the_requested_trials(tmp_path: Path, cnn: Path) -> None:
    """The deterministic core of the budget check above, in one process."""
    settings = SearchSettings(trials=8, seeds=2, validation_seeds=2)
    report = compile_model(
        cnn, data="demo:calib", search=settings, output_dir=tmp_path / "out", plots=False
    )
    search = report.document["search"]
    finished, states = finished_trials(search["storage"], search["study_name"])
    assert finished == settings.trials, (
        f"the study has {finished} finished trials, --trials {settings.trials}; states: {states}"
    )
