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
from pathlib import Path
from typing import Any

import orjson

from graph.massbalance import mass_balance
from graph.model import Direction
from graph.port import GraphStore
from graph.recall import RecallAnswer
from graph.recall import write_export as write_lists

__all__ = ["balance_rows", "write_export"]

#: the affected classes whose exposure the file lists (units are in the units file)
_LISTED = ("MaterialLot", "Batch", "Sublot", "PackagingAggregation", "Shipment")


def balance_rows(store: GraphStore, answer: RecallAnswer, max_depth: int = 50
                 ) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """The file's rows and the per-seed summaries."""
    rows: list[list[Any]] = []
    summary: list[dict[str, Any]] = []
    for seed in answer.seeds:
        g = store.genealogy([seed], Direction.DOWNSTREAM, max_depth)
        mb = mass_balance(g)
        key = g.nodes[seed].key
        summary.append({"seed": seed, "key": key, "unit": mb.unit, "received": mb.received,
                        "consumed": mb.consumed, "onHand": mb.on_hand})
        rows.append([key, "reconciliation", key, mb.unit or "", mb.received, mb.consumed,
                     mb.on_hand, "", ""])
        listed = sorted((n for n in g.nodes.values() if n.label in _LISTED and n.iri != seed),
                        key=lambda n: (n.label, n.key))
        for n in listed:
            e = mb.exposure.get(n.iri)
            f = mb.fraction(n.iri)
            rows.append([key, n.label, n.key, mb.unit or "", "", "", "",
                         "" if e is None else round(e, 9),
                         "" if f is None else round(f, 9)] + ([mb.notes[n.iri]]
                                                             if n.iri in mb.notes else []))
    return rows, summary


def write_export(answer: RecallAnswer, out_dir: Path, store: GraphStore | None = None,
                 max_depth: int = 50, balance: bool = True) -> dict[str, Path]:
    """The recall files; given the store, the units file names each unit's shipment and
    customer and, with ``balance``, the mass balance of each seed is written."""
    files = write_lists(answer, out_dir, store)
    if store is None or not balance:
        return files
    rows, summary = balance_rows(store, answer, max_depth)
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
