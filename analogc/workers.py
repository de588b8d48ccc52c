"""Several workers on one study: the rules that keep them from losing or repeating work.

Every ``analogc compile`` process given the same ``--storage`` and ``--study-name`` is a worker
of one Optuna study, on this machine or another. The rules, each enforced here:

- **Distinct samplers**: the first worker to join a study samples with ``--seed`` (so one worker
  alone is reproducible); each later one gets its own stream, or they would all propose the
  same startup configurations.
- **One evaluation per configuration**: before evaluating, a worker claims the configuration
  under the study lock (trial user attribute ``evaluated_by``); a configuration another live
  trial has claimed is skipped (PRUNED), and one already measured is reused, not re-run.
- **The budget** (``--trials``) counts COMPLETE and PRUNED trials. A FAIL trial (its worker was
  killed or interrupted) does not count: it is retried, and retries run even past the budget.
- **No trial left behind**: a worker done with the budget waits until no trial is RUNNING. A
  trial of a dead worker is failed and retried: at once when the worker ran on this machine
  (its process is gone), otherwise after its heartbeats stop for the grace period.
- **One final study**: a worker decides the study is finished under the study lock, which
  failing a dead trial and queueing its retry also hold; a trial that starts once the study
  has its trials (not a retry) is skipped. Every worker that returns reads the same finished
  trials, and so confirms the same plan.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from analogc.storage import GRACE_BEATS, SharedStorage, open_storage, retry_stale_trial

log = logging.getLogger(__name__)

WORKERS_KEY = "analogc_workers"
"""Study user attribute: how many workers have joined the study."""
WORKER_ATTR = "worker"
"""Trial user attribute: the worker running the trial (name, pid, pid namespace, trial)."""
EVALUATED_BY = "evaluated_by"
"""Trial user attribute: the worker that evaluated the configuration (None: reused, skipped)."""
RUNNING = optuna.trial.TrialState.RUNNING
WAITING = optuna.trial.TrialState.WAITING
COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
_POLL_S = 0.5


@dataclass(frozen=True)
class Worker:
    """This process, as other workers see it."""

    name: str
    pid: int
    namespace: str | None

    @classmethod
    def this_process(cls) -> Worker:
        return cls(f"{socket.gethostname()}:{os.getpid()}", os.getpid(), _pid_namespace())

    def record(self, trial: optuna.Trial) -> None:
        trial.set_user_attr(
            WORKER_ATTR,
            {"name": self.name, "pid": self.pid, "ns": self.namespace, "trial": trial.number},
        )


@dataclass(frozen=True)
class Crew:
    """This worker and the study it shares: the storage, the study's name, and the grace
    period after which a silent worker is declared dead."""

    storage: SharedStorage
    study_name: str
    worker: Worker
    grace_s: float

    @classmethod
    def on(cls, storage: SharedStorage, study_name: str, heartbeat_s: int) -> Crew:
        return cls(storage, study_name, Worker.this_process(), GRACE_BEATS * heartbeat_s)

    @classmethod
    def alone(cls) -> Crew:
        """One process, a study in memory: the lock is only a thread lock."""
        return cls.on(open_storage(None), "analogc", 1)

    def lock(self, on_wait: Callable[[], None] = lambda: None) -> AbstractContextManager[None]:
        """Excludes the other workers of the study (re-entrant)."""
        return self.storage.lock(self.study_name, on_wait)

    def fail_dead_trials(self, study: optuna.Study, _trial: object = None) -> None:
        """:func:`fail_dead_trials` for this study (also usable as an Optuna callback)."""
        fail_dead_trials(study, self.storage, self.study_name)


def _pid_namespace() -> str | None:
    """Where a pid names this process: this boot of this kernel and this pid namespace (Linux).
    Two containers on one host share a boot id but not a pid namespace; None elsewhere."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def join(study: optuna.Study) -> int:
    """This worker's ordinal in the study (0 for the first ever); call under the study lock."""
    ordinal = int(study.user_attrs.get(WORKERS_KEY, 0))
    study.set_user_attr(WORKERS_KEY, ordinal + 1)
    return ordinal


def sampler_seed(seed: int, ordinal: int) -> int:
    """``seed`` for the first worker; a distinct, reproducible stream for each later one."""
    if ordinal == 0:
        return seed
    return int(np.random.SeedSequence([seed, ordinal]).generate_state(1)[0])


def evaluating_elsewhere(
    trials: list[optuna.trial.FrozenTrial], trial: optuna.Trial, params: Mapping[str, Any]
) -> int | None:
    """The number of another RUNNING trial that has claimed ``params``, if any."""
    for other in trials:
        if (
            other.state == RUNNING
            and other.number != trial.number
            and other.user_attrs.get(EVALUATED_BY) is not None
            and other.params == params
        ):
            return other.number
    return None


