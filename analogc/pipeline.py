"""The Python API behind every CLI command: inspect, compile, evaluate, strip.

Each command is a short sequence of named steps; the report is built by
:mod:`analogc.compile_report` and rendered by :mod:`analogc.report`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import onnx

from analogc.budget import Acceptance, Budget
from analogc.calibrated import CalibratedModel, LoadedModel, load_model_proto, open_model
from analogc.compile_report import build_compile_report, build_eval_report, build_inspect_report
from analogc.diagnosis import StaticLimit
from analogc.errors import ConfigError, ModelError
from analogc.hardware import HardwareConfig, load_hardware
from analogc.inputs import DEMO_MODEL, InputsInfo, demo_file, prepare_inputs
from analogc.layer_rules import LayerHardware, LayerRule, command_line_rules, resolve_layers
from analogc.metric_choice import ChosenMetric, choose_metric
from analogc.passes import annotate, read_plan, save_model, strip
from analogc.passes.metadata import META_PREFIX, get_model_meta, set_model_meta
from analogc.passes.model_io import load_model, write_bytes_atomic
from analogc.report import (
    CompileReport,
    EvalReport,
    InspectReport,
    compile_html,
    compile_markdown,
    eval_text,
    inspect_text,
)
from analogc.runtime.data import Dataset
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.metrics import METRICS, Metric
from analogc.search import SearchResult, SearchSettings, run_search
from analogc.settings import CompileSettings, EvaluateSettings

__all__ = [
    "DEMO_MODEL",
    "HARDWARE_KEY",
    "compile_model",
    "demo_file",
    "eval_text",
    "evaluate_model",
    "inspect_model",
    "inspect_text",
    "prepare_compile",
    "run_compile",
    "strip_model",
]

log = logging.getLogger(__name__)

HARDWARE_KEY = META_PREFIX + "hardware"
METRIC_KEY = META_PREFIX + "metric"
"""The built-in metric the plan was made with: ``eval``'s ``auto`` reuses it."""

S = TypeVar("S", CompileSettings, EvaluateSettings)


def _settings(kind: type[S], settings: S | None, options: dict[str, Any]) -> S:
    """Settings from an object, keyword options, or both (options win)."""
    if settings is None:
        return kind(**options)
    return dataclasses.replace(settings, **options) if options else settings


# -- inspect --------------------------------------------------------------------------------------
def inspect_model(model: str | Path) -> InspectReport:
    """Every matrix-product op of the model: analog or digital (with the reason), D, MACs."""
    return build_inspect_report(open_model(model))


# -- compile --------------------------------------------------------------------------------------
@dataclass
class CompileJob:
    """A compile's inputs, resolved and checked before any work starts."""

    path: Path
    settings: CompileSettings
    loaded: LoadedModel
    hardware: HardwareConfig
    budget: Budget
    dataset: Dataset
    inputs: InputsInfo
    metric: Metric
    search: SearchSettings
    out_dir: Path
    out_model: Path
    metric_reason: str | None = None
    rules: list[LayerRule] = field(default_factory=list)
    """Per-layer rules: the hardware file's ``[[layer]]`` sections, then --digital, --pin."""
    layer_hardware: dict[str, LayerHardware] = field(default_factory=dict)
    """Each analog op some rule selects -> its hardware after the rules."""
    started: float = field(default_factory=time.perf_counter)
    laps: dict[str, float] = field(default_factory=dict)
    passes: dict[str, int] = field(default_factory=dict)
    """Noisy example-passes made by the end of each lap (the report's cost per phase)."""

    def lap(self, name: str, passes: int = 0) -> None:
        self.laps[name] = time.perf_counter()
        self.passes[name] = passes


@dataclass(frozen=True)
class PlanOutcome:
    """The repeats chosen, the uniform repeats they are compared with, the search (None when
    repeats were fixed or no repeats can meet the budget), and the static terms' cost."""

    chosen: dict[str, int]
    uniform: int
    search: SearchResult | None
    static: StaticLimit | None = None


def compile_model(
    model: str | Path, settings: CompileSettings | None = None, **options: Any
) -> CompileReport:
    """Plan per-layer repeats for ``model`` and write the annotated model and the report.

    Args:
        model: path of the ONNX model (only read).
        settings: a :class:`CompileSettings`; keyword ``options`` (its field names) build one
            or override its fields.

    Returns:
        The report; ``report.return_code`` is 1 when the budget was not met.
    """
    return run_compile(prepare_compile(Path(model), _settings(CompileSettings, settings, options)))


