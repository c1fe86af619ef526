"""ISO 2859-1 / ANSI/ASQ Z1.4 single sampling plans (quality.sampling) against published values:
Table 1 rows as printed in the standard, and worked examples of Table 2-A from the literature
(Montgomery, Introduction to Statistical Quality Control, the MIL-STD-105E example: N = 2000,
AQL 0.65 %, level II → K, n = 125, Ac 2, Re 3) and the AQL charts suppliers print."""

from __future__ import annotations

import pytest

from quality.sampling import code_letter, plan_for, verdict
from quality.workflow import WorkflowRefused

# Table 1 (general inspection levels I, II, III), as printed: lot range → code letters
TABLE_1 = [((2, 8), "AAB"), ((9, 15), "ABC"), ((16, 25), "BCD"), ((26, 50), "CDE"),
           ((51, 90), "CEF"), ((91, 150), "DFG"), ((151, 280), "EGH"), ((281, 500), "FHJ"),
           ((501, 1200), "GJK"), ((1201, 3200), "HKL"), ((3201, 10000), "JLM"),
           ((10001, 35000), "KMN"), ((35001, 150000), "LNP"), ((150001, 500000), "MPQ")]


@pytest.mark.parametrize(("lots", "letters"), TABLE_1)
def test_code_letters_at_the_boundaries_of_table_1(lots: tuple[int, int],
                                                   letters: str) -> None:
    for size in lots:
        got = "".join(code_letter(size, level) for level in ("GI", "GII", "GIII"))
        assert got == letters, size


def test_lots_over_500000_take_n_q_r() -> None:
    assert [code_letter(500001, lv) for lv in ("GI", "GII", "GIII")] == ["N", "Q", "R"]


@pytest.mark.parametrize(("lot", "aql", "level", "want"), [
    (2000, "0.65", "GII", ("K", 125, 2, 3)),   # Montgomery's MIL-STD-105E example
    (1000, "2.5", "GII", ("J", 80, 5, 6)),
    (1000, "1.0", "GII", ("J", 80, 2, 3)),
    (1000, "0.65", "GII", ("J", 80, 1, 2)),
    (1000, "4.0", "GII", ("J", 80, 7, 8)),
    (1000, "6.5", "GII", ("J", 80, 10, 11)),
    (1000, "0.25", "GII", ("H", 50, 0, 1)),    # ↑ from J to the 0/1 plan of H
    (1000, "0.40", "GII", ("K", 125, 1, 2)),   # ↓ from J to the 1/2 plan of K
    (1000, "2.5", "GI", ("G", 32, 2, 3)),
    (500, "1.0", "GII", ("H", 50, 1, 2)),
    (5000, "2.5", "GII", ("L", 200, 10, 11)),
    (50000, "10", "GII", ("K", 125, 21, 22)),  # ↑ from N: the last plan of the AQL 10 column
    (10, "2.5", "GII", ("C", 5, 0, 1)),         # ↓ from B
    (5, "6.5", "GII", ("A", 2, 0, 1)),
])
def test_published_single_sampling_plans(lot: int, aql: str, level: str,
                                         want: tuple[str, int, int, int]) -> None:
    p = plan_for(lot, aql, level)
    assert (p.code_letter, p.sample_size, p.accept, p.reject) == want


def test_sample_size_never_exceeds_the_lot_and_the_verdict_is_ac_re() -> None:
    p = plan_for(3, "0.010")  # code letter Q (1250) on a lot of 3: inspect all 3
    assert (p.code_letter, p.sample_size, p.accept) == ("Q", 3, 0)
    p = plan_for(1000, "2.5")
    assert verdict(p, 5) is True and verdict(p, 6) is False


@pytest.mark.parametrize(("args", "rule", "field", "value"), [
    ((1, "1.0", "GII"), "lot-size", "lotSize", 1),
    ((100, "0.3", "GII"), "aql", "aql", "0.3"),
    ((100, "15", "GII"), "aql", "aql", "15"),  # nonconformities per hundred: not covered
    ((100, "1.0", "II"), "inspection-level", "inspectionLevel", "II"),
    ((600000, "1.0", "GIII"), "code-letter", "lotSize", 600000),
])
def test_bad_inputs_are_refused_with_rule_field_and_value(
        args: tuple[int, str, str], rule: str, field: str, value: object) -> None:
    with pytest.raises(WorkflowRefused) as e:
        plan_for(*args)
    assert (e.value.code, e.value.field, e.value.value) == (rule, field, value)
