"""The reports' schema: one dataclass per section, in one place.

``report.json`` is :meth:`CompileReport.to_json`: every dataclass field becomes a key, in field
order; sections that do not apply (the search sections when repeats were fixed) are ``null``.
:data:`SCHEMA_VERSION` changes whenever a key is renamed, moved or removed; the README's
"report.json" section lists what changed between versions.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from analogc.hardware import HardwareConfig
from analogc.runtime.evaluate import Evaluation

SCHEMA_VERSION = 3
"""1: analogc 0.1 (no ``schema_version`` key). 2: ``schema_version``; ``search.strategy``,
``search.uniform_curve`` and ``search.points``; ``data.batch_axes``, ``data.feeds``,
``data.values``, ``data.resolved_shapes``; ``budget.static_terms``, ``budget.static_drop``,
``budget.static_feasible``; layers' ``useful_repeats``, ``rule``, ``pinned``, ``noise``;
digital rows' ``rule``; ``macs.digital_by_choice``; ``rules``; ``hardware.layer``;
inapplicable sections are ``null``, not absent; ``hardware.noise`` lists every registered
term's flag and the enabled terms' constants; ``diagnosis``, ``metric.reason``,
``budget.minimum``, ``outputs.study``, ``run.search.resumed``/``study_evaluations``;
``inputs`` in inspect; ``outputs.report_html``; the ``check`` report. 3: the acceptance
bound's multiplier is Student's t for the seeds used (``budget.quantile``,
``budget.quantile_value``; ``budget.rule`` says which); a sequential search
(``search.sequential``, ``search.futility``, ``search.stopped_early``,
``search.points[].seeds``); exploration on a subset of the examples
(``search.explore_examples``, ``search.confirmed``); ``run.cost`` (example-passes and seconds
per phase)."""

EXIT_OK = 0
EXIT_BUDGET_NOT_MET = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def json_value(value: Any) -> Any:
    """A report value as JSON data: dataclasses by field, non-finite floats as null."""
    if isinstance(value, HardwareConfig | Evaluation):
        return json_value(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, bool | int | float | str):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonDocument:
    """What every report shares: its JSON form."""

    @cached_property
    def document(self) -> dict[str, Any]:
        """The JSON document, as a dict (what ``report.json`` holds)."""
        document = json_value(self)
        assert isinstance(document, dict)
        return document

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2) + "\n"


# -- sections shared by several commands ------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    path: str
    sha256: str | None = None
    opset: int | None = None


@dataclass(frozen=True)
class DataInfo:
    """Attributes: source (where the data came from), examples, synthetic (made up by
    analogc from the input specs), batch_size (examples per onnxruntime run); batch_axes
    (input -> its batch axis, null when held fixed), feeds (how many complete feeds, null when
    joined into one set), values (inputs held fixed: the value and where it came from),
    resolved_shapes (ops whose shapes were taken from the data)."""

    source: str
    examples: int
    synthetic: bool
    batch_size: int | None = None
    batch_axes: dict[str, int | None] = field(default_factory=dict)
    feeds: int | None = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved_shapes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MetricInfo:
    """Attributes: name, clean (its value without noise; null for SQNR, whose clean value is
    infinite), unit; reason (why ``--metric auto`` chose it, null when it was given)."""

    name: str
    clean: float
    unit: str
    reason: str | None = None


@dataclass(frozen=True)
class Totals:
    """Network totals of one configuration (:class:`analogc.accounting.Accounting`).

    Attributes:
        energy_per_mac: Ē in the hardware's unit; ``joules_per_mac``/``attojoules_per_mac``
            for physical units (optical presets), else null.
        passes_per_mac: the time cost of repeats, Σ N_l·MAC_l / Σ MAC_l.
    """

    analog_macs: int
    energy_per_mac: float
    joules_per_mac: float | None
    attojoules_per_mac: float | None
    passes_per_mac: float


# -- inspect ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputRow:
    """A model input as the data must give it: dtype, shape (ints, symbols, null when
    unknown), batch axis (null: held fixed, the same value for every batch) and its default
    (a single-number input with an initializer, which the data or ``--set`` may change)."""

    name: str
    dtype: str
    shape: list[int | str | None]
    batch_axis: int | None
    default: Any = None


@dataclass(frozen=True)
class InspectedOp:
    name: str
    op_type: str
    analog: bool
    fan_in: float | None
    macs: int | None
    operand: str | None
    reason: str | None
    where: str


@dataclass(frozen=True)
class InspectMacs:
    analog: int
    digital: int
    unknown: list[str]


@dataclass(frozen=True, kw_only=True)
class InspectReport(JsonDocument):
    """``analogc inspect``: every matrix-product op, analog or digital with the reason."""

    schema_version: int = SCHEMA_VERSION
    command: str = "inspect"
    model: ModelInfo
    inputs: list[InputRow]
    layers: list[InspectedOp]
    macs: InspectMacs
    run_time_shapes: list[str] = field(default_factory=list)
    """Digital ops whose shapes are known only at run time (compile takes them from data)."""

    @property
    def return_code(self) -> int:
        return EXIT_OK


# -- eval -------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class EvalReport(JsonDocument):
    """``analogc eval``: an annotated model's metric under its own noise plan."""

    schema_version: int = SCHEMA_VERSION
    command: str = "eval"
    model: ModelInfo
    hardware: HardwareConfig
    data: DataInfo
    metric: MetricInfo
    evaluation: Evaluation
    dynamic: Totals

    @property
    def return_code(self) -> int:
        return EXIT_OK


