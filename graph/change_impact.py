"""Impact analysis of a proposed change to a definition element, computed from the graph; each
item carries the path (IRIs, element first) that explains why it is affected.

A change to a parameter spec, BOM line, inspection plan/characteristic or operation touches the
operations it belongs to; a change to shared master data touches the operations that use it:
a material (BOM lines of it), an equipment class (operations and inspection methods requiring
it), a piece of equipment or fixture (operations requiring its class and operations executed
on it), an inspection method (characteristics using it), a qualification (operations requiring
it). From those operations:

- ``version``: the process versions owning them, and ``shared-version`` for versions other than
  the one the change is proposed against;
- ``open-work-order`` / ``wip-batch`` (with the step it is at) / ``released-batch``: batches
  pinned to those versions, by status; the recall of the released batches gives the units,
  shipments and customers built under them;
- ``document``, ``inspection-plan``: what must be revised with the change;
- ``qualified-person``: people holding the qualifications the operations require;
- for a material, ``supplier-lot``: its lots, and their downstream recall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from graph.documents import MAX_REVISIONS
from graph.fitness import calibrations_of, last_pass_before
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.recall import RecallAnswer, recall
from graph.status import is_released
from graph.versions import CHILD_EDGES
from ontology.codes import CLOSED_BATCH_STATUSES, OPEN_WORK_ORDER_STATUSES
from ontology.terms import R

__all__ = ["ChangeImpact", "ImpactItem", "calibration_window", "change_impact", "edges_of"]


@dataclass(frozen=True)
class ImpactItem:
    category: str
    iri: str
    cls: str
    key: str
    path: tuple[str, ...]
    note: str = ""


@dataclass
class ChangeImpact:
    element: NodeRecord
    items: list[ImpactItem] = field(default_factory=list)
    released: RecallAnswer | None = None  # downstream of released batches (and material lots)

    def of(self, category: str) -> list[ImpactItem]:
        return [i for i in self.items if i.category == category]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.items:
            out[i.category] = out.get(i.category, 0) + 1
        return out


class _Paths:
    """Parent pointers from the changed element: the explaining path of every node reached."""

    def __init__(self, root: str) -> None:
        self.parent: dict[str, str | None] = {root: None}

    def reach(self, node: str, via: str) -> bool:
        if node in self.parent:
            return False
        self.parent[node] = via
        return True

    def path(self, node: str) -> tuple[str, ...]:
        out: list[str] = []
        cur: str | None = node
        while cur is not None:
            out.append(cur)
            cur = self.parent[cur]
        return tuple(reversed(out))


def _step(store: GraphStore, paths: _Paths, frm: Iterable[str], types: Sequence[str],
          direction: Direction = Direction.UPSTREAM) -> list[str]:
    """Follow ``types`` from ``frm`` (out-edges UPSTREAM, in-edges DOWNSTREAM), recording paths;
    the nodes reached (new or not), sorted."""
    src = sorted(set(frm))
    if not src:
        return []
    hit: set[str] = set()
    for e in store.links(src, list(types), direction):
        a, b = (e.src, e.dst) if direction == Direction.UPSTREAM else (e.dst, e.src)
        if a in paths.parent:
            paths.reach(b, a)
            hit.add(b)
    return sorted(hit)


def change_impact(store: GraphStore, element: str, base_version: str | None = None,
                  unit_limit: int = 1000) -> ChangeImpact:
    """Impact of changing ``element`` (an IRI); ``base_version`` is the version the change is
    proposed against (others sharing the element are reported as ``shared-version``)."""
    node = store.get(element)
    if node is None:
        raise KeyError(element)
    paths = _Paths(element)
    out = ChangeImpact(node)
    ops = _operations(store, paths, node)
    nodes = store.get_many(ops)

    routings = _step(store, paths, ops, [R.HAS_OPERATION], Direction.DOWNSTREAM)
    versions = _step(store, paths, routings, [R.HAS_ROUTING], Direction.DOWNSTREAM)
    vnodes = store.get_many(versions)
    for v in versions:
        n = vnodes[v]
        cat = "version" if base_version in (None, v) else "shared-version"
        out.items.append(ImpactItem(cat, v, n.label, n.key, paths.path(v),
                                    str(n.props.get("versionStatus", ""))))

    batches = _step(store, paths, versions, [R.RUNS_PROCESS_VERSION], Direction.DOWNSTREAM)
    bnodes = store.get_many(batches)
    steps = _current_steps(store, batches)
    released: list[str] = []
    for b in batches:
        n = bnodes[b]
        status = str(n.props.get("batchStatus", ""))
        if is_released(n):
            released.append(b)
            out.items.append(ImpactItem("released-batch", b, n.label, n.key, paths.path(b),
                                        status))
        elif status not in CLOSED_BATCH_STATUSES:
            out.items.append(ImpactItem("wip-batch", b, n.label, n.key, paths.path(b),
                                        f"{status} at {steps.get(b, 'no step yet')}"))
    wip = [i.iri for i in out.of("wip-batch")]
    orders = _step(store, paths, wip, [R.FOR_WORK_ORDER])
    for w, n in sorted(store.get_many(orders).items()):
        status = str(n.props.get("workOrderStatus", ""))
        if status in OPEN_WORK_ORDER_STATUSES:
            out.items.append(ImpactItem("open-work-order", w, n.label, n.key, paths.path(w),
                                        status))

    seeds = list(released)
    if node.label == "Material":
        lots = _step(store, paths, [element], [R.OF_MATERIAL], Direction.DOWNSTREAM)
        for lot, n in sorted(store.get_many(lots).items()):
            if n.label != "BOMLine":
                out.items.append(ImpactItem("supplier-lot", lot, n.label, n.key,
                                            paths.path(lot)))
                seeds.append(lot)
    if seeds:
        walk = store.walk(sorted(set(seeds)), Direction.DOWNSTREAM)
        out.released = recall(store, walk, store.watermark(), unit_limit)

    # what to revise with the change, and who is trained on it
    docs = _step(store, paths, [*ops, *versions], [R.GOVERNED_BY])
    plans = _step(store, paths, ops, [R.INSPECTION_PLAN_OF], Direction.DOWNSTREAM)
    quals = _step(store, paths, ops, [R.REQUIRES_QUALIFICATION])
    people = _step(store, paths, quals, [R.HAS_QUALIFICATION], Direction.DOWNSTREAM)
    found = store.get_many([*docs, *plans, *people])
    for cat, iris in (("document", docs), ("inspection-plan", plans),
                      ("qualified-person", people)):
        for i in iris:
            n = found[i]
            out.items.append(ImpactItem(cat, i, n.label, n.key, paths.path(i),
                                        str(n.props.get("name") or n.props.get("title") or "")))
    for op in ops:
        n = nodes[op]
        out.items.append(ImpactItem("operation", op, n.label, n.key, paths.path(op),
                                    str(n.props.get("name", ""))))
    order = {c: i for i, c in enumerate(
        ("operation", "version", "shared-version", "open-work-order", "wip-batch",
         "released-batch", "supplier-lot", "document", "inspection-plan", "qualified-person"))}
    out.items.sort(key=lambda i: (order[i.category], i.key, i.iri))
    return out


def _operations(store: GraphStore, paths: _Paths, node: NodeRecord) -> list[str]:
    """The routing operations the change touches, with their paths."""
    e = node.iri
    up = Direction.UPSTREAM
    down = Direction.DOWNSTREAM
    if node.label == "Operation":
        return [e]
    if node.label in ("ParameterSpec", "BOMLine", "InspectionPlan"):
        return _step(store, paths, [e], list(CHILD_EDGES), up)
    if node.label == "InspectionCharacteristic":
        plans = _step(store, paths, [e], [R.CHARACTERISTIC_OF], up)
        return _step(store, paths, plans, [R.INSPECTION_PLAN_OF], up)
    if node.label == "Material":
        lines = _step(store, paths, [e], [R.OF_MATERIAL], down)
        return _step(store, paths, lines, [R.BOUND_TO_OPERATION], up)
    if node.label == "Qualification":
        return _step(store, paths, [e], [R.REQUIRES_QUALIFICATION], down)
    if node.label == "InspectionMethod":
        chars = _step(store, paths, [e], [R.USES_METHOD], down)
        plans = _step(store, paths, chars, [R.CHARACTERISTIC_OF], up)
        return _step(store, paths, plans, [R.INSPECTION_PLAN_OF], up)
    if node.label == "EquipmentClass":
        return _by_class(store, paths, [e])
    if node.label == "Document":  # issue 18 item 1: a document revision
        return _governed(store, paths, e)
    if node.label in ("Equipment", "Fixture"):
        classes = _step(store, paths, [e], [R.OF_EQUIPMENT_CLASS], up)
        execs = _step(store, paths, [e], [R.ON_EQUIPMENT, R.USED_FIXTURE], down)
        ran = _step(store, paths, execs, [R.EXECUTES_OPERATION], up)
        return sorted({*ran, *_by_class(store, paths, classes)})
    raise ValueError(f"{node.label} {node.key}: impact analysis covers parameter specs, "
                     "operations, BOM lines, inspection plans, characteristics and methods, "
                     "materials, equipment, fixtures, equipment classes, qualifications and "
                     "document revisions")


def _inspecting(store: GraphStore, paths: _Paths, methods: list[str]) -> list[str]:
    """The operations whose inspection plans use ``methods``."""
    if not methods:
        return []
    chars = _step(store, paths, methods, [R.USES_METHOD], Direction.DOWNSTREAM)
    plans = _step(store, paths, chars, [R.CHARACTERISTIC_OF])
    return _step(store, paths, plans, [R.INSPECTION_PLAN_OF])


def _governed(store: GraphStore, paths: _Paths, doc: str) -> list[str]:
    """The operations executed under any revision of ``doc``'s chain (directly, or through an
    inspection method governed by it)."""
    revisions, frontier = [doc], [doc]
    for _ in range(MAX_REVISIONS):
        frontier = [r for r in (*_step(store, paths, frontier, [R.WAS_REVISION_OF]),
                                *_step(store, paths, frontier, [R.WAS_REVISION_OF],
                                       Direction.DOWNSTREAM)) if r not in revisions]
        if not frontier:
            break
        revisions += frontier
    users = _step(store, paths, revisions, [R.GOVERNED_BY], Direction.DOWNSTREAM)
    found = store.get_many(users)
    ops = [u for u in users if found[u].label == "Operation"]
    methods = [u for u in users if found[u].label == "InspectionMethod"]
    return sorted({*ops, *_inspecting(store, paths, methods)})


def _by_class(store: GraphStore, paths: _Paths, classes: list[str]) -> list[str]:
    users = _step(store, paths, classes, [R.REQUIRES_EQUIPMENT_CLASS], Direction.DOWNSTREAM)
    found = store.get_many(users)
    ops = [u for u in users if found[u].label == "Operation"]
    methods = [u for u in users if found[u].label == "InspectionMethod"]
    return sorted({*ops, *_inspecting(store, paths, methods)})


def _current_steps(store: GraphStore, batches: Sequence[str]) -> dict[str, str]:
    """The operation each batch is at: its latest execution's operation (key)."""
    if not batches:
        return {}
    runs = store.links(list(batches), [R.FOR_BATCH], Direction.DOWNSTREAM)
    execs = store.get_many(sorted({e.src for e in runs}))
    ops: dict[str, str] = {e.src: e.dst for e in store.links(sorted(execs),
                                                              [R.EXECUTES_OPERATION])}
    opn = store.get_many(sorted(set(ops.values())))
    latest: dict[str, tuple[str, str]] = {}
    for e in runs:
        x = execs.get(e.src)
        if x is None or e.src not in ops:
            continue
        at = str(x.props.get("startedAtTime", ""))
        if e.dst not in latest or at > latest[e.dst][0]:
            op = opn.get(ops[e.src])
            latest[e.dst] = (at, op.key if op else ops[e.src])
    return {b: step for b, (_at, step) in latest.items()}


def edges_of(items: Sequence[ImpactItem]) -> list[tuple[str, str]]:
    """The consecutive pairs of every item's path (for checking against a graph)."""
    return [p for i in items for p in zip(i.path, i.path[1:], strict=False)]



def calibration_window(store: GraphStore, equipment: str, found_at: str) -> tuple[str, str]:
    """The window during which ``equipment`` is suspect when a calibration at ``found_at`` finds
    it out of tolerance: since its last passing calibration before then (UTC texts)."""
    passed = last_pass_before(calibrations_of(store, [equipment]).get(equipment, []), found_at)
    if not passed:
        raise ValueError(f"{equipment}: no passing calibration before {found_at}")
    return passed, found_at
