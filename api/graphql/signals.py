"""GraphQL for equipment signals: the raw signal window around a deviation or excursion (from
the append-only sample store, not the graph), and the QC notification subscription fed by the
exception loop after each commit."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.types import bad_input, runtime_of
from graph.model import NodeRecord
from ingest.signals.model import Observation, text_to_ms
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from ontology.terms import C, P, R
from quality.detection import SpecLimits
from quality.notify import Notification, hub

__all__ = ["MAX_SAMPLES", "MAX_WINDOW_S", "Query", "RawWindow", "Sample", "SignalWindow",
           "SpecLimitsView", "Subscription", "excursion_of", "raw_window"]

MAX_WINDOW_S = 6 * 3600
MAX_SAMPLES = 20_000


@strawberry.type
class Sample:
    time: str
    value: float
    quality: str

    @classmethod
    def of(cls, o: Observation) -> Sample:
        return cls(time=ms_to_text(o.source_ms), value=o.value, quality=o.quality)


@strawberry.type
class SpecLimitsView:
    lsl: float | None
    action_low: float | None
    alert_low: float | None
    setpoint: float | None
    alert_high: float | None
    action_high: float | None
    usl: float | None
    is_cpp: bool

    @classmethod
    def of(cls, lim: SpecLimits) -> SpecLimitsView:
        return cls(lsl=lim.lsl, action_low=lim.action_low, alert_low=lim.alert_low,
                   setpoint=lim.setpoint, alert_high=lim.alert_high,
                   action_high=lim.action_high, usl=lim.usl, is_cpp=lim.is_cpp)


@strawberry.type
class SignalWindow:
    record: str
    excursion: str
    equipment: str
    parameter: str
    execution: str
    detected_at: str
    start: str
    end: str
    limits: SpecLimitsView
    samples: list[Sample]


# the notification record itself is the GraphQL type (one definition)
strawberry.type(Notification, name="QcNotification")


def excursion_of(rt: Any, node: NodeRecord) -> NodeRecord | None:
    """The excursion itself, or the one behind a deviation (directly or through an alarm)."""
    seen = 0
    while node.label != C.Excursion and seen < 3:
        up = [e.dst for e in rt.store.links([node.iri], [R.RAISED_BY])]
        nodes = rt.store.get_many(up)
        nxt = next((n for n in nodes.values() if n.label in (C.Excursion, C.Alarm)), None)
        if nxt is None:
            return None
        node, seen = nxt, seen + 1
    return node if node.label == C.Excursion else None


@dataclass(frozen=True)
class RawWindow:
    """Raw samples of the stream an excursion came from, around its detection."""

    spec: NodeRecord
    execution: NodeRecord
    equipment: NodeRecord
    parameter: str
    at_ms: int
    start_ms: int
    end_ms: int
    samples: list[Observation]


def raw_window(rt: Any, exc: NodeRecord, before: int, after: int,
               limit: int = MAX_SAMPLES) -> RawWindow | None:
    """The raw samples (append-only store under the data directory) of the excursion's
    equipment and parameter from ``before`` seconds before its detection to ``after`` seconds
    after; None when the excursion names no spec, execution or equipment."""
    links = {e.type: e.dst for e in rt.store.links([exc.iri], [R.VIOLATES_SPEC,
                                                               R.DURING_EXECUTION])}
    spec = rt.store.get(links.get(R.VIOLATES_SPEC, ""))
    execution = rt.store.get(links.get(R.DURING_EXECUTION, ""))
    if spec is None or execution is None or P.detectedAt not in exc.props:
        return None
    eq = [e.dst for e in rt.store.links([execution.iri], [R.ON_EQUIPMENT])]
    equipment = rt.store.get(eq[0]) if eq else None
    if equipment is None:
        return None
    parameter = spec.key.rsplit("/", 1)[-1]
    at = text_to_ms(str(exc.props[P.detectedAt]))
    start, end = at - before * 1000, at + after * 1000
    root = rt.settings.data_dir / "signals"
    samples: list[Observation] = []
    if root.is_dir():  # no raw store yet: nothing to read (and nothing to create)
        raw = RawStore(root)
        try:
            samples = raw.window(equipment.key, parameter, start, end, limit)
        finally:
            raw.close()
    return RawWindow(spec, execution, equipment, parameter, at, start, end, samples)


@strawberry.type
class Query:
    @strawberry.field(description="Raw samples around a deviation or excursion (seconds before "
                                  "and after its detection) with the spec limits, for the chart.")
    def signal_window(self, info: Info[Any, None], record: str, before: int = 300,
                      after: int = 300) -> SignalWindow | None:
        if not (0 <= before <= MAX_WINDOW_S and 0 <= after <= MAX_WINDOW_S):
            raise bad_input("before/after", (before, after), f"0 to {MAX_WINDOW_S} seconds")
        rt = runtime_of(info)
        hits = rt.store.find(record)
        node = rt.store.get(record) or (hits[0] if hits else None)
        exc = excursion_of(rt, node) if node is not None else None
        if node is None or exc is None:
            return None
        w = raw_window(rt, exc, before, after)
        if w is None:
            return None
        return SignalWindow(
            record=node.iri, excursion=exc.iri, equipment=w.equipment.key,
            parameter=w.parameter, execution=w.execution.key, detected_at=ms_to_text(w.at_ms),
            start=ms_to_text(w.start_ms), end=ms_to_text(w.end_ms),
            limits=SpecLimitsView.of(SpecLimits.of(w.spec.props)),
            samples=[Sample.of(s) for s in w.samples])


@strawberry.type
class Subscription:
    @strawberry.subscription(description="QC notifications from the exception loop (deviation "
                                         "with its holds, excursion alarms, SPC warnings), "
                                         "sent after commit.")
    async def qc_notifications(self, info: Info[Any, None]
                               ) -> AsyncGenerator[Notification, None]:
        from api.auth import active_user, authorize

        user = info.context.get("user")
        authorize("Subscription.qcNotifications", user)
        rt = runtime_of(info)
        async for n in hub.subscribe():
            # the account as it is now: a disabled or locked account gets no more (the
            # subscription ends with the error), whatever it was when it subscribed
            authorize("Subscription.qcNotifications", active_user(rt, user.username))
            yield n
