"""Plant rules on consuming material, run by the one write path (see :data:`graph.write.Guard`),
so a capture, an EPCIS event, a GraphQL mutation or a CSV load all meet them.

A ``consumption`` derivation (batch ← lot, sublot or intermediate batch) is refused when

- **lot-approved**: the consumed material lot is not ``Approved`` (Quarantine, Rejected, OnHold,
  Consumed, Expired) in its newest state. As for holds (:mod:`quality.holds`), a consumption
  whose event time is before the lot was put ``OnHold`` (its last change) is a late record of
  history and is accepted;
- **lot-expired**: the consumed lot, sublot or batch is past its expiry date at the consumption's
  event time (``atTime``; without one, the time of the write) — usable through the expiry day;
- **supplier-approved**: the lot's supplier is not on the approved supplier list (status
  ``approved`` or ``conditional``), or the lot names no supplier;
- **on-hand**: the quantity is more than the source has on hand — its quantity received minus
  every consumption from it so far (stored and in this write), in the source's unit (other
  units are converted; one that cannot be converted is refused as ``unit-convertible``), the
  same account as the mass balance of :mod:`graph.massbalance`;
- **bom-line** / **bom-quantity**: the material is on no BOM line of the operation (nor an
  approved substitute), or the batch's total on the line would exceed the line's tolerance —
  see :mod:`quality.bom`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from graph.errors import Problem
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.schema import DERIVATION
from graph.write import PendingWrite
from ontology.codes import DerivationKind, MaterialLotStatus, SupplierStatus
from ontology.terms import C, P, R
from quality.bom import bom_problems, quantity_in
from quality.pending_reads import nodes, targets

__all__ = ["consumption_rules", "on_hand"]

#: supplier statuses on the approved supplier list
SUPPLIER_OK = frozenset({SupplierStatus.APPROVED, SupplierStatus.CONDITIONAL})
_EPS = 1e-9


def _consumptions(p: PendingWrite) -> list[EdgeRecord]:
    return [e for e in p.new_edges_of([DERIVATION])
            if e.props.get(P.derivationKind) == DerivationKind.CONSUMPTION]


def _at(p: PendingWrite, e: EdgeRecord) -> str:
    return str(e.props.get(P.atTime) or p.tx.at)


def _problem(rule: str, e: EdgeRecord, field: str, value: object, message: str) -> Problem:
    return Problem(rule=rule, field=field, value=value, focus=e.src,
                   event_id=e.eid.rpartition("#")[0] or None,  # the event the edge came in
                   message=f"{e.src} cannot consume {e.dst}: {message}")


def consumption_rules(p: PendingWrite) -> list[Problem]:
    """Every new consumption: approved, unexpired lot from an approved supplier, on hand, on
    the BOM (see the module docstring)."""
    uses = _consumptions(p)
    if not uses:
        return []
    sources = nodes(p, {e.dst for e in uses})
    problems: list[Problem] = []
    lots = sorted(i for i, n in sources.items() if n.label == C.MaterialLot)
    supplier_of = targets(p, lots, R.SUPPLIED_BY)
    suppliers = nodes(p, {s for ss in supplier_of.values() for s in ss})
    for e in uses:
        src = sources.get(e.dst)
        if src is None:
            continue  # referential integrity already refused it
        problems += _state_problems(p, e, src, supplier_of.get(src.iri, []), suppliers)
    problems += _on_hand_problems(uses, sources, _prior_use(p, sorted(sources)))
    problems += bom_problems(p, uses, sources)
    return problems


def _state_problems(p: PendingWrite, e: EdgeRecord, src: NodeRecord, supplied_by: list[str],
                    suppliers: dict[str, NodeRecord]) -> list[Problem]:
    out: list[Problem] = []
    at = _at(p, e)
    expiry = src.props.get(P.expiryDate)
    if expiry is not None and at[:10] > str(expiry)[:10]:
        out.append(_problem("lot-expired", e, P.expiryDate, expiry,
                            f"{src.label} {src.key} expired on {expiry}, before {at}"))
    if src.label != C.MaterialLot:
        return out
    status = src.props.get(P.materialLotStatus)
    late = status == MaterialLotStatus.ON_HOLD and bool(src.updated_at) and at < src.updated_at
    if status != MaterialLotStatus.APPROVED and not late:
        out.append(_problem("lot-approved", e, P.materialLotStatus, status,
                            f"material lot {src.key} is {status or 'without a status'}; only "
                            f"{MaterialLotStatus.APPROVED} lots may be consumed"))
    if not supplied_by:
        out.append(_problem("supplier-approved", e, "suppliedBy", None,
                            f"material lot {src.key} names no supplier, so its supplier's "
                            "approval cannot be shown"))
    for s in supplied_by:
        sup = suppliers.get(s)
        st = sup.props.get(P.supplierStatus) if sup is not None else None
        if st not in SUPPLIER_OK:
            out.append(_problem("supplier-approved", e, P.supplierStatus, st,
                                f"material lot {src.key} comes from supplier "
                                f"{sup.key if sup else s}, which is {st or 'without a status'}"
                                f"; only {' or '.join(sorted(SUPPLIER_OK))} suppliers' lots may "
                                "be consumed"))
    return out


def _prior_use(p: PendingWrite, sources: list[str]) -> dict[str, list[EdgeRecord]]:
    """Committed consumptions from each source."""
    out: dict[str, list[EdgeRecord]] = defaultdict(list)
    for e in p.store.links(sources, [DERIVATION], Direction.DOWNSTREAM):
        if e.props.get(P.derivationKind) == DerivationKind.CONSUMPTION:
            out[e.dst].append(e)
    return out


def on_hand(source: NodeRecord, consumed: Iterable[EdgeRecord]) -> float | None:
    """What ``source`` has left: its quantity minus the consumptions ``consumed`` (in its unit);
    None when it records no quantity."""
    received = source.props.get(P.quantity)
    if not isinstance(received, (int, float)) or isinstance(received, bool):
        return None
    unit = source.props.get(P.unitCode)
    used = sum(q for e in consumed
               if (q := quantity_in(e, str(unit) if unit is not None else None)) is not None)
    return float(received) - used


def _on_hand_problems(uses: list[EdgeRecord], sources: dict[str, NodeRecord],
                      prior: dict[str, list[EdgeRecord]]) -> list[Problem]:
    out: list[Problem] = []
    taken: dict[str, list[EdgeRecord]] = defaultdict(list)
    for e in sorted(uses, key=lambda x: (x.dst, x.eid)):
        src = sources.get(e.dst)
        if src is None:
            continue
        unit = src.props.get(P.unitCode)
        try:
            left = on_hand(src, [*prior.get(e.dst, ()), *taken[e.dst]])
            want = quantity_in(e, str(unit) if unit is not None else None)
        except ValueError as exc:
            out.append(_problem("unit-convertible", e, P.unitCode, e.props.get(P.unitCode),
                                str(exc)))
            continue
        taken[e.dst].append(e)
        if left is None or want is None:
            continue
        if want > left + _EPS * max(1.0, abs(left)):
            out.append(_problem(
                "on-hand", e, P.quantity, e.props.get(P.quantity),
                f"{src.label} {src.key} has {max(left, 0.0):g} {unit or ''} on hand "
                f"(received {src.props.get(P.quantity)}), less than the {want:g} "
                f"{unit or ''} consumed".replace("  ", " ")))
    return out