def run_compile(job: CompileJob) -> CompileReport:
    """Calibrate, plan and write the outputs of a compile :func:`prepare_compile` checked."""
    calibrated = CalibratedModel(
        job.loaded,
        job.hardware,
        job.dataset,
        metric=job.metric,
        batch_size=job.settings.batch_size,
        seed=job.settings.seed,
        threads=job.settings.threads,
        layer_hardware=job.layer_hardware,
    )
    job.lap("calibration")
    acceptance = job.budget.acceptance(
        calibrated.evaluator.clean,
        job.search.confidence,
        quantile=job.search.quantile,
        seeds=job.search.seeds,
    )
    _make_dir(job.out_dir)
    outcome = plan_repeats(job, calibrated, acceptance)
    job.lap("search", calibrated.evaluator.example_passes)
    log.info(
        "final figures on %d fresh noise seeds: the plan%s",
        len(job.search.fresh_seeds),
        "" if outcome.search is None else f" and the uniform baseline (N = {outcome.uniform})",
    )
    report = build_compile_report(job, calibrated, acceptance, outcome)
    write_compile_outputs(job, calibrated, outcome, report)
    return report


def prepare_compile(path: Path, settings: CompileSettings) -> CompileJob:
    """Load and check everything a compile reads; fail before any long work."""
    loaded = open_model(path)
    hardware = load_hardware(settings.hardware)
    budget = Budget.parse(settings.max_drop)
    out_dir, out_model = _output_paths(path, settings.output_dir)
    loaded, dataset, inputs = prepare_inputs(
        loaded,
        settings.data,
        batch_axes=settings.batch_axes,
        values=settings.values,
        feeds=settings.feeds,
        seed=settings.seed,
        batch_size=settings.batch_size,
        threads=settings.threads,
    )
    if dataset.synthetic:
        log.warning(
            "no --data given: synthesising %d random examples from the input specs; "
            "the metric compares noisy outputs with the clean model's on these random inputs",
            len(dataset),
        )
    chosen = choose_metric(settings.metric, dataset, loaded.model)
    metric = chosen.metric
    _say_metric(chosen)
    budget.check(metric)
    rules = [*hardware.layers, *command_line_rules(settings.digital, settings.pins)]
    job = CompileJob(
        path=path,
        settings=settings,
        loaded=loaded,
        hardware=hardware,
        budget=budget,
        dataset=dataset,
        inputs=inputs,
        metric=metric,
        metric_reason=chosen.reason,
        search=settings.search,
        out_dir=out_dir,
        out_model=out_model,
        rules=rules,
        layer_hardware=resolve_layers(rules, loaded.discovery.analog, hardware.noise),
    )
    if settings.repeats is None:  # the search's study: where it lives, and its name
        if job.search.storage is None:
            storage = f"sqlite:///{(out_dir / 'study.db').resolve()}"
            job.search = dataclasses.replace(job.search, storage=storage)
        if job.search.study_name is None:
            job.search = dataclasses.replace(job.search, study_name=_study_name(job))
    return job


def plan_repeats(
    job: CompileJob, calibrated: CalibratedModel, acceptance: Acceptance
) -> PlanOutcome:
    """The search's plan, or the same fixed repeats in every layer; no search when the terms
    repeats do not reduce break the budget on their own, or every layer is pinned. Pinned
    layers keep their pins throughout (:meth:`CalibratedModel.configuration`)."""
    static = static_limit(calibrated, acceptance, job.search)
    repeats = job.settings.repeats
    if repeats is not None or not calibrated.free:
        fixed = 1 if repeats is None else repeats
        return PlanOutcome(calibrated.configuration(fixed), fixed, None, static)
    if static is not None and not static.feasible:
        log.info(
            "the budget cannot be met with any repeats: %s alone cause a drop of %.4g with the "
            "temporal noise off (allowed %.4g)",
            ", ".join(static.terms),
            static.drop,
            acceptance.allowed,
        )
        caps = calibrated.configuration(calibrated.useful_repeats(job.search.max_repeats))
        return PlanOutcome(caps, max(caps.values()), None, static)
    result = run_search(calibrated, acceptance, job.search, on_step=lambda m: log.info("%s", m))
    return PlanOutcome(dict(result.repeats), result.uniform_repeats, result, static)


def static_limit(
    calibrated: CalibratedModel, acceptance: Acceptance, search: SearchSettings
) -> StaticLimit | None:
    """The drop the static terms cause with the temporal noise off (None: there are none)."""
    terms = calibrated.static_terms
    if not terms:
        return None
    evaluation = calibrated.static_evaluation(search.search_seeds)
    return StaticLimit(terms, float(evaluation.drops.mean()), acceptance.feasible(evaluation))


def write_compile_outputs(
    job: CompileJob, calibrated: CalibratedModel, outcome: PlanOutcome, report: CompileReport
) -> None:
    """Plots, the annotated model, report.md/.html and report.json: each written atomically, the
    model last but one and the report last (a killed compile leaves no half-written file)."""
    if report.outputs.tradeoff_plot:
        # Imported here: matplotlib's ~30 MB are not held while the model runs.
        from analogc.plots import write_plots

        write_plots(report)
    plan = calibrated.plan(outcome.chosen)
    del calibrated  # its onnxruntime sessions: memory for the annotated model below
    annotated = copy.deepcopy(job.loaded.model)
    annotate(annotated, plan, FunctionLibrary(noise=job.hardware.noise, opset=job.loaded.opset))
    set_model_meta(annotated, HARDWARE_KEY, json.dumps(job.hardware.to_dict()))
    if job.metric.name in METRICS:
        set_model_meta(annotated, METRIC_KEY, job.metric.name)
    # Weights kept in a scratch file while working are streamed back into the one file.
    save_model(annotated, job.out_model, inline_external=job.loaded.scratch is not None)
    write_bytes_atomic(job.out_dir / "report.md", compile_markdown(report).encode())
    write_bytes_atomic(job.out_dir / "report.html", compile_html(report).encode())
    write_bytes_atomic(job.out_dir / "report.json", report.to_json().encode())


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc


