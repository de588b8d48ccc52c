"""The search: setup, then the chosen strategy, then the plan (see :mod:`analogc.search`)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import optuna

from analogc.budget import Acceptance
from analogc.errors import ConfigError
from analogc.storage import SharedStorage, open_storage
from analogc.workers import Crew, join, sampler_seed

from .confirm import confirm
from .problem import Point, SearchProblem
from .result import SearchResult, pareto_front
from .sequential import SequentialPruner
from .settings import SearchSettings
from .setup import Setup, load_or_compute_setup
from .strategies import STRATEGIES, SearchStrategy

if TYPE_CHECKING:
    from analogc.calibrated import CalibratedModel
    from analogc.runtime.evaluate import Evaluator


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
    problem.sequential = problem.sequential and strategy.sequential
    evaluator = calibrated.evaluator
    examples = evaluator.examples
    with storage.errors(), storage.deferring_interrupts():
        explore = explore_examples(settings, evaluator, acceptance.allowed)
        with evaluator.subset(explore) as explored_on:
            if explored_on < examples:
                on_step(f"exploring on {explored_on} of {examples} examples")
            with problem.meter.phase("exploration"):
                study, setup, new, points = _explore(problem, strategy, storage, crew, runs_before)
        with problem.meter.phase("confirmation"):
            setup_points = [*setup.uniform_curve, *setup.analytic_points]
            confirmed = confirm(problem, points, setup.uniform, explored_on, setup_points)
        evaluations = evaluator.runs - runs_before
        study_evaluations = _count_evaluations(study, crew, evaluations)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return SearchResult(
        repeats=dict(confirmed.plan.repeats),
        feasible=confirmed.plan.feasible,
        uniform_repeats=confirmed.uniform,
        uniform_feasible=confirmed.uniform_point.feasible,
        analytic=dict(setup.analytic),
        sensitivity=dict(setup.sensitivity),
        sensitivity_drop=dict(setup.sensitivity_drop),
        sensitivity_examples=setup.sensitivity_examples,
        uniform_curve=list(setup.uniform_curve),
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
        sequential=problem.sequential,
        confirmation=confirmed,
        cost=problem.meter.phases(),
    )


def explore_examples(
    settings: SearchSettings, evaluator: Evaluator, allowed: float | None = None
) -> int:
    """Examples to explore on (0: all of them): ``--explore-examples``, or by default a
    quarter of the data, at least 128, when it holds at least 256 examples, every example
    can be left out on its own and the metric scores each example on its own (not a
    ``module:function``, which may rank an example among its batch: fewer examples would
    make it easier, and the subset's plan would not hold on all of them).

    By default a metric counting examples (accuracy, agreement: unit ``%``) also needs
    :data:`MIN_FLIPS` examples' worth of the ``allowed`` drop in the subset: on fewer, one
    example is a sizeable part of the budget and the subset's verdicts are too coarse to
    find the plan the full data would (the demo's 300 digits: 150 would allow one flip).
    """
    total = evaluator.examples
    wanted = settings.explore_examples
    if wanted is None:
        wanted = max(MIN_EXPLORE, total // 4) if total >= 2 * MIN_EXPLORE else 0
        if not evaluator.metric.self_contained:
            wanted = 0
        if wanted and evaluator.metric.unit == "%" and allowed is not None:
            wanted = max(wanted, math.ceil(MIN_FLIPS / allowed) if allowed > 0 else total)
    if wanted >= total or not evaluator.can_subset():
        return 0
    return wanted


MIN_FLIPS = 8
"""By default, the fewest examples whose flips the allowed drop must cover in the subset of
a metric counting examples."""


MIN_EXPLORE = 128
"""The fewest examples the default exploration runs on (on less data it explores on all)."""


def _explore(
    problem: SearchProblem, strategy: SearchStrategy, storage: SharedStorage, crew: Crew, runs: int
) -> tuple[optuna.Study, Setup, bool, list[Point]]:
    """The study, its setup (computed now: True, or read back), and the configurations the
    strategy evaluated."""
    settings, on_step = problem.settings, problem.on_step
    study = optuna.create_study(
        storage=storage.optuna,
        study_name=crew.study_name,
        directions=list(strategy.directions),
        load_if_exists=True,
    )
    study.pruner = (
        SequentialPruner(problem.acceptance, len(problem.seeds), problem.futility)
        if problem.sequential
        else optuna.pruners.NopPruner()
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
            _count_evaluations(study, crew, problem.calibrated.evaluator.runs - runs)
        raise
    return study, setup, new, points


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
