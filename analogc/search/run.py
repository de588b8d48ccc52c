"""The search: setup, then the chosen strategy, then the plan (see :mod:`analogc.search`)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import optuna

from analogc.budget import Acceptance
from analogc.errors import ConfigError
from analogc.storage import open_storage
from analogc.workers import Crew, join, sampler_seed

from .problem import SearchProblem
from .result import SearchResult, choose, pareto_front
from .settings import SearchSettings
from .setup import load_or_compute_setup
from .strategies import STRATEGIES, SearchStrategy

if TYPE_CHECKING:
    from analogc.calibrated import CalibratedModel


def strategy_for(settings: SearchSettings) -> SearchStrategy:
    try:
        return STRATEGIES[settings.strategy]
    except KeyError:
        raise ConfigError(
            f"unknown search strategy {settings.strategy!r}; choose from {', '.join(STRATEGIES)}"
        ) from None


def run_search(
    calibrated: CalibratedModel,
    acceptance: Acceptance,
    settings: SearchSettings,
    *,
    on_step: Callable[[str], None] = lambda msg: None,
) -> SearchResult:
    """Least energy per MAC within the budget: setup (uniform baseline, sensitivities,
    analytic allocation, kept in the study), then the strategy, then the cheapest feasible
    configuration it evaluated."""
    with quiet_optuna():
        return _run_search(calibrated, acceptance, settings, on_step)


def _run_search(
    calibrated: CalibratedModel,
    acceptance: Acceptance,
    settings: SearchSettings,
    on_step: Callable[[str], None],
) -> SearchResult:
    start, runs_before = time.perf_counter(), calibrated.evaluator.runs
    strategy = strategy_for(settings)
    storage = open_storage(settings.storage, heartbeat_s=settings.heartbeat_s)
    crew = Crew.on(storage, settings.study_name or "analogc", settings.heartbeat_s)
    problem = SearchProblem(calibrated, acceptance, settings, on_step, crew=crew)
    with storage.errors():
        study = optuna.create_study(
            storage=storage.optuna,
            study_name=crew.study_name,
            directions=list(strategy.directions),
            load_if_exists=True,
        )
        # Several workers may start together: one computes the setup and enqueues the warm
        # starts while the others wait, then read it (analogc.workers).
        with crew.lock(on_wait=lambda: on_step("waiting for another worker to finish the setup")):
            ordinal = join(study)
            setup, new = load_or_compute_setup(problem, study)
            if new:
                strategy.warm_start(study, setup, problem)
        # The first worker samples with --seed; later ones with their own stream.
        sampler = strategy.sampler(
            dataclasses.replace(settings, seed=sampler_seed(settings.seed, ordinal))
        )
        if sampler is not None:
            study.sampler = sampler
        try:
            points = strategy.search(problem, setup, study)
        except BaseException:  # interrupted: still count what this run evaluated
            with contextlib.suppress(Exception):
                _count_evaluations(study, crew, calibrated.evaluator.runs - runs_before)
            raise
        evaluations = calibrated.evaluator.runs - runs_before
        study_evaluations = _count_evaluations(study, crew, evaluations)
    chosen = choose(points)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    curve = list(setup.uniform_curve)
    return SearchResult(
        repeats=dict(chosen.repeats),
        feasible=chosen.feasible,
        uniform_repeats=setup.uniform,
        uniform_feasible=any(
            p.feasible and p.repeats[problem.free[0]] == setup.uniform for p in curve
        ),
        analytic=dict(setup.analytic),
        sensitivity=dict(setup.sensitivity),
        sensitivity_drop=dict(setup.sensitivity_drop),
        uniform_curve=curve,
        trials=points,
        front=pareto_front(points),
        study_name=study.study_name,
        storage=storage.url,
        sampler=strategy.sampler_name,
        finished_trials=sum(s.is_finished() for s in states),
        skipped_trials=sum(s == optuna.trial.TrialState.PRUNED for s in states),
        evaluations=evaluations,
        wall_s=time.perf_counter() - start,
        settings=settings,
        resumed=not new,
        study_evaluations=study_evaluations,
    )


EVALUATIONS_KEY = "analogc_evaluations"
"""Study user attribute: noisy batch evaluations made by every run of the study so far."""


def _count_evaluations(study: optuna.Study, crew: Crew, evaluations: int) -> int:
    """Adds this run's noisy batch evaluations to the study's count; returns the total."""
    with crew.lock():
        total = int(study.user_attrs.get(EVALUATIONS_KEY, 0)) + evaluations
        study.set_user_attr(EVALUATIONS_KEY, total)
    return total


class _NoFailedTrialLines(logging.Filter):
    """Drops Optuna's "Trial N failed ..." warnings (with the traceback of a Ctrl-C): analogc
    lets the exception through and says it in one line itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Trial ") and " failed " in message)


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """No Optuna log line on stderr during a search (its per-trial INFO lines, its failed-trial
    warnings), from the command line or the Python API alike; restored afterwards."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(previous, optuna.logging.WARNING))
    trial_logger = logging.getLogger("optuna.study._optimize")
    no_failed_trials = _NoFailedTrialLines()
    trial_logger.addFilter(no_failed_trials)
    try:
        yield
    finally:
        trial_logger.removeFilter(no_failed_trials)
        optuna.logging.set_verbosity(previous)
