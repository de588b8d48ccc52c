"""Per-layer repeats: least energy per MAC within the accuracy budget (DESIGN §2).

Steps, each reusing the same noise seeds (common random numbers):

1. **Uniform baseline**: the smallest repeats N used by every layer that meets the budget
   (doubling to bracket it, then bisection in log space).
2. **Sensitivity**: noise in one layer at a time, at the baseline's N; the relative output
   noise power it causes, scaled to N = 1, is that layer's ``a_l`` in ``MSE ≈ Σ a_l / N_l``.
3. **Analytic allocation**: minimising ``Σ N_l·MAC_l`` subject to ``Σ a_l/N_l ≤ B`` gives
   ``N_l ∝ sqrt(a_l / MAC_l)``; the scale is found by bisection against the real metric.
4. **Optuna**: TPE over log-integer repeats in a box around the analytic allocation, warm-started
   with the uniform and analytic configurations, minimising Ē with the budget as a constraint
   (``Trial.set_constraint``). ``pareto=True`` runs NSGA-II on (Ē, drop) instead.

Setup results are cached in the study's user attributes, so rerunning a command resumes the
study without redoing them, and several processes on one storage share one study.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import optuna

from analogc.budget import Acceptance
from analogc.calibrated import CalibratedModel
from analogc.storage import open_storage

log = logging.getLogger(__name__)

SETUP_KEY = "analogc_setup"
_FINISHED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.FAIL,
)


@dataclass(frozen=True, kw_only=True)
class SearchSettings:
    """How hard to search.

    Attributes:
        trials: Optuna trials in total (a resumed study counts the finished ones).
        timeout: stop starting new trials after this many seconds (None: no limit).
        seed: seed of the sampler (and nothing else: noise seeds are 0..seeds-1).
        seeds: noise seeds per evaluation in the search (common to all configurations).
        validation_seeds: fresh noise seeds for the final figures (no selection bias).
        max_repeats: upper bound on any layer's repeats.
        span: each layer's box is [N_analytic / span, N_analytic · span].
        confidence: one-sided confidence of the acceptance bound.
        pareto: multi-objective search (NSGA-II) returning the energy/drop front.
        storage: Optuna storage URL (None: in memory).
        study_name: the study's name in the storage.
        progress: show a progress bar on stderr.
    """

    trials: int = 60
    timeout: float | None = None
    seed: int = 0
    seeds: int = 8
    validation_seeds: int = 16
    max_repeats: int = 1 << 16
    span: float = 8.0
    confidence: float = 0.95
    pareto: bool = False
    storage: str | None = None
    study_name: str | None = None
    progress: bool = False

    @property
    def search_seeds(self) -> list[int]:
        return list(range(self.seeds))

    @property
    def fresh_seeds(self) -> list[int]:
        return list(range(self.seeds, self.seeds + self.validation_seeds))


@dataclass(frozen=True)
class Point:
    """One evaluated configuration."""

    repeats: dict[str, int]
    energy: float
    metric: float
    margin: float
    source: str

    @property
    def feasible(self) -> bool:
        return self.margin <= 0


@dataclass
class SearchResult:
    """What the search found; every figure here was measured on the search seeds."""

    repeats: dict[str, int]
    feasible: bool
    uniform_repeats: int
    uniform_feasible: bool
    analytic: dict[str, int]
    sensitivity: dict[str, float]
    sensitivity_drop: dict[str, float]
    uniform_curve: list[Point]
    trials: list[Point]
    front: list[Point]
    study_name: str
    storage: str | None
    sampler: str
    finished_trials: int
    skipped_trials: int
    evaluations: int
    wall_s: float
    settings: SearchSettings
    extra: dict[str, Any] = field(default_factory=dict)


class _Scorer:
    """Evaluates configurations on the search seeds, with a memo and monotone shortcuts."""

    def __init__(
        self, calibrated: CalibratedModel, acceptance: Acceptance, seeds: Sequence[int]
    ) -> None:
        self.calibrated = calibrated
        self.acceptance = acceptance
        self.seeds = list(seeds)
        self.names = calibrated.names
        self.memo: dict[tuple[int, ...], tuple[float, float]] = {}

    def key(self, repeats: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(int(repeats[n]) for n in self.names)

    def score(self, repeats: Mapping[str, int] | int, source: str = "") -> Point:
        if isinstance(repeats, int):
            repeats = dict.fromkeys(self.names, repeats)
        key = self.key(repeats)
        if key not in self.memo:
            evaluation = self.calibrated.evaluate(dict(repeats), self.seeds)
            self.memo[key] = (evaluation.mean, self.acceptance.margin(evaluation))
        metric, margin = self.memo[key]
        return Point(dict(repeats), self.calibrated.energy(repeats), metric, margin, source)

    def inferred(self, repeats: Mapping[str, int]) -> tuple[float, float] | None:
        """A verdict implied by monotonicity: more repeats everywhere than a feasible
        configuration is feasible; fewer everywhere than an infeasible one is infeasible."""
        if self.key(repeats) in self.memo:
            return None  # evaluated exactly: not an inference
        key = np.array(self.key(repeats))
        for known, (metric, margin) in self.memo.items():
            k = np.array(known)
            if margin <= 0 and np.all(key >= k):
                return metric, margin
            if margin > 0 and np.all(key <= k):
                return metric, margin
        return None


def uniform_baseline(
    scorer: _Scorer, max_repeats: int, on_step: Callable[[str], None]
) -> tuple[int, list[Point]]:
    """Smallest uniform N meeting the budget: double to bracket, then bisect in log space."""
    curve: list[Point] = []

    def probe(n: int) -> bool:
        point = scorer.score(n, "uniform")
        curve.append(point)
        on_step(f"uniform N={n}: {scorer.calibrated.metric.format(point.metric)}")
        return point.feasible

    lo, hi = 0, 1
    while not probe(hi):
        lo = hi
        if hi >= max_repeats:
            return max_repeats, sorted(curve, key=lambda p: p.energy)
        hi = min(hi * 2, max_repeats)
    while hi - lo > 1:
        mid = max(lo + 1, min(hi - 1, round(math.sqrt(max(lo, 1) * hi))))
        if probe(mid):
            hi = mid
        else:
            lo = mid
    return hi, sorted(curve, key=lambda p: p.energy)


def sensitivities(
    calibrated: CalibratedModel, reference: int, seeds: Sequence[int]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per layer: relative output noise power at N = 1 (``a_l``), and the metric drop at N_ref.

    The noise is injected into one layer at a time at ``reference`` repeats; the output noise
    power relative to the clean output's power is multiplied by ``reference`` (MSE ∝ 1/N).
    """
    evaluator = calibrated.evaluator
    clean = evaluator.clean_outputs
    power = float(np.mean([np.mean(np.square(batch[0], dtype=np.float64)) for batch in clean]))
    a: dict[str, float] = {}
    drops: dict[str, float] = {}
    for name in calibrated.names:
        scales = dict.fromkeys(calibrated.names, 0.0)
        scales[name] = 1.0 / math.sqrt(reference * calibrated.hardware.e1)
        mse, values = [], []
        for seed in seeds:
            outputs = evaluator.outputs(scales, seed)
            mse.append(
                np.mean(
                    [
                        np.mean((o[0] - c[0]) ** 2, dtype=np.float64)
                        for o, c in zip(outputs, clean, strict=True)
                    ]
                )
            )
            values.append(evaluator.score(outputs))
        a[name] = float(np.mean(mse)) / max(power, 1e-300) * reference
        drops[name] = evaluator.clean - float(np.mean(values))
    return a, drops


