"""Fewer samples per plan, same answer: the t quantile, sequential acceptance, exploration on a
subset of the examples confirmed on all of them, and what a plan cost per phase."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import optuna
import pytest
from synthetic import K_T, K, branches_model

from analogc.budget import MIN_SEQUENTIAL_SEEDS, Acceptance, Budget
from analogc.calibrated import CalibratedModel, open_model
from analogc.hardware import HardwareConfig
from analogc.passes import NoiseModel
from analogc.pipeline import compile_model
from analogc.report import compile_text
from analogc.runtime.data import Dataset
from analogc.runtime.evaluate import WHOLE_BATCHES_FROM, Evaluation, subset_stride
from analogc.runtime.metrics import METRICS, Metric, custom_metric
from analogc.runtime.stats import t_cdf, t_one_sided, z_one_sided
from analogc.search import SearchSettings, run_search
from analogc.search.confirm import SCALE_TOLERANCE, FullRule, confirm, confirm_uniform, scaled_up
from analogc.search.problem import Point, SearchProblem
from analogc.search.run import explore_examples
from analogc.search.settings import SENSITIVITY_EXAMPLES
from analogc.search.setup import SETUP_KEY, Setup
from analogc.search.strategies import analytic
from analogc.search.strategies.analytic import (
    MIN_SENSITIVITY_BATCHES,
    MIN_SENSITIVITY_EXAMPLES,
    sensitivities,
    spread_order,
)
from analogc.workers import EVALUATED_BY

BUDGET = 0.002  # allowed drop of the mean cosine similarity to the clean output
THERMAL = HardwareConfig(name="thermal-test", noise=NoiseModel(thermal=True, k_t=K_T))


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 6.3138), (2, 2.9200), (3, 2.3534), (7, 1.8946), (10, 1.8125), (30, 1.6973)],
)
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    assert t_one_sided(0.95, df) == pytest.approx(expected, abs=5e-5)


def test_t_quantile_other_levels_and_limits() -> None:
    assert t_one_sided(0.975, 1) == pytest.approx(12.7062, abs=5e-4)
    assert t_one_sided(0.995, 7) == pytest.approx(3.4995, abs=5e-4)
    assert t_one_sided(0.05, 7) == pytest.approx(-1.8946, abs=5e-5), "lower tail: symmetric"
    assert t_one_sided(0.95, 10**7) == pytest.approx(z_one_sided(0.95), abs=1e-5)
    assert t_one_sided(0.95, math.inf) == z_one_sided(0.95)
    assert t_one_sided(0.95, 0) == math.inf, "one seed: no spread to bound"
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_cdf(t_one_sided(0.9, 4), 4) == pytest.approx(0.9, abs=1e-10)


def test_acceptance_uses_t_for_the_seeds_used() -> None:
    values = (0.88, 0.89, 0.87, 0.86, 0.88, 0.87, 0.89, 0.86)
    ev = Evaluation("accuracy", 0.9, values, tuple(range(8)))
    drops = [0.9 - v for v in values]
    mean = sum(drops) / 8
    se = math.sqrt(sum((d - mean) ** 2 for d in drops) / 7) / math.sqrt(8)
    t_rule = Acceptance(allowed=0.05)
    assert t_rule.quantile == "student-t" and t_rule.quantile_value == pytest.approx(
        1.8946, abs=1e-4
    )
    assert t_rule.bound(ev) == pytest.approx(mean + 1.8945786 * se, rel=1e-6)
    assert Acceptance(allowed=0.05, quantile="normal").bound(ev) < t_rule.bound(ev)
    assert "1.895" in t_rule.rule and "Student t, 7 df" in t_rule.rule, t_rule.rule
    four = Evaluation("accuracy", 0.9, values[:4], (0, 1, 2, 3))
    assert t_rule.bound(four) == pytest.approx(
        float(t_rule.drops(four).mean()) + 2.3534 * float(t_rule.drops(four).std(ddof=1)) / 2,
        rel=1e-4,
    ), "four seeds: t with 3 degrees of freedom, whatever the full count"


def test_budget_passes_the_quantile_on() -> None:
    acceptance = Budget.parse("0.02").acceptance(0.9, quantile="normal", seeds=4)
    assert acceptance.quantile_value == pytest.approx(z_one_sided(0.95))
    assert "normal z" in acceptance.rule
    assert Budget.parse("0.02").acceptance(0.9, seeds=4).quantile_value == pytest.approx(
        2.3534, abs=1e-4
    )


# -- sequential acceptance ----------------------------------------------------------------------
def test_verdict_decides_either_way_and_agrees_with_the_margin() -> None:
    rule = Acceptance(allowed=0.01)
    assert rule.verdict([0.05, 0.06, 0.055], 8) == "over", "clearly over the budget"
    assert rule.verdict([0.001, 0.0012, 0.0011], 8) == "within", "clearly within"
    assert rule.verdict([0.009, 0.012, 0.008], 8) is None, "undecided: another seed"
    assert rule.verdict([0.05, 0.06], 8) is None, "never before three seeds"
    assert rule.verdict([0.05] * 8, 8) is None, "the last seed is the full rule's"
    over = Evaluation("accuracy", 1.0, (0.95, 0.94, 0.945), (0, 1, 2))
    within = Evaluation("accuracy", 1.0, (0.999, 0.9988, 0.9989), (0, 1, 2))
    assert rule.margin(over) > 0 and rule.margin(within) <= 0


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> CalibratedModel:
    return _calibrated_branches(tmp_path_factory, batch_size=100)


def _calibrated_branches(
    tmp_path_factory: pytest.TempPathFactory, *, batch_size: int
) -> CalibratedModel:
    """The branches model calibrated on 256 Gaussian inputs under thermal noise."""
    model, _ = branches_model()
    path = tmp_path_factory.mktemp("branches") / "branches.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(1).standard_normal((256, K)).astype(np.float32)
    data = Dataset({"x": x}, source="gaussian")
    return CalibratedModel(
        open_model(path), THERMAL, data, metric=METRICS["cosine"], batch_size=batch_size
    )


def _problem(calibrated: CalibratedModel, **settings: Any) -> SearchProblem:
    search = SearchSettings(**{"seeds": 8, **settings})
    acceptance = Budget.parse(BUDGET).acceptance(calibrated.evaluator.clean, seeds=search.seeds)
    return SearchProblem(calibrated, acceptance, search)


def test_clearly_over_budget_stops_before_the_last_seed(branches: CalibratedModel) -> None:
    problem = _problem(branches)
    before = branches.evaluator.example_passes
    point = problem.score(1)
    assert not point.feasible
    assert point.seeds == MIN_SEQUENTIAL_SEEDS < 8, point.seeds
    assert branches.evaluator.example_passes - before == point.seeds * 256
    full = _problem(branches, sequential=False).score(1)
    assert full.seeds == 8 and not full.feasible, "without it: every seed"


def test_clearly_feasible_not_cheaper_than_the_best_is_accepted_early(
    branches: CalibratedModel,
) -> None:
    problem = _problem(branches)
    best = problem.score(2048)
    assert best.feasible and best.seeds == 8, "cheaper than any so far: it may be the plan"
    point = problem.score(4096)
    assert point.feasible and point.seeds == MIN_SEQUENTIAL_SEEDS, point
    assert _problem(branches, sequential=False).score(4096).feasible, "the full rule agrees"
    again = problem.score(1024)
    assert again.seeds == 8 or not again.feasible, "a cheaper candidate runs every seed"


def test_example_passes_are_the_examples_of_every_batch_run(branches: CalibratedModel) -> None:
    evaluator = branches.evaluator
    assert evaluator.batch_examples == [100, 100, 56]
    runs, passes = evaluator.runs, evaluator.example_passes
    branches.evaluate(8, [0, 1])
    assert evaluator.runs - runs == 6
    assert evaluator.example_passes - passes == 2 * 256


def _search(branches: CalibratedModel, tmp_path: Path, **settings: Any) -> tuple[Any, optuna.Study]:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    search = SearchSettings(
        **{"trials": 12, "seeds": 8, "storage": storage, "study_name": "s", **settings}
    )
    acceptance = Budget.parse(BUDGET).acceptance(branches.evaluator.clean, seeds=search.seeds)
    result = run_search(branches, acceptance, search)
    return result, optuna.load_study(study_name="s", storage=storage)


def test_tpe_trials_report_each_seed_and_the_pruner_stops_them(
    branches: CalibratedModel, tmp_path: Path
) -> None:
    result, study = _search(branches, tmp_path, explore_examples=0)
    assert result.sequential
    measured = [t for t in study.trials if t.user_attrs.get(EVALUATED_BY)]
    assert measured, "some trial was measured here"
    for t in measured:
        seeds = t.user_attrs.get("stopped_after_seeds", 8)
        assert sorted(t.intermediate_values) == list(range(1, seeds + 1))
    stopped = [t for t in measured if "stopped_after_seeds" in t.user_attrs]
    assert stopped and all(t.user_attrs["stopped_after_seeds"] < 8 for t in stopped)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in stopped), (
        "a decided trial completes with its verdict"
    )
    assert any(0 < p.seeds < 8 for p in result.trials), "points say how many seeds they ran"


def test_nsga2_evaluates_every_seed(branches: CalibratedModel, tmp_path: Path) -> None:
    result, study = _search(branches, tmp_path, strategy="nsga2", explore_examples=0)
    assert not result.sequential
    assert all(not t.intermediate_values for t in study.trials), "no pruner path"
    assert all(p.seeds in (0, 8) for p in [*result.uniform_curve, *result.trials])


def test_another_worker_confirms_the_same_plan(branches: CalibratedModel, tmp_path: Path) -> None:
    """A worker that measured none of the explored points (it joined the study and found it
    done) confirms the same plan and uniform baseline as the one that measured them: what an
    early "over" means comes from the study, not from a worker's memory."""
    result, study = _search(branches, tmp_path, explore_examples=0)
    assert any(0 < p.seeds < 8 and not p.feasible for p in result.trials), "an early over"
    setup = Setup.from_attr(study.user_attrs[SETUP_KEY])
    other = _problem(branches)
    other.recall(study.user_attrs[SETUP_KEY]["memo"])  # what a joining worker knows
    records = [*setup.uniform_curve, *setup.analytic_points]
    theirs = confirm(other, result.trials, setup.uniform, 256, records)
    ours = result.confirmation
    assert ours is not None
    assert (theirs.plan.repeats, theirs.uniform) == (ours.plan.repeats, ours.uniform)
    assert theirs.plan.metric == ours.plan.metric and theirs.plan.margin == ours.plan.margin
    # Every early "over" in the study is final for it too, as for the worker that measured it
    # (measured again on every seed, it would get another mean, and maybe another verdict).
    rule = FullRule(other, reuse=True, records=[*records, *result.trials])
    for p in [*records, *result.trials]:
        if 0 < p.seeds < 8 and not p.feasible:
            again = rule(p.repeats, p.source)
            assert (again.metric, again.margin) == (p.metric, p.margin), p
            alone = FullRule(other, reuse=True)(p.repeats, p.source)
            assert not alone.feasible, "without the records: measured again, as over"


