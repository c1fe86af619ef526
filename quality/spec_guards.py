"""Write guard on the units of specifications: the ``unitCode`` of a parameter spec or an
inspection characteristic must be a unit pint can read (UCUM or UN/CEFACT, see
:mod:`ontology.units`), so its limits can be compared with observations in other units.

The order of the limits (LSL ≤ action low ≤ alert low ≤ setpoint ≤ alert high ≤ action high ≤
USL, where present) is a shape (``tgsh:ParameterSpec-*-le-*``), not repeated here.
"""

from __future__ import annotations

from graph.errors import Problem
from graph.write import PendingWrite
from ontology.terms import C, P
from ontology.units import UnitError, parse_unit

__all__ = ["spec_units"]

_WITH_UNITS = frozenset({C.ParameterSpec, C.InspectionCharacteristic})


def spec_units(p: PendingWrite) -> list[Problem]:
    """Every written parameter spec / inspection characteristic has a readable unit code."""
    problems: list[Problem] = []
    for iri, new in sorted(i for c in _WITH_UNITS for i in p.after_of(c).items()):
        code = new.props.get(P.unitCode)
        if code is None:
            continue
        old = p.before.get(iri)
        if old is not None and old.props.get(P.unitCode) == code:
            continue
        try:
            parse_unit(str(code))
        except UnitError as exc:
            problems.append(Problem(rule="unit-code", field="unitCode", value=code, focus=iri,
                                    message=str(exc)))
    return problems