def _output_paths(model_path: Path, output_dir: str | Path | None) -> tuple[Path, Path]:
    """The output folder and annotated model path, refusing to overwrite the input."""
    out_dir = (
        Path(output_dir) if output_dir is not None else Path.cwd() / f"{model_path.stem}.analogc"
    )
    out_model = out_dir / f"{model_path.stem}.analog.onnx"
    if out_model.resolve() == model_path.resolve():
        raise ConfigError(f"output {out_model} would overwrite the input model; choose another -o")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output directory {out_dir} exists and is not a directory")
    return out_dir, out_model


def _study_name(job: CompileJob) -> str:
    """Same command, same study (so a rerun resumes); any setting that changes results, new study."""
    s = job.search
    key = json.dumps(
        [
            job.loaded.sha256,
            job.hardware.to_dict(),
            job.dataset.fingerprint(),
            job.metric.name,
            str(job.budget),
            s.seeds,
            s.max_repeats,
            s.span,
            s.confidence,
            s.quantile,
            s.sequential,
            s.futility,
            s.explore_examples,
            s.sensitivity_examples,
            s.strategy,
            s.seed,
            job.settings.batch_size,
            list(job.settings.digital),
            list(job.settings.pins.items()),
        ],
        sort_keys=True,
        default=str,
    )
    return f"{job.path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


# -- evaluate -------------------------------------------------------------------------------------
def evaluate_model(
    model: str | Path, settings: EvaluateSettings | None = None, **options: Any
) -> EvalReport:
    """Metric of an annotated model under its own noise plan: mean ± 95% CI over noise seeds."""
    settings = _settings(EvaluateSettings, settings, options)
    path = Path(model)
    annotated = load_model(path)
    plan = read_plan(annotated)
    if plan is None:
        raise ModelError(
            f"{path}: carries no analogc plan; evaluate the output of `analogc compile`"
        )
    hw = _plan_hardware(annotated, plan.noise, plan.e1)
    original = copy.deepcopy(annotated)
    strip(original)
    loaded = load_model_proto(
        original, path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest()
    )
    loaded, dataset, inputs = prepare_inputs(
        loaded,
        settings.data,
        batch_axes=settings.batch_axes,
        values=settings.values,
        feeds=settings.feeds,
        seed=0,
        batch_size=settings.batch_size,
        threads=settings.threads,
        only=set(plan.layers),
    )
    planned = get_model_meta(annotated, METRIC_KEY)
    chosen = choose_metric(settings.metric, dataset, loaded.model, planned)
    metric = chosen.metric
    _say_metric(chosen)
    missing = [n for n in plan.layers if n not in {x.name for x in loaded.discovery.analog}]
    if missing:
        raise ModelError(
            f"{path}: planned layers {missing} are not analog ops of the stripped model"
        )
    calibrated = CalibratedModel(
        loaded,
        hw,
        dataset,
        metric=metric,
        batch_size=settings.batch_size,
        saved=plan.layers,
        seed=plan.seed,
        threads=settings.threads,
    )
    repeats = {n: lp.repeats for n, lp in plan.layers.items()}
    evaluation = calibrated.evaluate(repeats, list(range(settings.seeds)))
    return build_eval_report(path, calibrated, evaluation, repeats, inputs, chosen.reason)


def _say_metric(chosen: ChosenMetric) -> None:
    if chosen.reason is not None:
        log.info("metric: %s (auto: %s)", chosen.metric.name, chosen.reason)


def _plan_hardware(annotated: onnx.ModelProto, noise: Any, e1: float) -> HardwareConfig:
    """The hardware an annotated model was planned for (from its metadata, else its plan)."""
    stored = get_model_meta(annotated, HARDWARE_KEY)
    if stored:
        return HardwareConfig.from_dict(json.loads(stored))
    return HardwareConfig(name="from-plan", noise=noise, e1=e1)


# -- strip ----------------------------------------------------------------------------------------
def strip_model(model: str | Path, output: str | Path) -> Path:
    """Write the original ops back, keeping the plan as metadata (for hardware toolchains)."""
    path, out = Path(model), Path(output)
    if out.resolve() == path.resolve():
        raise ConfigError(f"output {out} would overwrite the input; choose another -o")
    m = load_model(path)
    if not strip(m).modified:
        raise ModelError(f"{path}: has no ai.analogc ops to strip")
    save_model(m, out)
    return out
