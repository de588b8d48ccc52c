"""Reports from results: the typed documents of :mod:`analogc.report.schema`, filled in from a
calibrated model, its plan and its evaluations."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from analogc import __version__
from analogc.accounting import Accounting
from analogc.budget import Acceptance
from analogc.calibrated import CalibratedModel, LoadedModel
from analogc.diagnosis import diagnose
from analogc.inputs import InputsInfo, versions
from analogc.layer_rules import LayerHardware, LayerRule
from analogc.passes.observed_shapes import unresolved_tensors
from analogc.report.schema import (
    AnalyticSection,
    BudgetInfo,
    CompileMacs,
    CompileReport,
    Confirmed,
    DataInfo,
    DigitalRow,
    DynamicSection,
    EvalReport,
    InputRow,
    InspectedOp,
    InspectMacs,
    InspectReport,
    LayerRow,
    MetricInfo,
    ModelInfo,
    Outputs,
    PhaseCostRow,
    RuleInfo,
    RunCost,
    RunInfo,
    SearchPoint,
    SearchRun,
    SearchSection,
    Timing,
    Totals,
    UniformSection,
)
from analogc.runtime.data import Dataset
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.inputs import InputLayout
from analogc.search import Point, SearchResult
from analogc.search.confirm import Confirmation
from analogc.storage import SQLITE

if TYPE_CHECKING:
    from analogc.pipeline import CompileJob, PlanOutcome


def data_info(dataset: Dataset, inputs: InputsInfo, batch_size: int | None = None) -> DataInfo:
    return DataInfo(
        dataset.source,
        len(dataset),
        dataset.synthetic,
        batch_size,
        inputs.batch_axes,
        inputs.feeds,
        inputs.values,
        inputs.resolved_shapes,
    )


def build_inspect_report(loaded: LoadedModel) -> InspectReport:
    ops = [
        InspectedOp(x.name, x.op_type, x.analog, x.fan_in, x.macs, x.operand, x.reason, x.where)
        for x in loaded.discovery.layers
    ]
    macs = InspectMacs(
        analog=sum(x.macs or 0 for x in ops if x.analog),
        digital=sum(x.macs or 0 for x in ops if not x.analog),
        unknown=[x.name for x in ops if x.macs is None],
    )
    model = ModelInfo(str(loaded.path), loaded.sha256, loaded.opset)
    waiting = sorted(unresolved_tensors(loaded.model, loaded.discovery))
    return InspectReport(
        model=model, inputs=input_rows(loaded), layers=ops, macs=macs, run_time_shapes=waiting
    )


def input_rows(loaded: LoadedModel) -> list[InputRow]:
    """The inputs the data must give (then the single-number ones with a default), with the
    batch axis analogc infers for each."""
    layout = InputLayout.of(loaded.model)
    return [
        InputRow(
            name=spec.name,
            dtype=str(spec.dtype),
            shape=list(spec.shape),
            batch_axis=layout.axes.get(spec.name),
            default=None if spec.default is None else spec.default.reshape(-1)[0].item(),
        )
        for spec in layout.specs
    ]


def totals(acc: Accounting) -> Totals:
    return Totals(**_totals(acc))


class _TotalsFields(TypedDict):
    """:class:`Totals`' fields, spread into the sections that extend it."""

    analog_macs: int
    energy_per_mac: float
    joules_per_mac: float | None
    attojoules_per_mac: float | None
    passes_per_mac: float


def _totals(acc: Accounting) -> _TotalsFields:
    joules = acc.joules_per_mac
    return _TotalsFields(
        analog_macs=acc.analog_macs,
        energy_per_mac=acc.energy_per_mac,
        joules_per_mac=joules,
        attojoules_per_mac=None if joules is None else joules * 1e18,
        passes_per_mac=acc.passes_per_mac,
    )


def build_eval_report(
    path: Path,
    calibrated: CalibratedModel,
    evaluation: Evaluation,
    repeats: Mapping[str, int],
    inputs: InputsInfo,
    metric_reason: str | None = None,
) -> EvalReport:
    dataset, metric = calibrated.dataset, calibrated.metric
    return EvalReport(
        model=ModelInfo(str(path)),
        hardware=calibrated.hardware,
        data=data_info(dataset, inputs),
        metric=MetricInfo(metric.name, evaluation.clean, metric.unit, metric_reason),
        evaluation=evaluation,
        dynamic=totals(calibrated.account(dict(repeats))),
    )