def analytic_allocation(
    scorer: _Scorer,
    a: Mapping[str, float],
    uniform: int,
    max_repeats: int,
    on_step: Callable[[str], None],
) -> tuple[dict[str, int], list[Point]]:
    """N_l = λ·sqrt(a_l/MAC_l), with the smallest λ (bisection in log λ) meeting the budget."""
    calibrated = scorer.calibrated
    macs = calibrated.macs
    direction = {n: math.sqrt(max(a[n], 1e-30) / max(macs[n], 1)) for n in calibrated.names}

    def config(lam: float) -> dict[str, int]:
        return {
            n: int(min(max_repeats, max(1, round(lam * direction[n])))) for n in calibrated.names
        }

    points: list[Point] = []

    def feasible(lam: float) -> bool:
        point = scorer.score(config(lam), "analytic")
        points.append(point)
        on_step(f"analytic λ={lam:.3g}: Ē={point.energy:.4g}")
        return point.feasible

    total = sum(macs.values())
    lam_hi = (
        uniform * total / sum(direction[n] * macs[n] for n in calibrated.names)
    )  # same energy as uniform
    lam_lo = None
    for _ in range(12):
        if feasible(lam_hi):
            break
        lam_lo, lam_hi = lam_hi, lam_hi * 2
    else:
        return config(lam_hi), points
    if lam_lo is None:
        lam_lo = lam_hi / 2
        for _ in range(12):
            if not feasible(lam_lo):
                break
            lam_hi, lam_lo = lam_lo, lam_lo / 2
    while lam_hi / lam_lo > 1.03:
        mid = math.sqrt(lam_lo * lam_hi)
        if config(mid) in (config(lam_lo), config(lam_hi)):
            break
        if feasible(mid):
            lam_hi = mid
        else:
            lam_lo = mid
    return config(lam_hi), points


