"""Bulk recall: one multi-seed downstream traversal, classified into what a recall file needs.

The traversal itself is the engine's (:meth:`graph.port.GraphStore.walk`); this module turns its
breadth-first tree into the answer — counts per class, affected batches, units, shipments and
customers each with one witness path from a seed — and writes the 21 CFR 7.42 / 806-style export
files. It is engine-independent: both engines give the same answer for the same graph.
"""

from __future__ import annotations

import csv
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, TextIO

import orjson

from graph.model import NodeRecord
from graph.port import UnitRow, Walk
from ontology.terms import R

__all__ = ["Affected", "AffectedCustomer", "RecallAnswer", "recall", "resolve_seeds",
           "write_export"]

#: classes a recall lists, in the order a recall file presents them
BATCH_CLASSES = ("Batch", "Sublot", "MaterialLot")
UNIT_CLASS = "SerializedUnit"
PACK_CLASS = "PackagingAggregation"
SHIPMENT_CLASS = "Shipment"
SHIPPED_TO = R.SHIPPED_TO


class _Store(Protocol):
    def links(self, iris: Sequence[str], rel_types: Sequence[str]) -> Any: ...

    def get_many(self, iris: Sequence[str]) -> dict[str, NodeRecord]: ...

    def find(self, value: str, prop: str | None = None,
             label: str | None = None) -> list[NodeRecord]: ...


def resolve_seeds(store: _Store, values: Sequence[str],
                  identify: Any = None) -> tuple[list[str], list[str]]:
    """IRIs of the seeds (given as IRIs, business keys, identifiers or — with ``identify`` —
    anything it recognises, such as GS1 barcodes) and the values that matched nothing. A value
    matching several nodes seeds them all: a recall errs towards inclusion."""
    values = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    known = store.get_many(values)
    iris = [v for v in values if v in known]
    unknown: list[str] = []
    for v in values:
        if v in known:
            continue
        hits = identify(v) if identify is not None else store.find(v)
        if hits:
            iris.extend(h.iri for h in hits)
        else:
            unknown.append(v)
    return list(dict.fromkeys(iris)), unknown


@dataclass
class Affected:
    """One affected batch, unit, package or shipment, with the path that explains it."""

    iri: str
    cls: str
    key: str
    depth: int
    witness: list[str]
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class AffectedCustomer:
    iri: str
    key: str
    name: str
    address: str
    country: str
    shipments: list[str]
    first_shipped: str | None
    last_shipped: str | None


class RecallAnswer:
    """A recall: counts from the walk, and the listed batches, units, packages, shipments and
    customers — built from the walk when first asked for (``lazy``) or at once."""

    def __init__(self, store: _Store, walk: Walk, watermark: int,
                 groups: Mapping[str, Sequence[Hashable]], unknown: Sequence[str],
                 customers: int, unit_limit: int, package_limit: int | None) -> None:
        self.seeds: list[str] = list(walk.seeds)
        self.unknown_seeds: list[str] = [*unknown, *walk.unknown]
        self.watermark = watermark
        self.counts = {label: len(hs) for label, hs in sorted(groups.items())}
        self.walk: Walk | None = walk
        self._groups = groups
        self.units_total = self.counts.get(UNIT_CLASS, 0)
        self.packages_total = None if package_limit is None else self.counts.get(PACK_CLASS, 0)
        self._store = store
        self._limits = unit_limit, package_limit
        self._customers = customers

    @cached_property
    def batches(self) -> list[Affected]:
        assert self.walk is not None
        return [a for c in BATCH_CLASSES for a in _affected(self.walk, self._groups.get(c, ()))]

    @cached_property
    def units(self) -> list[Affected]:
        assert self.walk is not None
        return _affected(self.walk, self._groups.get(UNIT_CLASS, ()), self._limits[0])

    @cached_property
    def packages(self) -> list[Affected]:
        assert self.walk is not None
        return _affected(self.walk, self._groups.get(PACK_CLASS, ()), self._limits[1])

    @cached_property
    def shipments(self) -> list[Affected]:
        assert self.walk is not None
        return _affected(self.walk, self._groups.get(SHIPMENT_CLASS, ()))

    @cached_property
    def customers(self) -> list[AffectedCustomer]:
        return _customers(self._store, self.shipments)

    def materialise(self) -> RecallAnswer:
        """Build every list now (inside the snapshot the answer was read in)."""
        for name in ("batches", "units", "packages", "shipments", "customers"):
            getattr(self, name)
        return self

    def summary(self) -> dict[str, int]:
        """The counts a recall file states (from the walk alone: no record is read)."""
        return {"seeds": len(self.seeds), "unknownSeeds": len(self.unknown_seeds),
                "batches": sum(self.counts.get(c, 0) for c in BATCH_CLASSES),
                "units": self.units_total, "packages": self.counts.get(PACK_CLASS, 0),
                "shipments": self.counts.get(SHIPMENT_CLASS, 0), "customers": self._customers}