def build_compile_report(
    job: CompileJob, calibrated: CalibratedModel, acceptance: Acceptance, outcome: PlanOutcome
) -> CompileReport:
    """Evaluate the plan (and the uniform baseline) on fresh seeds and fill in the report."""
    fresh = job.search.fresh_seeds
    result = outcome.search
    if result is None:
        evaluation, uniform_evaluation = calibrated.evaluate(outcome.chosen, fresh), None
    else:
        evaluation, uniform_evaluation = calibrated.evaluate_together(
            [outcome.chosen, outcome.uniform], fresh
        )
    dynamic_acc, uniform_acc = (
        calibrated.account(outcome.chosen),
        calibrated.account(outcome.uniform),
    )
    budget_met = acceptance.feasible(evaluation) if result is None else result.feasible
    static = outcome.static
    if static is not None and not static.feasible:
        budget_met = False  # no repeats can meet it: the search did not run
    dataset = job.dataset
    return CompileReport(
        analogc=__version__,
        mode=_mode(outcome),
        versions=versions(),
        model=ModelInfo(str(job.path), job.loaded.sha256, job.loaded.opset),
        hardware=job.hardware,
        noise=job.hardware.noise.label,
        data=data_info(dataset, job.inputs, max(calibrated.evaluator.batch_examples)),
        metric=MetricInfo(
            job.metric.name, calibrated.evaluator.clean, job.metric.unit, job.metric_reason
        ),
        budget=BudgetInfo(
            str(job.budget),
            acceptance.allowed,
            acceptance.rule,
            acceptance.confidence,
            job.search.seeds,
            acceptance.floor,
            static.terms if static else [],
            static.drop if static else None,
            static.feasible if static else None,
            acceptance.quantile,
            acceptance.quantile_value,
        ),
        layers=layer_rows(
            calibrated,
            dynamic_acc,
            uniform_acc,
            outcome,
            job.search.max_repeats,
            job.layer_hardware,
        ),
        digital=digital_rows(job.loaded, job.layer_hardware, job.rules),
        rules=rule_rows(job.loaded, job.layer_hardware, job.rules),
        macs=_macs(job.loaded, dynamic_acc, job.layer_hardware),
        uniform=_uniform(uniform_acc, outcome, uniform_evaluation),
        saving=_saving(dynamic_acc, uniform_acc, result),
        analytic=None
        if result is None
        else AnalyticSection(result.analytic, calibrated.energy(result.analytic)),
        search=None if result is None else search_section(result),
        dynamic=_dynamic(dynamic_acc, evaluation, outcome),
        budget_met=bool(budget_met),
        diagnosis=None
        if budget_met
        else diagnose(
            calibrated,
            acceptance,
            repeats=outcome.chosen,
            evaluation=evaluation,
            search=result,
            synthetic=dataset.synthetic,
            static=outcome.static,
        ),
        outputs=_outputs(job, plots=job.settings.plots, search=result),
        run=_run(job, calibrated, result),
    )


def _mode(outcome: PlanOutcome) -> str:
    if outcome.search is not None:
        return "search"
    static = outcome.static
    if static is not None and not static.feasible and outcome.chosen:
        return "static-limited"
    return "fixed"


def layer_rows(
    calibrated: CalibratedModel,
    dyn: Accounting,
    uniform: Accounting,
    outcome: PlanOutcome,
    max_repeats: int,
    layer_hardware: Mapping[str, LayerHardware] | None = None,
) -> list[LayerRow]:
    """Per analog layer: what it is, its plan, its noise and precision, uniform vs chosen,
    and the per-layer rules that selected it."""
    result = outcome.search
    caps = calibrated.useful_repeats(max_repeats)
    own = layer_hardware or {}
    rows = []
    for info, acc, uacc in zip(calibrated.layers, dyn.layers, uniform.layers, strict=True):
        plan = calibrated.base_plan.layers[info.name]
        rows.append(
            LayerRow(
                name=info.name,
                op_type=info.op_type,
                fan_in=info.fan_in,
                macs=acc.macs,
                operand=info.operand,
                r_x=calibrated.base_plan.layers[info.name].r_x,
                repeats=acc.repeats,
                energy_per_mac=acc.energy_per_mac,
                energy_share=acc.energy_share,
                sigma=acc.sigma,
                enob=acc.enob,
                snr_db=acc.snr_db,
                uniform_repeats=uacc.repeats,  # the baseline's N, or the layer's pin
                uniform_enob=uacc.enob,
                analytic_repeats=None if result is None else result.analytic[info.name],
                sensitivity=None if result is None else result.sensitivity[info.name],
                sensitivity_drop=None if result is None else result.sensitivity_drop[info.name],
                useful_repeats=caps[info.name] if caps[info.name] < max_repeats else None,
                rule=own[info.name].rule if info.name in own else None,
                pinned=info.name in calibrated.pins,
                noise=None if plan.noise is None else plan.noise.to_dict(),
            )
        )
    return rows


