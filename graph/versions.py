"""Versioned process definitions: the definition tree of a process version, which version was
effective at a time, which versions own a definition element, and the semantic diff of two
versions (as data and as a readable report).

A version owns its tree: ``ProcessVersion -hasRouting-> Routing -hasOperation-> Operation``, and
per operation the parameter specs (``specOf``), BOM lines (``boundToOperation``) and inspection
plans (``inspectionPlanOf``) with their characteristics (``characteristicOf``). Shared master
data (materials, equipment classes, qualifications, inspection methods, documents) is referenced,
not owned.

Elements of two versions are matched by their identity within the parent: the business key with
the parent's key as prefix removed (``CATH-ASSY/v2/OP20`` → ``OP20``), a BOM line by its material.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import NODE_SYSTEM_PROPS
from ontology.codes import ProcessVersionStatus
from ontology.terms import R

__all__ = ["FROZEN", "LIFECYCLE", "Change", "Element", "VersionTree", "diff_report",
           "diff_versions", "effective_at", "effective_version", "fingerprint", "load_tree",
           "owning_versions", "versions_of"]

_V = ProcessVersionStatus
#: allowed lifecycle transitions of a process version (old status → new statuses)
LIFECYCLE: Mapping[str, frozenset[str]] = {
    _V.DRAFT: frozenset({_V.IN_REVIEW, _V.OBSOLETE}),
    _V.IN_REVIEW: frozenset({_V.DRAFT, _V.APPROVED, _V.OBSOLETE}),
    _V.APPROVED: frozenset({_V.EFFECTIVE, _V.OBSOLETE}),
    _V.EFFECTIVE: frozenset({_V.SUPERSEDED, _V.OBSOLETE}),
    _V.SUPERSEDED: frozenset({_V.OBSOLETE}),
    _V.OBSOLETE: frozenset(),
}
#: statuses whose definition is frozen: approved content never changes
FROZEN = frozenset({_V.APPROVED, _V.EFFECTIVE, _V.SUPERSEDED, _V.OBSOLETE})
#: statuses a version can have had while it governed production
RELEASED = frozenset({_V.EFFECTIVE, _V.SUPERSEDED, _V.OBSOLETE})
#: lifecycle properties of a version (set by transitions, not by editing the definition)
LIFECYCLE_PROPS = frozenset({"versionStatus", "effectiveFrom", "effectiveTo"})
IGNORED_PROPS = frozenset({*NODE_SYSTEM_PROPS, "versionNumber", "code"})

#: owned child kinds of an operation: edge type (child → operation) → kind
CHILD_EDGES: Mapping[str, str] = {R.SPEC_OF: "parameter", R.BOUND_TO_OPERATION: "bom",
                                  R.INSPECTION_PLAN_OF: "plan"}
#: object properties compared on elements (their targets by identity)
_LINKS = (R.REQUIRES_EQUIPMENT_CLASS, R.REQUIRES_QUALIFICATION, R.GOVERNED_BY, R.PRECEDED_BY,
          R.OF_MATERIAL, R.USES_METHOD)
OWNED_CLASSES = frozenset({"Routing", "Operation", "ParameterSpec", "BOMLine", "InspectionPlan",
                           "InspectionCharacteristic"})


@dataclass(frozen=True)
class Element:
    """One owned definition element, at ``path`` within its version."""

    path: str
    kind: str  # operation | parameter | bom | plan | characteristic | version
    node: NodeRecord
    props: Mapping[str, Any]
    links: Mapping[str, tuple[str, ...]]  # relationship type → target identities (sorted)


@dataclass
class VersionTree:
    """The definition of one process version, flattened to elements by path."""

    version: NodeRecord
    process: str | None
    routing: NodeRecord | None
    elements: dict[str, Element] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Element]:
        return [e for p, e in sorted(self.elements.items()) if e.kind == kind]


@dataclass(frozen=True)
class Change:
    """One semantic difference between two versions."""

    change: str  # added | removed | changed | reordered
    kind: str  # operation | parameter | bom | plan | characteristic | version
    path: str
    field: str | None = None
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"change": self.change, "kind": self.kind, "path": self.path,
                "field": self.field, "old": self.old, "new": self.new}


def _rel(key: str, parent: str) -> str:
    return key[len(parent) + 1:] if key.startswith(parent + "/") else key


def _props(n: NodeRecord, skip: Iterable[str] = ()) -> dict[str, Any]:
    drop = IGNORED_PROPS | set(skip)
    return {k: v for k, v in sorted(n.props.items()) if k not in drop}


def load_tree(store: GraphStore, version: str) -> VersionTree:
    """The definition tree of ``version`` (an IRI) with batched reads; KeyError if unknown."""
    pv = store.get(version)
    if pv is None or pv.label != "ProcessVersion":
        raise KeyError(version)
    out = store.links([version])
    routing_iri = next((e.dst for e in out if e.type == R.HAS_ROUTING), None)
    process = next((e.dst for e in out if e.type == R.VERSION_OF), None)
    op_iris = sorted({e.dst for e in store.links([routing_iri], [R.HAS_OPERATION])}
                     ) if routing_iri else []
    into_ops = store.links(op_iris, list(CHILD_EDGES), Direction.DOWNSTREAM) if op_iris else []
    plans = sorted({e.src for e in into_ops if e.type == R.INSPECTION_PLAN_OF})
    chars = store.links(plans, [R.CHARACTERISTIC_OF], Direction.DOWNSTREAM) if plans else []
    members = [*op_iris, *(e.src for e in into_ops), *(e.src for e in chars)]
    out_links = store.links(members, list(_LINKS)) if members else []
    targets = {e.dst for e in (*out_links, *out)}
    nodes = store.get_many(sorted({*members, *targets, *([routing_iri] if routing_iri else [])}))
    links_of: dict[str, list[EdgeRecord]] = {}
    for e in (*out_links, *out):
        links_of.setdefault(e.src, []).append(e)

    tree = VersionTree(pv, process, nodes.get(routing_iri) if routing_iri else None)
    op_path: dict[str, str] = {}
    for iri in op_iris:
        if iri in nodes:
            op_path[iri] = _rel(nodes[iri].key, pv.key)

    def identity(target: str) -> str:
        if target in op_path:
            return op_path[target]
        n = nodes.get(target)
        return n.key if n is not None else target

    def add(path: str, kind: str, n: NodeRecord, skip: Iterable[str] = ()) -> None:
        links: dict[str, list[str]] = {}
        for e in links_of.get(n.iri, []):
            if e.type in _LINKS:
                links.setdefault(e.type, []).append(identity(e.dst))
        tree.elements[path] = Element(path, kind, n, _props(n, skip),
                                      {k: tuple(sorted(v)) for k, v in sorted(links.items())})

    add("version", "version", pv, LIFECYCLE_PROPS | {"name", "revision"})
    for iri, path in op_path.items():
        add(path, "operation", nodes[iri])
    plan_path: dict[str, str] = {}
    for e in into_ops:
        n, parent = nodes.get(e.src), nodes.get(e.dst)
        if n is None or parent is None or e.dst not in op_path:
            continue
        kind = CHILD_EDGES[e.type]
        if kind == "bom":
            mat = [identity(x.dst) for x in links_of.get(n.iri, []) if x.type == R.OF_MATERIAL]
            ident = mat[0] if mat else _rel(n.key, parent.key)
        else:
            ident = _rel(n.key, parent.key) if n.key != parent.key else "plan"
        path = f"{op_path[e.dst]}/{kind}" + ("" if ident == "plan" else f"/{ident}")
        if kind == "plan":
            plan_path[n.iri] = path
        add(path, kind, n)
    for e in chars:
        n, plan = nodes.get(e.src), nodes.get(e.dst)
        if n is None or plan is None or e.dst not in plan_path:
            continue
        add(f"{plan_path[e.dst]}/{_rel(n.key, plan.key)}", "characteristic", n)
    return tree


def fingerprint(tree: VersionTree) -> str:
    """SHA-256 of the version's definition content (elements by path, without lifecycle
    status and record bookkeeping): what an approval of the definition binds to."""
    body = {p: {"props": dict(e.props), "links": {k: list(v) for k, v in e.links.items()}}
            for p, e in sorted(tree.elements.items())}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def diff_versions(old: VersionTree, new: VersionTree) -> list[Change]:
    """Semantic differences ``old`` → ``new``: elements added/removed, operations reordered
    (sequence or predecessors changed), fields and references changed (old → new)."""
    changes: list[Change] = []
    for path in sorted(set(old.elements) | set(new.elements)):
        a, b = old.elements.get(path), new.elements.get(path)
        if a is None and b is not None:
            changes.append(Change("added", b.kind, path, None, None, _summary(b)))
            continue
        if b is None and a is not None:
            changes.append(Change("removed", a.kind, path, None, _summary(a), None))
            continue
        assert a is not None and b is not None
        for k in sorted(set(a.props) | set(b.props)):
            if a.props.get(k) != b.props.get(k):
                what = "reordered" if (a.kind, k) == ("operation", "sequence") else "changed"
                changes.append(Change(what, a.kind, path, k, a.props.get(k), b.props.get(k)))
        for rel in sorted(set(a.links) | set(b.links)):
            x, y = a.links.get(rel, ()), b.links.get(rel, ())
            if x != y:
                what = "reordered" if rel == R.PRECEDED_BY else "changed"
                changes.append(Change(what, a.kind, path, _prop_name(rel), list(x), list(y)))
    return changes


def _prop_name(rel: str) -> str:
    head, *rest = rel.lower().split("_")
    return head + "".join(w.title() for w in rest)


def _summary(e: Element) -> dict[str, Any]:
    return {"key": e.node.key, **e.props,
            **{_prop_name(k): list(v) for k, v in e.links.items()}}


def diff_report(old: VersionTree, new: VersionTree, changes: Sequence[Change]) -> str:
    """The diff as text for people (change records, CLI)."""
    lines = [f"Process version {old.version.key} → {new.version.key}: "
             f"{len(changes)} change(s)"]
    if not changes:
        lines.append("  (no change to the definition)")
    for c in changes:
        label = "version" if c.kind == "version" else f"{c.kind} {c.path}"
        if c.change == "added":
            lines.append(f"  + added {label}: {_show(c.new)}")
        elif c.change == "removed":
            lines.append(f"  - removed {label}: {_show(c.old)}")
        else:
            lines.append(f"  ~ {c.change} {label}: {c.field} {_show(c.old)} → {_show(c.new)}")
    return "\n".join(lines)


def _show(v: Any) -> str:
    if isinstance(v, dict):
        name = v.get("name")
        return f"{v.get('key')}" + (f" ({name})" if name else "")
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "none"
    return "none" if v is None else str(v)


def versions_of(store: GraphStore, process: str) -> list[NodeRecord]:
    """The versions of a process definition (IRI), by effectivity then key."""
    iris = [e.src for e in store.links([process], [R.VERSION_OF], Direction.DOWNSTREAM)]
    found = store.get_many(sorted(set(iris)))
    return sorted(found.values(), key=lambda n: (str(n.props.get("effectiveFrom", "")), n.key))


def effective_version(store: GraphStore, process: str, at: str) -> NodeRecord | None:
    """The version of ``process`` that governed production at ``at`` (UTC text): released
    (Effective, later Superseded or Obsolete) with ``effectiveFrom <= at < effectiveTo``."""
    hits = [v for v in versions_of(store, process) if effective_at(v, at)]
    return hits[-1] if hits else None


def effective_at(version: NodeRecord, at: str) -> bool:
    """``version`` governed production at ``at``: released (Effective, later Superseded or
    Obsolete) with ``effectiveFrom <= at < effectiveTo``."""
    to = version.props.get("effectiveTo")
    return version.props.get("versionStatus") in RELEASED \
        and str(version.props.get("effectiveFrom", "9999")) <= at and (not to or at < str(to))


def owning_versions(store: GraphStore, iris: Sequence[str]) -> dict[str, set[str]]:
    """For each owned definition element (routing, operation, parameter spec, BOM line,
    inspection plan or characteristic), the process versions owning it (stored edges)."""
    owner: dict[str, set[str]] = {i: set() for i in iris}
    if not iris:
        return owner
    # climb element → its parent, keeping for each frontier node the elements it stands for
    frontier: dict[str, set[str]] = {i: {i} for i in iris}
    up = [R.CHARACTERISTIC_OF, *CHILD_EDGES]
    for _ in range(3):  # characteristic → plan → operation → (routing below)
        if not frontier:
            break
        nxt: dict[str, set[str]] = {}
        for e in store.links(sorted(frontier), up):
            nxt.setdefault(e.dst, set()).update(frontier[e.src])
        for i, origin in frontier.items():
            nxt.setdefault(i, set()).update(origin)
        if nxt == frontier:
            break
        frontier = nxt
    routings: dict[str, set[str]] = {}
    for e in store.links(sorted(frontier), [R.HAS_OPERATION], Direction.DOWNSTREAM):
        routings.setdefault(e.src, set()).update(frontier[e.dst])
    for i, elements in frontier.items():
        routings.setdefault(i, set()).update(elements)
    for e in store.links(sorted(routings), [R.HAS_ROUTING], Direction.DOWNSTREAM):
        for element in routings[e.dst]:
            owner.setdefault(element, set()).add(e.src)
    return owner
