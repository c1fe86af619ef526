"""The frozen scope of a recall record (issue 18 item 5): the recall query's answer at one
watermark, reduced to what the recall record stores.

:func:`freeze_scope` runs the existing recall query (:func:`graph.recall.recall`, every list
complete) inside one snapshot and, over the affected sub-DAG only, counts what the 21 CFR 806.10
and NMPA reports need: the affected units under each lot or batch (806.10(c)(9)), the units and
shipments per consignee with their dates (806.10(c)(11)), products, manufacture and expiry dates
(806.10(c)(5), (10)). The recall record keeps the IRIs (``tg:recalls``: the recalled status) and
this summary (``tg:scopeDocument``), so a later capture changes neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from graph.identifiers.identify import identify
from graph.model import Direction
from graph.port import GraphStore
from graph.recall import RecallAnswer, recall, resolve_seeds
from graph.schema import DERIVATION
from ontology.terms import P

__all__ = ["SCOPE_FORMAT", "Scope", "canonical", "freeze_scope", "scope_digest",
           "scope_document"]

SCOPE_FORMAT = "tracegraph.recall-scope/1"
#: every list of the answer complete (a recall record stores every affected item)
_ALL = 10**12


@dataclass(frozen=True)
class Scope:
    watermark: int
    seeds: list[str]
    unknown: list[str]
    items: list[str]  # every affected IRI, sorted
    document: dict[str, Any]
    digest: str


def scope_digest(iris: Iterable[str]) -> str:
    """SHA-256 of the sorted IRIs, one a line: what the initiation signature binds to."""
    return hashlib.sha256("\n".join(sorted(set(iris))).encode()).hexdigest()


def _reach(start: str, adj: dict[str, list[str]], keep: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        n = todo.pop()
        for m in adj.get(n, ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen & keep


def _span(values: Iterable[object]) -> dict[str, str] | None:
    vs = sorted(str(v) for v in values if v not in (None, ""))
    return {"first": vs[0], "last": vs[-1]} if vs else None


def scope_document(store: GraphStore, answer: RecallAnswer) -> dict[str, Any]:
    """The summary of a complete recall answer (see the module)."""
    units = {a.iri: a for a in answer.units}
    ships = {a.iri: a for a in answer.shipments}
    scoped = {*units, *ships, *(a.iri for a in answer.batches),
              *(a.iri for a in answer.packages)}
    sources: dict[str, list[str]] = {}  # derived → its sources, inside the scope
    derived: dict[str, list[str]] = {}
    for e in store.links(sorted(scoped), [DERIVATION]) if scoped else []:
        if e.dst in scoped:
            sources.setdefault(e.src, []).append(e.dst)
            derived.setdefault(e.dst, []).append(e.src)
    unit_set = set(units)
    lots = [{"iri": b.iri, "class": b.cls, "key": b.key,
             "seed": b.iri in answer.seeds,
             "units": len(_reach(b.iri, derived, unit_set))} for b in answer.batches]
    per_ship = {s: _reach(s, sources, unit_set) for s in ships}
    shipped: set[str] = set().union(*per_ship.values()) if per_ship else set()
    consignees = []
    for c in answer.customers:
        rows = sorted(({"key": ships[i].key, "iri": i,
                        "shippedAt": ships[i].properties.get(P.shippedAt),
                        "units": len(per_ship[i])} for i in ships if ships[i].key in c.shipments),
                      key=lambda r: str(r["key"]))
        consignees.append({"iri": c.iri, "key": c.key, "name": c.name, "address": c.address,
                           "country": c.country, "shipments": rows,
                           "units": len(set().union(*(per_ship[str(r["iri"])] for r in rows))),
                           "firstShipped": c.first_shipped, "lastShipped": c.last_shipped})
    gtins: dict[str, int] = {}
    for u in units.values():
        g = str(u.properties.get(P.gtin, ""))
        gtins[g] = gtins.get(g, 0) + 1
    return {
        "format": SCOPE_FORMAT, "watermark": answer.watermark, "seeds": answer.seeds,
        "unknownSeeds": answer.unknown_seeds, "counts": answer.summary(),
        "lots": lots, "consignees": consignees,
        "products": [{"gtin": g, "units": n} for g, n in sorted(gtins.items())],
        "manufactured": _span(u.properties.get(P.manufacturedAt) for u in units.values()),
        "expiry": _span(u.properties.get(P.expiryDate) for u in units.values()),
        "undistributedUnits": len(unit_set - shipped),
    }


def freeze_scope(store: GraphStore, seeds: Sequence[str], max_depth: int = 50) -> Scope:
    """Everything downstream of the seeds at one watermark, with its summary."""
    with store.snapshot() as watermark:
        iris, unknown = resolve_seeds(store, seeds, lambda v: identify(store, v))
        walk = store.walk(iris, Direction.DOWNSTREAM, max_depth)
        answer = recall(store, walk, watermark, _ALL, unknown, _ALL)
        doc = scope_document(store, answer)
    items = sorted({a.iri for a in (*answer.batches, *answer.units, *answer.packages,
                                    *answer.shipments)})
    return Scope(watermark, answer.seeds, answer.unknown_seeds, items, doc, scope_digest(items))


def canonical(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()