def test_confirmation_stops_a_clearly_over_configuration_and_runs_a_feasible_one_in_full(
    branches: CalibratedModel,
) -> None:
    evaluator = branches.evaluator
    rule = FullRule(_problem(branches), reuse=False)
    before = evaluator.example_passes
    over = rule(1, "uniform")
    assert not over.feasible and over.seeds == MIN_SEQUENTIAL_SEEDS
    assert evaluator.example_passes - before == MIN_SEQUENTIAL_SEEDS * 256
    within = rule(4096, "uniform")
    assert within.feasible and within.seeds == 8
    full = FullRule(_problem(branches, sequential=False), reuse=False)(1, "uniform")
    assert full.seeds == 8 and not full.feasible, "without the sequential test: every seed"
    assert rule(1, "again").metric == over.metric, "remembered, not measured again"


@pytest.mark.parametrize("sequential", [True, False])
def test_confirming_configurations_together_measures_what_one_by_one_does(
    small_batches: CalibratedModel, sequential: bool
) -> None:
    """Batch by batch, several configurations at once: the same figures, the same seeds run
    (an "over" still stops early), the same passes, and nothing measured twice."""
    evaluator = small_batches.evaluator
    configs = [(1, "uniform"), (4096, "uniform"), (64, "uniform")]
    alone = FullRule(_problem(small_batches, sequential=sequential), reuse=False)
    before = evaluator.example_passes
    one_by_one = [alone(c, s) for c, s in configs]
    cost = evaluator.example_passes - before
    together = FullRule(_problem(small_batches, sequential=sequential), reuse=False)
    before = evaluator.example_passes
    together.together([*configs, configs[0]])
    assert evaluator.example_passes - before == cost
    assert together.evaluated == 3
    assert [together(c, s) for c, s in configs] == one_by_one
    assert evaluator.example_passes - before == cost, "measured once"
    if sequential:
        assert [p.seeds for p in one_by_one][:2] == [MIN_SEQUENTIAL_SEEDS, 8]