def _affected(walk: Walk, handles: Sequence[Hashable], limit: int | None = None
              ) -> list[Affected]:
    """The listed items, ordered by business key; with ``limit`` only the first page is
    loaded (keys alone order a large list)."""
    chosen = list(handles)
    if limit is not None and len(chosen) > limit:
        if limit == 0:
            return []
        chosen = walk.first_by_key(chosen, limit)
    records = walk.records(chosen)
    chosen.sort(key=lambda h: (records[h].key, records[h].iri))
    paths = walk.witnesses(chosen)  # breadth-first: a path's length less one is the depth
    names = walk.iris(sorted({x for p in paths.values() for x in p}, key=str))
    return [Affected(iri=records[h].iri, cls=records[h].label, key=records[h].key,
                     depth=len(paths[h]) - 1, witness=[names[x] for x in paths[h]],
                     properties=dict(records[h].props)) for h in chosen]


def recall(store: _Store, walk: Walk, watermark: int, unit_limit: int = 1000,
           unknown: Sequence[str] = (), package_limit: int | None = None,
           lazy: bool = False) -> RecallAnswer:
    """Classify a downstream walk into a recall answer (units listed up to ``unit_limit``,
    packages up to ``package_limit``: the export files list none, so the command asks for 0).
    The counts come from the walk's classes and the shipments' consignees alone; the lists are
    read at once, or — ``lazy`` — when first asked for (a command that only prints the counts
    and streams the files never holds them)."""
    groups = walk.by_label()
    shipments = list(groups.get(SHIPMENT_CLASS, ()))
    customers = len({e.dst for e in store.links(list(walk.iris(shipments).values()),
                                                [SHIPPED_TO])}) if shipments else 0
    answer = RecallAnswer(store, walk, watermark, groups, unknown, customers, unit_limit,
                          package_limit)
    return answer if lazy else answer.materialise()


def _customers(store: _Store, shipments: list[Affected]) -> list[AffectedCustomer]:
    by_iri = {s.iri: s for s in shipments}
    by_customer: dict[str, list[Affected]] = {}
    for e in store.links(list(by_iri), [SHIPPED_TO]):
        by_customer.setdefault(e.dst, []).append(by_iri[e.src])
    records = store.get_many(sorted(by_customer))
    out: list[AffectedCustomer] = []
    for iri, ships in sorted(by_customer.items()):
        c = records[iri]
        dates = sorted(str(s.properties["shippedAt"]) for s in ships
                       if "shippedAt" in s.properties)
        out.append(AffectedCustomer(
            iri=iri, key=c.key, name=str(c.props.get("name", "")),
            address=str(c.props.get("address", "")), country=str(c.props.get("country", "")),
            shipments=sorted(s.key for s in ships),
            first_shipped=dates[0] if dates else None, last_shipped=dates[-1] if dates else None))
    return out


def _all_units(answer: RecallAnswer) -> Iterator[UnitRow]:
    """Every affected unit (not only the listed first page), with its batch and seed."""
    walk = answer.walk
    if walk is None:
        for a in answer.units:
            yield (a.key, str(a.properties.get("gtin", "")), a.iri,
                   a.witness[-2] if len(a.witness) > 1 else "", a.depth, a.witness[0])
        return
    # in (serial, IRI) order, streamed, so both engines write the same file
    yield from walk.unit_rows(walk.by_label().get(UNIT_CLASS, ()))


