"""Helpers for the tests that run several ``analogc compile`` workers on one study."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import optuna
import pytest

from analogc.workers import EVALUATED_BY, WORKER_ATTR

COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
_STOPPED_READ_S = 5.0


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def start_worker(model: Path, out: Path, log: Path, args: Sequence[str]) -> subprocess.Popen[bytes]:
    """``analogc compile MODEL -o OUT ARGS``, stdout and stderr to ``log`` (not a pipe: an
    unread pipe would block a worker once full)."""
    cmd = [sys.executable, "-m", "analogc", "compile", str(model), "-o", str(out), *args]
    # tests/ on the path: a worker may be given a metric from it (slow_metric).
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": path}
    with open(log, "wb") as handle:
        return subprocess.Popen(
            cmd, cwd=out.parent, env=env, stdout=handle, stderr=subprocess.STDOUT
        )


def study_trials(
    storage: optuna.storages.BaseStorage, study: str
) -> list[optuna.trial.FrozenTrial]:
    with quiet_optuna():
        try:
            return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=True)
        except KeyError:
            return []  # not created yet


def kill_one_mid_trial(
    procs: Sequence[subprocess.Popen[bytes]],
    storage: optuna.storages.BaseStorage,
    study: str,
    *,
    after: int = 4,
    timeout_s: float = 300,
    logs: Sequence[Path] = (),
) -> tuple[int, int]:
    """SIGKILLs a worker while it evaluates a configuration, once ``after`` trials are counted
    (mid-search, not during the setup): returns (its index, the trial number).

    The worker is stopped (SIGSTOP) first and the trial read again, so the trial is certainly
    still RUNNING in that worker when the SIGKILL lands. The process is not reaped here."""
    pids = {p.pid: i for i, p in enumerate(procs)}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        trials = study_trials(storage, study)
        counted = sum(t.state in COUNTED for t in trials)
        for t in trials:
            owner = t.user_attrs.get(WORKER_ATTR) or {}
            if (
                counted >= after
                and t.state == optuna.trial.TrialState.RUNNING
                and t.user_attrs.get(EVALUATED_BY) is not None
                and owner.get("pid") in pids
            ):
                pid = owner["pid"]
                os.kill(pid, signal.SIGSTOP)
                if still_running_while_stopped(storage, study, t.number, pid):
                    os.kill(pid, signal.SIGKILL)
                    return pids[pid], t.number
                os.kill(pid, signal.SIGCONT)
        if any(p.poll() is not None for p in procs):
            pytest.fail(
                "a worker exited before one could be killed mid-trial: "
                + "; ".join(f"worker {i} exit {p.poll()}" for i, p in enumerate(procs))
                + f"; trials: {[(t.number, t.state.name) for t in trials]}"
                + "".join(f"\n--- {log.name}:\n{log.read_text()[-2000:]}" for log in logs)
            )
        time.sleep(0.05)
    pytest.fail(f"no worker was seen evaluating a trial within {timeout_s} s")


def still_running_while_stopped(
    storage: optuna.storages.BaseStorage, study: str, number: int, stopped_pid: int
) -> bool:
    """Whether trial ``number`` is still RUNNING, read while its worker is stopped.

    A worker stopped inside a database transaction holds SQLite's lock, and the read would
    wait for it until the busy timeout: if the read does not answer within a few seconds, the
    worker is let go on (the read then finishes) and this chance to kill it is passed up; the
    caller's own SIGCONT is then harmless."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        read = pool.submit(study_trials, storage, study)
        try:
            trials = read.result(timeout=_STOPPED_READ_S)
        except concurrent.futures.TimeoutError:
            os.kill(stopped_pid, signal.SIGCONT)
            read.result()
            return False
    again = next(x for x in trials if x.number == number)
    return again.state == optuna.trial.TrialState.RUNNING


def retried_once(trials: Sequence[optuna.trial.FrozenTrial], number: int) -> str | None:
    """Why trial ``number`` was not failed and retried exactly once to the end (None: it was)."""
    by_number = {t.number: t for t in trials}
    if by_number[number].state != optuna.trial.TrialState.FAIL:
        return f"trial {number} ended {by_number[number].state.name}, not FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
    if len(retries) != 1:
        return f"trial {number} was retried {len(retries)} times"
    if retries[0].state not in COUNTED:
        return f"the retry of trial {number} ended {retries[0].state.name}"
    if retries[0].params != by_number[number].params:
        return f"the retry of trial {number} has other params"
    return None


def lost(trials: Sequence[optuna.trial.FrozenTrial]) -> list[int]:
    """Trials that started and neither finished nor were retried into a finished trial."""
    retried = {t.system_attrs.get("failed_trial") for t in trials if t.state in COUNTED}
    return [
        t.number
        for t in trials
        if t.state == optuna.trial.TrialState.RUNNING
        or (t.state == optuna.trial.TrialState.FAIL and t.number not in retried)
    ]