def digital_rows(
    loaded: LoadedModel,
    layer_hardware: Mapping[str, LayerHardware] | None = None,
    rules: Sequence[LayerRule] = (),
) -> list[DigitalRow]:
    """Ops left digital, in graph order: those analogc cannot run analog (with the reason)
    and those a per-layer rule keeps digital ("digital by choice", naming the rule)."""
    own = layer_hardware or {}
    by_label = {rule.label: rule for rule in rules}
    rows = []
    for x in loaded.discovery.layers:
        if not x.analog:
            rows.append(DigitalRow(x.name, x.op_type, x.reason, x.macs, x.where))
        elif x.name in own and own[x.name].digital:
            hw = own[x.name]
            deciding = [by_label[label] for label in hw.rules if by_label[label].digital][-1]
            reason = f"digital by choice (rule {deciding.label}: {deciding.describe()})"
            rows.append(DigitalRow(x.name, x.op_type, reason, x.macs, x.where, hw.rule))
    return rows


def rule_rows(
    loaded: LoadedModel, layer_hardware: Mapping[str, LayerHardware], rules: Sequence[LayerRule]
) -> list[RuleInfo]:
    """Each per-layer rule, in the order applied, with the analog ops it selected."""
    names = [x.name for x in loaded.discovery.analog if x.name in layer_hardware]
    return [
        RuleInfo(
            label=rule.label,
            origin=rule.origin,
            selector=rule.selector,
            pattern=rule.pattern,
            sets=rule.settings(),
            layers=[n for n in names if rule.label in layer_hardware[n].rules],
        )
        for rule in rules
    ]


def _macs(
    loaded: LoadedModel,
    dyn: Accounting,
    layer_hardware: Mapping[str, LayerHardware] | None = None,
) -> CompileMacs:
    own = layer_hardware or {}
    chosen = [x for x in loaded.discovery.analog if x.name in own and own[x.name].digital]
    digital = [*loaded.discovery.digital, *chosen]
    return CompileMacs(
        analog=dyn.analog_macs,
        digital=int(sum(x.macs or 0 for x in digital)),
        digital_unknown=sum(1 for x in digital if x.macs is None),
        digital_by_choice=int(sum(x.macs or 0 for x in chosen)),
    )


def _uniform(
    acc: Accounting, outcome: PlanOutcome, evaluation: Evaluation | None
) -> UniformSection | None:
    result = outcome.search
    if result is None or evaluation is None:
        return None
    return UniformSection(
        **_totals(acc),
        repeats=outcome.uniform,
        feasible=result.uniform_feasible,
        evaluation=evaluation,
    )


def _saving(dyn: Accounting, uniform: Accounting, result: SearchResult | None) -> float | None:
    if result is None or not result.uniform_feasible:
        return None
    return 1.0 - dyn.energy_per_mac / uniform.energy_per_mac


def _dynamic(acc: Accounting, evaluation: Evaluation, outcome: PlanOutcome) -> DynamicSection:
    result = outcome.search
    if result is None:
        return DynamicSection(**_totals(acc), evaluation=evaluation)
    trial = next((p for p in result.trials if p.repeats == outcome.chosen), None)
    return DynamicSection(
        **_totals(acc),
        evaluation=evaluation,
        search_metric=trial.metric if trial else None,
        margin=trial.margin if trial else None,
        feasible=result.feasible,
    )


def _point(p: Point) -> SearchPoint:
    return SearchPoint(p.energy, p.metric, p.margin, dict(p.repeats), p.source, p.seeds)