# -- compile ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetInfo:
    """Attributes: max_drop (as given), allowed_drop (in metric units), rule (the acceptance
    rule in words), confidence (one-sided), seeds (noise seeds per search evaluation);
    minimum (the lowest metric value allowed, for a budget in dB such as ``30dB``: then
    allowed_drop is 0 and drops count from it; null for a drop from the clean value);
    static_terms (the terms repeats do not reduce: converters, programming error, drift),
    static_drop (the metric drop they cause alone, temporal noise off) and static_feasible
    (whether any repeats can meet the budget); quantile (the bound's multiplier:
    ``student-t`` for the seeds used, or ``normal``) and quantile_value (its value over
    ``seeds`` seeds: 1.895 for t with 7 degrees of freedom at 95%)."""

    max_drop: str
    allowed_drop: float
    rule: str
    confidence: float
    seeds: int
    minimum: float | None = None
    static_terms: list[str] = field(default_factory=list)
    static_drop: float | None = None
    static_feasible: bool | None = None
    quantile: str = "student-t"
    quantile_value: float | None = None


@dataclass(frozen=True)
class LayerRow:
    """One analog layer's plan, noise and precision (search fields null with fixed repeats).

    Attributes:
        fan_in: D; macs: per example; operand: ``constant`` or ``activation`` (2nd operand);
        r_x: calibrated input range; repeats: N; energy_per_mac: N·e1; energy_share: of Ē;
        sigma: RMS output noise std at N; enob: effective bits; snr_db: clean power / noise;
        uniform_repeats, uniform_enob: the same at the uniform baseline;
        analytic_repeats: the analytic allocation; sensitivity: relative output noise power
        at N = 1; sensitivity_drop: metric drop with noise in this layer only;
        useful_repeats: the most repeats that still reduce the layer's noise (its ADC's floor;
        the search's upper bound; null: no floor below the repeat limit);
        rule: the per-layer rules that selected it (labels of ``rules``, joined by ``+`` in
        the order they applied; null: none); pinned: its repeats were pinned by a rule (the
        search and the uniform baseline keep them); noise: its own noise model where it
        differs from ``hardware.noise`` (a rule's keys, or terms that do not fit the op;
        null: the hardware's).
    """

    name: str
    op_type: str
    fan_in: float | None
    macs: int
    operand: str | None
    r_x: float
    repeats: int
    energy_per_mac: float
    energy_share: float
    sigma: float
    enob: float
    snr_db: float
    uniform_repeats: int
    uniform_enob: float
    analytic_repeats: int | None = None
    sensitivity: float | None = None
    sensitivity_drop: float | None = None
    useful_repeats: int | None = None
    rule: str | None = None
    pinned: bool = False
    noise: dict[str, Any] | None = None


@dataclass(frozen=True)
class DigitalRow:
    """An op left digital: analogc cannot run it analog (``reason`` says why), or a rule
    kept it digital (``reason`` ``digital by choice (...)``, ``rule`` its rules' labels)."""

    name: str
    op_type: str
    reason: str | None
    macs: int | None
    where: str
    rule: str | None = None


