"""The composition root: the configured store, the vocabulary, the compiled shapes, the one
write path with the guards of :func:`quality.guards.default_guards`, and the clock.

:class:`Runtime` satisfies :class:`graph.session.Session` structurally, so ``api/``, the CLI,
``bench/`` and the tests hand a runtime to the domain functions of :mod:`quality` and
:mod:`ingest`, which never import this module (tests/unit/test_layers.py checks the layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from graph import open_store
from graph.as_of import as_of_store
from graph.authority import Migration, Principal
from graph.identifiers.identify import identify
from graph.impact import WindowImpact, executions_in_window, results_in_window
from graph.model import Direction
from graph.port import GraphStore
from graph.recall import RecallAnswer, recall, resolve_seeds
from graph.write import Writer, WriteResult, paused_gc
from ingest.capture import parse_document, to_write_events
from ingest.signals.health import warn_at_start
from ontology.datatypes import Clock, to_utc_text, utc_now
from ontology.vocab import Vocabulary, vocabulary
from quality.guards import default_guards
from shapes.validator import ShapeResult, ShapesValidator, validator
from tracegraph.settings import Settings, settings
from tracegraph.upgrade import UpgradeResult, upgrade

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """Everything a request or a command needs, built once per process (a
    :class:`graph.session.Session`)."""

    settings: Settings
    store: GraphStore
    vocab: Vocabulary
    shapes: ShapesValidator
    writer: Writer
    clock: Clock = utc_now
    upgraded: UpgradeResult | None = None  # the schema upgrade this open ran (tracegraph.upgrade)

    @classmethod
    def open(cls, cfg: Settings | None = None, store: GraphStore | None = None,
             on_commit: Callable[[WriteResult], None] | None = None) -> Runtime:
        """The runtime over ``store``, or over the configured store, which is opened here: a
        store newer than this tracegraph is refused (``graph.schema.StoreVersionError``), an
        older one upgraded after a backup (:mod:`tracegraph.upgrade`; ``UpgradeError`` leaves
        it as it was). A store handed in is the caller's to keep current."""
        s = cfg or settings()
        st = store or open_store(s.store, sqlite_path=s.sqlite_path, neo4j_uri=s.neo4j_uri,
                                 neo4j_user=s.neo4j_user, neo4j_password=s.neo4j_password,
                                 neo4j_database=s.neo4j_database)
        vocab = vocabulary()
        shapes = validator()
        rt = cls(s, st, vocab, shapes, Writer(st, vocab, shapes, on_commit, default_guards()))
        if store is None:  # the configured store: an older one is upgraded here, once
            try:
                rt.upgraded = upgrade(s, st, rt.writer)
            except BaseException:
                st.close()
                raise
        return rt

    def as_of(self, at: str | None) -> Runtime:
        """This runtime reading the graph as recorded at ``at`` (:mod:`graph.as_of`: node
        properties and edges as then, the watermark of then; writes refused), or itself when
        ``at`` is ``None``. ``TypeRuleError`` when ``at`` is not a timestamp with a zone."""
        if at is None:
            return self
        view = as_of_store(self.store, at)
        return replace(self, store=view, writer=Writer(view, self.vocab, self.shapes))

    def capture(self, document: bytes | str | dict[str, Any], actor: str | None = None,
                dry_run: bool = False, principal: Principal | None = None,
                migration: Migration | None = None) -> WriteResult:
        """Parse, validate and write one capture document atomically.

        ``principal`` is the signed-in account (its roles decide what it may assert, and it is
        the actor); without one the system loader writes (see :mod:`graph.authority`) as
        ``actor``. ``migration`` (from :func:`quality.accounts.begin_migration`) writes records
        in any state, each marked migrated."""
        with paused_gc():
            doc = parse_document(document)
            events = to_write_events(doc, self.vocab, actor or self.settings.default_actor,
                                     principal, migration)
            result = self.writer.apply(events, dry_run=dry_run)
        if not dry_run:  # equipment forecast to breach within a started run: a warning
            started = [n.iri for e in events for n in e.nodes
                       if n.cls == "OperationExecution" and n.props.get("startedAtTime")]
            result.warnings.extend(ShapeResult(
                w.execution, "onEquipment", "equipment-forecast-breach", "Warning", w.message,
                w.equipment, w.alarm) for w in warn_at_start(
                    self, self.settings.data_dir / "signals", started, "signals"))
        return result

    def recall(self, seeds: Sequence[str], unit_limit: int = 1000,
               max_depth: int = 50, package_limit: int | None = None,
               lazy: bool = False) -> RecallAnswer:
        """One multi-seed downstream traversal, classified for a recall (see graph.recall;
        ``lazy``: counts now, lists when first asked for)."""
        with self.store.snapshot() as watermark:  # the answer is the graph at its watermark
            iris, unknown = resolve_seeds(self.store, seeds,
                                          lambda v: identify(self.store, v))
            walk = self.store.walk(iris, Direction.DOWNSTREAM, max_depth)
            return recall(self.store, walk, watermark, unit_limit, unknown, package_limit,
                          lazy)

    def equipment_impact(self, equipment: str, start: str, end: str, unit_limit: int = 100
                         ) -> WindowImpact:
        """Executions on the equipment during [start, end], the inspection results measured
        with it then, and the recall of their batches and inspected entities."""
        with self.store.snapshot() as watermark:
            frm, to = to_utc_text(start), to_utc_text(end)
            exposures = executions_in_window(self.store, equipment, frm, to)
            measured = results_in_window(self.store, equipment, frm, to)
            seeds = sorted({b for x in exposures for b in x.batches}
                           | {i for m in measured for i in m.inspected})
            walk = self.store.walk(seeds, Direction.DOWNSTREAM)
            return WindowImpact(exposures, measured,
                                recall(self.store, walk, watermark, unit_limit))

    def close(self) -> None:
        self.store.close()
