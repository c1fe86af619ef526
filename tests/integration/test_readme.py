"""The README's examples work as printed."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from graph.errors import WriteRejectedError
from graph.model import Direction
from quality.lots import decide_lot
from tests import plantlet
from tests.conftest import PASSWORD, make_user
from tracegraph.runtime import Runtime

README_PATH = Path(__file__).resolve().parents[2] / "README.md"
README = README_PATH.read_text()


def block(lang: str, contains: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README, re.S)
    return next(b for b in blocks if contains in b)


def test_readme_capture_example_is_accepted_and_idempotent(runtime: Runtime) -> None:
    plantlet.load(runtime)
    doc = orjson.loads(block("json", "tracegraph.capture/1"))
    first = runtime.capture(doc)
    assert first.events_written == 2 and first.nodes_created >= 1
    assert runtime.capture(doc).events_written == 0
    [lot] = runtime.store.find("PA-779", "supplierLotNumber")
    assert lot.props["materialLotStatus"] == "Quarantine"
    use = {"kind": "consumption", "output": "Batch/B-MOULD", "input": "MaterialLot/RL-PP-0002",
           "quantity": 1.5, "unit": "kg"}
    with pytest.raises(WriteRejectedError) as e:  # as the README says: not before QC approves
        runtime.capture({"format": "tracegraph.capture/1", "events": [
            {"eventId": "too-early", "derivations": [use]}]})
    assert {p.rule for p in e.value.problems} == {"lot-approved"}
    make_user(runtime, "qc.quinn", ["qc"])
    decide_lot(runtime, "RL-PP-0002", "Approved", "qc.quinn", PASSWORD, "incoming inspection")
    runtime.capture({"format": "tracegraph.capture/1", "events": [
        {"eventId": "after-approval", "derivations": [use]}]})
    down = runtime.store.genealogy([lot.iri], Direction.DOWNSTREAM)
    assert {n.key for n in down.nodes.values()} >= {"RL-PP-0002", "B-MOULD", "B-ASSY", "SN-1"}


def test_readme_graphql_example_names_fields_the_schema_has() -> None:
    from graphql import parse, validate

    from api.graphql import schema

    errors = validate(schema._schema, parse(block("graphql", "genealogy")))
    assert not errors, errors


@pytest.mark.parametrize("var", ["TRACEGRAPH_STORE", "TRACEGRAPH_DATA_DIR", "NEO4J_URI"])
def test_readme_documents_the_configuration(var: str) -> None:
    assert var in README


def test_readme_epcis_curl_examples_run_against_a_real_server(runtime: Runtime) -> None:
    """The EPCIS curl block, run by bash and curl against the API served by uvicorn."""
    import json
    import os
    import subprocess

    from ingest.epcis import epcis_events, epcis_single_event, event_hash
    from tests.conftest import PASSWORD, make_user
    from tests.serving import served

    make_user(runtime, "op.olsen", ["operator"])
    with served(runtime) as url:
        script = block("bash", "POST $TG/events").replace(
            "TG=http://127.0.0.1:8000", f"TG={url}")
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                             text=True, cwd=README_PATH.parent, timeout=120,
                             env={**os.environ, "PASSWORD": PASSWORD})
    assert run.returncode == 0, run.stderr
    answers, text, at = [], run.stdout, 0
    while at < len(text.rstrip()):
        doc, at = json.JSONDecoder().raw_decode(text, at)
        answers.append(doc)
    captured, single, query, trace = answers
    root = README_PATH.parent / "examples" / "epcis"
    doc_events = epcis_events((root / "transformation.jsonld").read_bytes())
    ship = epcis_single_event((root / "shipping-event.jsonld").read_bytes())[0]
    assert captured["eventIDs"] == [event_hash(e) for e in doc_events]
    assert single["eventIDs"] == [event_hash(ship)] and single["captured"] == 1
    found = query["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [event_hash(e) for e in found] == [event_hash(doc_events[1])]
    assert {event_hash(e) for e in trace["epcisBody"]["eventList"]} == {
        event_hash(e) for e in [*doc_events, ship]}
