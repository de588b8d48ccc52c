"""The CI gate: does a new export of a model still fit its energy plan?

``analogc check model.onnx --baseline report.json`` plans the new model with the *baseline's*
settings (hardware, metric, budget, search), so that "the same budget" means the same thing
on both sides, and compares the new plan's energy per MAC with the baseline plan's. It fails
(exit 1) when the new plan needs more energy per MAC than the baseline's (beyond a tolerance)
or no longer meets the budget. Settings that would change the budget are not options: a
baseline made with other settings is re-made, not compared with. The calibration data must
be the same size as the baseline's (the budget is measured on it).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

from analogc.budget import QUANTILES, Quantile
from analogc.errors import ConfigError
from analogc.inputs import READER, DataSource
from analogc.pipeline import prepare_compile, run_compile
from analogc.report.load import load_compile_report
from analogc.report.schema import CheckedPlan, CheckReport, CompileReport, LayerChange
from analogc.search import SearchSettings
from analogc.settings import CompileSettings

__all__ = ["baseline_settings", "check_model", "compare", "parse_tolerance"]

log = logging.getLogger(__name__)


def parse_tolerance(value: str | float) -> float:
    """``--tolerance``: ``2%`` or ``0.02``, the relative increase of Ē still accepted."""
    text = str(value).strip()
    try:
        tolerance = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ConfigError(f"tolerance {text!r} is not a number: use e.g. 2% or 0.02") from None
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ConfigError(f"tolerance {text!r} must be >= 0")
    return tolerance


def check_model(
    model: str | Path,
    baseline: str | Path,
    *,
    data: DataSource = None,
    output_dir: str | Path | None = None,
    tolerance: str | float = 0.0,
    progress: bool = False,
) -> CheckReport:
    """Plan ``model`` with the settings of the compile that wrote ``baseline`` and compare.

    Args:
        model: the new export (only read).
        baseline: a ``report.json`` of ``analogc compile`` (the plan to stay within).
        data: calibration data; default: the baseline's, where it can be found again.
        output_dir: where the new plan's outputs go; default ``./<model stem>.check``.
        tolerance: relative increase of Ē still accepted (``"2%"`` or ``0.02``).

    Returns:
        The comparison; ``return_code`` is 1 on a regression.

    Raises:
        ConfigError: if the baseline cannot be read, its data is not given and cannot be
            found, the data differs in size from the baseline's, or the output would
            overwrite the baseline.
    """
    allowed = parse_tolerance(tolerance)
    base = load_compile_report(baseline)
    path = Path(model)
    out_dir = Path(output_dir) if output_dir is not None else Path.cwd() / f"{path.stem}.check"
    if (out_dir / "report.json").resolve() == Path(baseline).resolve():
        raise ConfigError(
            f"output {out_dir} would overwrite the baseline {baseline}; choose another -o"
        )
    settings = baseline_settings(base, source=str(baseline), data=data, output_dir=out_dir)
    settings = dataclasses.replace(
        settings, search=dataclasses.replace(settings.search, progress=progress)
    )
    job = prepare_compile(path, settings)
    if len(job.dataset) != base.data.examples or job.dataset.synthetic != base.data.synthetic:
        kind = "synthetic " if base.data.synthetic else ""
        raise ConfigError(
            f"the baseline's budget was measured on {base.data.examples} {kind}examples "
            f"({base.data.source}), this data has {len(job.dataset)}: not the same budget; "
            "give the baseline's data with --data, or make a new baseline"
        )
    log.info(
        "planning %s with the settings of %s (%s, %s, max drop %s)",
        path,
        baseline,
        base.hardware.name,
        base.metric.name,
        base.budget.max_drop,
    )
    return compare(base, run_compile(job), baseline=str(baseline), tolerance=allowed)


def baseline_settings(
    base: CompileReport, *, source: str, data: DataSource, output_dir: Path
) -> CompileSettings:
    """The compile settings ``base`` was made with, as far as they change the plan: hardware
    (with its ``[[layer]]`` rules), ``--digital`` and ``--pin``, metric, budget, search,
    seeds, how the data meets the inputs (the data itself too, when not given and still where
    it was)."""
    # With fixed repeats every layer has them, but for the pinned ones.
    fixed_repeats = (
        {x.repeats for x in base.layers if not x.pinned} if base.mode == "fixed" else set()
    )
    s = base.search
    if s is not None:
        search = SearchSettings(
            strategy=s.strategy,
            trials=max(s.trials, 1),
            seed=s.seed,
            seeds=s.seeds,
            validation_seeds=s.validation_seeds,
            max_repeats=s.max_repeats,
            span=s.span,
            confidence=base.budget.confidence,
            quantile=_quantile(base.budget.quantile),
            sequential=s.sequential or s.strategy == "nsga2",
            explore_examples=s.explore_examples,
            sensitivity_examples=s.sensitivity_examples,
        )
    else:
        search = SearchSettings(
            seeds=base.budget.seeds,
            validation_seeds=len(base.dynamic.evaluation.seeds),
            confidence=base.budget.confidence,
            quantile=_quantile(base.budget.quantile),
        )
    values = {n: v["value"] for n, v in base.data.values.items() if v.get("from") == "--set"}
    return CompileSettings(
        hardware=base.hardware,
        data=data if data is not None else _baseline_data(base, source),
        output_dir=output_dir,
        repeats=fixed_repeats.pop() if len(fixed_repeats) == 1 else _all_pinned(base),
        metric=base.metric.name,
        max_drop=base.budget.max_drop,
        search=search,
        batch_size=base.data.batch_size or CompileSettings().batch_size,
        seed=s.seed if s is not None else 0,
        batch_axes=dict(base.data.batch_axes),
        values=values,
        feeds=base.data.feeds is not None,
        digital=[r.pattern for r in base.rules if r.label.startswith("--digital[")],
        pins={
            r.pattern: int(r.sets["repeats"]) for r in base.rules if r.label.startswith("--pin[")
        },
    )


def _all_pinned(base: CompileReport) -> int | None:
    """Fixed repeats of a baseline whose layers are all pinned (any value: the pins win)."""
    if base.mode == "fixed" and base.layers and all(x.pinned for x in base.layers):
        return base.layers[0].repeats
    return None


def _baseline_data(base: CompileReport, source: str) -> DataSource:
    """The baseline's calibration data, if it can be found again from its report."""
    if base.data.synthetic:
        return None
    where = base.data.source
    if where and (Path(where).exists() or READER.fullmatch(where)):
        return where
    raise ConfigError(
        f"{source}: its calibration data ({where or 'given in Python'}) is not here; "
        "give the same data with --data"
    )