def test_sensitivities_on_a_subset_estimate_those_on_every_example(
    branches: CalibratedModel,
) -> None:
    """The sensitivities are output noise powers averaged over every output element: on 64 of
    the 256 examples they are within 15% of those on all (over seeds 0-2 the relative errors
    were 0.4-9%, about 5% standard deviation: 15% is three of them)."""
    evaluator = branches.evaluator
    everywhere = sensitivities(branches, 16, [0]).a
    with evaluator.subset(64) as on:
        assert on == 64
        subset = sensitivities(branches, 16, [0]).a
    for name, a in everywhere.items():
        assert subset[name] == pytest.approx(a, rel=0.15), name
    assert subset != everywhere, "measured on other examples"


@pytest.fixture(scope="module")
def small_batches(tmp_path_factory: pytest.TempPathFactory) -> CalibratedModel:
    """The branches model in batches of 4: 64 batches a sensitivity may stop between."""
    return _calibrated_branches(tmp_path_factory, batch_size=4)


def _reference_sensitivities(
    calibrated: CalibratedModel, reference: int
) -> tuple[dict[str, float], dict[str, float]]:
    """What the sensitivities are on every batch, written out plainly (one seed, no static
    terms): the mean of the batches' output MSEs over the clean power, times N_ref."""
    from analogc.passes.noise import temporal_scale

    evaluator = calibrated.evaluator
    clean = evaluator.clean_outputs
    power = float(np.mean([np.mean(np.square(c[0], dtype=np.float64)) for c in clean]))
    a, drops = {}, {}
    for name in calibrated.names:
        scales = dict.fromkeys(calibrated.names, 0.0)
        scales[name] = temporal_scale(reference, calibrated.base_plan.e1_of(name))
        outputs = evaluator.outputs(scales, 0)
        mse = np.mean(
            [
                np.mean((o[0] - c[0]) ** 2, dtype=np.float64)
                for o, c in zip(outputs, clean, strict=True)
            ]
        )
        a[name] = float(mse) / power * reference
        drops[name] = evaluator.clean - evaluator.score(outputs)
    return a, drops


