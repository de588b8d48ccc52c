"""Why a plan misses its budget, and what to try: the report's ``diagnosis``.

"NOT MET" alone leaves a user guessing. The causes worth telling apart:

- ``fixed_repeats``: the repeats were given (``--repeats``): nothing was searched;
- ``repeat_limit``: even the largest repeats allowed, in every layer, miss the budget;
- ``too_few_examples``: on a top-1 metric the budget is smaller than one example in the data
  changing class, so a single near-tied example breaks it;
- ``near_ties``: examples still change class at the repeat limit, because their two top
  scores are (nearly) tied: no affordable precision separates them (random inputs to a
  trained classifier often give such ties);
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analogc.budget import Acceptance
from analogc.calibrated import CalibratedModel
from analogc.report.schema import Finding
from analogc.runtime.evaluate import Evaluation
from analogc.search import SearchResult

__all__ = ["Finding", "StaticLimit", "diagnose"]

TOP1 = ("accuracy", "agreement")
"""Metrics that score each example 0 or 1 (one example is 1/n of the metric)."""


@dataclass(frozen=True)
class StaticLimit:
    """What the terms repeats do not reduce cost on their own (temporal noise off).

    Attributes:
        terms: those terms; drop: the metric drop they cause (mean over the search seeds);
        feasible: whether the budget can be met at all.
    """

    terms: list[str]
    drop: float
    feasible: bool


def diagnose(
    calibrated: CalibratedModel,
    acceptance: Acceptance,
    *,
    repeats: Mapping[str, int],
    evaluation: Evaluation,
    search: SearchResult | None,
    synthetic: bool,
    static: StaticLimit | None = None,
) -> list[Finding]:
    """The reasons the plan ``repeats`` (evaluated in ``evaluation``) misses the budget."""
    metric = calibrated.metric
    findings: list[Finding] = []
    if static is not None and not static.feasible:
        findings.append(
            Finding(
                "static_terms",
                f"{', '.join(static.terms)} alone (no temporal noise) cause a drop of "
                f"{metric.format(static.drop)}, more than the budget allows: no number of "
                "repeats can meet it",
                "allow a larger drop (--max-drop), use finer converters or less programming "
                "error, or keep the most sensitive layers digital",
            )
        )
        return findings
    if search is None:
        n = next(iter(repeats.values()))
        findings.append(
            Finding(
                "fixed_repeats",
                f"this plan (N = {n:,} in every layer, from --repeats) does not meet the budget: "
                f"{_shortfall(calibrated, acceptance, evaluation.mean)}; nothing was searched",
                "raise --repeats, or leave it out to search the least energy that meets the budget",
            ),
        )
    findings += _too_few_examples(calibrated, acceptance)
    if search is not None:
        at_limit = _at_limit(search)
        if at_limit is not None:
            limit, value = at_limit
            findings.append(
                Finding(
                    "repeat_limit",
                    f"even N = {limit:,} in every layer (the repeat limit) misses the budget: "
                    f"{_shortfall(calibrated, acceptance, value, 'on the search seeds ')}",
                    "allow a larger drop (--max-drop), or hardware with less noise per pass",
                )
            )
            if metric.name in TOP1:
                findings += _near_ties(calibrated, limit, synthetic)
    if not findings:  # a search that ended before reaching a configuration within budget
        findings.append(
            Finding(
                "not_found",
                "none of the configurations the search evaluated meets the budget: "
                f"{_shortfall(calibrated, acceptance, evaluation.mean)}",
                "give more --trials (rerunning resumes the study), or allow a larger drop",
            )
        )
    return findings


def _shortfall(
    calibrated: CalibratedModel, acceptance: Acceptance, value: float, where: str = ""
) -> str:
    metric = calibrated.metric
    shown = f"{metric.name} {metric.format(value)} {where}".rstrip()
    if acceptance.floor is not None:
        return f"{shown}, below the {metric.format(acceptance.floor)} required"
    clean = calibrated.evaluator.clean
    return (
        f"{shown} against {metric.format(clean)} clean, a drop of {_amount(metric.unit, clean - value)} "
        f"where {_amount(metric.unit, acceptance.allowed)} is allowed"
    )


def _amount(unit: str, drop: float) -> str:
    return f"{100 * drop:.2f} points" if unit == "%" else f"{drop:.4g}"


def _at_limit(search: SearchResult) -> tuple[int, float] | None:
    """The largest uniform repeats tried and its metric, when it is the limit and misses."""
    if search.uniform_feasible or not search.uniform_curve:
        return None
    names = list(search.repeats)
    top = max(search.uniform_curve, key=lambda p: p.repeats[names[0]])
    n = top.repeats[names[0]]
    if n < search.settings.max_repeats or top.feasible:
        return None
    return n, top.metric


def _too_few_examples(calibrated: CalibratedModel, acceptance: Acceptance) -> list[Finding]:
    metric, n = calibrated.metric, len(calibrated.dataset)
    if metric.name not in TOP1 or acceptance.floor is not None or acceptance.allowed >= 1 / n:
        return []
    needed = math.ceil(1 / max(acceptance.allowed, 1e-12))
    one_example = math.ceil(1000 / n) / 1000  # 1/n rounded up to 3 decimals
    return [
        Finding(
            "too_few_examples",
            f"the allowed drop ({_amount('%', acceptance.allowed)}) is less than one example "
            f"in {n:,} ({_amount('%', 1 / n)}): a single example changing class breaks it",
            f"calibrate on more examples (at least {needed:,} for this budget), or allow one "
            f"example to change (--max-drop {one_example:g})",
        )
    ]


def _near_ties(calibrated: CalibratedModel, limit: int, synthetic: bool) -> list[Finding]:
    """Examples whose class changes at the repeat limit, and how close their top two clean
    scores are (one noisy run on the first search seed)."""
    evaluator = calibrated.evaluator
    clean = evaluator.first_output(evaluator.clean_outputs)
    noisy = evaluator.first_output(evaluator.outputs(calibrated.simulator.scales(limit), 0))
    flipped = np.flatnonzero(clean.argmax(axis=1) != noisy.argmax(axis=1))
    if len(flipped) == 0 or clean.shape[1] < 2:
        return []
    top2 = np.sort(clean[flipped], axis=1)[:, -2:]
    spread = np.maximum(clean[flipped].max(axis=1) - clean[flipped].min(axis=1), 1e-30)
    gap = float(np.max((top2[:, 1] - top2[:, 0]) / spread))
    close = "are exactly tied" if gap == 0 else f"differ by at most {100 * gap:.2g}% of their range"
    random = " (typical of random inputs)" if synthetic else ""
    remedy = (
        "give real calibration data with -d; or a metric that does not flip on ties, "
        "such as --metric cosine"
        if synthetic
        else "allow a drop of a few examples (--max-drop), or use a metric that does not flip "
        "on ties, such as --metric cosine"
    )
    return [
        Finding(
            "near_ties",
            f"{len(flipped)} of {len(clean):,} examples change class even at N = {limit:,}: "
            f"their two top clean scores {close}, near ties that no affordable precision "
            f"separates{random}",
            remedy,
        )
    ]
