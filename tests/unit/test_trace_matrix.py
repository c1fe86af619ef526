"""The trace matrix of the validation pack (issue 19 item 1): every requirement of the catalogue
is verified by at least one test (``@pytest.mark.req``), no test names an unknown requirement,
and every clause the issue lists is served by at least one requirement. Fast, no services: the
markers are read from the test sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracegraph.validation.catalogue import REQUIRED_CLAUSES, coverage, load, scan_markers

TESTS = Path(__file__).resolve().parents[1]

#: The clauses as issue 19 lists them, written out here independently of the catalogue module.
ISSUE_19_CLAUSES = {
    "21CFR11.10(a)", "21CFR11.10(b)", "21CFR11.10(c)", "21CFR11.10(d)", "21CFR11.10(e)",
    "21CFR11.10(f)", "21CFR11.10(g)", "21CFR11.10(h)", "21CFR11.10(i)", "21CFR11.10(j)",
    "21CFR11.10(k)", "21CFR11.50", "21CFR11.70", "21CFR11.100", "21CFR11.200", "21CFR11.300",
    "EU-GMP-Annex11-4", "EU-GMP-Annex11-5", "EU-GMP-Annex11-7", "EU-GMP-Annex11-8",
    "EU-GMP-Annex11-9", "EU-GMP-Annex11-10", "EU-GMP-Annex11-11", "EU-GMP-Annex11-12",
    "EU-GMP-Annex11-14", "EU-GMP-Annex11-16", "EU-GMP-Annex11-17",
    "ISO13485-4.1.6", "ISO13485-4.2.5", "ISO13485-7.5.1", "ISO13485-7.5.6", "ISO13485-7.5.8",
    "ISO13485-7.5.9", "ISO13485-8.3", "21CFR820.184", "21CFR820.198", "21CFR7.42/806",
    "CN-GMP-records", "CN-GMP-traceability", "CN-GMP-deviation", "CN-GMP-CAPA", "CN-UDI",
}


@pytest.mark.req("URS-VAL-01")
def test_every_requirement_has_a_test_every_test_a_known_requirement_every_clause_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert set(REQUIRED_CLAUSES) == ISSUE_19_CLAUSES
    cat = load()
    tests = scan_markers(TESTS)
    cov = coverage(cat, tests)
    with capsys.disabled():
        n_tests = len(tests)
        print(f"\ntrace matrix: {len(cat.requirements)} requirements, {len(cat.clauses)} clauses "
              f"({len(ISSUE_19_CLAUSES)} listed, {len(ISSUE_19_CLAUSES) - len(cov.unserved)} "
              f"served), {n_tests} requirement tests, "
              f"{sum(len(v) for v in cov.by_requirement.values())} requirement-test links")
    assert cov.catalogue_problems == []
    assert cov.untested == [], "requirements without a test"
    assert cov.unknown == {}, "tests naming a requirement the catalogue does not have"
    assert cov.unserved == [], "listed clauses no requirement serves"


@pytest.mark.req("URS-VAL-01")
def test_the_check_fails_on_each_kind_of_gap(tmp_path: Path) -> None:
    """A requirement without a test, a test naming an unknown id and a clause without a
    requirement are each reported (the check above can fail)."""
    cat = load()
    tests = scan_markers(TESTS)
    first = next(iter(cat.requirements))
    without = {t: [i for i in ids if i != first] for t, ids in tests.items()}
    assert coverage(cat, without).untested == [first]
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        'import pytest\n\n\n@pytest.mark.req("URS-NOPE-99", "URS-VAL-01")\n'
        "def test_x() -> None:\n    pass\n")
    stray = scan_markers(tmp_path / "tests")
    assert stray == {"tests/test_x.py::test_x": ["URS-NOPE-99", "URS-VAL-01"]}
    assert coverage(cat, {**tests, **stray}).unknown == {"tests/test_x.py::test_x":
                                                         ["URS-NOPE-99"]}
    assert coverage(cat, tests, [*REQUIRED_CLAUSES, "ISO13485-0.0"]).unserved == ["ISO13485-0.0"]


@pytest.mark.req("URS-VAL-01")
def test_every_requirement_states_its_risk_and_clauses_of_the_catalogue() -> None:
    cat = load()
    for r in cat.requirements.values():
        assert r.gamp_category in (3, 4), r.id
        assert r.risk in ("high", "medium", "low") and len(r.risk_reason) > 20, r.id
        assert r.clauses and all(c in cat.clauses for c in r.clauses), r.id
    zh = [c for c in cat.clauses.values() if c.id.startswith("CN-")]
    assert len(zh) == 6 and all("《" in c.title and " — " in c.title for c in zh)