def test_sensitivities_run_every_batch_when_none_settles_and_match_the_plain_formula(
    small_batches: CalibratedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analytic, "SENSITIVITY_PRECISION", 0.0)
    evaluator = small_batches.evaluator
    before = evaluator.example_passes
    found = sensitivities(small_batches, 16, [0])
    assert evaluator.example_passes - before == 256 * len(small_batches.names)
    assert set(found.examples.values()) == {256}
    a, drops = _reference_sensitivities(small_batches, 16)
    assert found.a == a, "every batch: exactly the mean over the data"
    for name, drop in drops.items():
        assert found.drops[name] == pytest.approx(drop, rel=1e-12, abs=1e-15), name


def test_a_sensitivity_stops_once_known_within_its_precision(
    small_batches: CalibratedModel,
) -> None:
    """Batch by batch, spread over the data: each layer stops once one standard error is
    within 10% of its a_l. The estimate then lies within 35% (3.5 standard errors) of the
    value on every example, and costs only the examples it ran."""
    evaluator = small_batches.evaluator
    everywhere, _ = _reference_sensitivities(small_batches, 16)
    before = evaluator.example_passes
    found = sensitivities(small_batches, 16, [0])
    assert evaluator.example_passes - before == sum(found.examples.values())
    for name, a in everywhere.items():
        used = found.examples[name]
        assert max(MIN_SENSITIVITY_EXAMPLES, 4 * MIN_SENSITIVITY_BATCHES) <= used < 256, name
        assert found.a[name] == pytest.approx(a, rel=0.35), (name, used)
    assert sum(found.examples.values()) < 256 * len(everywhere) / 2


