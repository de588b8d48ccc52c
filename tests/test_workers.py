"""Workers sharing a study, without a database server: storage URLs and their errors, the
SQLite lock, and a worker killed on this machine (its trial retried at once, not after the
heartbeat's grace period). The PostgreSQL run is ``test_workers_postgres.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from workers_common import (
    kill_one_mid_trial,
    lost,
    retried_once,
    start_worker,
    still_running_while_stopped,
    study_trials,
)

from analogc.cli import cli
from analogc.errors import StorageError
from analogc.storage import GRACE_BEATS, display_url, open_storage, postgres_url
from analogc.workers import Budget, fail_dead_trials, late, sampler_seed

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


def test_plain_postgres_urls_use_psycopg_3() -> None:
    assert postgres_url("postgresql://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert postgres_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert postgres_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert postgres_url("sqlite:///x.db") == "sqlite:///x.db"


def test_reports_and_logs_never_show_the_password() -> None:
    shown = display_url("postgresql+psycopg://alice:s3cret@db.example:5432/studies")
    assert shown is not None and "s3cret" not in shown and "alice:***@db.example:5432" in shown
    assert display_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


def test_unsupported_storage_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match=r"mysql:\.\.\. is not supported.*postgresql://"):
        open_storage("mysql://u@h/db")


def test_missing_driver_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    with pytest.raises(StorageError, match=r"needs the PostgreSQL driver psycopg: pip install"):
        open_storage("postgresql://u:secret@127.0.0.1:5432/db")


def test_unreachable_server_is_one_line_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    if not CNN.exists():
        pytest.skip(f"demo model {CNN} is missing")
    url = "postgresql://analogc:secret@127.0.0.1:1/none"  # port 1: nothing listens there
    start = time.monotonic()
    result = CliRunner().invoke(
        cli,
        ["compile", str(CNN), "-d", "demo:calib", "-q", "--storage", url, "-o", str(tmp_path)],
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("analogc: error: cannot open the study"), lines
    assert "secret" not in result.stderr and "127.0.0.1:1/none" in lines[0]
    assert time.monotonic() - start < 60
    assert not any(tmp_path.glob("*.onnx")), "no output on a storage error"


def test_sqlite_storage_leaves_no_lock_file(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_s=5)
    study = optuna.create_study(storage=storage.optuna, study_name="s")
    with storage.lock("s"), storage.lock("s"):  # re-entrant within one thread
        study.enqueue_trial({"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    assert storage.optuna.heartbeat_interval == 5
    assert storage.optuna.grace_period == GRACE_BEATS * 5


def test_first_worker_keeps_the_seed_later_ones_get_their_own() -> None:
    seeds = [sampler_seed(7, ordinal) for ordinal in range(4)]
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert seeds == [sampler_seed(7, ordinal) for ordinal in range(4)], "reproducible"


def test_budget_counts_finished_trials_and_waits_for_retries() -> None:
    study = optuna.create_study()
    for value in (1.0, 2.0):
        study.add_trial(optuna.trial.create_trial(value=value))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    budget = Budget(3)
    assert budget.counted(study) == 3 and budget.reached(study)
    assert not Budget(4).reached(study), "a FAIL trial does not count"
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING, system_attrs={"failed_trial": 3}
        )
    )
    assert not budget.reached(study), "a waiting retry runs even past the budget"


def test_a_trial_started_after_the_budget_is_late_unless_a_retry() -> None:
    study = optuna.create_study()
    for value in (1.0, 2.0):
        study.add_trial(optuna.trial.create_trial(value=value))
    trial = study.ask()
    assert late(study.get_trials(deepcopy=False), trial, Budget(2)), "another worker may be done"
    assert not late(study.get_trials(deepcopy=False), trial, Budget(3))
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING, system_attrs={"failed_trial": trial.number}
        )
    )
    retry = study.ask()
    assert not late(study.get_trials(deepcopy=False), retry, Budget(2)), "retries always run"


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_stale_trials_fail_only_under_the_study_lock(tmp_path: Path) -> None:
    """Optuna fails stale trials at the start of any trial, unlocked; a worker checking whether
    the study is finished could then see the trial failed and its retry not yet queued. Only
    analogc's locked check fails them, and queues the retry in the same step."""
    shared = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_s=1)
    study = optuna.create_study(storage=shared.optuna, study_name="s")
    trial = study.ask()
    shared.optuna.record_heartbeat(trial._trial_id)  # type: ignore[union-attr]
    time.sleep(GRACE_BEATS * 1 + 1.5)  # its worker went silent
    optuna.storages.fail_stale_trials(study)
    assert study.trials[trial.number].state == optuna.trial.TrialState.RUNNING
    fail_dead_trials(study, shared, "s")
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING], states
    assert study.trials[1].system_attrs["failed_trial"] == trial.number


