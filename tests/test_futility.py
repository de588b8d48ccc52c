"""Futility stops: exploration gives up on a configuration once it is unlikely to be accepted
on every seed, never on a uniform one, and rarely on one the full rule would accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import optuna
import pytest
from synthetic import K, branches_model
from test_sequential import THERMAL

from analogc.budget import FUTILITY, MIN_SEQUENTIAL_SEEDS, Acceptance
from analogc.calibrated import CalibratedModel, open_model
from analogc.errors import ConfigError
from analogc.runtime.data import Dataset
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.metrics import METRICS
from analogc.search import SearchSettings
from analogc.search.problem import SearchProblem
from analogc.search.sequential import SequentialPruner

SEEDS = 8
NEAR = [0.0100, 0.0105, 0.0098, 0.0102]
"""Per-seed drops just over an allowed 0.01: not clearly over it (mean − t·SE < 0.01), but the
final bound, mean + 1.895·SD/√8, would need the other four seeds far below the first."""


def _seeds_run(drops: np.ndarray, rule: Acceptance, futility: float) -> tuple[int, str | None]:
    for n in range(MIN_SEQUENTIAL_SEEDS, len(drops)):
        verdict = rule.verdict(drops[:n], len(drops), futility)
        if verdict is not None:
            return n, verdict
    return len(drops), None


def test_a_configuration_near_the_boundary_is_futile_not_over() -> None:
    rule = Acceptance(allowed=0.01)
    assert rule.verdict(NEAR, SEEDS) is None, "not clearly over: the plain test runs on"
    assert rule.verdict(NEAR, SEEDS, FUTILITY) == "futile"
    assert rule.success_chance(NEAR, SEEDS) < FUTILITY
    assert rule.bound_of(NEAR) > rule.allowed, "recorded as over the budget"
    assert rule.verdict([0.001, 0.0012, 0.0011], SEEDS, FUTILITY) == "within"
    assert rule.verdict([0.05, 0.06, 0.055], SEEDS, FUTILITY) == "over"


def test_success_chance_edges() -> None:
    rule = Acceptance(allowed=0.01)
    assert rule.success_chance([0.005] * 4, SEEDS) == 1.0, "no spread, under the budget"
    assert rule.success_chance([0.02] * 4, SEEDS) == 0.0, "no spread, over it"
    full = [0.009, 0.0095, 0.0092, 0.0091, 0.0094, 0.0093, 0.009, 0.0096]
    assert rule.success_chance(full, SEEDS) == float(rule.bound_of(full) <= rule.allowed)
    shifted = [rule.success_chance(np.add(NEAR, d), SEEDS) for d in (-0.002, -0.001, 0, 0.001)]
    assert shifted == sorted(shifted, reverse=True), "a larger drop never has a better chance"
    assert shifted[0] > 0.5 > shifted[-1]


def test_a_futile_verdict_always_has_a_positive_margin() -> None:
    """What a stopped configuration records (its bound over the seeds run) must say "over"."""
    rule, rng = Acceptance(allowed=0.0), np.random.default_rng(3)
    futile = 0
    for _ in range(3000):
        n = int(rng.integers(MIN_SEQUENTIAL_SEEDS, SEEDS))
        drops = rng.normal(rng.normal(0, 0.5), rng.uniform(0.1, 2.0), n)
        if rule.verdict(drops, SEEDS, 0.5) == "futile":
            futile += 1
            assert rule.bound_of(drops) > rule.allowed, drops
    assert futile > 300, "the property was exercised"


@pytest.mark.parametrize("mu", [-1.0, -0.67, -0.4])
def test_futility_rarely_stops_what_the_full_rule_would_accept(mu: float) -> None:
    """Normal per-seed drops (SD 1) about the budget: of the runs the full rule accepts on all 8
    seeds, futility at 10% stops at most 4% (a simulation gives 0.6–1.3%; 2,000 runs)."""
    rule, rng = Acceptance(allowed=0.0), np.random.default_rng(11)
    accepted = lost = 0
    for _ in range(2000):
        drops = rng.normal(mu, 1.0, SEEDS)
        if rule.bound_of(drops) <= rule.allowed:
            accepted += 1
            lost += _seeds_run(drops, rule, FUTILITY)[1] == "futile"
    assert accepted > 400
    assert lost / accepted <= 0.04, (lost, accepted)


def test_futility_saves_seeds_at_the_boundary() -> None:
    """At the budget itself (where a bisection ends up), the plain test seldom decides before
    the last seed; futility stops most such configurations (and every one it stops is one the
    full rule rejects at least as often as it accepts: it holds a chance under 10%)."""
    rule, rng = Acceptance(allowed=0.0), np.random.default_rng(5)
    plain, futile = [], []
    for _ in range(2000):
        drops = rng.normal(0.0, 1.0, SEEDS)
        plain.append(_seeds_run(drops, rule, 0.0)[0])
        futile.append(_seeds_run(drops, rule, FUTILITY)[0])
    assert np.mean(plain) > 6.5, np.mean(plain)
    assert np.mean(futile) < np.mean(plain) - 1.5, (np.mean(futile), np.mean(plain))


def test_futility_setting_is_a_chance() -> None:
    assert SearchSettings().futility == FUTILITY
    for bad in (-0.1, 0.6):
        with pytest.raises(ConfigError, match="futility"):
            SearchSettings(futility=bad)


def _trial(params: dict[str, int], drops: list[float]) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        params=params,
        distributions={k: optuna.distributions.IntDistribution(1, 1024) for k in params},
        intermediate_values=dict(enumerate(drops, start=1)),
        value=0.0,
    )


def test_the_pruner_stops_a_futile_trial_unless_it_is_uniform() -> None:
    pruner = SequentialPruner(Acceptance(allowed=0.01), SEEDS, FUTILITY)
    study = optuna.create_study()
    assert pruner.prune(study, _trial({"a": 4, "b": 9}, NEAR))
    assert not pruner.prune(study, _trial({"a": 9, "b": 9}, NEAR)), "a uniform configuration"
    off = SequentialPruner(Acceptance(allowed=0.01), SEEDS)
    assert not off.prune(study, _trial({"a": 4, "b": 9}, NEAR)), "futility off"


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> CalibratedModel:
    model, _ = branches_model()
    path: Path = tmp_path_factory.mktemp("futility") / "branches.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(1).standard_normal((64, K)).astype(np.float32)
    data = Dataset({"x": x}, source="gaussian")
    return CalibratedModel(open_model(path), THERMAL, data, metric=METRICS["cosine"])


def test_exploration_stops_a_futile_configuration_but_runs_a_uniform_one_in_full(
    branches: CalibratedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every configuration scores the NEAR drops seed by seed (then the same drop again)."""
    clean = branches.evaluator.clean

    def scored(config: dict[str, int], seeds: list[int]) -> Evaluation:
        values = tuple(clean - (NEAR + [0.0101] * SEEDS)[s] for s in seeds)
        return Evaluation("cosine", clean, values, tuple(seeds))

    monkeypatch.setattr(branches, "evaluate", scored)
    settings = SearchSettings(seeds=SEEDS)
    problem = SearchProblem(branches, Acceptance(allowed=0.01), settings)
    assert len(problem.free) >= 2 and problem.futility == FUTILITY
    uniform = problem.score(16, "uniform")
    assert uniform.seeds == SEEDS and not uniform.feasible
    first = problem.free[0]
    mixed = {**problem.uniform(16), first: 32}
    point = problem.score(mixed, "analytic")
    stops_at, verdict = _seeds_run(np.array(NEAR + [0.0101] * 4), problem.acceptance, FUTILITY)
    assert verdict == "futile" and point.seeds == stops_at < SEEDS and point.margin > 0, point
    off = SearchProblem(branches, Acceptance(allowed=0.01), SearchSettings(seeds=SEEDS, futility=0))
    assert off.score(mixed, "analytic").seeds == SEEDS
    plain = SearchProblem(
        branches, Acceptance(allowed=0.01), SearchSettings(seeds=SEEDS, sequential=False)
    )
    assert plain.futility == 0.0