def _write_units(f: TextIO, rows: Iterator[Sequence[Any]], per: int = 50_000) -> None:
    """The rows as :func:`csv.writer` writes them, ``per`` at a time: a part whose fields hold
    no comma, quote or line break (every serial and IRI) is joined directly, three times faster."""
    w = csv.writer(f)
    while part := list(islice(rows, per)):
        if len(part[0]) == 6:
            text = "\r\n".join([f"{a},{b},{c},{d},{e},{g}" for a, b, c, d, e, g in part])
        else:
            text = "\r\n".join([",".join(map(str, r)) for r in part])
        breaks = len(part) - 1
        if (text.count(",") == (len(part[0]) - 1) * len(part) and '"' not in text
                and text.count("\n") == breaks and text.count("\r") == breaks):
            f.write(text + "\r\n")
        else:
            w.writerows(part)


def _array_units(answer: RecallAnswer) -> Any:
    """The embedded engine's units-file writer when the answer's walk is its arrays
    (:mod:`graph.engines.sqlite.recall_files`), else None."""
    from graph.engines.sqlite.walk import ArrayWalk

    if not isinstance(answer.walk, ArrayWalk):
        return None
    from graph.engines.sqlite.recall_files import write_units

    return write_units


def write_export(answer: RecallAnswer, out_dir: Path, store: Any = None,
                 generic: bool = False) -> dict[str, Path]:
    """Write the recall files: ``recall.json`` (everything) and one CSV per list; given the
    store, the units file names each unit's shipment and customer
    (:mod:`graph.recall_consignees`). On the embedded engine the units file is written from
    the walk's arrays by SQL (the same bytes; ``generic`` forces the engine-independent
    writer, for the tests that compare them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / f"recall-{name}.csv"
             for name in ("batches", "units", "shipments", "customers")}
    witness_cols = ["seed", "witness_path"]
    with files["batches"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "key", "iri", "depth", *witness_cols])
        for a in answer.batches:
            w.writerow([a.cls, a.key, a.iri, a.depth, a.witness[0], " > ".join(a.witness)])
    with files["units"].open("w", newline="") as f:
        w = csv.writer(f)
        fast = None if generic else _array_units(answer)
        if store is None:
            w.writerow(["serial", "gtin", "iri", "batch", "depth", "seed"])
            if fast is not None:
                fast(f, answer.walk)
            else:
                _write_units(f, _all_units(answer))
        else:
            from graph.recall_consignees import CONSIGNEE_COLUMNS, Consignees, with_consignees

            w.writerow(["serial", "gtin", "iri", "batch", "depth", "seed", *CONSIGNEE_COLUMNS])
            consignees = Consignees(store, answer.shipments)
            if fast is not None:
                fast(f, answer.walk, consignees)
            else:
                _write_units(f, with_consignees(_all_units(answer), consignees))
    with files["shipments"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["shipment", "shipped_at", "iri", "depth", *witness_cols])
        for a in answer.shipments:
            w.writerow([a.key, a.properties.get("shippedAt", ""), a.iri, a.depth, a.witness[0],
                        " > ".join(a.witness)])
    with files["customers"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer", "name", "address", "country", "shipments", "first_shipped",
                    "last_shipped"])
        for c in answer.customers:
            w.writerow([c.key, c.name, c.address, c.country, " ".join(c.shipments),
                        c.first_shipped or "", c.last_shipped or ""])
    body = {"watermark": answer.watermark, "summary": answer.summary(), "counts": answer.counts,
            "seeds": answer.seeds, "unknownSeeds": answer.unknown_seeds,
            "batches": answer.batches, "shipments": answer.shipments,  # orjson: dataclasses
            "customers": answer.customers,
            "unitsFile": files["units"].name}
    files["json"] = out_dir / "recall.json"
    files["json"].write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    return files
