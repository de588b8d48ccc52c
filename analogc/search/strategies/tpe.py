"""TPE over per-layer repeats: least energy per MAC with the budget as a constraint.

Warm-started with the uniform and analytic configurations, in a box around the analytic
allocation. Trials not cheaper than the best feasible one are skipped unevaluated, and verdicts
that monotonicity implies are not re-run. After each new best, its neighbours with one layer's
repeats cut by a quarter are queued (coordinate descent interleaved with the sampler).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import optuna

from analogc.workers import EVALUATED_BY

from ..problem import Point, SearchProblem
from ..settings import SearchSettings
from ..setup import Setup
from .base import Direction
from .sampling import (
    best_feasible_energy,
    enqueue,
    measure,
    optimize,
    points,
    record,
    repeats_of,
    suggest,
)


class TPE:
    name = "tpe"
    summary = "Optuna TPE around the analytic allocation, with coordinate-descent moves"
    sampler_name = "TPESampler"
    directions: tuple[Direction, ...] = ("minimize",)
    sequential = True

    def sampler(self, settings: SearchSettings) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=settings.seed, multivariate=True, n_startup_trials=8)

    def warm_start(self, study: optuna.Study, setup: Setup, problem: SearchProblem) -> None:
        enqueue(study, problem.uniform(setup.uniform), "uniform")
        enqueue(study, setup.analytic, "analytic")

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        names = problem.names

        def objective(trial: optuna.Trial) -> float:
            problem.crew.worker.record(trial)
            repeats = suggest(trial, setup, names)
            energy = problem.energy(repeats)
            trial.set_user_attr("energy", energy)
            trial.set_user_attr("source", trial.user_attrs.get("source", "sampler"))
            best = best_feasible_energy(study)
            if best is not None and energy >= best:
                trial.set_user_attr(EVALUATED_BY, None)
                trial.set_user_attr("skipped", "not cheaper than the best feasible configuration")
                raise optuna.TrialPruned()
            metric, margin = measure(problem, study, trial, repeats)
            record(trial, metric, margin)
            trial.set_constraint("budget", margin)
            return energy

        local = LocalMoves(problem, setup.bounds)
        optimize(problem, study, objective, [local.after_trial])
        return points(study, names, len(problem.seeds))


class LocalMoves:
    """Coordinate descent interleaved with the sampler: whenever a trial becomes the best
    feasible one, enqueue its neighbours with one layer's repeats cut by a quarter, starting
    with the layers that spend the most energy. Enqueued trials run before sampled ones, under
    the study lock so that two workers never queue the same move."""

    FACTOR = 0.75
    MAX_LAYERS = 8

    def __init__(self, problem: SearchProblem, bounds: Mapping[str, tuple[int, int]]) -> None:
        self.problem = problem
        self.bounds = bounds

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state != optuna.trial.TrialState.COMPLETE or trial.user_attrs.get("inferred"):
            return
        if (
            trial.user_attrs.get("margin", 1.0) > 0
            or best_feasible_energy(study) != trial.user_attrs["energy"]
        ):
            return
        repeats = repeats_of(trial.params, self.problem.names)
        macs = self.problem.calibrated.macs
        free = self.problem.free  # pinned layers never move
        order = sorted(free, key=lambda n: -repeats[n] * macs[n])[: self.MAX_LAYERS]
        with self.problem.crew.lock():
            for name in order:  # waiting trials run first-in, first-out: biggest spender first
                lo = self.bounds[name][0]
                cut = max(lo, min(repeats[name] - 1, math.floor(repeats[name] * self.FACTOR)))
                if cut < repeats[name]:
                    enqueue(study, {**repeats, name: cut}, "local")
