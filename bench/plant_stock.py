"""Time, stock and plan records shared by the sample plant's planner and event builders.

Times are integer seconds from ``T0`` (a Monday, 2026-01-05T00:00:00Z).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from bench.plant_catalog import EQUIPMENT_CLASSES, OpDef, PlantSize

__all__ = [
    "DAY",
    "HOUR",
    "T0",
    "BatchPlan",
    "Charge",
    "Entry",
    "OpRun",
    "PlanError",
    "QualityEvent",
    "Receipt",
    "Stock",
    "date_of",
    "equipment_park",
    "fixture_of",
    "fixture_park",
    "ts",
    "yymmdd",
]

T0 = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = 3600
DAY = 24 * HOUR


@lru_cache(maxsize=65536)
def ts(sec: int) -> str:
    """UTC timestamp text of ``sec`` seconds after T0.

    >>> ts(0), ts(DAY + 90)
    ('2026-01-05T00:00:00Z', '2026-01-06T00:01:30Z')
    """
    return (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_of(sec: int, plus_days: int = 0) -> str:
    return (T0 + timedelta(seconds=sec, days=plus_days)).date().isoformat()


def yymmdd(sec: int) -> str:
    return (T0 + timedelta(seconds=sec)).strftime("%y%m%d")


class PlanError(RuntimeError):
    """The plan ran out of stock or time: a bug in the planner, never silently papered over."""


@dataclass
class Entry:
    """A stock entry: a supplier lot, an intermediate batch, a reel or a dryer charge."""

    ref: str                 #: capture reference, e.g. ``MaterialLot/RL260105001``
    remaining: float
    available: int           #: from when it may be used (receipt, release)
    consumers: list[str] = field(default_factory=list)
    first_use: int | None = None


class Stock:
    """FIFO stock of one material or intermediate."""

    def __init__(self, name: str, unit: str) -> None:
        self.name = name
        self.unit = unit
        self.q: deque[Entry] = deque()

    @property
    def free(self) -> float:
        return sum(e.remaining for e in self.q)

    def add(self, e: Entry) -> None:
        self.q.append(e)

    def take(self, qty: float, at: int, who: str) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        need = qty
        while need > 1e-9:
            if not self.q:
                raise PlanError(f"{self.name}: out of stock at {ts(at)} for {who} ({qty})")
            e = self.q[0]
            if e.available > at:
                raise PlanError(f"{self.name}: {e.ref} not yet available at {ts(at)} for {who}")
            x = min(need, e.remaining)
            e.remaining -= x
            need -= x
            out.append((e.ref, x))
            e.consumers.append(who)
            if e.first_use is None:
                e.first_use = at
            if e.remaining <= 1e-9:
                self.q.popleft()
        return out

    def block(self, e: Entry) -> None:
        """Take an entry out of stock (quality hold): it is never used again."""
        if e in self.q:
            self.q.remove(e)


@dataclass(frozen=True)
class Receipt:
    key: str
    material: str
    supplier_lot: str
    quantity: float
    received: int
    approved: int            #: incoming inspection passed: usable from here
    expiry: str


@dataclass
class Charge:
    """A dryer charge of resin (a sublot split from, or merged from, supplier lots)."""

    key: str
    machine: str
    at: int
    quantity: float
    sources: list[tuple[str, float]]


@dataclass
class OpRun:
    op: OpDef
    start: int
    end: int
    equipment: str | None
    fixture: str | None
    operator: str
    #: (reference, quantity, UCUM unit) consumed in this operation
    consumes: list[tuple[str, float, str]] = field(default_factory=list)


@dataclass
class BatchPlan:
    key: str
    product: str
    process: str
    version: str
    work_order: str
    planned: int | float
    good: int | float          #: output after in-process rejects
    start: int
    ops: list[OpRun]
    released: int
    charges: list[Charge] = field(default_factory=list)   #: dryer charges loaded for it
    reels: list[tuple[str, float]] = field(default_factory=list)  #: sublots cut from it
    first_serial: int = 0
    first_case: int = 0
    excursion: bool = False    #: the hub-bond UV dose dropped below its action limit


@dataclass
class QualityEvent:
    kind: str                  #: "excursion" | "supplier-lot"
    at: int
    batch: str | None = None
    lot: str | None = None
    material: str | None = None
    affected: list[str] = field(default_factory=list)


def fixture_of(tag: str) -> str:
    return f"MLD-CONN-{tag[-2:]}" if tag.startswith("IMM") else f"NEST-{tag}"


def fixture_park(size: PlantSize, seed: int) -> dict[str, tuple[int, int]]:
    """Fixtures (moulds, bonding nests) with their (usage limit, usage count at T0)."""
    rng = random.Random(f"{seed}/fixtures")
    park = equipment_park(size)
    out = {fixture_of(t): (2_000_000, rng.randint(40, 400) * 1000) for t in park["EC-IMM"]}
    out.update({fixture_of(t): (400_000, rng.randint(1, 60) * 1000) for t in park["EC-UVB"]})
    return out


def equipment_park(size: PlantSize) -> dict[str, list[str]]:
    """Equipment tags per class for a plant size, e.g. ``{"EC-IMM": ["IMM-01", …]}``."""
    out: dict[str, list[str]] = {}
    for cls, (_name, prefix, _room, per_line) in EQUIPMENT_CLASSES.items():
        n = max(1, round(float(per_line) * size.lines))
        out[cls] = [f"{prefix}-{i:02d}" for i in range(1, n + 1)]
    return out