@dataclass(frozen=True)
class CompileMacs:
    """MACs per example: analog, digital (``digital_by_choice`` of them kept digital by a
    rule), and how many digital ops have a size known only at run time."""

    analog: int
    digital: int
    digital_unknown: int
    digital_by_choice: int = 0


@dataclass(frozen=True)
class RuleInfo:
    """A per-layer rule (``[[layer]]``, ``--digital``, ``--pin``), in the order applied.

    Attributes:
        label: its name in ``layers[].rule`` (``layer[2]``: the file's second ``[[layer]]``).
        origin: the hardware file it came from ("" for ``--digital``/``--pin``).
        selector: ``match`` (node-name glob), ``regex`` or ``op_type``; pattern: its value.
        sets: the keys it sets; layers: the analog ops it selected.
    """

    label: str
    origin: str
    selector: str
    pattern: str
    sets: dict[str, Any]
    layers: list[str]


@dataclass(frozen=True)
class UniformSection(Totals):
    repeats: int
    feasible: bool
    evaluation: Evaluation


@dataclass(frozen=True)
class DynamicSection(Totals):
    """The plan's totals; with a search, its metric and margin on the search seeds."""

    evaluation: Evaluation
    search_metric: float | None = None
    margin: float | None = None
    feasible: bool | None = None


@dataclass(frozen=True)
class AnalyticSection:
    repeats: dict[str, int]
    energy_per_mac: float


@dataclass(frozen=True)
class SearchPoint:
    """A configuration evaluated on the search seeds (the trade-off plot's points)."""

    energy_per_mac: float
    metric: float
    margin: float
    repeats: dict[str, int]
    source: str = ""
    seeds: int = 0
    """Noise seeds it ran (fewer than ``search.seeds`` when a sequential evaluation stopped
    early; 0 where not recorded: a verdict read from the study)."""


@dataclass(frozen=True)
class Confirmed:
    """The plan and the uniform baseline re-evaluated on every example and search seed.

    Attributes:
        full_set: exploration ran on a subset of the examples (so this is a new
            measurement); false: it ran on all of them and only early stops were completed.
        examples: the examples confirmed on; explored_on: those explored on.
        metric, margin, feasible, energy_per_mac: the plan's score there.
        uniform_repeats, uniform_metric, uniform_feasible: the uniform baseline there.
        configurations: configurations evaluated for the confirmation.
    """

    full_set: bool
    examples: int
    explored_on: int
    metric: float
    margin: float
    feasible: bool
    energy_per_mac: float
    uniform_repeats: int
    uniform_metric: float
    uniform_feasible: bool
    configurations: int


@dataclass(frozen=True)
class SearchSection:
    """The study and its outcome (run-dependent measurements go to ``run``)."""

    sampler: str
    trials: int
    evaluated_trials: int
    skipped_trials: int
    feasible_trials: int
    study_name: str
    storage: str | None
    seed: int
    seeds: int
    validation_seeds: int
    max_repeats: int
    span: float
    pareto: bool
    strategy: str
    front: list[SearchPoint]
    uniform_curve: list[SearchPoint] = field(default_factory=list)
    points: list[SearchPoint] = field(default_factory=list)
    """Every configuration the strategy evaluated (``source`` says what proposed it)."""
    quantile: str = "student-t"
    sequential: bool = False
    """Configurations were evaluated seed by seed and stopped once decided."""
    futility: float = 0.0
    """A sequential exploration also stopped a configuration other than a uniform one once its
    chance of being accepted on every seed was below this (0: never)."""
    stopped_early: int = 0
    """Configurations a sequential evaluation stopped before the last seed."""
    explore_examples: int = 0
    """Examples the exploration ran on (0: all of them)."""
    sensitivity_examples: int = 0
    """Examples the per-layer sensitivities and drops alone were measured on (0: not
    recorded)."""
    confirmed: Confirmed | None = None
    """The plan on every example and seed (null: not confirmed)."""


@dataclass(frozen=True)
class Outputs:
    """The files a compile wrote; ``study`` is the SQLite file holding the search's study
    (null with fixed repeats or a database server)."""

    model: str
    report_json: str
    report_md: str
    report_html: str | None = None
    tradeoff_plot: str | None = None
    precision_plot: str | None = None
    study: str | None = None


@dataclass(frozen=True)
class Timing:
    calibration_s: float
    search_s: float
    total_s: float


