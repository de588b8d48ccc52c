"""What the Optuna strategies share: trials over log-integer repeats in each layer's box.

Each trial suggests ``repeats[<layer>]`` for every layer (the parameter names map back to
layers through a lookup table, never by parsing), prices the configuration and scores it on
the search seeds; the verdict goes into user attributes (``energy``, ``metric``, ``margin``,
``source``). Trials are counted toward ``trials`` when finished, so a resumed or shared study
stops at the total asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import optuna

from ..problem import Point, SearchProblem
from ..setup import Setup

FINISHED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.FAIL,
)

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


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
    """Queue a configuration (once, however many processes ask)."""
    params = {param_name(n): int(v) for n, v in repeats.items()}
    study.enqueue_trial(params, user_attrs={"source": source}, skip_if_exists=True)


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


def points(study: optuna.Study, names: list[str]) -> list[Point]:
    """Every completed trial as a :class:`Point`."""
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
            )
        )
    return found


def optimize(
    problem: SearchProblem,
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float | tuple[float, float]],
    callbacks: list[Callback],
) -> None:
    """Run trials until ``settings.trials`` are finished in the study (or the timeout)."""
    settings = problem.settings
    finished = [t for t in study.trials if t.state.is_finished()]
    remaining = max(0, settings.trials - len(finished))
    if not remaining:
        return
    bar = ProgressBar(remaining, enabled=settings.progress)
    study.optimize(
        objective,
        n_trials=remaining,
        timeout=settings.timeout,
        callbacks=[
            optuna.study.MaxTrialsCallback(settings.trials, states=FINISHED),
            bar.update,
            *callbacks,
        ],
        catch=(),
    )
    bar.close()


class ProgressBar:
    """Trials done, best Ē so far, feasible/infeasible/skipped counts (tqdm on stderr)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="search", unit="trial", disable=not enabled, leave=True)
        self.counts = {"feasible": 0, "infeasible": 0, "skipped": 0}

    def update(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == optuna.trial.TrialState.PRUNED:
            self.counts["skipped"] += 1
        elif trial.user_attrs.get("margin", 1.0) <= 0:
            self.counts["feasible"] += 1
        else:
            self.counts["infeasible"] += 1
        best = best_feasible_energy(study)
        self.bar.set_postfix(
            best_E="-" if best is None else f"{best:.4g}", **self.counts, refresh=False
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
