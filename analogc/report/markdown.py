"""``report.md``: the compile report for people (and for pull-request comments)."""

from __future__ import annotations

from .format import table
from .schema import CompileReport
from .text import cost_line, front_table, layer_table, rule_lines, summary_lines


def compile_markdown(report: CompileReport) -> str:
    hw, data = report.hardware, report.data
    lines = [f"# analogc report: `{report.model.path}`", ""]
    lines += [f"- hardware: **{hw.name}** ({hw.description}), noise: {report.noise}"]
    lines += [f"- data: {data.source} ({data.examples} examples, batches of {data.batch_size})"]
    lines += [f"- {line.strip()}" for line in summary_lines(report)]
    cost = cost_line(report)
    if cost:
        lines.append(f"- {cost}")
    if report.diagnosis:
        lines += ["", "## Why the budget was not met", ""]
        lines += [f"- {x.message}. Try: {x.remedy}." for x in report.diagnosis]
    lines += ["", "## Per-layer plan", "", layer_table(report, markdown=True), ""]
    rules = rule_lines(report)
    if rules:
        lines += [rules[0], "", *(f"- {line.strip()}" for line in rules[1:]), ""]
    if report.digital:
        rows = [[x.name, x.op_type, x.macs, x.reason] for x in report.digital]
        lines += [
            "## Ops left digital",
            "",
            table(["op", "type", "MACs/ex", "reason"], rows, markdown=True),
            "",
        ]
    s = report.search
    if s is not None:
        lines += [
            "## Search",
            "",
            f"- sampler {s.sampler}, {s.trials} trials: {s.evaluated_trials} evaluated "
            f"({s.feasible_trials} within budget), {s.skipped_trials} skipped as not cheaper "
            "than the best so far",
            f"- study `{s.study_name}` in `{s.storage}`; sampler seed {s.seed}, "
            f"{s.seeds} noise seeds for the search, {s.validation_seeds} fresh seeds for the "
            "figures above",
            *_search_lines(report),
            "",
        ]
        front = front_table(report, markdown=True)
        if front:
            lines += [
                "### Pareto front",
                "",
                "Configurations no other one evaluated beats on both energy and metric "
                "(search seeds; per-layer repeats in `report.json`, `search.front`):",
                "",
                front,
                "",
            ]
    if report.outputs.tradeoff_plot:
        lines += ["![trade-off](tradeoff.png)", "", "![precision](precision.png)", ""]
    lines += [_run_line(report), ""]
    return "\n".join(lines)


def _search_lines(report: CompileReport) -> list[str]:
    """Sequential stops, the subset explored on and the confirmation on every example."""
    s = report.search
    if s is None:
        return []
    lines = []
    if s.sequential:
        futile = (
            f" (over the budget, or, off the uniform baseline, with less than a "
            f"{100 * s.futility:g}% chance of meeting it on every seed)"
            if s.futility > 0
            else ""
        )
        lines.append(
            f"- sequential acceptance: {s.stopped_early} configurations decided before the "
            f"last seed{futile}"
        )
    c = s.confirmed
    if c is not None:
        where = (
            f"explored on {c.explored_on} of {c.examples} examples, confirmed on all"
            if c.full_set
            else f"confirmed on all {c.examples} examples and {s.seeds} seeds"
        )
        verdict = "within budget" if c.feasible else "NOT within budget"
        lines.append(
            f"- {where}: plan {report.metric.name} {c.metric:.4g} ({verdict}, margin "
            f"{c.margin:.3g}), uniform N={c.uniform_repeats} {c.uniform_metric:.4g}; "
            f"{c.configurations} configurations re-evaluated"
        )
    return lines


def _run_line(report: CompileReport) -> str:
    run = report.run
    line = f"_analogc {report.analogc}, {run.created}, {run.timing.total_s:.1f} s"
    if run.search is not None:
        rs = run.search
        line += f"; search: {rs.evaluations} noisy batch evaluations in this run ({rs.wall_s:.1f} s"
        if rs.evals_per_s:
            line += f", {rs.evals_per_s:.1f}/s"
        line += ")"
        if rs.resumed:
            line += ", resuming a study"
            if rs.study_evaluations is not None:
                line += f" that made {rs.study_evaluations} in all"
    return line + "_"
