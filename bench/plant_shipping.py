"""Shipping of the sample plant: released cases go out FIFO to hospitals and distributors.

Cases of a batch become shippable at noon after its release; cases of a batch put on hold are
shippable only before the hold (those already out are the scope of a field action).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from bench.plant_catalog import UNITS_PER_CASE
from bench.plant_exec import Production
from bench.plant_gs1 import sscc18
from bench.plant_master import SITE, event, node
from bench.plant_people import customers
from bench.plant_stock import DAY, HOUR, ts, yymmdd

__all__ = ["shipping_events"]

Json = dict[str, Any]
PC = "{pc}"
CARRIERS = ("DHL Express", "UPS", "DB Schenker", "Kuehne+Nagel", "FedEx")


def shipping_events(prod: Production) -> Iterator[Json]:
    """Shipments of released cases to customers, FIFO, daily until the last production day."""
    rng = random.Random(f"{prod.seed}/shipping")
    custs = customers(prod.size, prod.seed)
    weights = [c.weight for c in custs]
    pool: list[tuple[str, int]] = []   # (sscc, units) ready to ship
    todo = iter(sorted(prod.finished, key=lambda f: (f.released, f.key)))
    nxt = next(todo, None)
    lo, hi = prod.size.ship_cases
    for day in range(prod.size.days):
        cutoff = day * DAY + 12 * HOUR
        while nxt is not None and nxt.released <= cutoff:
            hold = prod.held_from.get(nxt.key)
            if hold is None or hold > cutoff:
                units = nxt.good
                for c in range(nxt.cases):
                    pool.append((sscc18(nxt.first_case + c), min(UNITS_PER_CASE, units)))
                    units -= UNITS_PER_CASE
            nxt = next(todo, None)
        n = 0
        while pool:
            k = min(len(pool), rng.randint(lo, hi))
            cases, pool = pool[:k], pool[k:]
            n += 1
            at = day * DAY + 14 * HOUR + n * 7 * 60
            cust = rng.choices(custs, weights)[0]
            key = f"SH{yymmdd(at)}{n:03d}"
            yield event(f"ship/{key}", at, [node("Shipment", key, {
                "shippedAt": ts(at), "carrier": rng.choice(CARRIERS),
                "trackingNumber": f"{rng.randrange(10**11, 10**12)}"},
                {"shippedTo": f"Customer/{cust.key}", "shippedFrom": f"Site/{SITE}"})],
                [{"kind": "shipment", "output": f"Shipment/{key}",
                  "input": f"PackagingAggregation/{s}", "quantity": u, "unit": PC,
                  "time": ts(at)} for s, u in cases],
                actor="erp-interface", reason=f"delivery to {cust.name}")
