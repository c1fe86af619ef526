"""Rooms as signal sources (issue 17 item 1): the checks a tag map's room bindings pass at
start, and the plausibility of a room sample.

A room binding names a room the graph knows, an environment parameter
(``tg:EnvironmentParameterScheme``) in its unit (:data:`ontology.environment.UNITS`), and a
room with a limit spec of that parameter (``tg:limitsRoom``) — all problems are reported at once,
with the field, value and rule, and nothing starts. A room sample that cannot be true (a negative
particle count) is kept raw as ``bad`` and never detected on, like a sample in the wrong unit.
"""

from __future__ import annotations

from graph.errors import Problem
from graph.model import Direction
from graph.session import Session
from ingest.signals.model import TagBinding, TagMap
from ontology.environment import PARTICLES, UNITS, room_spec_key
from ontology.terms import C, R

__all__ = ["check_room_tags", "sample_quality"]


def check_room_tags(rt: Session, tags: TagMap) -> list[Problem]:
    """The problems of the tag map's room bindings (none: every one can be monitored)."""
    out: list[Problem] = []
    limited: dict[str, set[str]] = {}
    for i, t in enumerate(tags.tags):
        if t.room is None:
            continue
        at = f"tags.{i}"
        room = rt.vocab.mint_iri(C.Room, t.room)
        if rt.store.get(room) is None:
            out.append(Problem(rule="tag-map-room", field=f"{at}.room", value=t.room,
                               message=f"no Room with code {t.room!r}"))
            continue
        unit = UNITS.get(t.parameter)
        if unit is None:
            out.append(Problem(rule="tag-map-room-parameter", field=f"{at}.parameter",
                               value=t.parameter, message="a room parameter is one of "
                               + ", ".join(sorted(UNITS))))
            continue
        if t.unit != unit:
            out.append(Problem(rule="tag-map-unit", field=f"{at}.unit", value=t.unit,
                               message=f"{t.parameter} is measured in {unit!r}"))
        if t.room not in limited:
            specs = rt.store.get_many(e.src for e in rt.store.links(
                [room], [R.LIMITS_ROOM], Direction.DOWNSTREAM))
            limited[t.room] = {s.key for s in specs.values()}
        if room_spec_key(t.room, t.parameter) not in limited[t.room]:
            key = room_spec_key(t.room, t.parameter)
            out.append(Problem(rule="tag-map-room-limits", field=f"{at}.parameter",
                               value=t.parameter, message=f"room {t.room!r} has no limits of "
                               f"{t.parameter} (a ParameterSpec {key!r} that limitsRoom it)"))
    return out


def sample_quality(b: TagBinding, value: float, quality: str) -> str:
    """A particle count below zero is not a measurement: ``bad`` (kept raw, not detected)."""
    if b.room is not None and b.parameter in PARTICLES and value < 0:
        return "bad"
    return quality
