"""Three ``analogc compile`` workers on one PostgreSQL study, one SIGKILLed mid-trial.

Needs a server: ``ANALOGC_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB`` (``.ci/run`` starts a
throwaway one and sets it). Without it the test is skipped, unless ``ANALOGC_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), which turns a missing server or driver into a failure.

What is counted, from the final study:

- **lost**: a trial that started and neither finished nor was retried into a finished trial
  (the killed worker's trial must end FAIL with exactly one finished retry; nothing RUNNING);
- **duplicated**: one configuration evaluated by two trials (trial attribute ``evaluated_by``:
  the worker that measured it; a trial that reused a measured result, or skipped a
  configuration another worker was measuring, has None, and its result must equal the
  measured one);
- the budget: at least ``--trials`` COMPLETE or PRUNED trials (the FAIL one does not count);
- the setup computed by one worker only, the two warm starts enqueued once each;
- the two surviving workers report the same plan (each waits for the other's last trial), no
  dearer than the analytic warm start and within 5% of the plan of one worker alone on the
  same trial budget.

The killed worker is not reaped until the others have finished: to the survivors its pid looks
alive (a zombie), so its trial is failed through the heartbeat (``--heartbeat 2``: after 6 s of
silence), the path that workers on other machines rely on. ``tests/test_workers.py`` covers
the same-machine shortcut (a dead pid is noticed at once).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from workers_common import (
    COUNTED,
    kill_one_mid_trial,
    lost,
    quiet_optuna,
    retried_once,
    start_worker,
    study_trials,
)

from analogc.storage import postgres_url
from analogc.workers import EVALUATED_BY

MODEL = Path(__file__).resolve().parents[1] / "models" / "digits_resnet.onnx"
TRIALS = 24
WORKERS = 3
HEARTBEAT_S = 2
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def postgres() -> str:
    url = os.environ.get("ANALOGC_TEST_POSTGRES")
    required = os.environ.get("ANALOGC_REQUIRE_POSTGRES") == "1"
    problem = None
    if not url:
        problem = "ANALOGC_TEST_POSTGRES is not set (a postgresql:// URL of a test database)"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            problem = "psycopg is not installed (pip install -e '.[postgres]')"
    if problem:
        if required:
            pytest.fail(f"ANALOGC_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    assert url is not None
    return url


@pytest.fixture
def study_name(postgres: str) -> Iterator[str]:
    name = f"test-workers-{uuid.uuid4().hex[:10]}"
    yield name
    with quiet_optuna(), contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=postgres_url(postgres))


def _compile(url: str, study: str, out: Path, log: Path) -> subprocess.Popen[bytes]:
    args = ["-d", "demo:calib", "--trials", str(TRIALS), "--seeds", "4"]
    args += ["--storage", url, "--study-name", study, "--heartbeat", str(HEARTBEAT_S)]
    return start_worker(MODEL, out, log, args)


def _single_worker_energy(url: str, tmp_path: Path) -> float:
    out = tmp_path / "single"
    out.mkdir()
    study = f"test-single-{uuid.uuid4().hex[:10]}"
    proc = _compile(url, study, out, tmp_path / "single.log")
    try:
        code = proc.wait(timeout=TIMEOUT_S)
        assert code in (0, 1), (tmp_path / "single.log").read_text()[-3000:]
        return json.loads((out / "report.json").read_text())["dynamic"]["energy_per_mac"]
    finally:
        with quiet_optuna():
            optuna.delete_study(study_name=study, storage=postgres_url(url))


def test_three_workers_one_killed(postgres: str, study_name: str, tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.skip(f"demo model {MODEL} is missing")
    storage = optuna.storages.RDBStorage(postgres_url(postgres))
    outs = [tmp_path / f"w{i}" for i in range(WORKERS)]
    logs = [tmp_path / f"w{i}.log" for i in range(WORKERS)]
    for out in outs:
        out.mkdir()
    procs = [_compile(postgres, study_name, out, log) for out, log in zip(outs, logs, strict=True)]
    try:
        killed, killed_trial = kill_one_mid_trial(procs, storage, study_name, logs=logs)
        survivors = [i for i in range(WORKERS) if i != killed]
        for i in survivors:
            code = procs[i].wait(timeout=TIMEOUT_S)
            assert code in (0, 1), f"worker {i} exited {code}:\n{logs[i].read_text()[-4000:]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    trials = study_trials(storage, study_name)
    states = collections.Counter(t.state.name for t in trials)

    # Lost: the killed trial failed and was retried exactly once, to the end; nothing else
    # failed and nothing is left running.
    assert retried_once(trials, killed_trial) is None, (retried_once(trials, killed_trial), states)
    assert lost(trials) == [], f"trials lost: {lost(trials)}; states {states}"
    assert states.get("FAIL", 0) == 1, f"only the killed trial may fail: {states}"

    # The budget counts COMPLETE and PRUNED trials only.
    counted = sum(t.state in COUNTED for t in trials)
    assert counted >= TRIALS, f"{counted} trials counted, --trials {TRIALS}: {states}"

    # Duplicated: each configuration measured once; every other result is a measured one.
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    measured = collections.defaultdict(list)
    for t in complete:
        if t.user_attrs.get(EVALUATED_BY) is not None:
            measured[_key(t)].append(t)
    duplicated = {k: [t.number for t in ts] for k, ts in measured.items() if len(ts) > 1}
    assert duplicated == {}, f"configurations evaluated more than once (trials): {duplicated}"
    evaluated_by = collections.Counter(
        ts[0].user_attrs[EVALUATED_BY].rsplit(":", 1)[1] for ts in measured.values()
    )
    for i in survivors:
        assert evaluated_by[str(procs[i].pid)] >= 1, f"worker {i} evaluated nothing: {evaluated_by}"
    setup = optuna.load_study(study_name=study_name, storage=storage).user_attrs["analogc_setup"]
    setup_memo = {tuple(k): (metric, margin) for k, metric, margin in setup["memo"]}
    names = list(setup["bounds"])
    for t in complete:
        if t.user_attrs.get(EVALUATED_BY) is None and not t.user_attrs.get("inferred"):
            key = _key(t)
            if key in measured:
                source = measured[key][0].user_attrs
                expected = (source["metric"], source["margin"])
            else:
                expected = setup_memo.get(tuple(t.params[f"repeats[{n}]"] for n in names))
            assert expected is not None, f"trial {t.number} reused a result nobody measured"
            assert (t.user_attrs["metric"], t.user_attrs["margin"]) == expected, t.number

    # Setup once, warm starts once.
    computed = [i for i in range(WORKERS) if "uniform N=" in logs[i].read_text()]
    assert len(computed) == 1, f"workers {computed} computed the setup (one should)"
    for source in ("uniform", "analytic"):
        starts = [
            t.number
            for t in trials
            if t.user_attrs.get("source") == source and "failed_trial" not in t.system_attrs
        ]
        assert len(starts) == 1, f"the {source} warm start was enqueued as trials {starts}"

    # The survivors read the same final study, so they choose the same plan.
    reports = [json.loads((outs[i] / "report.json").read_text()) for i in survivors]
    plans = [[layer["repeats"] for layer in r["layers"]] for r in reports]
    assert plans[0] == plans[1], f"the surviving workers chose different plans: {plans}"
    assert all(r["budget_met"] for r in reports)

    # The search's own work counts: the plan is no dearer than the analytic warm start (in
    # the study, within the budget), and about as good as one worker alone on the same trial
    # budget. Not necessarily as good or better: the workers split the 24 trials between
    # their samplers and the coordinate-descent chain that gives one worker its plan, so the
    # chain may stop a step earlier (measured: 0.6-1.3% cheaper than one worker in 4 runs, and
    # 0.5% dearer in one CI run); on the demo's default search the warm start alone is 16%
    # dearer than the plan, so 5% still tells a search that ran from one that did not.
    shared = reports[0]["dynamic"]["energy_per_mac"]
    analytic = [
        p["energy_per_mac"]
        for p in reports[0]["search"]["points"]
        if p["source"] == "analytic" and p["margin"] <= 0
    ]
    assert analytic and shared <= min(analytic) * (1 + 1e-9), (shared, analytic)
    alone = _single_worker_energy(postgres, tmp_path)
    assert shared <= alone * 1.05, f"3 workers: Ē {shared:.4g}; one worker: Ē {alone:.4g}"


def _key(trial: optuna.trial.FrozenTrial) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(trial.params.items()))
