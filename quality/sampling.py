"""Single sampling plans for normal inspection by attributes, ISO 2859-1 (= ANSI/ASQ Z1.4,
MIL-STD-105E): the plan an incoming inspection uses for a lot (``quality.suppliers``).

- **Table 1** (sample size code letters): the code letter for the lot size at general inspection
  level I, II or III (codes ``GI``, ``GII``, ``GIII``; :data:`CODE_LETTERS`, copied row by row
  from the standard);
- **Table 2-A** (single sampling, normal inspection, master table): the sample size of each
  code letter (2, 3, 5 … 1250) and the acceptance/rejection numbers (Ac, Re) for each preferred
  AQL. The master table is built from the standard's own structure rather than retyped cell by
  cell: code letters and AQL columns both step by the R5 series (a factor of about 1.6), so a cell
  depends only on the sum of its row and column index, ``d``. Along that diagonal the table reads
  ``↓`` below d = 14, then ``0 1``, ``↑``, ``↓``, ``1 2``, ``2 3``, ``3 4``, ``5 6``, ``7 8``,
  ``10 11``, ``14 15``, ``21 22`` (d = 24); an arrow sends the user down (↓) or up (↑) the
  column to the first plan, whose sample size then replaces the code letter's (row A, having no
  plan above, points down where the others point up). Plans in percent
  nonconforming stop at AQL 10, the last column the standard gives for it; code letter R (lots
  over 500 000 at level III) breaks the diagonal pattern in the standard and is refused here
  rather than guessed.

When the sample size equals or exceeds the lot size, every item is inspected (the standard's note
to Table 2-A) with the plan's acceptance number.
"""

from __future__ import annotations

from dataclasses import dataclass

from quality.workflow import WorkflowRefused

__all__ = ["AQLS", "CODE_LETTERS", "SAMPLE_SIZES", "SamplingPlan", "code_letter", "plan_for",
           "verdict"]

#: the code letters of Table 2-A with their sample sizes
SAMPLE_SIZES: dict[str, int] = {
    "A": 2, "B": 3, "C": 5, "D": 8, "E": 13, "F": 20, "G": 32, "H": 50, "J": 80, "K": 125,
    "L": 200, "M": 315, "N": 500, "P": 800, "Q": 1250, "R": 2000}
_LETTERS = list(SAMPLE_SIZES)

#: Table 1: (largest lot size of the range, code letter at levels I, II, III)
CODE_LETTERS: tuple[tuple[int | None, str, str, str], ...] = (
    (8, "A", "A", "B"), (15, "A", "B", "C"), (25, "B", "C", "D"), (50, "C", "D", "E"),
    (90, "C", "E", "F"), (150, "D", "F", "G"), (280, "E", "G", "H"), (500, "F", "H", "J"),
    (1200, "G", "J", "K"), (3200, "H", "K", "L"), (10000, "J", "L", "M"),
    (35000, "K", "M", "N"), (150000, "L", "N", "P"), (500000, "M", "P", "Q"),
    (None, "N", "Q", "R"))
_LEVELS = ("GI", "GII", "GIII")

#: the preferred AQLs (percent nonconforming) of Table 2-A, as text so 0.010 stays exact
AQLS: tuple[str, ...] = ("0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25",
                         "0.40", "0.65", "1.0", "1.5", "2.5", "4.0", "6.5", "10")
#: (Ac, Re) along the table's diagonal from d = 14 on; None is an arrow (↑ at 15, ↓ at 16)
_DIAGONAL: tuple[tuple[int, int] | None, ...] = (
    (0, 1), None, None, (1, 2), (2, 3), (3, 4), (5, 6), (7, 8), (10, 11), (14, 15), (21, 22))
_FIRST = 14


@dataclass(frozen=True)
class SamplingPlan:
    """The plan for one lot: code letter and sample size after the arrows, Ac and Re."""

    lot_size: int
    level: str
    aql: str
    code_letter: str
    sample_size: int
    accept: int
    reject: int


def _refuse(rule: str, field: str, value: object, message: str) -> WorkflowRefused:
    return WorkflowRefused(rule, message, field, value)


def _aql_index(aql: float | str) -> int:
    try:
        x = float(aql)
    except (TypeError, ValueError):
        x = float("nan")
    for i, a in enumerate(AQLS):
        if abs(float(a) - x) <= 1e-9:
            return i
    raise _refuse("aql", "aql", aql, "the AQL must be one of the preferred values of ISO 2859-1 "
                  "in percent nonconforming: " + ", ".join(AQLS))


def _cell(row: int, col: int) -> tuple[int, int] | str:
    """Ac, Re of a cell of Table 2-A, or its arrow ("down" / "up")."""
    d = row + col - _FIRST
    if d < 0:
        return "down"
    if d >= len(_DIAGONAL):
        return "up"
    cell = _DIAGONAL[d]
    if cell is None:
        return "up" if d == 1 else "down"
    return cell


def code_letter(lot_size: int, level: str = "GII") -> str:
    """The sample size code letter of Table 1 for a lot of ``lot_size`` items."""
    if isinstance(lot_size, bool) or not isinstance(lot_size, int) or lot_size < 2:
        raise _refuse("lot-size", "lotSize", lot_size,
                      "the lot size is a whole number of items, at least 2 (ISO 2859-1 Table 1)")
    if level not in _LEVELS:
        raise _refuse("inspection-level", "inspectionLevel", level,
                      "the inspection level is one of the general levels GI, GII, GIII")
    return next(str(r[1 + _LEVELS.index(level)]) for r in CODE_LETTERS
                if r[0] is None or lot_size <= r[0])


def plan_for(lot_size: int, aql: float | str, level: str = "GII") -> SamplingPlan:
    """The single sampling plan for normal inspection of a lot of ``lot_size`` items."""
    letter = code_letter(lot_size, level)
    col = _aql_index(aql)
    row = _LETTERS.index(letter)
    while True:
        if _LETTERS[row] == "R":
            raise _refuse("code-letter", "lotSize", lot_size,
                          "the plan would use code letter R (2000 items), which this "
                          "implementation of Table 2-A does not cover; inspect at level II")
        cell = _cell(row, col)
        if cell == "down":
            row += 1
        elif cell == "up" and row > 0:
            row -= 1
        elif cell == "up":  # code letter A has no plan above: its arrows there point down
            row += 1
        else:
            assert isinstance(cell, tuple)
            code = _LETTERS[row]
            n = min(SAMPLE_SIZES[code], lot_size)
            return SamplingPlan(lot_size, level, AQLS[col], code, n, cell[0], cell[1])


def verdict(plan: SamplingPlan, nonconforming: int) -> bool:
    """True (accept the lot) when the nonconforming items found in the sample are at most Ac."""
    if isinstance(nonconforming, bool) or not isinstance(nonconforming, int) \
            or not 0 <= nonconforming <= plan.sample_size:
        raise _refuse("nonconforming-count", "defectCount", nonconforming,
                      f"the nonconforming items found are a whole number from 0 to the sample "
                      f"size {plan.sample_size}")
    return nonconforming <= plan.accept
