"""The noise-term contract (``term_contract.py``) for every term in the registry."""

from __future__ import annotations

import pytest
from static_reference import EXACT
from term_contract import (
    CONTRACT_CASES,
    TERM_REFERENCES,
    check_noise_off_and_checker,
    check_statistics,
    check_stats_output,
)

from analogc.passes.noise import TERMS

REGISTERED = list(TERMS)
GAUSSIAN = [n for n in TERMS if n in TERM_REFERENCES]
TEMPORAL = [n for n in GAUSSIAN if TERMS[n].reduced_by_repeats]
PER_CHIP = {n for n in TERMS if any(d.per == "chip" for d in TERMS[n].draws)}


def test_every_registered_term_has_a_reference() -> None:
    missing = [name for name in TERMS if name not in TERM_REFERENCES and name not in EXACT]
    assert not missing, (
        f"add an independent reference for {missing}: a variance to tests/term_contract.py "
        "(Gaussian terms) or an exact output to tests/static_reference.py (static terms)"
    )


def _runtimes(name: str) -> list[str]:
    """A per-chip term is one draw per deployable model: its statistics are over the
    simulator's chips (the deployable chip is checked exactly in test_static_terms.py)."""
    return ["simulator"] if name in PER_CHIP else ["simulator", "standalone"]


@pytest.mark.parametrize(("name", "runtime"), [(n, r) for n in GAUSSIAN for r in _runtimes(n)])
@pytest.mark.parametrize("case_name", CONTRACT_CASES)
def test_term_noise_has_the_reference_std(name: str, case_name: str, runtime: str) -> None:
    check_statistics(name, TERM_REFERENCES[name], case_name, runtime)


@pytest.mark.parametrize(("name", "runtime"), [(n, r) for n in GAUSSIAN for r in _runtimes(n)])
def test_term_follows_its_repeats_law(name: str, runtime: str) -> None:
    """Temporal terms: std over sqrt(N); static terms: unchanged at N = 9."""
    check_statistics(name, TERM_REFERENCES[name], "conv2d_group", runtime, repeats=9)


@pytest.mark.parametrize("name", GAUSSIAN)
def test_term_stats_output(name: str) -> None:
    for case_name in CONTRACT_CASES:
        check_stats_output(name, TERM_REFERENCES[name], case_name)


@pytest.mark.parametrize("name", REGISTERED)
def test_term_off_reproduces_and_passes_the_checker(name: str) -> None:
    if not TERMS[name].reduced_by_repeats:
        pytest.skip("static terms have no temporal scale to switch off (test_static_terms.py)")
    for case_name in CONTRACT_CASES:
        check_noise_off_and_checker(name, case_name)
