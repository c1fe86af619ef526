"""Rules on the form of what is captured, run by the one write path (see
:data:`graph.write.Guard`), so every way in meets them — not only the capture document parser.

- **gs1-check-digit**: every value written to a property the ontology marks ``tg:gs1Key``
  (GTIN, SSCC, GLN) has a valid check digit (a GTIN in its stored 14-digit form); its
  form (digits, length) is the shapes' ``sh:pattern`` and is reported by them;
- on every new derivation (genealogy edge), whatever its kind:

  - **quantity-finite**: the quantity is a finite, non-negative number (NaN and infinities
    would be stored as null and silently drop out of every mass balance);
  - **time-aware**: the event time, when given, is a timezone-aware UTC timestamp;
  - **unit-code**: the unit is one pint can read (UCUM or UN/CEFACT, as for specifications in
    :mod:`quality.spec_guards`);
  - **derivation-kind**: the kind joins classes the ontology allows for it (``tg:derivedClass``
    / ``tg:sourceClass`` on the kind's concept): a ``shipment`` makes a Shipment, a
    ``consumption`` feeds a Batch or Sublot from a lot, sublot or batch, and so on.
"""

from __future__ import annotations

import functools
import math
import re

from graph.errors import Problem
from graph.identifiers.gs1_key import GS1Error, validate_pair
from graph.model import EdgeRecord
from graph.schema import DERIVATION
from graph.write import PendingWrite
from ontology.terms import P
from ontology.units import UnitError, parse_unit
from ontology.vocab import vocabulary
from quality.pending_reads import nodes

__all__ = ["derivation_rules", "gs1_identifiers"]

_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
#: digits of each key as stored (a GTIN in its 14-digit form)
_LENGTHS = {"01": 14, "00": 18, "414": 13}


def _gs1_problem(prop: str, ai: str, value: object) -> str | None:
    """Why ``value`` is not the GS1 key ``ai``, or None when it is."""
    return _gs1_text_problem(prop, ai, value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1 << 16)
def _gs1_text_problem(prop: str, ai: str, text: str) -> str | None:
    """:func:`_gs1_problem` of a text (a pure function: a load writes the same GTIN on
    thousands of units, so each is checked once)."""
    if not (text.isascii() and text.isdigit() and len(text) == _LENGTHS.get(ai, len(text))):
        return None  # the form (digits, length) is the shapes' sh:pattern; they report it
    try:
        validate_pair(ai, text)
    except GS1Error as exc:
        return f"{text!r} is not a valid {prop.upper()} (GS1 AI {ai}): {exc}"
    return None


def gs1_identifiers(p: PendingWrite) -> list[Problem]:
    """Every GTIN, SSCC and GLN written is well formed with a valid check digit."""
    keys = vocabulary().gs1_keys
    problems: list[Problem] = []
    key_set = keys.keys()
    # only nodes carrying a GS1 key are looked at (the rest cannot break the rule), in IRI order
    for iri, new in sorted((i, n) for i, n in p.after.items() if not key_set.isdisjoint(n.props)):
        old = p.before.get(iri)
        for prop, ai in keys.items():
            value = new.props.get(prop)
            if value is None or (old is not None and old.props.get(prop) == value):
                continue
            why = _gs1_problem(prop, ai, value)
            if why is not None:
                problems.append(Problem(rule="gs1-check-digit", field=prop, value=value,
                                        focus=iri, message=why))
    return problems


def _edge_problem(e: EdgeRecord, rule: str, field: str, value: object, why: str) -> Problem:
    return Problem(rule=rule, field=field, value=value, focus=e.src,
                   message=f"derivation of {e.src} from {e.dst}: {why}")


def _form_problems(e: EdgeRecord) -> list[Problem]:
    out: list[Problem] = []
    q = e.props.get(P.quantity)
    if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float))
                          or not math.isfinite(q) or q < 0):
        out.append(_edge_problem(e, "quantity-finite", P.quantity, repr(q),
                                 "the quantity must be a finite number ≥ 0"))
    at = e.props.get(P.atTime)
    if at is not None and not (isinstance(at, str) and _UTC_TEXT.fullmatch(at)):
        out.append(_edge_problem(e, "time-aware", P.atTime, at,
                                 "the time must be a timezone-aware timestamp (e.g. …Z or "
                                 "+01:00)"))
    unit = e.props.get(P.unitCode)
    if unit is not None:
        try:
            parse_unit(str(unit))
        except UnitError as exc:
            out.append(_edge_problem(e, "unit-code", P.unitCode, unit, str(exc)))
    return out


def _well_formed(e: EdgeRecord, times: set[str], units: set[str]) -> bool:
    """True when :func:`_form_problems` finds nothing (the common case, answered without
    building anything): ``times`` and ``units`` hold the values already found well formed."""
    q = e.props.get(P.quantity)
    if q is not None and (type(q) is not float or not 0 <= q < math.inf):
        return False
    at = e.props.get(P.atTime)
    if at is not None and at not in times:
        if not (isinstance(at, str) and _UTC_TEXT.fullmatch(at)):
            return False
        times.add(at)
    unit = e.props.get(P.unitCode)
    if unit is not None and unit not in units:
        if not isinstance(unit, str):
            return False
        try:
            parse_unit(unit)
        except UnitError:
            return False
        units.add(unit)
    return True


def derivation_rules(p: PendingWrite) -> list[Problem]:
    """Every new derivation: finite quantity, aware time, readable unit, kind fits classes."""
    new = p.new_edges_of([DERIVATION])
    if not new:
        return []
    vocab = vocabulary()
    joins = vocab.derivation_joins
    ends = nodes(p, {x for e in new for x in (e.src, e.dst)})
    problems: list[Problem] = []
    fits: dict[tuple[str, frozenset[str]], bool] = {}  # (class, allowed) → fits: once a write
    times: set[str] = set()
    units: set[str] = set()
    fitting: set[tuple[str, str, str]] = set()  # (kind, output class, input class) that fit
    for e in new:
        if not _well_formed(e, times, units):
            problems += _form_problems(e)
        kind = str(e.props.get(P.derivationKind, ""))
        src, dst = ends.get(e.src), ends.get(e.dst)
        if src is None or dst is None:
            continue  # referential integrity already refused it
        sig = (kind, src.label, dst.label)
        if sig in fitting:
            continue
        outs, ins = joins.get(kind, (frozenset(), frozenset()))
        if all(fits.get(k) for k in ((src.label, outs), (dst.label, ins))):
            fitting.add(sig)
            continue
        for node, allowed, role in ((src, outs, "derived thing"), (dst, ins, "source")):
            fit = fits.get((node.label, allowed))
            if fit is None:
                fit = fits[node.label, allowed] = any(vocab.cls(node.label).is_a(c)
                                                      for c in allowed)
            if not fit:
                problems.append(_edge_problem(
                    e, "derivation-kind", P.derivationKind, kind,
                    f"a {kind or 'derivation without a kind'} cannot have a {node.label} as its "
                    f"{role}; the ontology allows {', '.join(sorted(allowed)) or 'none'}"))
    return problems
