"""An independent oracle of a recall's report data: networkx over the raw capture documents
(never the code under test). Used by the recall-record tests (issue 18 item 5)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from ontology.vocab import Vocabulary


def when(text: str) -> datetime:
    """A document or stored UTC time, comparable whatever its precision."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class Documents:
    """The derivation graph (source → derived), classes, properties and links of every node,
    from the documents alone."""

    def __init__(self, docs: list[dict[str, Any]], vocab: Vocabulary) -> None:
        self.g: nx.DiGraph = nx.DiGraph()
        self.cls: dict[str, str] = {}
        self.props: dict[str, dict[str, Any]] = {}
        self.links: dict[str, dict[str, list[str]]] = {}
        self.vocab = vocab
        self.derivations: list[dict[str, Any]] = []
        for doc in docs:
            for ev in doc["events"]:
                for n in ev.get("nodes", []):
                    iri = vocab.mint_iri(n["class"], n["key"])
                    self.cls[iri] = n["class"]
                    self.props.setdefault(iri, {"key": n["key"]}).update(n.get("properties", {}))
                    for k, v in n.get("links", {}).items():
                        targets = v if isinstance(v, list) else [v]
                        self.links.setdefault(iri, {}).setdefault(k, []).extend(
                            self.ref(t) for t in targets)
                for d in ev.get("derivations", []):
                    self.derivations.append(d)
                    self.g.add_edge(self.ref(d["input"]), self.ref(d["output"]))
        self.g.add_nodes_from(self.cls)

    def ref(self, ref: str) -> str:
        c, _, key = ref.partition("/")
        return self.vocab.mint_iri(c, key)

    def of(self, label: str) -> list[str]:
        return sorted(i for i, c in self.cls.items() if c == label)

    def affected(self, seeds: list[str]) -> set[str]:
        return set(seeds).union(*(nx.descendants(self.g, s) for s in seeds))

    def customers_of(self, seed: str) -> set[str]:
        ships = [s for s in self.affected([seed]) if self.cls.get(s) == "Shipment"]
        return {c for s in ships for c in self.links.get(s, {}).get("shippedTo", [])}

    def report(self, seeds: list[str]) -> dict[str, Any]:
        """What 806.10(c)(5), (9), (10), (11) say for a recall of ``seeds``."""
        aff = self.affected(seeds)
        units = {u for u in aff if self.cls[u] == "SerializedUnit"}
        lots = {self.props[b]["key"]: len(nx.descendants(self.g, b) & units) for b in aff
                if self.cls[b] in ("MaterialLot", "Batch", "Sublot")}
        consignees: dict[str, dict[str, Any]] = {}
        for s in sorted(a for a in aff if self.cls[a] == "Shipment"):
            inside = nx.ancestors(self.g, s) & units
            for c in self.links.get(s, {}).get("shippedTo", []):
                row = consignees.setdefault(self.props[c]["key"], {
                    "name": self.props[c]["name"], "units": set(), "shipments": []})
                row["units"] |= inside
                row["shipments"].append((self.props[s]["key"],
                                         when(self.props[s]["shippedAt"]), len(inside)))
        made = sorted(when(self.props[u]["manufacturedAt"]) for u in units
                      if "manufacturedAt" in self.props[u])
        expiry = sorted(str(self.props[u]["expiryDate"]) for u in units
                        if "expiryDate" in self.props[u])
        return {
            "units": len(units), "lots": lots,
            "consignees": {k: (v["name"], len(v["units"]), sorted(v["shipments"]))
                           for k, v in consignees.items()},
            "gtins": Counter(str(self.props[u].get("gtin")) for u in units),
            "made": (made[0], made[-1]) if made else None,
            "expiry": (expiry[0], expiry[-1]) if expiry else None,
            "undistributed": len(units - set().union(
                *(nx.ancestors(self.g, s) for s in aff if self.cls[s] == "Shipment"))),
        }
