"""What-if recall (issue 18 item 3): the scope of a recall hypothesis, and the comparison of
several hypotheses side by side.

A recall team works with hypotheses — "if the cause is adhesive lot X", "if it is UV station Y
between t1 and t2", "if it is both". A :class:`Hypothesis` names one or more :class:`Seed`\\ s of
these kinds, each resolved to the things a recall walks down from:

- ``lot``: any identifier of a lot, batch, sublot or unit (:func:`graph.recall.resolve_seeds`);
- ``equipment``: an equipment or fixture and a window [from, to] → the executions on it then
  and the results measured with it then (:mod:`graph.impact`, as the equipment-window impact)
  → their batches and inspected entities;
- ``operator``: a user, optionally with a window → the executions associated with them → their
  batches;
- ``supplier``: a supplier → the material lots received from it;
- ``version``: a process version → the batches pinned to it.

The scope is one downstream walk of the engine from all the seeds (the recall's walk), read as
sets per class, with the customers the affected shipments went to. :func:`compare` is plain set
algebra over scopes: the shared core (in every scope) and what each adds (in it and in no other).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.errors import RefusedError
from graph.identifiers.identify import identify
from graph.impact import executions_in_window, results_in_window
from graph.model import Direction, NodeRecord
from graph.port import GraphStore, Walk
from graph.recall import SHIPPED_TO
from ontology.datatypes import TypeRuleError, to_utc_text
from ontology.terms import C, R

__all__ = ["KINDS", "PROOF_DEPTH", "Comparison", "Hypothesis", "HypothesisError", "Origin",
           "Scope", "Seed", "compare", "parse_hypothesis", "scope_at", "scope_of",
           "scopes"]

#: the seed kinds and the class (or classes) the named node must be of (``None``: any)
KINDS: dict[str, tuple[str, ...] | None] = {
    "lot": None, "equipment": (C.Equipment, C.Fixture), "operator": (C.User,),
    "supplier": (C.Supplier,), "version": (C.ProcessVersion,)}
#: depth bound of a what-if walk: far beyond any genealogy, so the walk ends by exhaustion and a
#: target it does not reach is reached by no derivation path at all
PROOF_DEPTH = 10_000
_OPEN_START, _OPEN_END = "0000", "9999"
_SEEDS = re.compile(r"\+(?=\s*[A-Za-z][\w-]*:)")


class HypothesisError(RefusedError, ValueError):
    """A hypothesis that cannot be scoped: the field, the value and the rule."""


@dataclass(frozen=True)
class Seed:
    """One suspect: a ``kind`` of :data:`KINDS`, the identifier ``ref`` and, for equipment
    (required) and operators (optional), the window [``start``, ``end``]."""

    kind: str
    ref: str
    start: str | None = None
    end: str | None = None

    def text(self) -> str:
        window = f"@{self.start}..{self.end}" if self.start or self.end else ""
        return f"{self.kind}:{self.ref}{window}"


@dataclass(frozen=True)
class Hypothesis:
    """A named hypothesis: the union of its seeds ("if it is both")."""

    name: str
    seeds: tuple[Seed, ...]

    def text(self) -> str:
        return f"{self.name}=" + "+".join(s.text() for s in self.seeds)


def parse_hypothesis(text: str) -> Hypothesis:
    """``NAME=KIND:REF[@FROM..TO][+KIND:REF…]``, e.g.
    ``both=lot:PA-778+equipment:UV-01@2026-01-05T00:00:00Z..2026-01-06T00:00:00Z``.

    >>> h = parse_hypothesis("both=lot:PA-778+equipment:UV-01@2026-01-05T08:00+08:00.."
    ...                      "2026-01-06T08:00+08:00")
    >>> [s.kind for s in h.seeds], h.seeds[1].end
    (['lot', 'equipment'], '2026-01-06T08:00+08:00')
    """
    name, eq, body = text.partition("=")
    if not eq or not name.strip() or not body.strip():
        raise HypothesisError("hypothesis-syntax", "write NAME=KIND:REF[@FROM..TO][+…]",
                              "hypothesis", text)
    seeds: list[Seed] = []
    for part in _SEEDS.split(body):  # "+" before KIND: (not a "+08:00" offset)
        kind, colon, rest = part.strip().partition(":")
        ref, at, window = rest.partition("@")
        start, dots, end = window.partition("..")
        if not colon or not ref.strip() or (at and not dots):
            raise HypothesisError("hypothesis-syntax", "a seed is KIND:REF or "
                                  "KIND:REF@FROM..TO", "seed", part)
        seeds.append(Seed(kind.strip(), ref.strip(), start.strip() or None, end.strip() or None))
    return Hypothesis(name.strip(), tuple(seeds))


@dataclass
class Origin:
    """What one seed of a hypothesis resolved to: the node it names, the executions it was
    involved in (equipment, operator) and the seeds of the walk it contributes."""

    seed: Seed
    node: str
    via: list[str]
    seeds: list[str]


@dataclass
class Scope:
    """Everything a hypothesis puts in scope at ``watermark``: the reached nodes per class (the
    walk's classes and ``Customer``), with the walk for witness paths."""

    hypothesis: Hypothesis
    watermark: int
    origins: list[Origin]
    seeds: list[str]
    members: dict[str, set[str]]
    walk: Walk | None = field(default=None, repr=False)
    handles: dict[str, Hashable] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        return {c: len(v) for c, v in sorted(self.members.items())}

    def all(self) -> set[str]:
        return set().union(*self.members.values()) if self.members else set()

    def witness(self, iri: str) -> list[str]:
        """One shortest derivation path from a seed to ``iri`` ([] when not in scope)."""
        h = self.handles.get(iri)
        if self.walk is None or h is None:
            return []
        path = self.walk.witness(h)
        names = self.walk.iris(path)
        return [names[x] for x in path]


def _window(seed: Seed, required: bool) -> tuple[str, str]:
    if required and not (seed.start and seed.end):
        raise HypothesisError("window-required", f"a {seed.kind} seed needs a window "
                              "@FROM..TO", "seed", seed.text())
    try:
        start = to_utc_text(seed.start) if seed.start else _OPEN_START
        end = to_utc_text(seed.end) if seed.end else _OPEN_END
    except TypeRuleError as e:
        raise HypothesisError("window", f"must be {e.rule}", "seed", e.value) from None
    if start > end:
        raise HypothesisError("window", "the window ends before it starts", "seed",
                              seed.text())
    return start, end


def _node(store: GraphStore, seed: Seed, find: Callable[[str], list[NodeRecord]]
          ) -> list[NodeRecord]:
    if seed.kind not in KINDS:
        raise HypothesisError("seed-kind", f"must be one of {', '.join(KINDS)}", "seed",
                              seed.kind)
    classes = KINDS[seed.kind]
    hits = [n for n in find(seed.ref) if classes is None or n.label in classes]
    if not hits:
        raise HypothesisError("not-found", "names no " + (
            " or ".join(classes) if classes else "node") + " (any identifier)", "seed", seed.ref)
    if classes is not None and len(hits) > 1:
        raise HypothesisError("ambiguous", f"names {len(hits)} nodes; give the IRI", "seed",
                              seed.ref)
    return hits


def _origin(store: GraphStore, seed: Seed, find: Callable[[str], list[NodeRecord]]) -> Origin:
    nodes = _node(store, seed, find)
    node = nodes[0].iri
    if seed.kind == "lot":  # a value naming several nodes seeds them all, as a recall does
        return Origin(seed, node, [], sorted(n.iri for n in nodes))
    if seed.kind == "equipment":
        start, end = _window(seed, required=True)
        runs = executions_in_window(store, node, start, end)
        measured = results_in_window(store, node, start, end)
        return Origin(seed, node, [x.execution.iri for x in runs],
                      sorted({b for x in runs for b in x.batches}
                             | {i for m in measured for i in m.inspected}))
    if seed.kind == "operator":
        start, end = _window(seed, required=False)
        runs = executions_in_window(store, node, start, end, via=(R.WAS_ASSOCIATED_WITH,))
        return Origin(seed, node, [x.execution.iri for x in runs],
                      sorted({b for x in runs for b in x.batches}))
    rel = R.SUPPLIED_BY if seed.kind == "supplier" else R.RUNS_PROCESS_VERSION
    return Origin(seed, node, [], sorted({e.src for e in store.links(
        [node], [rel], Direction.DOWNSTREAM)}))


def scope_at(store: GraphStore, h: Hypothesis, watermark: int) -> Scope:
    """The scope of ``h``, read inside the caller's snapshot at ``watermark``."""
    if not h.seeds:
        raise HypothesisError("no-seeds", "a hypothesis needs at least one seed", "seeds",
                              h.name)
    origins = [_origin(store, s, lambda v: identify(store, v)) for s in h.seeds]
    seeds = sorted({i for o in origins for i in o.seeds})
    walk = store.walk(seeds, Direction.DOWNSTREAM, PROOF_DEPTH) if seeds else None
    members: dict[str, set[str]] = {}
    handles: dict[str, Hashable] = {}
    if walk is not None:
        for label, hs in walk.by_label().items():
            names = walk.iris(list(hs))
            members[label] = set(names.values())
            handles.update({iri: hh for hh, iri in names.items()})
    ships = sorted(members.get(C.Shipment, ()))
    customers = {e.dst for e in store.links(ships, [SHIPPED_TO])} if ships else set()
    if customers:
        members[str(C.Customer)] = customers
    return Scope(h, watermark, origins, seeds, members, walk, handles)


def scope_of(store: GraphStore, h: Hypothesis) -> Scope:
    """The scope of one hypothesis, read in one snapshot."""
    return scopes(store, [h])[0]


def scopes(store: GraphStore, hypotheses: Sequence[Hypothesis]) -> list[Scope]:
    """The scopes of the hypotheses, all read in one snapshot (one watermark)."""
    names = [h.name for h in hypotheses]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise HypothesisError("duplicate-name", "each hypothesis needs its own name",
                              "hypotheses", dupes[0])
    with store.snapshot() as watermark:
        return [scope_at(store, h, watermark) for h in hypotheses]


@dataclass
class Comparison:
    """Scopes side by side: per class, the shared core (in every scope), what each scope adds
    (in it and in no other) and the union."""

    scopes: list[Scope]
    shared: dict[str, set[str]]
    adds: dict[str, dict[str, set[str]]]
    union: dict[str, set[str]]

    @property
    def watermark(self) -> int:
        return self.scopes[0].watermark if self.scopes else 0

    def as_counts(self) -> dict[str, Any]:
        """Counts per class: each scope, the shared core, what each adds, the union."""
        def n(m: dict[str, set[str]]) -> dict[str, int]:
            return {c: len(v) for c, v in sorted(m.items()) if v}
        return {"watermark": self.watermark,
                "scopes": {s.hypothesis.name: s.counts() for s in self.scopes},
                "shared": n(self.shared), "adds": {k: n(v) for k, v in self.adds.items()},
                "union": n(self.union)}


def compare(scopes: Sequence[Scope]) -> Comparison:
    """The shared core and what each scope adds, per class (set algebra, engine-free)."""
    classes = sorted({c for s in scopes for c in s.members})
    union = {c: set().union(*(s.members.get(c, set()) for s in scopes)) for c in classes}
    shared = {c: set.intersection(*(s.members.get(c, set()) for s in scopes)) if scopes
              else set() for c in classes}
    adds: dict[str, dict[str, set[str]]] = {}
    for s in scopes:
        others = [o for o in scopes if o is not s]
        adds[s.hypothesis.name] = {
            c: s.members.get(c, set()).difference(*(o.members.get(c, set()) for o in others))
            for c in classes}
    return Comparison(list(scopes), shared, adds, union)