def search_section(result: SearchResult) -> SearchSection:
    s, c = result.settings, result.confirmation
    return SearchSection(
        sampler=result.sampler,
        trials=result.finished_trials,
        evaluated_trials=len(result.trials),
        skipped_trials=result.skipped_trials,
        feasible_trials=sum(1 for p in result.trials if p.feasible),
        study_name=result.study_name,
        storage=result.storage,
        seed=s.seed,
        seeds=s.seeds,
        validation_seeds=s.validation_seeds,
        max_repeats=s.max_repeats,
        span=s.span,
        pareto=s.pareto,
        strategy=s.strategy,
        front=[_point(p) for p in result.front],
        uniform_curve=[_point(p) for p in result.uniform_curve],
        points=[_point(p) for p in result.trials],
        quantile=s.quantile,
        sequential=result.sequential,
        futility=s.futility if result.sequential else 0.0,
        stopped_early=sum(
            1 for p in [*result.uniform_curve, *result.trials] if 0 < p.seeds < s.seeds
        ),
        explore_examples=0 if c is None or c.explored_on == c.examples else c.explored_on,
        sensitivity_examples=result.sensitivity_examples,
        confirmed=None if c is None else _confirmed(c),
    )


def _confirmed(c: Confirmation) -> Confirmed:
    return Confirmed(
        full_set=c.explored_on < c.examples,
        examples=c.examples,
        explored_on=c.explored_on,
        metric=c.plan.metric,
        margin=c.plan.margin,
        feasible=c.plan.feasible,
        energy_per_mac=c.plan.energy,
        uniform_repeats=c.uniform,
        uniform_metric=c.uniform_point.metric,
        uniform_feasible=c.uniform_point.feasible,
        configurations=c.configurations,
    )


def _outputs(job: CompileJob, *, plots: bool, search: SearchResult | None) -> Outputs:
    out = job.out_dir
    storage = job.search.storage
    study = (
        storage[len(SQLITE) :]
        if search is not None and storage is not None and storage.startswith(SQLITE)
        else None
    )
    return Outputs(
        model=str(job.out_model),
        report_json=str(out / "report.json"),
        report_md=str(out / "report.md"),
        report_html=str(out / "report.html"),
        tradeoff_plot=str(out / "tradeoff.png") if plots else None,
        precision_plot=str(out / "precision.png") if plots else None,
        study=study,
    )


def _run(job: CompileJob, calibrated: CalibratedModel, result: SearchResult | None) -> RunInfo:
    """Everything that differs between two identical runs lives here, and only here."""
    cal, search = job.laps["calibration"], job.laps["search"]
    timing = Timing(cal - job.started, search - cal, time.perf_counter() - job.started)
    cost = run_cost(job, calibrated, result, timing)
    run = None
    if result is not None:
        rate = result.evaluations / result.wall_s if result.wall_s > 0 else None
        run = SearchRun(
            result.evaluations, result.wall_s, rate, result.resumed, result.study_evaluations
        )
    return RunInfo(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), timing, run, cost)


CALIBRATION_PASSES = 2
"""Clean passes calibration makes over each example: the calibration run, the noise levels."""


def run_cost(
    job: CompileJob, calibrated: CalibratedModel, result: SearchResult | None, timing: Timing
) -> RunCost:
    """Example-passes and seconds per phase: calibration (clean), the static terms' check,
    the search's phases, and the final figures on fresh seeds (validation)."""
    passes = calibrated.evaluator.example_passes
    at_search = job.passes.get("search", passes)
    searched = [] if result is None else result.cost
    rows = [
        PhaseCostRow("calibration", CALIBRATION_PASSES * len(job.dataset), timing.calibration_s)
    ]
    static = at_search - sum(p.example_passes for p in searched)
    if static:
        seconds = timing.search_s - (0.0 if result is None else result.wall_s)
        rows.append(PhaseCostRow("static terms", static, max(seconds, 0.0)))
    rows += [PhaseCostRow(p.phase, p.example_passes, p.seconds) for p in searched]
    rows.append(
        PhaseCostRow("validation", passes - at_search, time.perf_counter() - job.laps["search"])
    )
    noisy = sum(r.example_passes for r in rows if r.phase != "calibration")
    return RunCost(noisy, time.perf_counter() - job.started, rows)
