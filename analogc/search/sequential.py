"""Sequential acceptance for Optuna trials: each seed's drop is an intermediate value, and a
pruner stops the evaluation once the one-sided test says the trial is over the budget, or
that it is unlikely to be accepted once every seed has run (futility).

A trial stopped this way still completes, with the verdict as its margin (over the budget): a
PRUNED trial would lose the measurement the local moves and the other workers read. The test
itself is :meth:`analogc.budget.Acceptance.verdict`; outside trials (the uniform and analytic
bisections) an early "within" also stops a configuration no cheaper than the best one measured
within budget on every seed (:meth:`analogc.search.problem.SearchProblem.score`), and the
search confirms its plan and the uniform baseline on every seed (:mod:`analogc.search.confirm`).
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from analogc.budget import MIN_SEQUENTIAL_SEEDS, Acceptance

STOPPED_AFTER = "stopped_after_seeds"
"""Trial user attribute: the seeds run before the pruner stopped it."""


class SequentialPruner(optuna.pruners.BasePruner):
    """Stops a trial's seeds once the acceptance's sequential test says it is over the budget.

    Only "over": a trial the sampler runs is cheaper than the best feasible configuration
    (dearer ones are skipped unevaluated), so one within the budget is the new best, the plan
    if nothing beats it, and is measured on every seed.

    Also once it is futile (unlikely to be accepted on every seed), unless its repeats are
    the same in every layer: a uniform configuration's early stop would be taken as final
    when the uniform baseline is confirmed.

    Args:
        acceptance: the rule; its per-seed drops are the trial's intermediate values (step k:
            the drop under seed k).
        total: the seeds a full evaluation runs.
        futility: the futility bound (0: off; :data:`analogc.budget.FUTILITY`).
    """

    def __init__(self, acceptance: Acceptance, total: int, futility: float = 0.0) -> None:
        self.acceptance = acceptance
        self.total = total
        self.futility = futility

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        steps = sorted(trial.intermediate_values)
        drops = [trial.intermediate_values[k] for k in steps]
        futility = self.futility if len(set(trial.params.values())) > 1 else 0.0
        return self.acceptance.verdict(drops, self.total, futility) in ("over", "futile")


def trial_stop(trial: optuna.Trial, total: int) -> Callable[[int, float], bool]:
    """Reports seed k's drop as the trial's intermediate value k, and asks the study's pruner
    whether the evaluation may stop (not where it cannot: before the test's first look, or
    after the last seed; each question reads the trial back from the storage)."""

    def stop(k: int, drop: float) -> bool:
        trial.report(drop, k)
        if k < MIN_SEQUENTIAL_SEEDS or k >= total:
            return False
        stopped = trial.should_prune()
        if stopped:
            trial.set_user_attr(STOPPED_AFTER, k)
        return stopped

    return stop
