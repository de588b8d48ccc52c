"""NSGA-II on (energy per MAC, acceptance bound): the trade-off front, not one point.

Every trial is evaluated (no skipping: a configuration dearer than the best feasible one may
still be on the front), on every seed (no sequential stop: the acceptance bound is the second
objective, so a bound cut short would bias the front); the plan is the cheapest feasible
configuration found, and the report lists the front.
"""

from __future__ import annotations

import optuna

from ..problem import Point, SearchProblem
from ..settings import SearchSettings
from ..setup import Setup
from .base import Direction
from .sampling import enqueue, measure, optimize, points, record, suggest


class NSGA2:
    name = "nsga2"
    summary = "Optuna NSGA-II on (energy, drop): the energy/accuracy front"
    sampler_name = "NSGAIISampler"
    directions: tuple[Direction, ...] = ("minimize", "minimize")
    sequential = False

    def sampler(self, settings: SearchSettings) -> optuna.samplers.BaseSampler:
        population = max(8, min(50, settings.trials // 4))
        return optuna.samplers.NSGAIISampler(seed=settings.seed, population_size=population)

    def warm_start(self, study: optuna.Study, setup: Setup, problem: SearchProblem) -> None:
        enqueue(study, problem.uniform(setup.uniform), "uniform")
        enqueue(study, setup.analytic, "analytic")

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        allowed = problem.acceptance.allowed

        def objective(trial: optuna.Trial) -> tuple[float, float]:
            problem.crew.worker.record(trial)
            repeats = suggest(trial, setup, problem.names)
            energy = problem.energy(repeats)
            trial.set_user_attr("energy", energy)
            trial.set_user_attr("source", trial.user_attrs.get("source", "sampler"))
            metric, margin = measure(problem, study, trial, repeats)
            record(trial, metric, margin)
            return energy, margin + allowed

        optimize(problem, study, objective, [])
        return points(study, problem.names, len(problem.seeds))
