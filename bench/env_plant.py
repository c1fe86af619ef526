"""A generated plant for environmental monitoring (issue 17 item 1), deterministic by seed:
rooms of ISO classes with their limit specs (the class defaults of the ontology), equipment
standing in them, and batches whose operations run in random rooms at random times; the room
signals (temperature, humidity, pressure differential, particle counts), in spec except one
planted excursion; and the tag map binding one address per room and parameter.

The test computes what the excursion must hold from :attr:`EnvPlant.runs` in plain Python
(:meth:`EnvPlant.in_room`), never through the code under test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ontology.environment import DEFAULTS, UNITS
from quality.environment import room_limit_nodes

__all__ = ["EnvPlant", "Run", "generate"]

T0_MS = 1775455200000  # 2026-04-06T06:00:00Z
ROOMS = (("CR-A", "ISO 7"), ("CR-B", "ISO 7"), ("CR-C", "ISO 8"))
PV = "ENV-ASSY/v1"
OPS = (10, 20)
_NOMINAL = {"TEMP": 21.0, "RH": 45.0, "DP": 15.0}


def _iso(ms: int) -> str:
    from ontology.datatypes import ms_to_text

    return ms_to_text(ms)


@dataclass(frozen=True)
class Run:
    """One generated operation execution."""

    batch: str
    op: int
    room: str
    start_ms: int
    end_ms: int

    @property
    def key(self) -> str:
        return f"{self.batch}/OP{self.op}"


@dataclass
class EnvPlant:
    runs: list[Run]
    doc: dict[str, Any]
    tags: dict[str, Any]
    samples: list[tuple[str, int, float]] = field(default_factory=list)  # address, ms, value
    excursion: tuple[str, str, int, int] = ("", "", 0, 0)  # room, parameter, start, end ms
    step_ms: int = 60_000

    def in_room(self, room: str, start_ms: int, end_ms: int) -> set[str]:
        """Batches with a run in ``room`` overlapping [start, end] (plain Python)."""
        return {r.batch for r in self.runs
                if r.room == room and r.start_ms <= end_ms and r.end_ms >= start_ms}


def address(room: str, param: str) -> str:
    return f"plant/env/{room}/{param}"


def _master() -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = [
        {"class": "Site", "key": "ENV-SITE", "properties": {"name": "Env site"}},
        {"class": "Area", "key": "ENV-AREA", "properties": {"name": "Assembly hall"},
         "links": {"locatedIn": "Site/ENV-SITE"}},
        {"class": "Product", "key": "ENV-SET", "properties": {"name": "Infusion set"}},
        {"class": "EquipmentClass", "key": "ENV-BENCH", "properties": {"name": "Bench"}},
        {"class": "ProcessDefinition", "key": "ENV-ASSY", "properties": {"name": "Assembly"},
         "links": {"ofProduct": "Product/ENV-SET"}}]
    for room, cls in ROOMS:
        nodes += [{"class": "Room", "key": room,
                   "properties": {"name": f"Cleanroom {room}", "cleanroomClass": cls},
                   "links": {"locatedIn": "Area/ENV-AREA"}},
                  {"class": "Equipment", "key": f"WB-{room}",
                   "properties": {"name": f"Bench in {room}"},
                   "links": {"ofEquipmentClass": "EquipmentClass/ENV-BENCH",
                             "locatedIn": f"Room/{room}"}},
                  *room_limit_nodes(room, cls)]
    ops = [{"class": "Operation", "key": f"{PV}/OP{o}",
            "properties": {"name": f"Assembly step {o}", "sequence": o}} for o in OPS]
    return [*nodes, *ops,
            {"class": "Routing", "key": PV, "properties": {"name": "Routing v1"},
             "links": {"hasOperation": [f"Operation/{PV}/OP{o}" for o in OPS]}},
            {"class": "ProcessVersion", "key": PV,
             "properties": {"versionStatus": "Effective", "revision": "1",
                            "effectiveFrom": "2026-01-01T00:00:00Z"},
             "links": {"versionOf": "ProcessDefinition/ENV-ASSY",
                       "hasRouting": f"Routing/{PV}"}}]


def _runs(rng: random.Random, batches: int, hours: int) -> list[Run]:
    out = []
    for b in range(batches):
        t = T0_MS + rng.randrange(0, hours * 3_600_000 - 4 * 3_600_000, 60_000)
        for op in OPS:
            room = rng.choice(ROOMS)[0]
            dur = rng.randrange(20, 90) * 60_000
            out.append(Run(f"B-ENV-{b:03d}", op, room, t, t + dur))
            t += dur + rng.randrange(5, 60) * 60_000
    return out


def _window(rng: random.Random, runs: list[Run], room: str, hours: int, step: int,
            margin: int) -> tuple[int, int]:
    """An excursion window in ``room`` whose ends are ``margin`` samples away from any run
    boundary there (so which batches overlap it is unambiguous)."""
    edges = [t for r in runs if r.room == room for t in (r.start_ms, r.end_ms)]
    for _ in range(10_000):
        s = T0_MS + rng.randrange(3600_000, hours * 3_600_000 - 3 * 3_600_000, step)
        e = s + rng.randrange(20, 60) * step
        if all(abs(t - x) > margin * step for t in edges for x in (s, e)) and \
                any(r.room == room and r.start_ms <= e and r.end_ms >= s for r in runs):
            return s, e
    raise RuntimeError("no unambiguous excursion window")


def generate(seed: int = 17, batches: int = 40, hours: int = 12, step_ms: int = 60_000,
             room: str = "CR-A", param: str = "PC05") -> EnvPlant:
    """The plant (capture document), its runs, tag map and signals with one excursion of
    ``param`` in ``room`` above its USL."""
    rng = random.Random(seed)
    runs = _runs(rng, batches, hours)
    execs: list[dict[str, Any]] = []
    batch_nodes = [{"class": "Batch", "key": b, "properties": {
        "batchStatus": "InProcess", "quantity": 500, "unitCode": "{pc}"},
        "links": {"ofProduct": "Product/ENV-SET", "runsProcessVersion": f"ProcessVersion/{PV}"}}
        for b in sorted({r.batch for r in runs})]
    for r in runs:
        execs.append({"class": "OperationExecution", "key": r.key, "properties": {
            "startedAtTime": _iso(r.start_ms), "endedAtTime": _iso(r.end_ms),
            "executionStatus": "Completed"},
            "links": {"executesOperation": f"Operation/{PV}/OP{r.op}",
                      "forBatch": f"Batch/{r.batch}", "onEquipment": f"Equipment/WB-{r.room}",
                      "performedIn": f"Room/{r.room}"}})
    doc = {"format": "tracegraph.capture/1", "events": [
        {"eventId": f"env-master-{seed}", "nodes": _master()},
        {"eventId": f"env-batches-{seed}", "nodes": batch_nodes},
        {"eventId": f"env-runs-{seed}", "nodes": execs}]}
    tags = {"tags": [{"address": address(rm, p), "room": rm, "parameter": p, "unit": UNITS[p]}
                     for rm, cls in ROOMS for p in sorted(DEFAULTS[cls])]}
    s, e = _window(rng, runs, room, hours, step_ms, margin=6)
    usl = DEFAULTS[dict(ROOMS)[room]][param].usl
    samples: list[tuple[str, int, float]] = []
    for rm, cls in ROOMS:
        for p, lim in sorted(DEFAULTS[cls].items()):
            for i, t in enumerate(range(T0_MS, T0_MS + hours * 3_600_000, step_ms)):
                if p in _NOMINAL:
                    v = _NOMINAL[p] + (0.3 if i % 2 else -0.3) * (i % 5) / 4
                else:  # particle counts: a fifth of the alert level, jittered
                    v = round((lim.alert_high or 100.0) * (0.2 + 0.05 * ((i * 7) % 5)))
                if (rm, p) == (room, param) and s <= t <= e and usl is not None:
                    v = usl * (1.15 + 0.01 * (i % 3))
                samples.append((address(rm, p), t, float(v)))
    samples.sort(key=lambda x: (x[1], x[0]))
    return EnvPlant(runs, doc, tags, samples, (room, param, s, e), step_ms)


def main() -> None:
    """Environment-monitoring throughput, in process (no broker): the generated plant's room
    signals through the pipeline (raw store → detection → exception loop), samples/s printed."""
    import argparse
    import tempfile
    import time
    from pathlib import Path

    from bench.plant import PLANT_MIGRATION
    from ingest.signals.model import TagMap
    from ingest.signals.pipeline import SignalPipeline
    from ingest.signals.rawstore import RawStore
    from tracegraph.runtime import Runtime
    from tracegraph.settings import Settings

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--hours", type=int, default=48)
    ap.add_argument("--step", type=int, default=10, help="seconds between samples")
    ap.add_argument("--batch", type=int, default=500, help="samples per pipeline batch")
    a = ap.parse_args()
    plant = generate(hours=a.hours, batches=a.hours * 4, step_ms=a.step * 1000)
    with tempfile.TemporaryDirectory() as d:
        rt = Runtime.open(Settings(data_dir=Path(d)))
        rt.capture(plant.doc, migration=PLANT_MIGRATION)
        p = SignalPipeline(rt, TagMap.model_validate(plant.tags), RawStore(Path(d) / "raw"),
                           publishers=[])
        obs = [o for i, (adr, t, v) in enumerate(plant.samples)
               if (o := p.observation(adr, v, t, sequence=i)) is not None]
        t0 = time.perf_counter()
        for i in range(0, len(obs), a.batch):
            p.process(obs[i:i + a.batch])
        dt = time.perf_counter() - t0
        print(f"{len(obs)} room samples ({len(plant.tags['tags'])} streams) in {dt:.2f} s: "
              f"{len(obs) / dt:,.0f} samples/s; deviations "
              f"{rt.store.counts().get('Deviation', 0)}, held "
              f"{len(plant.in_room(*plant.excursion[:1], *plant.excursion[2:]))} batch(es)")
        p.state.close()
        p.raw.close()
        rt.close()


if __name__ == "__main__":
    main()