@dataclass(frozen=True)
class SearchRun:
    """Attributes: evaluations (noisy batch evaluations this run made), wall_s, evals_per_s;
    resumed (the study's setup was read back, not computed); study_evaluations (noisy batch
    evaluations of every run of the study so far, this one included)."""

    evaluations: int
    wall_s: float
    evals_per_s: float | None
    resumed: bool = False
    study_evaluations: int | None = None


@dataclass(frozen=True)
class PhaseCostRow:
    """One phase: example_passes (example forward passes: clean ones for ``calibration``,
    noisy ones for the others) and seconds."""

    phase: str
    example_passes: int
    seconds: float


@dataclass(frozen=True)
class RunCost:
    """What the plan cost: example_passes (noisy example forward passes, every phase but
    calibration: Σ over noisy batch runs of their examples), seconds (all phases), and per
    phase (``calibration``, ``sensitivity``, ``exploration``, ``confirmation``,
    ``validation``)."""

    example_passes: int
    seconds: float
    phases: list[PhaseCostRow]


@dataclass(frozen=True)
class RunInfo:
    """Everything that differs between two identical runs lives here, and only here."""

    created: str
    timing: Timing
    search: SearchRun | None
    cost: RunCost | None = None


@dataclass(frozen=True)
class Finding:
    """One reason the budget was not met (:mod:`analogc.diagnosis`).

    Attributes:
        cause: ``fixed_repeats``, ``repeat_limit``, ``too_few_examples``, ``near_ties``, or
            ``not_found`` (none of the configurations evaluated meets it, for no reason above).
        message: what happened, with the figures that show it.
        remedy: what to try.
    """

    cause: str
    message: str
    remedy: str


@dataclass(frozen=True, kw_only=True)
class CompileReport(JsonDocument):
    """``analogc compile``: the plan, its figures, the uniform baseline and the search.

    The report owns the exit code (black's ``Report.return_code``): 0 when the budget is met
    or no budget applies, 1 when the plan does not meet it.
    """

    schema_version: int = SCHEMA_VERSION
    analogc: str
    command: str = "compile"
    mode: str
    versions: dict[str, str]
    model: ModelInfo
    hardware: HardwareConfig
    noise: str
    data: DataInfo
    metric: MetricInfo
    budget: BudgetInfo
    layers: list[LayerRow]
    digital: list[DigitalRow]
    rules: list[RuleInfo] = field(default_factory=list)
    macs: CompileMacs
    uniform: UniformSection | None
    saving: float | None
    analytic: AnalyticSection | None
    search: SearchSection | None
    dynamic: DynamicSection
    budget_met: bool
    diagnosis: list[Finding] | None = None
    """Why the budget was not met and what to try (null when it is met)."""
    outputs: Outputs
    run: RunInfo

    @property
    def return_code(self) -> int:
        return EXIT_OK if self.budget_met else EXIT_BUDGET_NOT_MET


# -- check ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckedPlan:
    """One side of ``analogc check``: a plan's model, energy and metric.

    Attributes:
        energy_per_mac: Ē in the hardware's unit; metric: its mean over the fresh seeds
            (``ci95`` its 95% half-width); clean: the metric without noise.
    """

    report: str
    model: str
    sha256: str | None
    energy_per_mac: float
    metric: float
    ci95: float
    clean: float
    budget_met: bool


@dataclass(frozen=True)
class LayerChange:
    """A layer's repeats in the baseline plan and in the new one (null where it is absent)."""

    name: str
    baseline: int | None
    new: int | None


@dataclass(frozen=True, kw_only=True)
class CheckReport(JsonDocument):
    """``analogc check``: a new export planned with a baseline's settings, against its plan.

    Attributes:
        passed: the new plan meets the budget and needs at most ``tolerance`` (relative) more
            energy per MAC than the baseline's; ``regressions`` says why not, one line each.
        energy_change: Ē new / Ē baseline − 1.
        settings: the baseline's settings the new plan was made with.
    """

    schema_version: int = SCHEMA_VERSION
    command: str = "check"
    passed: bool
    regressions: list[str]
    tolerance: float
    metric: str
    metric_unit: str
    energy_unit: str
    budget: BudgetInfo
    baseline: CheckedPlan
    new: CheckedPlan
    energy_change: float
    layers: list[LayerChange]
    settings: dict[str, Any]

    @property
    def return_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_BUDGET_NOT_MET
