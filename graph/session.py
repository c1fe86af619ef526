"""What domain code receives: a :class:`Session` (store, vocabulary, writer, clock).

The quality loops (:mod:`quality`) and the ingest adapters (:mod:`ingest`) take a session, never
the composition root: ``Runtime`` (in the ``tracegraph`` package, above ``ingest``) satisfies
the protocol structurally, and a test can hand in any object with the four attributes (an
in-memory store, a writer over it, a clock it moves by hand). Domain functions name their
session parameter ``rt`` by convention; a ``clock`` parameter they take defaults to the
session's clock.

:func:`write_nodes` is the shared shape of a domain write: node upserts as one audited event
through the session's one write path (:class:`graph.write.Writer`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Protocol

import orjson

from graph.port import GraphStore
from graph.write import NodeUpsert, WriteEvent, Writer, WriteResult
from ontology.datatypes import Clock
from ontology.vocab import Vocabulary

__all__ = ["Session", "node_event", "write_nodes"]


class Session(Protocol):
    """The store, the vocabulary, the one write path and the clock a domain operation uses."""

    @property
    def store(self) -> GraphStore: ...

    @property
    def vocab(self) -> Vocabulary: ...

    @property
    def writer(self) -> Writer: ...

    @property
    def clock(self) -> Clock: ...


def node_event(nodes: Sequence[NodeUpsert], actor: str, reason: str,
               event_id: str | None = None, *, command: str) -> WriteEvent:
    """Node upserts as one audited event (names given as :mod:`ontology.terms` constants become
    plain strings, as the stores expect). The event id defaults to ``<class>:<random hex>``;
    pass one to make a retry idempotent. ``command`` names the workflow command writing (an
    :class:`ontology.authority.Command` where the ontology lists it): only the commands a
    workflow-managed property names may change it (:mod:`graph.authority`)."""
    nodes = [NodeUpsert(str(n.cls), str(n.key), n.iri, {str(k): v for k, v in n.props.items()},
                        {str(k): list(v) for k, v in n.links.items()}) for n in nodes]
    body = orjson.dumps([[[n.cls, n.key, n.props, n.links] for n in nodes], actor, reason],
                        option=orjson.OPT_SORT_KEYS)
    eid = event_id or f"{nodes[0].cls.lower()}:{uuid.uuid4().hex}"
    return WriteEvent(eid, hashlib.sha256(body).hexdigest(), actor, reason, list(nodes),
                      command=str(command))


def write_nodes(session: Session, nodes: Sequence[NodeUpsert], actor: str, reason: str,
                event_id: str | None = None, *, command: str) -> WriteResult:
    """Write node upserts as one audited event (:func:`node_event`) through the one write
    path. A read-modify-write (a counter) instead hands the writer a function of the
    transaction that builds its events from the state it reads there (``Writer.apply``)."""
    return session.writer.apply([node_event(nodes, actor, reason, event_id, command=command)])