def compare(
    base: CompileReport, new: CompileReport, *, baseline: str, tolerance: float
) -> CheckReport:
    """The verdict and the diff: per-layer repeats, Ē, metric, budget."""
    change = new.dynamic.energy_per_mac / base.dynamic.energy_per_mac - 1.0
    unit = base.hardware.energy_unit
    regressions = []
    if not new.budget_met:
        regressions.append(
            f"the new plan does not meet the budget (max drop {base.budget.max_drop}: "
            f"{base.budget.rule})"
        )
    if change > tolerance + 1e-12:
        regressions.append(
            f"the new plan needs {100 * change:.1f}% more energy per MAC than the baseline "
            f"({base.dynamic.energy_per_mac:.4g} → {new.dynamic.energy_per_mac:.4g} {unit}/MAC; "
            f"tolerance {100 * tolerance:g}%)"
        )
    return CheckReport(
        passed=not regressions,
        regressions=regressions,
        tolerance=tolerance,
        metric=base.metric.name,
        metric_unit=base.metric.unit,
        energy_unit=unit,
        budget=base.budget,
        baseline=_side(base, baseline),
        new=_side(new, new.outputs.report_json),
        energy_change=change,
        layers=_layer_changes(base, new),
        settings=_settings_used(base),
    )


def _side(report: CompileReport, path: str) -> CheckedPlan:
    ev = report.dynamic.evaluation
    return CheckedPlan(
        report=path,
        model=report.model.path,
        sha256=report.model.sha256,
        energy_per_mac=report.dynamic.energy_per_mac,
        metric=ev.mean,
        ci95=ev.ci95,
        clean=report.metric.clean,
        budget_met=report.budget_met,
    )


def _layer_changes(base: CompileReport, new: CompileReport) -> list[LayerChange]:
    """Every layer of either plan: the new model's order, then layers it no longer has."""
    before = {x.name: x.repeats for x in base.layers}
    after = {x.name: x.repeats for x in new.layers}
    names = [*after, *(n for n in before if n not in after)]
    return [LayerChange(n, before.get(n), after.get(n)) for n in names]


def _settings_used(base: CompileReport) -> dict[str, Any]:
    s = base.search
    out: dict[str, Any] = {
        "hardware": base.hardware.name,
        "rules": [r.label for r in base.rules],
        "metric": base.metric.name,
        "max_drop": base.budget.max_drop,
        "confidence": base.budget.confidence,
        "seeds": base.budget.seeds,
        "mode": base.mode,
    }
    if s is not None:
        out |= {"strategy": s.strategy, "trials": s.trials, "seed": s.seed}
    else:
        out["repeats"] = base.layers[0].repeats if base.layers else None
    return out


def _quantile(name: str) -> Quantile:
    """The baseline's quantile, checked (a report.json is data, not a type)."""
    if name not in QUANTILES:
        raise ConfigError(f"the baseline's budget has an unknown quantile {name!r}")
    return "normal" if name == "normal" else "student-t"
