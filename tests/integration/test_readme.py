"""The README's examples work as printed."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from graph.model import Direction
from tests import plantlet
from tracegraph.runtime import Runtime

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def block(lang: str, contains: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README, re.S)
    return next(b for b in blocks if contains in b)


def test_readme_capture_example_is_accepted_and_idempotent(runtime: Runtime) -> None:
    runtime.capture(plantlet.master_data())
    runtime.capture(plantlet.execution())
    doc = orjson.loads(block("json", "tracegraph.capture/1"))
    first = runtime.capture(doc)
    assert first.events_written == 2 and first.nodes_created >= 2
    assert runtime.capture(doc).events_written == 0
    lot = runtime.store.find("PA-779", "supplierLotNumber")[0]
    down = runtime.store.genealogy([lot.iri], Direction.DOWNSTREAM)
    assert {n.key for n in down.nodes.values()} >= {"RL-PP-0002", "B-ASSY", "SN-1"}


def test_readme_graphql_example_names_fields_the_schema_has() -> None:
    from graphql import parse, validate

    from api.graphql import schema

    errors = validate(schema._schema, parse(block("graphql", "genealogy")))
    assert not errors, errors


@pytest.mark.parametrize("var", ["TRACEGRAPH_STORE", "TRACEGRAPH_DATA_DIR", "NEO4J_URI"])
def test_readme_documents_the_configuration(var: str) -> None:
    assert var in README
