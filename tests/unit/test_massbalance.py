"""Mass balance past a rework: a serialized unit is one piece, so what reached it passes on
whole into the rework batch and the unit made from it (it was "unknown" past every unit)."""

from __future__ import annotations

import pytest

from graph.massbalance import mass_balance
from graph.model import EdgeRecord, Genealogy, NodeRecord


def test_a_serialized_unit_counts_as_one_piece_through_a_rework() -> None:
    nodes = {
        "L": NodeRecord("L", "MaterialLot", "L", {"quantity": 100.0, "unitCode": "kg"}),
        "B": NodeRecord("B", "Batch", "B", {"quantity": 10.0, "unitCode": "{pc}"}),
        "U1": NodeRecord("U1", "SerializedUnit", "U1", {}),
        "RW": NodeRecord("RW", "Batch", "RW", {"quantity": 1.0, "unitCode": "{pc}"}),
        "U1R": NodeRecord("U1R", "SerializedUnit", "U1R", {}),
    }

    def edge(src: str, dst: str, kind: str, q: float | None = None) -> EdgeRecord:
        props: dict[str, object] = {"derivationKind": kind}
        if q is not None:
            props |= {"quantity": q, "unitCode": "kg" if dst == "L" else "{pc}"}
        return EdgeRecord(src, "WAS_DERIVED_FROM", dst, f"{src}-{dst}", props)

    edges = [edge("B", "L", "consumption", 25.0), edge("U1", "B", "production", 1.0),
             edge("RW", "U1", "consumption"),  # the unit itself goes into the rework
             edge("U1R", "RW", "production", 1.0)]
    depth = {"L": 0, "B": 1, "U1": 2, "RW": 3, "U1R": 4}
    mb = mass_balance(Genealogy(["L"], nodes, depth, edges, 4))
    # by hand: 25 kg of L into 10 pieces; one piece is 2.5 kg of L, all of it reworked
    assert mb.exposure == {"L": 100.0, "B": 25.0, "U1": 2.5, "RW": 2.5, "U1R": 2.5}
    assert mb.notes == {}


@pytest.mark.req("URS-TRC-01")
def test_a_serialized_unit_made_without_a_quantity_is_one_piece_of_its_batch() -> None:
    """A unit's production edge often records no quantity (the demo plant's never do): the unit
    is one piece of a batch counted in pieces, so its share is 1 / the batch's pieces — not
    "unknown" at every unit of a recall's proof of exposure (issue 18 item 3)."""
    nodes = {
        "L": NodeRecord("L", "MaterialLot", "L", {"quantity": 100.0, "unitCode": "kg"}),
        "B": NodeRecord("B", "Batch", "B", {"quantity": 10.0, "unitCode": "{pc}"}),
        "U1": NodeRecord("U1", "SerializedUnit", "U1", {}),
        "K": NodeRecord("K", "Batch", "K", {"quantity": 4.0, "unitCode": "kg"}),
        "U2": NodeRecord("U2", "SerializedUnit", "U2", {}),
    }
    edges = [EdgeRecord("B", "WAS_DERIVED_FROM", "L", "e1",
                        {"derivationKind": "consumption", "quantity": 25.0, "unitCode": "kg"}),
             EdgeRecord("U1", "WAS_DERIVED_FROM", "B", "e2", {"derivationKind": "production"}),
             EdgeRecord("K", "WAS_DERIVED_FROM", "L", "e3",
                        {"derivationKind": "consumption", "quantity": 4.0, "unitCode": "kg"}),
             EdgeRecord("U2", "WAS_DERIVED_FROM", "K", "e4", {"derivationKind": "production"})]
    mb = mass_balance(Genealogy(["L"], nodes, {"L": 0, "B": 1, "U1": 2, "K": 1, "U2": 2},
                                edges, 1))
    # by hand: 25 kg of L into 10 pieces, one piece holds 2.5 kg of L
    assert mb.exposure["U1"] == 2.5 and mb.fraction("U1") == 0.025
    # a batch counted in kg says nothing of how much of it one piece is: unknown, not guessed
    assert mb.exposure["U2"] is None and "kg" in mb.notes["U2"]
