"""Confirmation: the plan and the uniform baseline re-evaluated on every example and every
search seed.

Exploration may run on a subset of the examples (multi-fidelity) and stop a configuration
after a few seeds (sequential acceptance); what the report compares, the plan against the
uniform baseline, is then decided here on the full data. A configuration within the budget
runs every seed; one clearly over it stops as soon as the sequential test says so (the full
rule would accept it only by chance), as in exploration. A plan that no longer meets the
budget is scaled up until it does, as the uniform N is searched again (:func:`scaled_up`), or,
if that costs as much as the uniform baseline, gives way to the next cheapest explored one.
A subset of whole batches (data in 64 batches or more) keeps each batch's draws, and the
evaluator recalls what exploration scored on those batches
(``Evaluator.batch_scores_together``): the full data runs only the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .problem import Point, SearchProblem
from .result import choose
from .threshold import crossing, scale_inner, smallest_feasible

Measured = tuple[float, float, int]
"""(metric, margin, seeds run) of one configuration."""

MAX_CANDIDATES = 6
"""Explored plans re-evaluated, cheapest first, before falling back to the uniform baseline."""


@dataclass(frozen=True)
class Confirmation:
    """Attributes:
    plan: the plan, as evaluated on every example and seed.
    uniform: the smallest uniform N meeting the budget there; uniform_point: its evaluation.
    examples: the examples confirmed on (all); explored_on: those explored on.
    configurations: configurations evaluated here (0: every one was already measured so).
    """

    plan: Point
    uniform: int
    uniform_point: Point
    examples: int
    explored_on: int
    configurations: int


class FullRule:
    """Scores configurations on every example: every seed, or (sequentially) until the test
    says "over".

    When exploration ran on every example, what it measured is reused: a full evaluation as
    it is, an early "over" as final (the full rule would accept it only by chance), and an
    early "within" completed with the seeds it did not run (common random numbers: seed k is
    the same draw, so the seeds run need not be run again).

    What counts as measured, and how far, comes from ``records``: the explored points and the
    setup's, as the study holds them, the same for every worker sharing it. Each worker's
    own memory of what it measured only saves it work; several workers confirm the same
    plan.
    """

    def __init__(
        self, problem: SearchProblem, *, reuse: bool, records: Sequence[Point] = ()
    ) -> None:
        self.problem = problem
        self.reuse = reuse
        self.memo: dict[tuple[int, ...], Measured] = {}
        self.evaluated = 0
        total = len(problem.seeds)
        self.early_over: dict[tuple[int, ...], Measured] = {}
        self.complete: dict[tuple[int, ...], Measured] = {}
        for p in records if reuse else ():
            key = problem.key(problem.calibrated.configuration(p.repeats))
            if p.seeds >= total:
                self.complete[key] = (p.metric, p.margin, total)
            elif p.seeds > 0 and not p.feasible:
                self.early_over[key] = (p.metric, p.margin, p.seeds)

    def __call__(self, repeats: Mapping[str, int] | int, source: str) -> Point:
        problem = self.problem
        config = problem.calibrated.configuration(repeats)
        key = problem.key(config)
        if key not in self.memo:
            self.memo[key] = self._measure(config, key)
            self._tell(config, self.memo[key], source)
        metric, margin, seeds = self.memo[key]
        return Point(config, problem.energy(config), metric, margin, source, seeds)

    def _tell(self, config: Mapping[str, int], measured: Measured, source: str) -> None:
        problem = self.problem
        metric, margin, seeds = measured
        free = {config[n] for n in problem.free}
        what = (
            f"the uniform baseline at N = {free.pop()}"
            if source == "uniform" and len(free) == 1
            else f"a plan ({source})"
        )
        problem.on_step(
            f"confirmed {what}, Ē {problem.energy(dict(config)):.4g}: "
            f"{problem.calibrated.metric.format(metric)} on {seeds} seeds, "
            f"{'within' if margin <= 0 else 'over'} budget"
        )

    def together(self, configurations: Sequence[tuple[Mapping[str, int] | int, str]]) -> None:
        """Measures these configurations now, as :meth:`__call__` would one by one (the same
        seeds, the same sequential stops, the same figures), but batch by batch, every one
        in turn on each batch: a model whose draws are too large to keep then makes each
        batch's draws once for all of them. Only where nothing is reused (exploration ran on
        a subset); configurations measured already are left out."""
        problem, acceptance, seeds = self.problem, self.problem.acceptance, self.problem.seeds
        if self.reuse:
            return
        todo: dict[tuple[int, ...], dict[str, int]] = {}
        sources: dict[tuple[int, ...], str] = {}
        for repeats, source in configurations:
            config = problem.calibrated.configuration(repeats)
            key = problem.key(config)
            if key not in self.memo and key not in todo:
                todo[key], sources[key] = config, source
        if not todo:
            return
        self.evaluated += len(todo)
        if not problem.sequential:
            evaluations = problem.calibrated.evaluate_together(list(todo.values()), seeds)
            for key, evaluation in zip(todo, evaluations, strict=True):
                self.memo[key] = (evaluation.mean, acceptance.margin(evaluation), len(seeds))
                self._tell(todo[key], self.memo[key], sources[key])
            return
        values: dict[tuple[int, ...], tuple[float, ...]] = dict.fromkeys(todo, ())
        running = dict(todo)
        for seed in seeds:
            if not running:
                break
            ones = problem.calibrated.evaluate_together(list(running.values()), [seed])
            for key, one in zip(list(running), ones, strict=True):
                values[key] = (*values[key], one.values[0])
                evaluation = replace(
                    one, values=values[key], seeds=tuple(seeds[: len(values[key])])
                )
                measured = (evaluation.mean, acceptance.margin(evaluation), len(values[key]))
                self.memo[key] = measured
                over = acceptance.verdict(acceptance.drops(evaluation), len(seeds)) == "over"
                if over or len(values[key]) == len(seeds):
                    del running[key]  # as :meth:`_measure`: an "over" is final
                    self._tell(todo[key], measured, sources[key])

    def _measure(self, config: dict[str, int], key: tuple[int, ...]) -> Measured:
        problem, seeds = self.problem, self.problem.seeds
        if key in self.complete:
            return self.complete[key]
        if key in self.early_over:
            return self.early_over[key]  # an early "over": final
        known = problem.memo.get(key) if self.reuse else None
        values = problem.values.get(key, ()) if self.reuse else ()
        if known is not None and (len(values) == len(seeds) or not problem.sequential):
            return (*known, len(seeds))
        if known is not None and known[1] > 0:
            values = ()  # an "over" no record shows: measured again, as any worker would
        self.evaluated += 1
        acceptance = problem.acceptance
        if not problem.sequential:
            evaluation = problem.calibrated.evaluate(config, seeds[len(values) :])
            evaluation = replace(
                evaluation, values=(*values, *evaluation.values), seeds=tuple(seeds)
            )
            return evaluation.mean, acceptance.margin(evaluation), len(seeds)
        for seed in seeds[len(values) :]:
            one = problem.calibrated.evaluate(config, [seed])
            values = (*values, one.values[0])
            evaluation = replace(one, values=values, seeds=tuple(seeds[: len(values)]))
            if acceptance.verdict(acceptance.drops(evaluation), len(seeds)) == "over":
                break  # the full rule would accept it only by chance
        return evaluation.mean, acceptance.margin(evaluation), len(values)


def confirm(
    problem: SearchProblem,
    explored: Sequence[Point],
    uniform: int,
    explored_on: int,
    records: Sequence[Point] = (),
) -> Confirmation:
    """The uniform baseline and the plan on every example and seed (see the module);
    ``records``: the setup's points, which the study holds besides ``explored``."""
    examples = problem.calibrated.evaluator.examples
    full = FullRule(problem, reuse=explored_on == examples, records=[*records, *explored])

    def candidates(energy: float) -> list[Point]:
        """The explored plans cheaper than ``energy`` that met the budget, cheapest first."""
        return sorted(
            (p for p in explored if p.feasible and p.source != "inferred" and p.energy < energy),
            key=lambda p: (p.energy, p.margin),
        )

    if explored_on < examples:
        problem.on_step(f"confirming the uniform baseline and the plan on all {examples} examples")
    # Measured whatever the full data says: the explored uniform N and the cheapest plan
    # below it, together (one draw per batch for both). N − 1 is left to the search for N:
    # where the full data puts N higher, it would be wasted.
    cheapest = candidates(problem.energy(uniform))[:1]
    if uniform <= problem.max_uniform:
        full.together([(uniform, "uniform"), *((p.repeats, p.source) for p in cheapest)])
    n = confirm_uniform(full, uniform, problem.max_uniform)
    base = full(n, "uniform")
    plan = base if base.feasible else None
    for p in candidates(base.energy)[:MAX_CANDIDATES]:
        point = full(p.repeats, p.source)
        if not point.feasible and base.feasible:
            # Within the budget on the subset, not on every example: like the uniform N, its
            # scale is searched again on them (a plan at the threshold of the subset sits at
            # the full data's only by chance), rather than giving way to a far costlier one.
            point = scaled_up(full, point, base.energy) or point
        if point.feasible:
            plan = point
            break
    if plan is None:  # nothing meets the budget: the explored one closest to meeting it
        closest = choose(explored) if explored else base
        plan = full(closest.repeats, closest.source)
    return Confirmation(plan, n, base, examples, explored_on, full.evaluated)


