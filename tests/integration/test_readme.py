"""The README's examples work as printed."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from tests.conftest import PASSWORD, make_user
from tracegraph.runtime import Runtime

README_PATH = Path(__file__).resolve().parents[2] / "README.md"
README = README_PATH.read_text()


def block(lang: str, contains: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README, re.S)
    return next(b for b in blocks if contains in b)


def test_readme_capture_example_names_only_ontology_terms() -> None:
    """The capture example itself runs against the demo plant (tests/integration/test_demo.py);
    here: it parses, every class and link is the ontology's, and it is valid on its own form."""
    from ingest.capture import parse_document, to_write_events
    from ontology.vocab import vocabulary

    doc = parse_document(orjson.loads(block("json", "tracegraph.capture/1")))
    events = to_write_events(doc, vocabulary())
    assert [e.event_id for e in events] == ["rcv-2026-0001", "split-rl260103002-a"]


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
    from tests.serving import served

    make_user(runtime, "demo.operator", ["operator"])
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
