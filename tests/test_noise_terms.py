"""The noise-term contract (``term_contract.py``) for every term in the registry."""

from __future__ import annotations

import pytest
from term_contract import (
    CONTRACT_CASES,
    TERM_REFERENCES,
    check_noise_off_and_checker,
    check_statistics,
    check_stats_output,
)

from analogc.passes.noise import TERMS

REGISTERED = list(TERMS)


def test_every_registered_term_has_a_reference() -> None:
    missing = [name for name in TERMS if name not in TERM_REFERENCES]
    assert not missing, f"add an independent reference to tests/term_contract.py for {missing}"


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("case_name", CONTRACT_CASES)
@pytest.mark.parametrize("name", REGISTERED)
def test_term_noise_has_the_reference_std(name: str, case_name: str, runtime: str) -> None:
    check_statistics(name, TERM_REFERENCES[name], case_name, runtime)


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("name", REGISTERED)
def test_term_follows_its_repeats_law(name: str, runtime: str) -> None:
    check_statistics(name, TERM_REFERENCES[name], "conv2d_group", runtime, repeats=9)


@pytest.mark.parametrize("name", REGISTERED)
def test_term_stats_output(name: str) -> None:
    for case_name in CONTRACT_CASES:
        check_stats_output(name, TERM_REFERENCES[name], case_name)


@pytest.mark.parametrize("name", REGISTERED)
def test_term_off_reproduces_and_passes_the_checker(name: str) -> None:
    for case_name in CONTRACT_CASES:
        check_noise_off_and_checker(name, case_name)
