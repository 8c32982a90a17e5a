"""The mutation gate's list (mutation/mutants.yaml) still fits the code:
every mutant's text is in its file exactly once, its change changes
something, and every test path it names exists. `make mutate` runs them."""

from __future__ import annotations

import pytest

from mutation.__main__ import applies, first_failure, load

from .conftest import ROOT

MUTANTS = load()


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_mutant_applies_once_and_reaches_existing_tests(mutant):
    assert applies(mutant), f"{mutant.file} no longer holds {mutant.old!r} exactly once: update mutation/mutants.yaml"
    assert mutant.old != mutant.new
    assert all((ROOT / path).exists() for path in mutant.reach)
    assert len(mutant.reach) > 1, "a mutant is judged by every test that can reach it, not one chosen to kill it"


def test_ids_are_unique():
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids))


def test_the_killing_test_is_read_from_pytest_output():
    output = "....F\nFAILED tests/test_x.py::test_y[staging] - AssertionError\n1 failed, 4 passed"
    assert first_failure(output) == "tests/test_x.py::test_y[staging]"
