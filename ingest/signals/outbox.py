"""QC notifications from a durable outbox: the Alarm the exception loop writes to the QC role in
the SAME transaction as the excursion, deviation and hold is the outbox entry. A dispatcher
delivers each alarm's notification (built from the committed graph, never from memory) to every
publisher and marks it delivered only when all of them accepted it; a failure leaves it pending
(retried with back-off, and after a restart :meth:`QcOutbox.recover` finds every undelivered
alarm). So QC is notified at least once per alarm; :attr:`Notification.id` (the alarm's record
number) lets receivers count it once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from graph.model import Direction
from graph.port import GraphStore
from ingest.signals.model import now_ms
from ingest.signals.state import LoopState
from ontology.terms import C, P, R
from quality.exception_loop import QC_ROLE
from quality.notify import Backoff, Notification

__all__ = ["QcOutbox", "notification_of"]

log = logging.getLogger("tracegraph.signals.outbox")
_RULES = re.compile(r"^SPC rule\(s\) ([\w, ]+) on ")


def _one(store: GraphStore, iri: str, rel: str, label: str | None = None,
         incoming: bool = False) -> str | None:
    edges = store.links([iri], [rel], Direction.DOWNSTREAM if incoming else Direction.UPSTREAM)
    iris = [e.src if incoming else e.dst for e in edges]
    if label is not None:
        iris = [i for i, n in store.get_many(iris).items() if n.label == label]
    return sorted(iris)[0] if iris else None


def notification_of(store: GraphStore, alarm_iri: str) -> Notification | None:
    """The QC notification of a committed alarm (None: not committed, or not a signal alarm)."""
    alarm = store.get(alarm_iri)
    exc_iri = _one(store, alarm_iri, R.RAISED_BY) if alarm is not None else None
    exc = store.get(exc_iri) if exc_iri else None
    if alarm is None or exc is None or exc_iri is None:
        return None
    spec_iri, run_iri = (_one(store, exc_iri, R.VIOLATES_SPEC),
                         _one(store, exc_iri, R.DURING_EXECUTION))
    batch_iri = _one(store, run_iri, R.FOR_BATCH) if run_iri else None
    eq_iri = _one(store, run_iri, R.ON_EQUIPMENT) if run_iri else None
    if run_iri is None and spec_iri:  # a room's environment excursion (issue 17 item 1)
        eq_iri = _one(store, spec_iri, R.LIMITS_ROOM)
    dev_iri = _one(store, exc_iri, R.RAISED_BY, C.Deviation, incoming=True)
    hold_iri = _one(store, dev_iri, R.RAISED_BY, C.Hold, incoming=True) if dev_iri else None
    nodes = store.get_many([i for i in (spec_iri, run_iri, batch_iri, eq_iri, dev_iri) if i])
    if spec_iri not in nodes or (run_iri not in nodes and eq_iri not in nodes):
        return None
    dev = nodes.get(dev_iri or "")
    level = str(exc.props.get(P.excursionLevel, ""))
    rules = _RULES.match(str(exc.props.get(P.description, "")))
    held = sorted(e.dst for e in store.links([hold_iri], [R.HOLDS])) if hold_iri else []
    return Notification(
        "spcWarning" if level == "spcRule" else "driftWarning" if level == "drift"
        else "deviation" if dev else "excursion", QC_ROLE,
        nodes[eq_iri].key if eq_iri in nodes else "", nodes[spec_iri].key.rsplit("/", 1)[-1],
        nodes[batch_iri].key if batch_iri in nodes else "",
        nodes[run_iri].key if run_iri in nodes else "", level,
        float(exc.props.get(P.peakValue, 0.0)),  # type: ignore[arg-type]  # a numeric property
        str(exc.props.get(P.detectedAt, "")), exc_iri, alarm_iri, dev_iri, hold_iri,
        str(dev.props.get(P.deviationGrade)) if dev else None, held,
        [r.strip() for r in rules.group(1).split(",")] if rules else [], alarm.key)


class QcOutbox:
    """Pending alarms → notifications, delivered at least once (see the module)."""

    def __init__(self, store: GraphStore, state: LoopState,
                 publishers: Callable[[], Sequence[Callable[[Notification], None]]],
                 max_pending: int = 10_000) -> None:
        self.store = store
        self.state = state
        self.publishers = publishers
        self.max_pending = max_pending
        self.pending: dict[str, None] = {}  # alarm IRIs, oldest first
        self.delivered = 0
        self.failures = 0
        self._rescan = False
        self.backoff = Backoff()

    def add(self, alarm_iri: str) -> None:
        if len(self.pending) >= self.max_pending:  # still durable: found again by a rescan
            self._rescan = True
            return
        self.pending[alarm_iri] = None

    def recover(self) -> int:
        """Queue every committed alarm not yet delivered (at start, and after an overflow)."""
        alarms = [n.iri for n in self.store.nodes_of_class(C.Alarm)]
        done = self.state.delivered(alarms)
        self._rescan = False
        before = len(self.pending)
        for a in alarms:
            if a not in done:
                self.add(a)
        return len(self.pending) - before

    def dispatch(self, force: bool = False) -> int:
        """Deliver what is pending (after a failure, not before the back-off has passed)."""
        if not self.pending and not self._rescan:
            return 0
        if not force and not self.backoff.ready():
            return 0
        if self._rescan:
            self.recover()
        sent = 0
        for alarm in self.state.delivered(self.pending):  # re-found by a re-evaluation
            del self.pending[alarm]
        for alarm in list(self.pending):
            n = notification_of(self.store, alarm)
            if n is None:  # not (yet) committed: stays pending, found again at restart
                del self.pending[alarm]
                continue
            try:
                for publish in self.publishers():
                    publish(n)
            except Exception:  # any receiver failure: retried later
                self.failures += 1
                log.warning("QC notification %s not delivered; will retry", n.id,
                            exc_info=True)
                self.backoff.failed()
                return sent
            self.state.mark_delivered(alarm, now_ms())
            del self.pending[alarm]
            sent += 1
        self.delivered += sent
        self.backoff.succeeded()
        return sent