def _param(name: str) -> str:
    return f"repeats[{name}]"


def run_search(
    calibrated: CalibratedModel,
    acceptance: Acceptance,
    settings: SearchSettings,
    *,
    on_step: Callable[[str], None] = lambda msg: None,
) -> SearchResult:
    """Uniform baseline, sensitivity, analytic warm start, then Optuna. See module docstring."""
    import time

    start = time.perf_counter()
    runs_before = calibrated.evaluator.runs
    scorer = _Scorer(calibrated, acceptance, settings.search_seeds)
    names = calibrated.names

    sampler: optuna.samplers.BaseSampler
    if settings.pareto:
        sampler = optuna.samplers.NSGAIISampler(
            seed=settings.seed, population_size=max(8, min(50, settings.trials // 4))
        )
        directions = ["minimize", "minimize"]
    else:
        sampler = optuna.samplers.TPESampler(
            seed=settings.seed, multivariate=True, n_startup_trials=8
        )
        directions = ["minimize"]
    study_name = settings.study_name or "analogc"
    study = optuna.create_study(
        storage=open_storage(settings.storage),
        study_name=study_name,
        sampler=sampler,
        directions=directions,
        load_if_exists=True,
    )

    setup = study.user_attrs.get(SETUP_KEY)
    if setup is None:
        uniform, curve = uniform_baseline(scorer, settings.max_repeats, on_step)
        on_step("sensitivity: noise in one layer at a time")
        a, drops = sensitivities(
            calibrated,
            uniform,
            settings.search_seeds[:1],  # MSE over every output: one seed suffices
        )
        analytic, analytic_points = analytic_allocation(
            scorer, a, uniform, settings.max_repeats, on_step
        )
        bounds = {}
        for n in names:
            lo = max(1, min(uniform, math.floor(analytic[n] / settings.span)))
            hi = min(
                settings.max_repeats, max(uniform, math.ceil(analytic[n] * settings.span), lo + 1)
            )
            bounds[n] = (lo, hi)
        setup = {
            "uniform": uniform,
            "uniform_curve": [asdict(p) for p in curve],
            "sensitivity": a,
            "sensitivity_drop": drops,
            "analytic": analytic,
            "analytic_points": [asdict(p) for p in analytic_points],
            "bounds": bounds,
            "memo": [[list(k), v[0], v[1]] for k, v in scorer.memo.items()],
        }
        study.set_user_attr(SETUP_KEY, setup)
        study.enqueue_trial(
            {_param(n): uniform for n in names},
            user_attrs={"source": "uniform"},
            skip_if_exists=True,
        )
        study.enqueue_trial(
            {_param(n): analytic[n] for n in names},
            user_attrs={"source": "analytic"},
            skip_if_exists=True,
        )
    else:
        on_step("resuming: setup read from the study")
        for key, metric, margin in setup["memo"]:
            scorer.memo[tuple(key)] = (metric, margin)
    uniform = int(setup["uniform"])
    bounds = {n: tuple(setup["bounds"][n]) for n in names}

    def objective(trial: optuna.Trial) -> float | tuple[float, float]:
        repeats = {
            n: trial.suggest_int(_param(n), bounds[n][0], bounds[n][1], log=True) for n in names
        }
        energy = calibrated.energy(repeats)
        trial.set_user_attr("energy", energy)
        trial.set_user_attr("source", trial.user_attrs.get("source", "sampler"))
        if not settings.pareto:
            best = _best_feasible_energy(study)
            if best is not None and energy >= best:
                trial.set_user_attr("skipped", "not cheaper than the best feasible configuration")
                raise optuna.TrialPruned()
            verdict = scorer.inferred(repeats)
            if verdict is not None:
                trial.set_user_attr("inferred", True)
                metric, margin = verdict
            else:
                point = scorer.score(repeats)
                metric, margin = point.metric, point.margin
        else:
            point = scorer.score(repeats)
            metric, margin = point.metric, point.margin
        trial.set_user_attr("metric", metric)
        trial.set_user_attr("margin", margin)
        if settings.pareto:
            return energy, margin + acceptance.allowed
        trial.set_constraint("budget", margin)
        return energy

    finished = [t for t in study.trials if t.state.is_finished()]
    remaining = max(0, settings.trials - len(finished))
    if remaining:
        bar = _ProgressBar(remaining, enabled=settings.progress, study=study)
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=settings.timeout,
            callbacks=[
                optuna.study.MaxTrialsCallback(settings.trials, states=_FINISHED),
                bar.update,
                *([] if settings.pareto else [_LocalMoves(calibrated, bounds).after_trial]),
            ],
            catch=(),
        )
        bar.close()

    trials = _points(study)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    finished_trials = sum(state in _FINISHED for state in states)
    skipped_trials = sum(state == optuna.trial.TrialState.PRUNED for state in states)
    feasible = [p for p in trials if p.feasible and p.source != "inferred"]
    if feasible:
        chosen = min(feasible, key=lambda p: (p.energy, p.margin))
    else:
        evaluated = [p for p in trials if p.source != "inferred"] or trials
        chosen = min(evaluated, key=lambda p: (p.margin, p.energy))
    front = _front(trials)
    curve = [Point(**p) for p in setup["uniform_curve"]]
    return SearchResult(
        repeats=dict(chosen.repeats),
        feasible=chosen.feasible,
        uniform_repeats=uniform,
        uniform_feasible=any(p.feasible and p.repeats[names[0]] == uniform for p in curve),
        analytic={n: int(v) for n, v in setup["analytic"].items()},
        sensitivity={n: float(v) for n, v in setup["sensitivity"].items()},
        sensitivity_drop={n: float(v) for n, v in setup["sensitivity_drop"].items()},
        uniform_curve=curve,
        trials=trials,
        front=front,
        study_name=study_name,
        storage=settings.storage,
        sampler=type(sampler).__name__,
        finished_trials=finished_trials,
        skipped_trials=skipped_trials,
        evaluations=calibrated.evaluator.runs - runs_before,
        wall_s=time.perf_counter() - start,
        settings=settings,
    )


def _best_feasible_energy(study: optuna.Study) -> float | None:
    best = None
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.user_attrs.get("inferred"):
            continue
        cons = t.constraints
        if cons and all(c <= 0 for c in cons.values()):
            e = t.user_attrs["energy"]
            best = e if best is None else min(best, e)
    return best


def _points(study: optuna.Study) -> list[Point]:
    points = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if "margin" not in t.user_attrs:
            continue
        repeats = {k[len("repeats[") : -1]: int(v) for k, v in t.params.items()}
        source = (
            "inferred" if t.user_attrs.get("inferred") else t.user_attrs.get("source", "sampler")
        )
        points.append(
            Point(
                repeats,
                float(t.user_attrs["energy"]),
                float(t.user_attrs["metric"]),
                float(t.user_attrs["margin"]),
                source,
            )
        )
    return points


def _front(points: Sequence[Point]) -> list[Point]:
    """Configurations no other one beats on both energy and metric."""
    ordered = sorted(points, key=lambda p: (p.energy, -p.metric))
    front, best_metric = [], -math.inf
    for p in ordered:
        if p.metric > best_metric:
            front.append(p)
            best_metric = p.metric
    return front


class _LocalMoves:
    """Coordinate descent interleaved with the sampler: whenever a trial becomes the best
    feasible one, enqueue its neighbours with one layer's repeats cut by a quarter, starting
    with the layers that spend the most energy. Enqueued trials run before sampled ones."""

    FACTOR = 0.75
    MAX_LAYERS = 8

    def __init__(self, calibrated: CalibratedModel, bounds: Mapping[str, tuple[int, int]]) -> None:
        self.calibrated = calibrated
        self.bounds = bounds

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state != optuna.trial.TrialState.COMPLETE or trial.user_attrs.get("inferred"):
            return
        if (
            trial.user_attrs.get("margin", 1.0) > 0
            or _best_feasible_energy(study) != trial.user_attrs["energy"]
        ):
            return
        repeats = {k[len("repeats[") : -1]: int(v) for k, v in trial.params.items()}
        macs = self.calibrated.macs
        order = sorted(repeats, key=lambda n: -repeats[n] * macs[n])[: self.MAX_LAYERS]
        for name in order:  # waiting trials run first-in, first-out: biggest spender first
            lo = self.bounds[name][0]
            cut = max(lo, min(repeats[name] - 1, math.floor(repeats[name] * self.FACTOR)))
            if cut < repeats[name]:
                params = {_param(n): (cut if n == name else v) for n, v in repeats.items()}
                study.enqueue_trial(params, user_attrs={"source": "local"}, skip_if_exists=True)


class _ProgressBar:
    """Trials done, best Ē so far, feasible/infeasible/skipped counts (tqdm on stderr)."""

    def __init__(self, total: int, *, enabled: bool, study: optuna.Study) -> None:
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
        best = _best_feasible_energy(study)
        self.bar.set_postfix(
            best_E="-" if best is None else f"{best:.4g}", **self.counts, refresh=False
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
