"""What the Optuna strategies share: trials over log-integer repeats in each layer's box.

Each trial suggests ``repeats[<layer>]`` for every layer (the parameter names map back to
layers through a lookup table, never by parsing), prices the configuration and scores it on
the search seeds; the verdict goes into user attributes (``energy``, ``metric``, ``margin``,
``source``). Trials are counted toward ``trials`` when COMPLETE or PRUNED, so a resumed or
shared study stops at the total asked for; several workers on one study measure each
configuration once (:func:`measure`, :mod:`analogc.workers`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from analogc import workers

from ..problem import Point, SearchProblem
from ..sequential import STOPPED_AFTER, trial_stop
from ..setup import Setup

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]

log = logging.getLogger(__name__)


def param_name(layer: str) -> str:
    return f"repeats[{layer}]"


def repeats_of(params: Mapping[str, Any], names: list[str]) -> dict[str, int]:
    """A trial's repeats per layer, from its parameters."""
    layer_of = {param_name(n): n for n in names}
    return {layer_of[k]: int(v) for k, v in params.items()}


def suggest(trial: optuna.Trial, setup: Setup, names: list[str]) -> dict[str, int]:
    return {
        n: trial.suggest_int(param_name(n), setup.bounds[n][0], setup.bounds[n][1], log=True)
        for n in names
    }


def enqueue(study: optuna.Study, repeats: Mapping[str, int], source: str) -> None:
    """Queue a configuration (once, however many processes ask: callers hold the study lock,
    ``problem.crew.lock()``, so that checking for it and queueing it are one step)."""
    params = {param_name(n): int(v) for n, v in repeats.items()}
    study.enqueue_trial(params, user_attrs={"source": source}, skip_if_exists=True)


def measure(
    problem: SearchProblem, study: optuna.Study, trial: optuna.Trial, repeats: Mapping[str, int]
) -> tuple[float, float]:
    """(metric, margin) of ``repeats``, measured once across every worker on the study.

    Under the study lock: a trial started after the study had its trials is skipped (another
    worker may have found the study finished: :func:`analogc.workers.late`); a result any
    worker measured is reused; with ``problem`` allowing
    it, a verdict monotonicity implies is used (``inferred``); a configuration another
    worker's running trial is measuring is skipped (the trial is pruned); otherwise this trial
    claims it (``evaluated_by``) and it is evaluated here, outside the lock.
    """
    crew = problem.crew
    with crew.lock():
        trials = study.get_trials(deepcopy=False)
        if workers.late(trials, trial, workers.Budget(problem.settings.trials)):
            trial.set_user_attr(workers.EVALUATED_BY, None)
            trial.set_user_attr("skipped", "started after the study had its trials")
            raise optuna.TrialPruned()
        for t in trials:
            if t.state == optuna.trial.TrialState.COMPLETE and _measured(t):
                key = problem.key(repeats_of(t.params, problem.names))
                problem.memo.setdefault(key, (t.user_attrs["metric"], t.user_attrs["margin"]))
        known = problem.memo.get(problem.key(repeats))
        if known is None and not problem.settings.pareto:
            known = problem.inferred(repeats)
            if known is not None:
                trial.set_user_attr("inferred", True)
        if known is not None:
            trial.set_user_attr(workers.EVALUATED_BY, None)
            return known
        busy = workers.evaluating_elsewhere(trials, trial, trial.params)
        if busy is not None:
            trial.set_user_attr(workers.EVALUATED_BY, None)
            trial.set_user_attr("skipped", f"being evaluated by trial {busy}")
            raise optuna.TrialPruned()
        trial.set_user_attr(workers.EVALUATED_BY, crew.worker.name)
    # A stopped trial says after how many seeds (trial_stop); one more storage write per
    # trial for the others would only slow the workers sharing it.
    point = problem.score(
        repeats, stop=trial_stop(trial, len(problem.seeds)) if problem.sequential else None
    )
    return point.metric, point.margin