class Budget:
    """Stops a worker once the study has ``trials`` counted trials and no retry is waiting."""

    def __init__(self, trials: int) -> None:
        self.trials = trials

    @staticmethod
    def counted(study: optuna.Study) -> int:
        return len(study.get_trials(deepcopy=False, states=COUNTED))

    @staticmethod
    def retries_waiting(study: optuna.Study) -> bool:
        waiting = study.get_trials(deepcopy=False, states=(WAITING,))
        return any("failed_trial" in t.system_attrs for t in waiting)

    def reached(self, study: optuna.Study) -> bool:
        return self.counted(study) >= self.trials and not self.retries_waiting(study)

    def after_trial(self, study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if self.reached(study):
            study.stop()


def fail_dead_trials(study: optuna.Study, storage: SharedStorage, study_name: str) -> None:
    """Fails and retries the RUNNING trials of workers known to be dead: those whose heartbeat
    is older than the grace period (Optuna's check), and those of workers on this machine
    whose process is gone (no need to wait for the grace period).

    All under the study lock, so that a worker deciding whether the study is finished (which
    holds it too) never sees a trial failed but its retry not yet queued."""
    here = Worker.this_process()
    retry = retry_stale_trial()
    with storage.lock(study_name):
        with storage.stale_checks(), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        if here.namespace is None:
            return
        for trial in study.get_trials(deepcopy=True, states=(RUNNING,)):
            owner = trial.user_attrs.get(WORKER_ATTR)
            if not owner or owner.get("trial") != trial.number or owner.get("ns") != here.namespace:
                continue  # another machine's worker, or attributes copied into a retry
            if _alive(int(owner["pid"])):
                continue
            try:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
                continue  # another worker failed it first, and retries it
            log.warning(
                "trial %d: its worker %s is gone; retrying it", trial.number, owner.get("name")
            )
            retry(study, trial)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def run_to_completion(
    study: optuna.Study,
    optimize: Callable[[float | None], None],
    budget: Budget,
    crew: Crew,
    *,
    deadline: float | None,
) -> None:
    """Runs trials until the budget is reached and no trial is RUNNING anywhere.

    ``optimize(timeout)`` runs trials until ``budget.after_trial`` stops it. Trials running in
    other workers are waited for: a live worker finishes its trial; a dead one's trial is
    failed, retried, and the retry run here. Whether the study is finished is decided under
    the study lock, which failing a dead trial and queueing its retry hold too, and a trial
    that starts after it is finished is skipped (:func:`late`): every worker that returns
    sees the same finished trials. A RUNNING trial whose worker never said who it is (a study
    written by an older analogc, without heartbeats) is waited for at most the grace period
    plus twice the longest trial.
    """
    waited_since: float | None = None
    while True:
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            return
        with crew.lock():
            crew.fail_dead_trials(study)
            reached = budget.reached(study)
            running = study.get_trials(deepcopy=False, states=(RUNNING,)) if reached else []
            if reached and not running:
                return
        if not reached:
            optimize(timeout)
            waited_since = None
            continue
        unowned = [t for t in running if WORKER_ATTR not in t.user_attrs]
        now = time.monotonic()
        if waited_since is None:
            log.info(
                "budget reached; waiting for %d trial(s) running in other workers: %s",
                len(running),
                ", ".join(f"#{t.number}" for t in running),
            )
        if waited_since is None or not unowned:
            waited_since = now  # workers that beat are failed through the heartbeat if they die
        elif now - waited_since > crew.grace_s + 2 * _longest_trial_s(study):
            log.warning(
                "trial(s) %s still RUNNING with no sign of their workers; leaving them",
                ", ".join(f"#{t.number}" for t in unowned),
            )
            return
        time.sleep(_POLL_S)


def late(trials: list[optuna.trial.FrozenTrial], trial: optuna.Trial, budget: Budget) -> bool:
    """Whether ``trial`` started once the budget was reached (``trials``: the study's, read
    under the study lock): a worker may have found the study finished in between, so it must
    not add a result. A retry of a dead worker's trial is never late: the workers wait for it.
    """
    counted = 0
    for t in trials:
        if t.number == trial.number and "failed_trial" in t.system_attrs:
            return False
        counted += t.state in COUNTED
    return counted >= budget.trials


def _longest_trial_s(study: optuna.Study) -> float:
    durations = [
        t.duration.total_seconds()
        for t in study.get_trials(deepcopy=False, states=COUNTED)
        if t.duration is not None
    ]
    return max(durations, default=0.0)


def stop_heartbeats() -> int:
    """Stop Optuna heartbeat threads left running by an interrupted trial; how many.

    Optuna starts a trial's heartbeat thread (not a daemon) and stops it when the trial's
    ``with`` block exits; a Ctrl-C landing between the start and that block leaves it beating
    forever, and the interpreter then waits for it at exit (the process hung after saying it
    was interrupted). Its stop event is the thread's last argument (optuna 4.x
    ``HeartbeatThread._record_heartbeat``).
    """
    stopped = 0
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__name__", "") != "_record_heartbeat":
            continue
        for arg in getattr(thread, "_args", ()):
            if isinstance(arg, threading.Event):
                arg.set()
                stopped += 1
    return stopped
