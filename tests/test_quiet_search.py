"""A search that talks like a tool, not like a library's debug log (issue 12): the Python API
prints no Optuna line, progress into a file or a pipe is plain lines, and Ctrl-C on a resumed
study is one line."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


API_RUN = """
import sys
import analogc

search = analogc.SearchSettings(trials=4, seeds=2, validation_seeds=2)
analogc.compile(sys.argv[1], data="demo:calib", search=search, plots=False, output_dir=sys.argv[2])
import optuna

assert optuna.logging.get_verbosity() == optuna.logging.INFO, "Optuna's verbosity restored"
"""


def test_python_api_prints_no_optuna_lines(tmp_path: Path) -> None:
    """In a fresh interpreter, where Optuna logs every trial at its default INFO level."""
    result = subprocess.run(
        [sys.executable, "-c", API_RUN, str(CNN), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Trial " not in result.stderr and "[I " not in result.stderr, result.stderr
    assert result.stderr == "", result.stderr


def compile_args(out: Path, trials: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "analogc",
        "compile",
        str(CNN),
        "-d",
        "demo:calib",
        "-o",
        str(out),
        "--seeds",
        "2",
        "--trials",
        str(trials),
    ]


def finished_trials(db: Path) -> int:
    try:  # read-only: never creates the schema under the running process
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            row = con.execute(
                "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
            ).fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A search whose stderr is a pipe, as in ``analogc compile ... 2> log``."""
    out = tmp_path_factory.mktemp("quiet") / "out"
    result = subprocess.run(compile_args(out, 6), capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr
    return out, result.stderr


def test_progress_into_a_pipe_is_plain_lines(first_run: tuple[Path, str]) -> None:
    _, err = first_run
    assert "\r" not in err, "carriage returns: a progress bar written into a pipe"
    progress = [line for line in err.splitlines() if line.startswith("analogc: search: ")]
    assert progress and progress[-1].startswith("analogc: search: 6/6 trials"), err


def test_ctrl_c_on_a_resumed_study_is_one_line(first_run: tuple[Path, str]) -> None:
    out, _ = first_run
    db = out / "study.db"
    before = finished_trials(db)
    process = subprocess.Popen(
        compile_args(out, 100_000),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # a test runner may start us with SIGINT ignored, which children would inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if finished_trials(db) >= before + 3:
            break
        time.sleep(0.3)
    assert process.poll() is None, "the resumed search ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and "Trial " not in err and "KeyboardInterrupt" not in err, err
    assert lines[-1] == (
        "analogc: interrupted; finished search trials are kept in the study storage"
    ), err
    assert "resuming" in err, "the run did resume the study"
    assert finished_trials(db) >= before + 3, "finished trials are kept"
