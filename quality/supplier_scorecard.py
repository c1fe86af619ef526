"""The supplier scorecard for a period, computed from the graph (issue 18 item 2).

For a supplier and a period ``[start, end)`` (UTC times; a bare date is its midnight):

- **lots received**: its material lots (``suppliedBy``) received in the period (``receivedAt``,
  or when the lot was recorded if it records no receipt time);
- **lots rejected**: of those, the lots whose status is ``Rejected`` (incoming inspection,
  or a disposition returning them to the supplier) or whose incoming inspection found them
  nonconforming;
- **deviations**: deviations opened in the period (``openedAt``) that concern one of the
  supplier's lots (of any period) or anything made from one — deviation → affected entity ←
  genealogy ← the supplier's lot — or that the supplier raised;
- **SCARs**: its corrective action requests due in the period: on time (closed on or before
  the due date), late (closed after it, or still open after it at ``now``), pending (open and
  not yet due); cancelled ones count in neither. The on-time rate is on time / (on time + late).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ontology.codes import InspectionOutcome, MaterialLotStatus, SCARState
from ontology.terms import C, P, R
from quality.suppliers import lots_of
from quality.workflow import linked_from

__all__ = ["Scorecard", "scorecard"]

#: genealogy depth followed from a supplier's lots to what was made from them
MAX_DEPTH = 50


@dataclass
class Scorecard:
    supplier: str
    key: str
    start: str
    end: str
    lots_received: list[str] = field(default_factory=list)
    lots_rejected: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    scars_on_time: list[str] = field(default_factory=list)
    scars_late: list[str] = field(default_factory=list)
    scars_pending: list[str] = field(default_factory=list)

    @property
    def rejection_rate(self) -> float | None:
        n = len(self.lots_received)
        return len(self.lots_rejected) / n if n else None

    @property
    def scar_on_time_rate(self) -> float | None:
        n = len(self.scars_on_time) + len(self.scars_late)
        return len(self.scars_on_time) / n if n else None


def _moment(text: str) -> str:
    """A period bound as comparable UTC text: a bare date is its midnight."""
    return f"{text}T00:00:00Z" if len(text) == 10 else text


def _in(at: object, start: str, end: str) -> bool:
    return at is not None and start <= str(at) < end


def _rejected(store: GraphStore, lots: dict[str, NodeRecord]) -> set[str]:
    out = {i for i, n in lots.items()
           if n.props.get(P.materialLotStatus) == MaterialLotStatus.REJECTED}
    inspections = linked_from(store, sorted(lots), R.INSPECTS_LOT, C.IncomingInspection)
    bad = {i for i, n in inspections.items()
           if n.props.get(P.inspectionOutcome) == InspectionOutcome.NONCONFORMING}
    out |= {e.dst for e in store.links(sorted(bad), [R.INSPECTS_LOT])}
    return out


def scorecard(store: GraphStore, supplier: str, start: str, end: str, now: str) -> Scorecard:
    """The scorecard of ``supplier`` (IRI) for ``[start, end)``, SCAR lateness judged at
    ``now`` (see the module docstring)."""
    start, end, now = _moment(start), _moment(end), _moment(now)
    sup = store.get(supplier)
    card = Scorecard(supplier, sup.key if sup else supplier, start, end)
    lots = lots_of(store, supplier)
    received = {i: n for i, n in lots.items()
                if _in(n.props.get(P.receivedAt) or n.recorded_at, start, end)}
    card.lots_received = sorted(n.key for n in received.values())
    rejected = _rejected(store, received)
    card.lots_rejected = sorted(received[i].key for i in rejected)

    reached = set(lots)
    if lots:
        reached |= set(store.genealogy(sorted(lots), Direction.DOWNSTREAM, MAX_DEPTH).nodes)
    devs = linked_from(store, sorted(reached), R.CONCERNS, C.Deviation)
    devs.update(linked_from(store, [supplier], R.RAISED_BY, C.Deviation))
    card.deviations = sorted(d.key for d in devs.values()
                             if _in(d.props.get(P.openedAt), start, end))

    scars = linked_from(store, [supplier], R.REQUESTED_OF, C.SupplierCorrectiveAction)
    for s in sorted(scars.values(), key=lambda n: n.key):
        due = str(s.props.get(P.dueDate) or "")
        if not due or not _in(_moment(due), start, end):
            continue
        state = s.props.get(P.scarState)
        closed = s.props.get(P.closedAt)
        if state == SCARState.CANCELLED:
            continue
        if state == SCARState.CLOSED and closed is not None:
            (card.scars_on_time if str(closed)[:10] <= due else card.scars_late).append(s.key)
        elif now[:10] > due:
            card.scars_late.append(s.key)
        else:
            card.scars_pending.append(s.key)
    return card
