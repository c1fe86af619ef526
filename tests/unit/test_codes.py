"""The named code sets of the ontology (``ontology/codes.py``, from its ``skos:Collection`` s)
are what the workflows decide with: a deviation is open until Closed or Archived, a hold is in
force while Active, a batch is released when Released. One definition of each
(:mod:`graph.status`) serves release, the guards, GraphQL and the explorer's overlay, so the
explorer no longer counts an EffectivenessVerified deviation as closed (the drift of issue 13)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import cast

import pytest

from api.graphql import explorer as gql_explorer
from graph import fitness, status, versions
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from ontology import codes
from ontology.terms import R
from quality import deviations, dispositions, workflow


def test_hand_kept_orders_and_policies_are_made_of_code_list_members() -> None:
    assert set(dispositions.DISPOSITION_TYPES) == set(codes.DispositionType)
    assert set(versions.LIFECYCLE) == set(codes.ProcessVersionStatus)
    kept: list[tuple[Iterable[object], type[StrEnum]]] = [
        (dispositions.DISPOSITION_TYPES, codes.DispositionType),
        (deviations.STATES, codes.DeviationState), (deviations.GRADES, codes.DeviationGrade),
        (versions.FROZEN, codes.ProcessVersionStatus),
        (versions.RELEASED, codes.ProcessVersionStatus),
        (fitness.CALIBRATION_PASS, codes.CalibrationResult),
        (fitness.OUT_OF_CALIBRATION, codes.CalibrationStatus)]
    for values, code_list in kept:
        assert all(isinstance(v, code_list) for v in values), code_list


def test_deviation_lifecycle_uses_exactly_the_code_list() -> None:
    assert set(deviations.STATES) == set(codes.DeviationState)
    assert set(deviations.GRADES) == set(codes.DeviationGrade)
    # every step out of the open states lands in Closed: QA closure is what ends "open"
    opened = codes.OPEN_DEVIATION_STATES
    closing = {s.target for s in deviations.TRANSITIONS.values()
               if s.source in opened and s.target not in opened}
    assert closing == {codes.DeviationState.CLOSED}


class _Links:
    """The two reads :func:`quality.workflow.open_deviations` makes, over fixed records."""

    def __init__(self, nodes: Sequence[NodeRecord], edges: Sequence[EdgeRecord]) -> None:
        self.nodes = {n.iri: n for n in nodes}
        self.edges = list(edges)

    def links(self, iris: Sequence[str], types: Sequence[str],
              direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
        assert direction == Direction.DOWNSTREAM
        return [e for e in self.edges if e.dst in iris and e.type in types]

    def get_many(self, iris: Sequence[str]) -> dict[str, NodeRecord]:
        return {i: self.nodes[i] for i in iris if i in self.nodes}


@pytest.mark.parametrize("state", [*codes.DeviationState, None])
def test_explorer_overlay_agrees_with_release(state: codes.DeviationState | None) -> None:
    batch = NodeRecord("urn:tg:b", "Batch", "B-1", {"batchStatus": "InProcess"})
    dev = NodeRecord("urn:tg:d", "Deviation", "DEV-1",
                     {} if state is None else {"deviationState": state})
    store = cast(GraphStore, _Links([batch, dev], [EdgeRecord(dev.iri, R.CONCERNS, batch.iri,
                                                              "e1", {})]))
    blocks_release = [d.key for d in workflow.open_deviations(store, [batch.iri])]
    overlay = gql_explorer.status_overlay(batch, [], [dev]).open_deviations
    assert overlay == blocks_release
    assert bool(overlay) == status.is_open_deviation(dev)
    assert bool(overlay) == (state is None or state in codes.OPEN_DEVIATION_STATES)
    if state == codes.DeviationState.EFFECTIVENESS_VERIFIED:
        assert overlay == ["DEV-1"]  # the drift the explorer had: open until QA closes it


@pytest.mark.parametrize("state", [*codes.HoldState, None])
def test_one_definition_of_an_active_hold(state: codes.HoldState | None) -> None:
    lot = NodeRecord("urn:tg:l", "MaterialLot", "L-1", {"materialLotStatus": "Approved"})
    hold = NodeRecord("urn:tg:h", "Hold", "H-1", {} if state is None else {"holdState": state})
    active = status.is_active_hold(hold)
    assert active == (state is None or state in codes.ACTIVE_HOLD_STATES)
    assert gql_explorer.status_overlay(lot, [hold], []).on_hold == active


@pytest.mark.parametrize("value", [*codes.BatchStatus, None])
def test_one_definition_of_released(value: codes.BatchStatus | None) -> None:
    batch = NodeRecord("urn:tg:b", "Batch", "B-1", {} if value is None else {"batchStatus": value})
    released = status.is_released(batch)
    assert released == (value in codes.RELEASED_BATCH_STATUSES)
    assert gql_explorer.status_overlay(batch, [], []).released == released


def test_the_explorer_serves_the_generated_code_lists_and_imports_only_what_they_export() -> None:
    import re

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.routes.explorer import STATIC, mount_explorer
    from ontology.codegen import CODES_JS_PATH

    app = FastAPI()
    mount_explorer(app)
    r = TestClient(app).get("/explorer/js/codes.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert r.text == CODES_JS_PATH.read_text()
    exported = set(re.findall(r"^export (?:const|function) (\w+)", r.text, re.M))
    assert {"OPEN_DEVIATION_STATES", "ACTIVE_HOLD_STATES", "LABELS", "label"} <= exported
    users = 0
    for js in sorted((STATIC / "js").glob("*.js")):
        for names in re.findall(r'import \{([^}]*)\} from "\./codes\.js"', js.read_text()):
            users += 1
            assert {n.strip() for n in names.split(",")} <= exported, js.name
    assert users >= 3  # deviation, trace and the shell use the code lists