SCALE_TOLERANCE = 1.03
"""A plan scaled up in confirmation stops once its factor is bracketed within 3% (the analytic
allocation's scale is found as closely)."""


def scaled_up(full: FullRule, plan: Point, ceiling: float) -> Point | None:
    """``plan`` with every free layer's repeats multiplied by the least factor (within
    :data:`SCALE_TOLERANCE`) that meets the budget under ``full``, if it costs less than
    ``ceiling``; None otherwise. Its margins predict the factor (:mod:`.threshold`): a plan
    just over the budget takes one probe a few percent up."""
    problem = full.problem
    caps, free = problem.caps, problem.free

    def config(factor: float) -> dict[str, int]:
        # Rounded up: any factor above 1 adds a repeat to every layer not at its cap (rounded
        # to nearest, a small factor leaves layers of a few dozen repeats as they were, and
        # probe after probe measures nearly the same plan).
        scaled = {
            n: int(min(caps[n], max(1, math.ceil(factor * plan.repeats[n] - 1e-9)))) for n in free
        }
        return {**plan.repeats, **scaled}

    def margin(factor: float) -> float:
        return full(config(factor), plan.source).margin

    found = smallest_feasible(
        margin,
        1.0,
        crossing(problem.acceptance),
        inner=scale_inner(config, SCALE_TOLERANCE),
        top=ceiling / plan.energy,
        overshoot=1.0,
        least_growth=SCALE_TOLERANCE,
    )
    if found is None:
        return None
    point = full(config(found), plan.source)
    if not point.feasible or point.energy >= ceiling:
        return None
    problem.on_step(
        f"the plan, over the budget on every example, meets it scaled by {found:.3g}: "
        f"Ē {plan.energy:.4g} → {point.energy:.4g}"
    )
    return point


def confirm_uniform(full: FullRule, start: int, top: int) -> int:
    """The smallest uniform N meeting the budget under ``full``, searched from the explored
    answer ``start``: N and N − 1 settle it when exploration was right (both are probed
    first: on every example exploration measured them, and nothing runs again); when it was
    not, the full data's own margins predict where the threshold lies (:mod:`.threshold`),
    the subset's answer being close: a few probes instead of a doubling and a bisection."""

    def margin(n: float) -> float:
        return full(int(n), "uniform").margin

    if start > 1 and start <= top and margin(start) <= 0:
        # N − 1 first: the predictions might skip it, and exploration on every example has
        # measured it already (reused, not run again)
        if margin(start - 1) > 0:
            return start
        start -= 1
    found = smallest_feasible(
        margin,
        min(start, top),
        crossing(full.problem.acceptance),
        integer=True,
        top=top,
        overshoot=1.0,
        least_growth=1.0,
    )
    return top if found is None else int(found)
