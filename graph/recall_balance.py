"""The mass balance of each seed in the recall export (issue 18 item 5).

:func:`write_export` writes the recall files of :func:`graph.recall.write_export` and, given the
store, ``recall-massbalance.csv``: per seed, the reconciliation line (received, consumed, on hand
in the seed's unit) and, for each affected batch, package and shipment, the quantity of the seed
it holds and the fraction of what was received (:func:`graph.massbalance.mass_balance` over the
seed's downstream genealogy; blank where the exposure cannot be computed, with the reason).
``recall.json`` gets the per-seed reconciliation under ``massBalance``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from graph.massbalance import fraction, mass_balance
from graph.model import Direction
from graph.port import GraphStore
from graph.recall import RecallAnswer
from graph.recall import write_export as write_lists

__all__ = ["balance_rows", "seed_rows", "write_export"]

#: the affected classes whose exposure the file lists (units are in the units file)
_LISTED = ("MaterialLot", "Batch", "Sublot", "PackagingAggregation", "Shipment")


def seed_rows(key: str, unit: str | None, received: float | None, consumed: float,
              on_hand: float | None, listed: Iterable[tuple[str, str, float | None, str | None]]
              ) -> list[list[Any]]:
    """One seed's lines: the reconciliation, then ``(class, key, exposure, note)`` of each
    listed thing (in the file's order: by class, then key)."""
    rows: list[list[Any]] = [[key, "reconciliation", key, unit or "", received, consumed,
                              on_hand, "", ""]]
    for label, node_key, e, note in listed:
        f = fraction(e, received)
        rows.append([key, label, node_key, unit or "", "", "", "",
                     "" if e is None else round(e, 9),
                     "" if f is None else round(f, 9)] + ([note] if note is not None else []))
    return rows


def balance_rows(store: GraphStore, answer: RecallAnswer, max_depth: int = 50,
                 generic: bool = False) -> tuple[Iterable[list[Any]], list[dict[str, Any]]]:
    """The file's rows and the per-seed summaries (complete once the rows are read): on the
    embedded engine from one walk of every seed (:mod:`graph.engines.sqlite.recall_balance`;
    ``generic`` forces the engine-independent way, a genealogy per seed)."""
    if not generic and max_depth >= 1:
        from graph.engines.sqlite.store import SQLiteStore

        if isinstance(store, SQLiteStore):
            from graph.engines.sqlite.recall_balance import array_balance

            return array_balance(store, answer.seeds, max_depth, _LISTED, seed_rows)
    rows: list[list[Any]] = []
    summary: list[dict[str, Any]] = []
    for seed in answer.seeds:
        g = store.genealogy([seed], Direction.DOWNSTREAM, max_depth)
        mb = mass_balance(g)
        key = g.nodes[seed].key
        summary.append({"seed": seed, "key": key, "unit": mb.unit, "received": mb.received,
                        "consumed": mb.consumed, "onHand": mb.on_hand})
        listed = sorted((n for n in g.nodes.values() if n.label in _LISTED and n.iri != seed),
                        key=lambda n: (n.label, n.key))
        rows.extend(seed_rows(key, mb.unit, mb.received, mb.consumed, mb.on_hand, (
            (n.label, n.key, mb.exposure.get(n.iri), mb.notes.get(n.iri)) for n in listed)))
    return rows, summary


def write_export(answer: RecallAnswer, out_dir: Path, store: GraphStore | None = None,
                 max_depth: int = 50, balance: bool = True, generic: bool = False
                 ) -> dict[str, Path]:
    """The recall files; given the store, the units file names each unit's shipment and
    customer and, with ``balance``, the mass balance of each seed is written. On the embedded
    engine they are written from the walk's arrays (the same bytes; ``generic`` forces the
    engine-independent way, for the tests that compare the two)."""
    files = write_lists(answer, out_dir, store, generic=generic)
    if store is None or not balance:
        return files
    rows, summary = balance_rows(store, answer, max_depth, generic)
    path = out_dir / "recall-massbalance.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seed", "class", "key", "unit", "received", "consumed", "on_hand",
                    "exposure", "fraction", "note"])
        w.writerows(rows)
    body = orjson.loads(files["json"].read_bytes())
    body["massBalance"] = summary
    body["massBalanceFile"] = path.name
    files["json"].write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    files["massbalance"] = path
    return files
