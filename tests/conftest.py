"""Shared fixtures: the vocabulary, and a store of each engine for the contract suite.

The Neo4j engine runs against a real server: ``NEO4J_URI`` if set, else the harness that
``make test`` starts (``tools/neo4j-test-server``, URI in ``.cache/neo4j/uri``). Without one the
Neo4j tests skip locally, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.authority import Migration
from graph.engines.sqlite import SQLiteStore
from graph.port import GraphStore
from graph.write import WriteResult
from ontology.vocab import Vocabulary, vocabulary
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def neo4j_uri() -> str | None:
    uri = os.environ.get("NEO4J_URI")
    if uri:
        return uri
    f = ROOT / ".cache" / "neo4j" / "uri"
    return f.read_text().strip() if f.exists() else None


def _need_service(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return vocabulary()


@pytest.fixture(scope="session")
def _neo4j_store() -> Iterator[GraphStore]:
    uri = neo4j_uri()
    if uri is None:
        _need_service("Neo4j (set NEO4J_URI or run tools/neo4j-test-server start)")
    from graph.engines.neo4j import Neo4jStore

    try:
        store = Neo4jStore(uri, os.environ.get("NEO4J_USER", "neo4j"),
                           os.environ.get("NEO4J_PASSWORD", ""))
    except Exception as e:
        _need_service(f"Neo4j at {uri} ({e})")
    yield store
    store.close()


#: Parametrises a fixture over both engines; the fixture calls :func:`engine_store`.
ENGINES = ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def engine_store(request: pytest.FixtureRequest, path: Path) -> GraphStore:
    """A fresh, empty store of the engine a fixture parametrised with :data:`ENGINES` is
    running for: a new SQLite file at ``path``, or the session's Neo4j, wiped."""
    if request.param == "embedded":
        return SQLiteStore(path)
    neo = request.getfixturevalue("_neo4j_store")
    neo.wipe()
    return neo  # type: ignore[no-any-return]  # the session fixture's Neo4jStore


def demo_runtime(request: pytest.FixtureRequest, data_dir: Path,
                 docs: list[dict[str, Any]]) -> Runtime:
    """A runtime over a fresh store of the fixture's engine with ``docs`` (the demo plant's
    capture documents) loaded as the plant generator's migration."""
    from bench.plant import PLANT_MIGRATION

    rt = Runtime.open(Settings(data_dir=data_dir),
                      store=engine_store(request, data_dir / "s.sqlite"))
    for d in docs:
        rt.capture(d, migration=PLANT_MIGRATION)
    return rt


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh, empty store of each engine."""
    s = engine_store(request, tmp_path / "store.sqlite")
    yield s
    if request.param == "embedded":
        s.close()


@pytest.fixture
def runtime(store: GraphStore, tmp_path: Path) -> Runtime:
    return Runtime.open(Settings(data_dir=tmp_path), store=store)


PASSWORD = "correct horse battery staple"


def make_user(rt: Runtime, username: str, roles: list[str]) -> str:
    """Create an account (through the accounts workflow) and return its username."""
    from quality.accounts import create_user

    create_user(rt, username, PASSWORD, roles, printed_name=username.title(), actor="test",
                reason="test account")
    return username


def bearer(client: object, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in over HTTP (OAuth2 password flow) and return the Authorization header."""
    r = client.post("/auth/token", data={"username": username,  # type: ignore[attr-defined]  # client is a TestClient
                                         "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


#: Test fixtures that hold records in later states (Effective versions, approved suppliers and
#: lots, released batches …) load as a migration (graph.authority). In-process code may make a
#: Migration directly; the CLI and API obtain one only through quality.accounts.begin_migration.
FIXTURE_MIGRATION = Migration("system", "test fixture: records in later states")


def migrate(rt: Runtime, *documents: dict[str, object]) -> WriteResult | None:
    """Load capture documents as the fixture migration (records marked migrated); the result
    of the last."""
    result = None
    for doc in documents:
        result = rt.capture(doc, migration=FIXTURE_MIGRATION)
    return result
