"""Reports on the terminal: the per-layer table and the lines under it."""

from __future__ import annotations

from pathlib import Path

from analogc.runtime.evaluate import Evaluation

from .format import metric_value, table
from .schema import CompileReport, EvalReport, InspectReport

__all__ = [
    "compile_text",
    "diagnosis_lines",
    "eval_line",
    "eval_text",
    "front_table",
    "inputs_lines",
    "inputs_table",
    "inspect_text",
    "layer_table",
    "metric_lines",
    "summary_lines",
    "written_line",
]


def eval_line(report: CompileReport | EvalReport, evaluation: Evaluation | None) -> str:
    """``98.50% ± 0.24 pts (95% CI, 16 seeds)`` for an evaluation (or ``-``)."""
    if evaluation is None:
        return "-"
    unit = report.metric.unit
    ci = evaluation.ci95
    ci_s = f"{100 * ci:.2f} pts" if unit == "%" else f"{ci:.3g}"
    mean = metric_value(evaluation.mean, unit)
    return f"{mean} ± {ci_s} (95% CI, {len(evaluation.seeds)} seeds)"


def layer_table(report: CompileReport, *, markdown: bool = False) -> str:
    """One row per analog layer; a ``rule`` column when per-layer rules selected some, and
    pinned repeats marked ``*`` (:func:`rule_lines` explains both)."""
    search = report.search is not None
    capped = any(layer.useful_repeats is not None for layer in report.layers)
    ruled = any(layer.rule for layer in report.layers)
    headers = ["layer", "op", "D", "MACs/ex", "N"]
    if capped:
        headers.append("N max")
    if search:
        headers += ["N unif", "sens"]
    headers += ["E/MAC", "energy %", "σ", "bits", "SNR dB"]
    if ruled:
        headers += ["rule"]
    rows = []
    for layer in report.layers:
        repeats = f"{layer.repeats:,}*" if layer.pinned else layer.repeats
        row: list[object] = [layer.name, layer.op_type, layer.fan_in, layer.macs, repeats]
        if capped:
            row.append(layer.useful_repeats)
        if search:
            row += [layer.uniform_repeats, layer.sensitivity]
        row += [
            layer.energy_per_mac,
            round(100 * layer.energy_share, 1),
            layer.sigma,
            round(layer.enob, 2),
            round(layer.snr_db, 1),
        ]
        if ruled:
            row += [layer.rule or ""]
        rows.append(row)
    return table(headers, rows, markdown=markdown)


def rule_lines(report: CompileReport) -> list[str]:
    """The per-layer rules in the order they applied (later keys override earlier ones),
    what each sets and how many ops it selected; what ``*`` means."""
    if not report.rules:
        return []
    lines = ["per-layer rules (in order; a later rule overrides the keys it sets):"]
    for rule in report.rules:
        sets = ", ".join(f"{k} = {_toml(v)}" for k, v in rule.sets.items()) or "nothing"
        n = len(rule.layers)
        lines.append(
            f"  {rule.label}: {rule.selector} = {_toml(rule.pattern)} -> {sets} "
            f"({n} op{'s' if n != 1 else ''})"
        )
    if any(layer.pinned for layer in report.layers):
        lines.append(
            "  N*: repeats pinned by a rule (the search and the uniform baseline keep them)"
        )
    return lines


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def summary_lines(report: CompileReport) -> list[str]:
    """The metric, the uniform baseline, the plan, the saving and the budget verdict."""
    hw, dyn, metric = report.hardware, report.dynamic, report.metric.name
    unit = hw.energy_unit
    energy = f"{dyn.energy_per_mac:.4g} {unit}/MAC"
    if dyn.attojoules_per_mac is not None:
        energy += f" = {dyn.attojoules_per_mac:.4g} aJ/MAC at {hw.wavelength_nm:g} nm"
    lines = metric_lines(report)
    if report.uniform is not None:
        uni = report.uniform
        where = (
            "in every unpinned layer"
            if any(layer.pinned for layer in report.layers)
            else "everywhere"
        )
        lines.append(
            f"uniform baseline: N={uni.repeats} {where}, Ē = {uni.energy_per_mac:.4g} "
            f"{unit}/MAC, {metric} {eval_line(report, uni.evaluation)}"
        )
        lines.append(
            f"per-layer:        Ē = {energy}, {metric} {eval_line(report, dyn.evaluation)}"
        )
        if report.saving is not None:
            lines.append(f"energy saving vs uniform: {100 * report.saving:.1f}% at the same budget")
    else:
        label = (
            "each layer at its converter floor"
            if report.mode == "static-limited"
            else _fixed_label(report)
        )
        lines.append(f"{label}: Ē = {energy}, {metric} {eval_line(report, dyn.evaluation)}")
    lines += inputs_lines(report)
    budget = report.budget
    if budget.static_feasible is False:
        lines.append(
            f"no repeats can meet the budget: {', '.join(budget.static_terms)} alone cause a "
            f"drop of {metric_value(budget.static_drop, report.metric.unit)} with the temporal "
            f"noise off (allowed {metric_value(budget.allowed_drop, report.metric.unit)}); "
            "the plan shown is each layer at its converter floor"
        )
    elif budget.static_terms:
        lines.append(
            f"static terms ({', '.join(budget.static_terms)}) alone: drop "
            f"{metric_value(budget.static_drop, report.metric.unit)} (temporal noise off; "
            "repeats do not reduce it)"
        )
    verdict = "MET" if report.budget_met else "NOT MET"
    budget = report.budget
    wanted = (
        f"{metric} at least {metric_value(budget.minimum, report.metric.unit)}"
        if budget.minimum is not None
        else f"max drop {budget.max_drop}"
    )
    lines.append(f"budget: {wanted} ({budget.rule}): {verdict}")
    macs = report.macs
    if macs.digital or macs.digital_unknown:
        unknown = f" (+{macs.digital_unknown} ops of unknown size)" if macs.digital_unknown else ""
        chosen = [x.name for x in report.digital if x.rule]
        if chosen:
            unknown += (
                f"; {macs.digital_by_choice:,} of them digital by choice ({', '.join(chosen)})"
            )
        lines.append(f"MACs left digital: {macs.digital:,} per example{unknown}")
    return lines


