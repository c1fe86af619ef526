"""Which records :func:`graph.trace_outline.outline` folds into a batch's group, on hand-made
genealogy answers (no store): a mixed case stays on its own, a seed is never folded, a batch
with one unit in the trace gets no group, edge quantities are summed only in one unit."""

from __future__ import annotations

from graph.model import EdgeRecord, Genealogy, NodeRecord
from graph.trace_outline import outline


def answer(seed: str, derivations: list[tuple[str, str, float | None]]) -> Genealogy:
    """An answer of ``(output, input, quantity)`` derivations, depth = hops from the seed."""
    nodes: dict[str, NodeRecord] = {}
    for ref in {x for d in derivations for x in d[:2]}:
        cls, k = ref.split("/")
        nodes[ref] = NodeRecord(ref, cls, k, {})
    edges = [EdgeRecord(o, "WAS_DERIVED_FROM", i, f"{o}>{i}",
                        {} if q is None else {"quantity": q, "unitCode": "kg"})
             for o, i, q in derivations]
    depth = {seed: 0}
    while len(depth) < len(nodes):
        for e in edges:
            for a, b in ((e.dst, e.src), (e.src, e.dst)):
                if a in depth and b not in depth:
                    depth[b] = depth[a] + 1
    return Genealogy([seed], nodes, depth, edges, 1)


def test_a_mixed_case_stays_on_its_own_and_a_single_unit_is_not_a_group() -> None:
    d = [("Batch/A", "MaterialLot/L", 2.0), ("Batch/B", "MaterialLot/L", 3.0),
         ("Batch/C", "MaterialLot/L", 1.0)]
    d += [(f"SerializedUnit/a{i}", "Batch/A", None) for i in range(4)]
    d += [(f"SerializedUnit/b{i}", "Batch/B", None) for i in range(3)]
    d += [("SerializedUnit/c0", "Batch/C", None)]
    d += [("PackagingAggregation/P1", f"SerializedUnit/a{i}", None) for i in range(2)]
    d += [("PackagingAggregation/MIX", "SerializedUnit/a3", None),
          ("PackagingAggregation/MIX", "SerializedUnit/b0", None),
          ("PackagingAggregation/PAL", "PackagingAggregation/P1", None)]
    o = outline(answer("MaterialLot/L", d))
    groups = {g.batch: g for g in o.groups}
    assert set(groups) == {"Batch/A", "Batch/B"}  # C has one unit: drawn as it is
    assert groups["Batch/A"].counts == {"PackagingAggregation": 2, "SerializedUnit": 4}
    assert groups["Batch/B"].counts == {"SerializedUnit": 3}
    assert "PackagingAggregation/MIX" in o.nodes and "SerializedUnit/c0" in o.nodes
    e = {(x.source, x.target): x for x in o.edges}
    assert e[("PackagingAggregation/MIX", "group:Batch/A")].count == 1
    assert e[("PackagingAggregation/MIX", "group:Batch/B")].count == 1
    assert e[("group:Batch/A", "Batch/A")].count == 4
    assert e[("Batch/A", "MaterialLot/L")].quantity == 2.0
    assert o.made_in["SerializedUnit/c0"] == "Batch/C"


def test_the_seed_is_never_folded_and_quantities_sum_in_one_unit_only() -> None:
    d = [("SerializedUnit/u0", "Batch/A", None), ("SerializedUnit/u1", "Batch/A", None),
         ("Batch/A", "MaterialLot/L", 2.0), ("Batch/A", "MaterialLot/M", 3.0)]
    o = outline(answer("SerializedUnit/u0", [x for x in d if x[0] == "SerializedUnit/u0"]
                       + d[2:]))
    assert o.groups == [] and o.nodes[0] == "SerializedUnit/u0"
    g = answer("Batch/A", [("Batch/A", "MaterialLot/L", 2.0), ("Batch/A", "MaterialLot/L", 1.5)])
    assert outline(g).edges[0].quantity == 3.5 and outline(g).edges[0].count == 2
    g.edges[1].props["unitCode"] = "g"
    assert outline(g).edges[0].quantity is None and outline(g).edges[0].unit_code is None