def test_worker_killed_on_this_machine_is_retried_at_once(tmp_path: Path) -> None:
    """Two workers on SQLite with a 60 s heartbeat (grace 180 s); one is SIGKILLed mid-trial
    and reaped. The other notices the dead pid and retries its trial long before the grace
    period: it finishes the 16 trials within 120 s of the kill."""
    if not CNN.exists():
        pytest.skip(f"demo model {CNN} is missing")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    storage = open_storage(url).optuna  # the schema exists before the workers start
    # Trials that evaluate for a while (a metric that sleeps per batch, every seed run), so
    # that the kill lands mid-evaluation however fast the machine.
    args = ["-d", "demo:calib", "--metric", "slow_metric:slow_accuracy", "--trials", "16"]
    args += ["--seeds", "4", "--no-sequential", "-q"]
    args += ["--storage", url, "--study-name", "local", "--heartbeat", "60"]
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    outs = [tmp_path / f"w{i}" for i in range(2)]
    procs = [start_worker(CNN, out, log, args) for out, log in zip(outs, logs, strict=True)]
    try:
        killed, trial = kill_one_mid_trial(procs, storage, "local", timeout_s=180, logs=logs)
        procs[killed].wait()  # reaped: its pid is gone
        killed_at = time.monotonic()
        survivor = procs[1 - killed]
        code = survivor.wait(timeout=120)
        assert time.monotonic() - killed_at < 120 < 60 * GRACE_BEATS
        assert code in (0, 1), logs[1 - killed].read_text()[-4000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    trials = study_trials(storage, "local")
    assert retried_once(trials, trial) is None, retried_once(trials, trial)
    assert lost(trials) == []
    assert "is gone; retrying it" in logs[1 - killed].read_text()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_a_stopped_worker_holding_the_sqlite_lock_does_not_block_the_kill(tmp_path: Path) -> None:
    """The kill stops a worker before reading its trial again; a worker stopped inside a
    transaction holds SQLite's lock, so that read must give up within seconds and let the
    worker go on, not wait out the 120 s busy timeout and fail the test (as it once did)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    storage = open_storage(url).optuna
    study = optuna.create_study(storage=storage, study_name="s")
    number = study.ask().number  # RUNNING
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "shared.db")], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        os.kill(holder.pid, signal.SIGSTOP)
        start = time.monotonic()
        assert not still_running_while_stopped(storage, "s", number, holder.pid)
        assert time.monotonic() - start < 60
        assert holder.poll() is None, "let go on, not killed"
    finally:
        holder.kill()
        holder.wait()


_HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(3)
connection.execute("COMMIT")
time.sleep(600)
"""


def test_a_heartbeat_left_running_by_an_interrupt_is_stopped() -> None:
    """Optuna's heartbeat thread (not a daemon) outlives a trial interrupted between its
    start and its ``with`` block; the interrupt handler stops it, or the process never ends."""
    import threading

    from optuna.storages._heartbeat import HeartbeatThread

    from analogc.workers import stop_heartbeats

    class Beats:
        def get_heartbeat_interval(self) -> int:
            return 3600

        def record_heartbeat(self, trial_id: int) -> None:
            pass

    beating = HeartbeatThread(0, Beats())  # type: ignore[arg-type]
    beating.start()  # and never joined, as after the interrupt
    (thread,) = [t for t in threading.enumerate() if t is beating._thread]
    assert stop_heartbeats() == 1
    thread.join(timeout=5)
    assert not thread.is_alive()