def metric_lines(report: CompileReport | EvalReport) -> list[str]:
    """The metric and its clean value; then why ``auto`` chose it (indented)."""
    info, data = report.metric, report.data
    clean = metric_value(info.clean, info.unit)
    if info.clean == float("inf"):
        clean += " (the clean outputs are the reference)"
    synthetic = " (SYNTHETIC inputs, made up from the input specs)" if data.synthetic else ""
    lines = [f"metric: {info.name}, clean {clean} on {data.examples} examples{synthetic}"]
    if info.reason:
        lines.append(f"  chosen by --metric auto: {info.reason}")
    return lines


def diagnosis_lines(report: CompileReport) -> list[str]:
    """Why the budget was not met, and what to try (nothing when it was met)."""
    lines = []
    for finding in report.diagnosis or []:
        lines += [f"why: {finding.message}", f"  try: {finding.remedy}"]
    return lines


def front_table(report: CompileReport, *, markdown: bool = False) -> str:
    """The energy/metric Pareto front of the configurations the search evaluated."""
    search = report.search
    if search is None or not search.front:
        return ""
    unit = report.metric.unit
    rows = [
        [
            f"{p.energy_per_mac:.4g}",
            metric_value(p.metric, unit),
            "yes" if p.margin <= 0 else "no",
            p.source,
        ]
        for p in search.front
    ]
    headers = [f"Ē ({report.hardware.energy_unit}/MAC)", report.metric.name, "in budget", "from"]
    return table(headers, rows, markdown=markdown)


def written_line(report: CompileReport) -> str:
    """``wrote to DIR: file, file, ...`` (the study too, when it is a file)."""
    paths = [Path(v) for v in vars(report.outputs).values() if v]
    if not paths:
        return ""
    folder = paths[0].parent
    if all(p.resolve().parent == folder.resolve() for p in paths):
        return f"wrote to {folder}: " + ", ".join(p.name for p in paths)
    return "wrote: " + ", ".join(str(p) for p in paths)


def _fixed_label(report: CompileReport) -> str:
    """``uniform repeats N=8``, saying so when pinned layers keep other repeats."""
    free = [layer.repeats for layer in report.layers if not layer.pinned]
    if not free:
        return "every layer pinned"
    if len(free) < len(report.layers):
        return f"uniform repeats N={free[0]} (pinned layers at their pins)"
    return f"uniform repeats N={free[0]}"


def inputs_lines(report: CompileReport | EvalReport) -> list[str]:
    """Values inputs were held at, and ops whose shapes the data showed."""
    data = report.data
    lines = []
    origin = {"--set": "--set", "data": "from the data", "default": "the model's default"}
    if data.values:
        held = ", ".join(
            f"{name} = {v['value']} ({origin.get(v['from'], v['from'])})"
            for name, v in data.values.items()
        )
        lines.append(f"inputs held fixed: {held}")
    if data.resolved_shapes:
        ops = ", ".join(
            op["name"] + (" (at the sizes seen only)" if op["fixed_sizes"] else "")
            for op in data.resolved_shapes
        )
        lines.append(f"analog from shapes seen in the data (unknown before run time): {ops}")
    return lines