def test_spread_order_samples_the_whole_range_from_its_first_steps() -> None:
    for n in (1, 2, 3, 7, 22, 64, 100):
        order = spread_order(n)
        assert sorted(order) == list(range(n)), n
    order = spread_order(64)
    for k in (2, 4, 8, 16):
        assert sorted(i * k // 64 for i in order[:k]) == list(range(k)), "one per k-th part"


def test_setup_measures_sensitivities_on_a_subset(
    branches: CalibratedModel, tmp_path: Path
) -> None:
    result, _ = _search(branches, tmp_path, explore_examples=0)
    assert result.sensitivity_examples == SENSITIVITY_EXAMPLES < 256
    phases = {p.phase: p.example_passes for p in result.cost}
    assert phases["sensitivity"] == len(branches.names) * SENSITIVITY_EXAMPLES
    every, _ = _search(branches, tmp_path / "all", explore_examples=0, sensitivity_examples=0)
    assert every.sensitivity_examples == 256
    phases = {p.phase: p.example_passes for p in every.cost}
    assert phases["sensitivity"] == len(branches.names) * 256


# -- multi-fidelity -----------------------------------------------------------------------------
def test_default_exploration_subset() -> None:
    class Data:
        def __init__(self, n: int, unit: str = "") -> None:
            self.examples = n
            self.metric = Metric("m", lambda *a: np.zeros(1), unit=unit)

        def can_subset(self) -> bool:
            return True

    settings = SearchSettings()
    assert explore_examples(settings, Data(300)) == 128  # type: ignore[arg-type]
    assert explore_examples(settings, Data(1000)) == 250  # type: ignore[arg-type]
    assert explore_examples(settings, Data(255)) == 0, "too little data: explore on all"  # type: ignore[arg-type]
    assert explore_examples(SearchSettings(explore_examples=0), Data(1000)) == 0  # type: ignore[arg-type]
    assert explore_examples(SearchSettings(explore_examples=64), Data(1000)) == 64  # type: ignore[arg-type]
    # Counting examples (accuracy) under a 1% budget: 8 flips' worth needs 800 examples.
    assert explore_examples(settings, Data(300, "%"), 0.01) == 0  # type: ignore[arg-type]
    assert explore_examples(settings, Data(2000, "%"), 0.01) == 800  # type: ignore[arg-type]
    assert explore_examples(settings, Data(2000, "%"), 0.05) == 500  # type: ignore[arg-type]
    assert explore_examples(settings, Data(2000), 0.01) == 500, "a continuous metric"  # type: ignore[arg-type]


def test_exploration_on_a_subset_is_confirmed_on_every_example(
    branches: CalibratedModel, tmp_path: Path
) -> None:
    result, _ = _search(branches, tmp_path, explore_examples=64)
    c = result.confirmation
    assert c is not None and (c.explored_on, c.examples) == (64, 256)
    assert branches.evaluator.examples == 256, "the subset ends with the search"
    assert result.repeats == c.plan.repeats and result.feasible == c.plan.feasible
    assert result.uniform_repeats == c.uniform
    full = branches.evaluate(c.plan.repeats, list(range(8)))
    assert c.plan.metric == pytest.approx(full.mean, rel=1e-12), "scored on all 256 examples"
    assert c.plan.seeds == 8 and c.plan.feasible
    phases = {p.phase: p.example_passes for p in result.cost}
    assert phases["confirmation"] % 256 == 0 and phases["confirmation"] > 0
    assert phases["exploration"] % 64 == 0, "exploration ran on the 64 examples only"


@pytest.mark.parametrize("batches", [[250], [256, 44], [100, 100, 56], [7, 7, 7], [1000, 1], [3]])
def test_subset_stride_is_the_largest_and_a_count_gives_it_back(batches: list[int]) -> None:
    total = sum(batches)
    for wanted in range(1, total + 1):
        k = subset_stride(batches, wanted)
        kept = len(range(0, total, k))
        assert kept >= wanted
        assert k >= total or len(range(0, total, k + 1)) < wanted, "k is the largest"
        # What a report records (the count kept) gives the same stride back (analogc check).
        assert subset_stride(batches, kept) == k or kept >= total, (wanted, k, kept)


def test_subset_is_strided_and_scored_against_its_own_clean_outputs(
    branches: CalibratedModel,
) -> None:
    evaluator = branches.evaluator
    assert evaluator.batch_examples == [100, 100, 56]
    x = evaluator.batches
    with evaluator.subset(64) as n:
        assert n == 64 and evaluator.batch_examples == [64], "packed into full-size batches"
        assert evaluator.score(evaluator.clean_outputs) == pytest.approx(evaluator.clean)
        np.testing.assert_array_equal(evaluator.batches[0]["x"][25], x[1]["x"][0], "example 100")
    with evaluator.subset(3) as n:
        assert n == 3, "fewer examples than batches: whole batches are left out"
        np.testing.assert_array_equal(
            evaluator.batches[0]["x"][1:], [x[1]["x"][27], x[2]["x"][54]]
        )  # 127, 254
    with evaluator.subset(0) as n:
        assert n == 256
    assert evaluator.batch_examples == [100, 100, 56] and evaluator.batches is x


def test_subset_packs_examples_feed_by_feed(tmp_path: Path) -> None:
    """Feeds may differ in shape (each stays a run of its own): a subset packs each feed's
    kept examples into full-size batches, never examples of two feeds into one."""
    from analogc.runtime.data import Feed

    model, _ = branches_model()
    path = tmp_path / "branches.onnx"
    onnx.save(model, path)
    rng = np.random.default_rng(2)
    feeds = [Feed({"x": rng.standard_normal((n, K)).astype(np.float32)}) for n in (70, 50)]
    data = Dataset(feeds=feeds, source="two feeds")
    evaluator = CalibratedModel(
        open_model(path), THERMAL, data, metric=METRICS["cosine"], batch_size=16
    ).evaluator
    assert evaluator.batch_sources == [0] * 5 + [1] * 4
    with evaluator.subset(40) as n:  # every 3rd of 120: 24 of the first feed, 16 of the second
        assert n == 40 and evaluator.batch_examples == [16, 8, 16]
        assert evaluator.batch_sources == [0, 0, 1]
        first = np.concatenate([b["x"] for b in evaluator.batches[:2]])
        np.testing.assert_array_equal(first, feeds[0].inputs["x"][::3])
        np.testing.assert_array_equal(evaluator.batches[2]["x"], feeds[1].inputs["x"][2::3])
        assert evaluator.score(evaluator.clean_outputs) == pytest.approx(evaluator.clean)
        assert np.isfinite(evaluator.evaluate(4, [0]).mean)
    assert evaluator.batch_examples == [16] * 4 + [6, 16, 16, 16, 2]


# -- cost per phase -----------------------------------------------------------------------------
def test_report_cost_adds_up(tmp_path: Path) -> None:
    model, _ = branches_model()
    path = tmp_path / "branches.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(1).standard_normal((256, K)).astype(np.float32)
    report = compile_model(
        path,
        hardware=THERMAL,
        data=Dataset({"x": x}, source="gaussian"),
        metric="cosine",
        max_drop=BUDGET,
        output_dir=tmp_path / "out",
        search=SearchSettings(trials=8, seeds=4, validation_seeds=4),
    )
    cost = report.run.cost
    assert cost is not None
    phases = {p.phase: p for p in cost.phases}
    assert set(phases) >= {"calibration", "sensitivity", "exploration", "confirmation"}
    assert cost.example_passes == sum(
        p.example_passes for p in cost.phases if p.phase != "calibration"
    )
    assert phases["validation"].example_passes == 2 * 4 * 256, "plan and uniform, fresh seeds"
    assert phases["calibration"].example_passes == 2 * 256
    assert report.document["run"]["cost"]["example_passes"] == cost.example_passes
    assert report.search is not None and report.search.confirmed is not None
    assert report.search.explore_examples == 128
    text = compile_text(report)
    assert "noisy example-passes" in text and "exploration" in text
    md = (tmp_path / "out" / "report.md").read_text()
    assert "cost: " in md and "confirmed on all" in md


def test_no_sequential_path_when_no_seed_could_be_saved(branches: CalibratedModel) -> None:
    assert not _problem(branches, seeds=MIN_SEQUENTIAL_SEEDS).sequential
    assert _problem(branches, seeds=MIN_SEQUENTIAL_SEEDS + 1).sequential
    assert not _problem(branches, sequential=False).sequential


def test_a_metric_that_may_rank_examples_among_their_batch_explores_on_all() -> None:
    """A module:function metric (retrieval top-1 ranks each embedding among the batch's) is
    not scored on a subset by default: fewer examples would make it easier. Asked for
    explicitly, the subset is used."""

    class Data:
        examples = 1000
        metric = custom_metric("analogc.models.metrics:retrieval_top1")

        def can_subset(self) -> bool:
            return True

    assert not Data.metric.self_contained and METRICS["cosine"].self_contained
    assert explore_examples(SearchSettings(), Data(), 0.01) == 0  # type: ignore[arg-type]
    assert explore_examples(SearchSettings(explore_examples=200), Data()) == 200  # type: ignore[arg-type]


def test_configurations_evaluated_together_score_as_each_alone(
    small_batches: CalibratedModel,
) -> None:
    """The final figures run the plan and the uniform baseline batch by batch (one draw per
    batch for both): the same values as each evaluated on its own, and the same passes."""
    evaluator = small_batches.evaluator
    configs: list[dict[str, int] | int] = [
        64,
        {n: 16 * (i + 1) for i, n in enumerate(small_batches.names)},
    ]
    before = evaluator.example_passes
    together = small_batches.evaluate_together(configs, [3, 4])
    assert evaluator.example_passes - before == 2 * 2 * 256
    alone = [small_batches.evaluate(c, [3, 4]) for c in configs]
    assert together == alone


def _threshold_plan(calibrated: CalibratedModel) -> tuple[SearchProblem, int, dict[str, int]]:
    """The smallest uniform N meeting the budget on every example, and a plan 15% below a
    feasible per-layer allocation (over the budget there)."""
    problem = _problem(calibrated)
    n = confirm_uniform(FullRule(problem, reuse=False), 64, problem.max_uniform)
    a = sensitivities(calibrated, n, [0]).a
    allocation, _ = analytic.analytic_allocation(problem, a, n)
    low = {k: max(1, round(0.85 * v)) for k, v in allocation.items()}
    return problem, n, low


def test_a_plan_over_the_budget_on_every_example_is_scaled_up_to_meet_it(
    small_batches: CalibratedModel,
) -> None:
    problem, _, low = _threshold_plan(small_batches)
    full = FullRule(problem, reuse=False)
    start = full(low, "analytic")
    assert not start.feasible, "the plan 15% below the allocation is over the budget"
    scaled = scaled_up(full, start, math.inf)
    assert scaled is not None and scaled.feasible
    assert start.energy < scaled.energy < 1.25 * start.energy
    # one factor f on every layer, rounded up: s - 1 < f·v <= s
    lowest = max((scaled.repeats[k] - 1) / v for k, v in low.items())
    highest = min(scaled.repeats[k] / v for k, v in low.items())
    assert lowest < highest, "one factor on every layer"
    below = {k: max(1, math.ceil(lowest / SCALE_TOLERANCE * v - 1e-9)) for k, v in low.items()}
    assert below == low or full(below, "check").margin > 0, "within 3% of the least factor"
    assert scaled_up(full, start, start.energy * 1.001) is None, "no cheaper than the ceiling"


def test_confirmation_scales_a_plan_the_subset_accepted_instead_of_dropping_it(
    small_batches: CalibratedModel,
) -> None:
    """Explored on a subset, the cheapest plan met the budget there; over it on every example,
    it is scaled up, not replaced by the uniform baseline."""
    problem, n, low = _threshold_plan(small_batches)
    energy = problem.energy(low)
    explored = [Point(low, energy, 1.0, -1.0, "analytic", 8)]  # as the subset judged it
    confirmed = confirm(problem, explored, n, explored_on=64)
    assert confirmed.uniform == n and confirmed.uniform_point.feasible
    assert confirmed.plan.feasible and confirmed.plan.source == "analytic"
    assert energy < confirmed.plan.energy < confirmed.uniform_point.energy


@pytest.mark.parametrize("batches", [[4] * 64, [3] * 170 + [2], [2] * 256, [5, 1] * 40])
def test_whole_batch_stride_is_the_largest_and_a_count_gives_it_back(batches: list[int]) -> None:
    total = sum(batches)
    for wanted in range(1, total):
        k = subset_stride(batches, wanted, whole_batches=True)
        kept = sum(batches[::k])
        assert kept >= wanted
        assert all(sum(batches[::j]) < wanted for j in range(k + 1, len(batches) + 1))
        assert subset_stride(batches, kept, whole_batches=True) == k, (wanted, k, kept)


def test_a_subset_of_whole_batches_keeps_their_draws_and_the_full_data_reuses_its_scores(
    small_batches: CalibratedModel,
) -> None:
    """Data in 64 batches or more is subset by whole batches: each keeps its place in the
    data (its draws), so what a configuration scored there is not run again on every example,
    and the full evaluation is the one made from scratch."""
    evaluator = small_batches.evaluator
    assert len(evaluator.batches) == WHOLE_BATCHES_FROM == 64
    full_batches = evaluator.batches
    config = {n: 8 * (i + 1) for i, n in enumerate(small_batches.names)}
    scales = small_batches.simulator.scales(config)
    seeds = [90, 91]
    try:
        with evaluator.subset(64) as n:
            assert n == 64 and evaluator.batch_ids == list(range(0, 64, 4))
            assert all(a is b for a, b in zip(evaluator.batches, full_batches[::4], strict=True))
            assert evaluator.score(evaluator.clean_outputs) == pytest.approx(evaluator.clean)
            in_subset = evaluator.batch_outputs(scales, 90, 1)  # batch 4 of the data
            on_subset = small_batches.evaluate(config, seeds)
        assert evaluator.batch_ids == list(range(64)) and not evaluator.keep_scores
        np.testing.assert_array_equal(in_subset[0], evaluator.batch_outputs(scales, 90, 4)[0])
        before = evaluator.example_passes
        recalled = small_batches.evaluate(config, seeds)
        assert evaluator.example_passes - before == 2 * (256 - 64), "the subset's batches reused"
        assert recalled == small_batches.evaluate_together([config], seeds)[0]
        evaluator.forget_scores()
        before = evaluator.example_passes
        fresh = small_batches.evaluate(config, seeds)
        assert evaluator.example_passes - before == 2 * 256
        assert recalled == fresh, "the same figures as from scratch"
        assert on_subset != fresh, "the subset scored 64 examples, not all"
    finally:
        evaluator.forget_scores()


def test_a_search_explored_on_whole_batches_confirms_on_the_others(
    small_batches: CalibratedModel, tmp_path: Path
) -> None:
    result, _ = _search(small_batches, tmp_path, explore_examples=64)
    try:
        c = result.confirmation
        assert c is not None and (c.explored_on, c.examples) == (64, 256)
        phases = {p.phase: p.example_passes for p in result.cost}
        assert phases["confirmation"] % 256 != 0, "batches scored in exploration are not rerun"
        small_batches.evaluator.forget_scores()
        full = small_batches.evaluate(c.plan.repeats, list(range(8)))
        assert c.plan.metric == pytest.approx(full.mean, rel=1e-12), "scored on all 256 examples"
    finally:
        small_batches.evaluator.forget_scores()
