"""An in-memory :class:`graph.session.Session` for the quality-rule unit tests.

The session is what the domain functions of :mod:`quality` receive: the embedded store on an
in-memory SQLite database, the vocabulary, the one write path (:class:`graph.write.Writer`) with
the compiled shapes and every guard of :func:`quality.guards.default_guards`, and a clock the
test moves by hand. No FastAPI, no ``Runtime``, no server.

This module is the only place the unit tests name a store engine (:func:`open_session`), so a
move of the engine's module changes one import line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from graph.port import GraphStore
from graph.session import Session
from graph.write import Writer
from ontology.datatypes import StoredValue
from ontology.vocab import Vocabulary, vocabulary
from quality.guards import default_guards
from shapes.validator import validator

__all__ = ["T0", "SteppingClock", "UnitSession", "open_session"]

#: the moment every unit session starts at (the clock moves only when a test steps it)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class SteppingClock:
    """A :data:`ontology.datatypes.Clock` that stands still until :meth:`step` moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def step(self, **delta: float) -> datetime:
        """Move the clock forward (``days=1``, ``hours=2`` …) and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@dataclass
class UnitSession:
    """Store, vocabulary, write path and clock: satisfies :class:`graph.session.Session`."""

    store: GraphStore
    vocab: Vocabulary
    writer: Writer
    clock: SteppingClock = field(default_factory=SteppingClock)

    def iri(self, cls: str, key: str) -> str:
        """The IRI of the record of class ``cls`` with business key ``key``."""
        return self.vocab.mint_iri(cls, key)

    def prop(self, iri: str, name: str) -> StoredValue | None:
        """Property ``name`` of the stored record ``iri`` (which must exist)."""
        node = self.store.get(iri)
        assert node is not None, f"no record {iri}"
        return node.props.get(name)

    def state(self) -> tuple[int, dict[str, int]]:
        """The last committed transaction and the node/edge counts: equal before and after
        an operation that wrote nothing."""
        return self.store.watermark(), self.store.counts()

    @contextmanager
    def writes_nothing(self) -> Iterator[None]:
        """Assert that the block (a refused operation, its exception caught inside) leaves the
        store unchanged."""
        before = self.state()
        yield
        assert self.state() == before, "a refused operation wrote to the store"

    def close(self) -> None:
        self.store.close()


def open_session(clock: SteppingClock | None = None) -> UnitSession:
    """A fresh, empty session on an in-memory embedded store."""
    from graph.engines.sqlite import SQLiteStore  # the one import of a store engine

    vocab = vocabulary()
    store = SQLiteStore(":memory:", vocab)
    writer = Writer(store, vocab, validator(), guards=default_guards())
    return UnitSession(store, vocab, writer, clock or SteppingClock())


def _satisfies_session(s: UnitSession) -> Session:
    return s  # mypy checks that a UnitSession is a Session