def _measured(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial whose metric was evaluated (here or by another worker), not inferred."""
    return "margin" in trial.user_attrs and not trial.user_attrs.get("inferred")


def record(trial: optuna.Trial, point_metric: float, margin: float) -> None:
    trial.set_user_attr("metric", point_metric)
    trial.set_user_attr("margin", margin)


def best_feasible_energy(study: optuna.Study) -> float | None:
    """The lowest Ē among evaluated trials meeting the budget."""
    best = None
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.user_attrs.get("inferred"):
            continue
        cons = t.constraints
        if cons and all(c <= 0 for c in cons.values()):
            e = t.user_attrs["energy"]
            best = e if best is None else min(best, e)
    return best


def points(study: optuna.Study, names: list[str], seeds: int) -> list[Point]:
    """Every completed trial as a :class:`Point` (``seeds``: a full evaluation's; a point
    recalled or inferred, not measured by its trial, has 0)."""
    found = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if "margin" not in t.user_attrs:
            continue
        source = (
            "inferred" if t.user_attrs.get("inferred") else t.user_attrs.get("source", "sampler")
        )
        found.append(
            Point(
                repeats_of(t.params, names),
                float(t.user_attrs["energy"]),
                float(t.user_attrs["metric"]),
                float(t.user_attrs["margin"]),
                source,
                _seeds_run(t, seeds),
            )
        )
    return found


def _seeds_run(trial: optuna.trial.FrozenTrial, seeds: int) -> int:
    if not trial.user_attrs.get(workers.EVALUATED_BY):
        return 0
    return int(trial.user_attrs.get(STOPPED_AFTER, seeds))


def optimize(
    problem: SearchProblem,
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float | tuple[float, float]],
    callbacks: list[Callback],
) -> None:
    """Run trials until the study has ``settings.trials`` COMPLETE or PRUNED ones, no retry of a
    dead worker's trial is waiting and no other worker's trial is running (or the timeout)."""
    settings, crew = problem.settings, problem.crew
    budget = workers.Budget(settings.trials)
    remaining = max(0, settings.trials - budget.counted(study))
    bar = ProgressBar(remaining, enabled=settings.progress and remaining > 0)
    hooks = [budget.after_trial, bar.update, *callbacks, crew.fail_dead_trials]
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    try:
        workers.run_to_completion(
            study,
            lambda timeout: study.optimize(
                objective, n_trials=None, timeout=timeout, callbacks=hooks, catch=()
            ),
            budget,
            crew,
            deadline=deadline,
        )
    finally:  # also on Ctrl-C: the bar ends before the message saying so
        bar.close()


class ProgressBar:
    """Trials done, best Ē so far, feasible/infeasible/skipped counts on stderr: a tqdm bar on
    a terminal; plain log lines (about 20 of them) when stderr is a file or a pipe, where the
    bar's carriage returns would make one endless line."""

    LINES = 20

    def __init__(self, total: int, *, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.total = total
        self.lines = enabled and not _is_terminal(sys.stderr)
        self.bar = tqdm(
            total=total, desc="search", unit="trial", disable=not enabled or self.lines, leave=True
        )
        self.counts = {"feasible": 0, "infeasible": 0, "skipped": 0}
        self.done = 0
        self.every = max(1, total // self.LINES)
        self.started = time.monotonic()

    def update(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == optuna.trial.TrialState.PRUNED:
            self.counts["skipped"] += 1
        elif trial.user_attrs.get("margin", 1.0) <= 0:
            self.counts["feasible"] += 1
        else:
            self.counts["infeasible"] += 1
        best = best_feasible_energy(study)
        self.done += 1
        if self.lines and (self.done % self.every == 0 or self.done == self.total):
            counts = ", ".join(f"{v} {k}" for k, v in self.counts.items())
            log.info(
                "search: %d/%d trials in %.0f s, best Ē %s (%s)",
                self.done,
                self.total,
                time.monotonic() - self.started,
                "-" if best is None else f"{best:.4g}",
                counts,
            )
        self.bar.set_postfix(
            best_E="-" if best is None else f"{best:.4g}", **self.counts, refresh=False
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
