"""The bill of materials at the point of execution: what a batch may consume, and how much.

A process version's BOM lines are bound to its operations (``boundToOperation``); each names a
material (``ofMaterial``), the substitutes approved on it (``substituteMaterial``, part of the
version, so approved with it through change control), a quantity per unit of output in its unit,
and optionally a tolerance in percent (``quantityTolerance``).

- **bom-line** (a write rule, run from :func:`quality.material_rules.consumption_rules`): the
  material of a consumed lot (or of the lots a sublot was split or merged from) is on no BOM
  line of the operation the consumption happened during (``viaActivity`` →
  ``executesOperation``), neither as its material nor as a substitute — or, without an
  execution, on no line of the batch's pinned process version. A version that defines no BOM
  line at all is not checked: there is nothing to match against.
- **bom-quantity**: a line with a tolerance and a batch with a quantity give the bounds
  ``quantity times batch quantity times (1 ± tolerance/100)`` in the line's unit. A consumption that
  takes the batch's total on the line (every consumption into it of the line's material or
  substitutes, stored and in this write, converted to the line's unit) above the upper bound is
  refused; :func:`bom_exceptions` (the release report) lists a total outside either bound.

The same reads serve the guard (over a pending write) and the release report (over the committed
store: :class:`quality.pending_reads.Committed`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graph.errors import Problem
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.schema import DERIVATION
from ontology.codes import DerivationKind
from ontology.terms import C, P, R
from ontology.units import UnitError, convert
from quality.pending_reads import Reads, links, nodes, targets

__all__ = ["Line", "bom_exceptions", "bom_problems", "lines_of", "materials_of", "quantity_in"]

#: derivation kinds that carry material from a lot into a sublot (for the sublot's material)
_SPLITS = frozenset({DerivationKind.SPLIT, DerivationKind.MERGE})
_EPS = 1e-9


@dataclass(frozen=True)
class Line:
    """One BOM line as the rules read it."""

    iri: str
    key: str
    operation: str
    materials: frozenset[str]  # its material and the approved substitutes
    quantity: float | None  # per unit of output, in ``unit``
    unit: str | None
    tolerance: float | None  # percent

    def bounds(self, batch_quantity: object) -> tuple[float, float] | None:
        """(lowest, highest) total the batch may consume on this line, or None when the line
        has no tolerance or quantity, or the batch no quantity."""
        if self.tolerance is None or self.quantity is None or \
                not isinstance(batch_quantity, (int, float)) or isinstance(batch_quantity, bool):
            return None
        planned = self.quantity * float(batch_quantity)
        return planned * (1 - self.tolerance / 100), planned * (1 + self.tolerance / 100)


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def lines_of(r: Reads, operations: Iterable[str]) -> dict[str, Line]:
    """Every BOM line bound to one of ``operations``."""
    ops = sorted(set(operations))
    if not ops:
        return {}
    iris = sorted({e.src for e in links(r, ops, [R.BOUND_TO_OPERATION], Direction.DOWNSTREAM)})
    recs = nodes(r, iris)
    op_of = targets(r, iris, R.BOUND_TO_OPERATION)
    mat = targets(r, iris, R.OF_MATERIAL)
    sub = targets(r, iris, R.SUBSTITUTE_MATERIAL)
    out: dict[str, Line] = {}
    for i in iris:
        n = recs.get(i)
        if n is None or n.label != C.BOMLine:
            continue
        unit = n.props.get(P.unitCode)
        for o in op_of.get(i, ()):
            out[i] = Line(i, n.key, o, frozenset([*mat.get(i, ()), *sub.get(i, ())]),
                          _number(n.props.get(P.quantity)), str(unit) if unit else None,
                          _number(n.props.get(P.quantityTolerance)))
    return out


def materials_of(r: Reads, sources: dict[str, NodeRecord]) -> dict[str, set[str]]:
    """source → the materials it is made of: a lot's material; a sublot's, through the splits
    and merges it came from (up to a few levels). Intermediate batches have none."""
    out: dict[str, set[str]] = {}
    origin = {i: {i} for i, n in sources.items() if n.label in (C.MaterialLot, C.Sublot)}
    frontier = {i for i, n in sources.items() if n.label == C.Sublot}
    for _ in range(4):
        if not frontier:
            break
        up = [e for e in links(r, frontier, [DERIVATION])
              if e.props.get(P.derivationKind) in _SPLITS]
        reached: set[str] = set()
        for e in up:
            for found in origin.values():
                if e.src in found:
                    found.add(e.dst)
            reached.add(e.dst)
        frontier = reached
    everything = {x for xs in origin.values() for x in xs}
    kinds = nodes(r, everything)
    lots = [i for i in everything if (n := kinds.get(i)) is not None and n.label == C.MaterialLot]
    mat = targets(r, lots, R.OF_MATERIAL)
    for s, found in origin.items():
        ms = {m for x in found for m in mat.get(x, ())}
        if ms:
            out[s] = ms
    return out


def _version_operations(r: Reads, batches: Iterable[str]) -> tuple[dict[str, str],
                                                                     dict[str, set[str]]]:
    """batch → its pinned version; version → the operations of its routing."""
    version = {b: vs[0] for b, vs in targets(r, batches, R.RUNS_PROCESS_VERSION).items()}
    routing = targets(r, set(version.values()), R.HAS_ROUTING)
    ops_of_routing = targets(r, {x for rs in routing.values() for x in rs}, R.HAS_OPERATION)
    return version, {v: {o for x in routing.get(v, ()) for o in ops_of_routing.get(x, ())}
                     for v in set(version.values())}


def _problem(rule: str, e: EdgeRecord, field: str, value: object, message: str) -> Problem:
    return Problem(rule=rule, field=field, value=value, focus=e.src,
                   message=f"{e.src} cannot consume {e.dst}: {message}")


def quantity_in(e: EdgeRecord, unit: str | None) -> float | None:
    """The derivation's quantity in ``unit`` (its own unit when None); None when it records
    none; ValueError (UnitError) when the units do not convert."""
    q = _number(e.props.get(P.quantity))
    given = e.props.get(P.unitCode)
    if q is None or unit is None or given is None or given == unit:
        return q
    return convert(q, str(given), unit)


def _in(e: EdgeRecord, unit: str | None) -> float | None:
    try:
        return quantity_in(e, unit)
    except (UnitError, ValueError):
        return None  # the on-hand rule names an unconvertible unit


def _consumed(r: Reads, batches: Sequence[str]) -> dict[str, list[tuple[EdgeRecord, set[str]]]]:
    """batch → every consumption into it (stored and in this write) with the materials of its
    source."""
    uses = [e for e in links(r, batches, [DERIVATION])
            if e.props.get(P.derivationKind) == DerivationKind.CONSUMPTION]
    mats = materials_of(r, nodes(r, {e.dst for e in uses}))
    out: dict[str, list[tuple[EdgeRecord, set[str]]]] = defaultdict(list)
    for e in uses:
        out[e.src].append((e, mats.get(e.dst, set())))
    return out


def _total(line: Line, consumed: Iterable[tuple[EdgeRecord, set[str]]]) -> float:
    return sum(q for e, ms in consumed if ms & line.materials
               and (q := _in(e, line.unit))
               is not None)


def bom_problems(r: Reads, uses: list[EdgeRecord],
                 sources: dict[str, NodeRecord]) -> list[Problem]:
    """The bom-line and bom-quantity problems of the new consumptions ``uses``."""
    materials = materials_of(r, sources)
    checked = [e for e in uses if e.dst in materials]
    if not checked:
        return []
    via = {str(e.props[P.viaActivity]) for e in checked if e.props.get(P.viaActivity)}
    op_of = targets(r, via, R.EXECUTES_OPERATION)
    version, version_ops = _version_operations(r, {e.src for e in checked})
    lines = lines_of(r, {o for os_ in version_ops.values() for o in os_}
                     | {o for os_ in op_of.values() for o in os_})
    by_op: dict[str, list[Line]] = defaultdict(list)
    for ln in lines.values():
        by_op[ln.operation].append(ln)
    out: list[Problem] = []
    over: dict[tuple[str, str], EdgeRecord] = {}  # (batch, line) → a consumption on it
    for e in checked:
        v = version.get(e.src)
        vops = version_ops.get(v, set()) if v else set()
        if not any(by_op.get(o) for o in vops):
            continue  # the version defines no BOM: nothing to match against
        ops = op_of.get(str(e.props.get(P.viaActivity) or ""), [])
        where = sorted(ops) if ops else sorted(vops)
        fits = [ln for o in where for ln in by_op.get(o, ()) if materials[e.dst] & ln.materials]
        if not fits:
            scope = f"operation {', '.join(where)}" if ops else f"process version {v}"
            out.append(_problem(
                "bom-line", e, "ofMaterial", sorted(materials[e.dst]),
                f"its material {', '.join(sorted(materials[e.dst]))} is on no BOM line of "
                f"{scope}, neither as the line's material nor as an approved substitute"))
        for ln in fits:
            if ln.tolerance is not None:
                over.setdefault((e.src, ln.iri), e)
    if over:
        out += _over_problems(r, over, lines)
    return out


def _over_problems(r: Reads, over: dict[tuple[str, str], EdgeRecord],
                   lines: dict[str, Line]) -> list[Problem]:
    batches = sorted({b for b, _ in over})
    consumed = _consumed(r, batches)
    made = nodes(r, batches)
    out: list[Problem] = []
    for (b, li), e in sorted(over.items()):
        ln = lines[li]
        bounds = ln.bounds(made[b].props.get(P.quantity) if b in made else None)
        if bounds is None:
            continue
        total = _total(ln, consumed.get(b, ()))
        if total > bounds[1] + _EPS * max(1.0, bounds[1]):
            out.append(_problem(
                "bom-quantity", e, P.quantity, e.props.get(P.quantity),
                f"the batch's total on BOM line {ln.key} would be {total:g} {ln.unit or ''}, "
                f"above {bounds[1]:g} (the line's {ln.quantity:g} per unit times the batch's "
                f"quantity, + {ln.tolerance:g} %)".replace("  ", " ")))
    return out


def bom_exceptions(r: Reads, batch: NodeRecord, operations: Iterable[str]) -> list[Problem]:
    """Release: every BOM line (with a tolerance) of ``operations`` whose total consumed by
    ``batch`` is outside its bounds."""
    lines = [ln for ln in lines_of(r, operations).values() if ln.tolerance is not None]
    if not lines:
        return []
    consumed = _consumed(r, [batch.iri]).get(batch.iri, [])
    out: list[Problem] = []
    for ln in sorted(lines, key=lambda x: x.key):
        bounds = ln.bounds(batch.props.get(P.quantity))
        if bounds is None:
            continue
        total = _total(ln, consumed)
        lo, hi = bounds
        if total < lo - _EPS * max(1.0, lo) or total > hi + _EPS * max(1.0, hi):
            out.append(Problem(
                rule="bom-quantity", field=P.quantity, value=round(total, 9), focus=ln.iri,
                message=f"batch {batch.key} consumed {total:g} {ln.unit or ''} on BOM line "
                        f"{ln.key}, outside {lo:g}..{hi:g} (the line's {ln.quantity:g} per "
                        f"unit times the batch's quantity ± {ln.tolerance:g} %)"
                        .replace("  ", " ")))
    return out