def cost_line(report: CompileReport) -> str | None:
    """What the plan cost: noisy example-passes and seconds, per phase (``run.cost``)."""
    cost = report.run.cost
    if cost is None:
        return None
    search = report.search
    parts = []
    for row in cost.phases:
        part = f"{row.phase} {row.example_passes:,}"
        if row.phase == "calibration":
            part += " clean"
        elif row.phase == "exploration" and search is not None and search.explore_examples:
            part += f" on {search.explore_examples:,} of {report.data.examples:,} examples"
        elif (
            row.phase == "sensitivity"
            and search is not None
            and 0 < search.sensitivity_examples < report.data.examples
        ):
            part += f" on {search.sensitivity_examples:,} examples"
        parts.append(f"{part} in {row.seconds:.1f} s")
    return (
        f"cost: {cost.example_passes:,} noisy example-passes in {cost.seconds:.1f} s "
        f"({'; '.join(parts)})"
    )


def compile_text(report: CompileReport) -> str:
    cost = cost_line(report)
    parts = [
        layer_table(report),
        *rule_lines(report),
        "",
        *summary_lines(report),
        *([cost] if cost else []),
        *diagnosis_lines(report),
    ]
    if report.search is not None and len(report.search.front) > 1:
        title = "Pareto front of the configurations evaluated (search seeds):"
        parts += ["", title, front_table(report)]
    written = written_line(report)
    if written:
        parts += ["", written]
    return "\n".join(parts)


def inputs_table(report: InspectReport) -> str:
    """The inputs the data must give: names, dtypes, shapes and batch axes (and defaults,
    when an input has one)."""
    defaults = any(x.default is not None for x in report.inputs)
    rows = [
        [
            x.name,
            x.dtype,
            "[" + ", ".join("?" if d is None else str(d) for d in x.shape) + "]",
            "held fixed" if x.batch_axis is None else x.batch_axis,
            *([] if not defaults else ["" if x.default is None else str(x.default)]),
        ]
        for x in report.inputs
    ]
    headers = ["input", "dtype", "shape", "batch axis", *(["default"] if defaults else [])]
    return table(headers, rows)


def inspect_text(report: InspectReport) -> str:
    rows = [
        [
            x.name,
            x.op_type,
            "analog" if x.analog else "digital",
            x.fan_in,
            x.macs,
            x.operand or "",
            x.reason or "",
        ]
        for x in report.layers
    ]
    text = ""
    if report.inputs:
        text = inputs_table(report) + "\n\n"
    if rows:
        text += table(["layer", "op", "runs", "D", "MACs/ex", "2nd operand", "why digital"], rows)
    else:
        text += "no matrix-product op (MatMul, Gemm, Conv, ConvTranspose, Einsum, LSTM, GRU, RNN)"
    m = report.macs
    total = m.analog + m.digital
    share = f" ({100 * m.analog / total:.1f}% of known MACs)" if total else ""
    n_analog = sum(x.analog for x in report.layers)
    text += f"\n\n{n_analog} analog ops, {m.analog:,} analog MACs per example{share}"
    if m.digital:
        text += f"; {m.digital:,} MACs stay digital"
    if m.unknown:
        text += (
            f"; MACs of {len(m.unknown)} ops depend on run-time shapes (known after calibration)"
        )
    if report.run_time_shapes:
        waiting = report.run_time_shapes
        text += (
            f"\n{len(waiting)} digital ops lack a shape known before run time "
            f"({', '.join(waiting)}): `analogc compile` takes it from the calibration data"
        )
    if not n_analog:
        why = ": the table says why each op stays digital" if rows else ""
        text += (
            f"\nno op of this model can run analog, so `analogc compile` has nothing to plan{why}"
        )
    return text


def eval_text(report: EvalReport) -> str:
    dyn = report.dynamic
    energy = f"Ē = {dyn.energy_per_mac:.4g} {report.hardware.energy_unit}/MAC"
    if dyn.attojoules_per_mac is not None:
        energy += f" ({dyn.attojoules_per_mac:.4g} aJ/MAC)"
    clean = metric_value(report.evaluation.clean, report.metric.unit)
    text = (
        f"{report.metric.name} on {report.data.examples} examples ({report.data.source}):\n"
        f"  clean  {clean}\n  noisy  {eval_line(report, report.evaluation)}\n  {energy}"
    )
    if report.metric.reason:
        text += f"\n  chosen by --metric auto: {report.metric.reason}"
    return "\n".join([text, *(f"  {x}" for x in inputs_lines(report))])
