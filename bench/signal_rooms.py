"""Cleanroom streams for the signal benchmark (issue 17 item 1: throughput measured with
environment monitoring on): ``n`` ISO 7 rooms, each with the class's limit specs and one
stream per environment parameter (temperature, humidity, pressure differential, particle
counts ≥ 0.5 and ≥ 5 µm) on ``plant/env/<room>/<parameter>``, in spec throughout."""

from __future__ import annotations

import random
from typing import Any

from ontology.environment import UNITS
from quality.environment import room_limit_nodes

__all__ = ["NOMINAL", "room_value", "rooms"]

#: in-spec level and noise (sd) of each parameter in an ISO 7 room
NOMINAL = {"TEMP": (21.0, 0.2), "RH": (45.0, 1.0), "DP": (15.0, 0.5),
           "PC05": (20_000.0, 2_000.0), "PC5": (150.0, 15.0)}


def rooms(n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The capture document of ``n`` rooms (BR-k) with their limits, and their tag bindings."""
    nodes: list[dict[str, Any]] = [
        {"class": "Site", "key": "BENCH-SITE", "properties": {"name": "Bench site"}},
        {"class": "Area", "key": "BENCH-AREA", "properties": {"name": "Moulding hall"},
         "links": {"locatedIn": "Site/BENCH-SITE"}}]
    tags = []
    for k in range(n):
        room = f"BR-{k}"
        nodes += [{"class": "Room", "key": room,
                   "properties": {"name": f"Cleanroom {room}", "cleanroomClass": "ISO 7"},
                   "links": {"locatedIn": "Area/BENCH-AREA"}},
                  *room_limit_nodes(room, "ISO 7")]
        tags += [{"address": f"plant/env/{room}/{p}", "room": room, "parameter": p,
                  "unit": UNITS[p]} for p in NOMINAL]
    return ({"format": "tracegraph.capture/1",
             "events": [{"eventId": f"bench-rooms-{n}", "nodes": nodes}]}, tags)


def room_value(address: str, i: int) -> float:
    """Sample ``i`` of a room stream: its nominal level plus seeded normal noise."""
    mean, sd = NOMINAL[address.rsplit("/", 1)[1]]
    return max(0.0, random.Random(f"{address}/{i}").gauss(mean, sd))
