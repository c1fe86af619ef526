"""Write guards for versioned process definitions and for starting an operation (21 CFR
11.10(f) operational checks), run by the one write path (see :data:`graph.write.Guard`).

- **lifecycle**: a process version moves Draft → InReview → Approved → Effective →
  Superseded/Obsolete (:data:`graph.versions.LIFECYCLE`); becoming Effective needs the approvals
  of its change request (:func:`quality.change_control.effectivity_problems`).
- **immutability**: an Approved/Effective/Superseded/Obsolete version and the definition
  elements it owns (routing, operations, parameter specs, BOM lines, inspection plans and
  characteristics) are never edited: a change is a new version through change control.
- **operational checks**: an operation execution cannot start on equipment out of calibration,
  with a fixture past its usage life, or by an operator without the required qualification
  (facts from :mod:`graph.fitness`), nor for a batch whose pinned process version was not
  Effective at its start time (:func:`graph.versions.effective_at`); a batch is pinned only to
  a released version.

A version created directly in a released status is accepted (loading existing records from a
legacy system); every later transition is checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.errors import Problem
from graph.fitness import calibration_lapse, in_window, training_windows, usage_life
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.versions import (
    CHILD_EDGES,
    FROZEN,
    LIFECYCLE,
    LIFECYCLE_PROPS,
    OWNED_CLASSES,
    RELEASED,
    effective_at,
    owning_versions,
)
from graph.write import PRIOR_VERSION, Guard, PendingWrite
from ontology.codes import ProcessVersionStatus
from ontology.terms import R
from quality.change_control import effectivity_problems
from quality.document_training import training_problems

__all__ = ["version_guards"]

_BOOKKEEPING = frozenset({"versionNumber"})
#: child → parent edges: adding a child edits the parent (routing/version links edit the source)
_CHILD = frozenset({R.CHARACTERISTIC_OF, *CHILD_EDGES})


def version_guards() -> list[Guard]:
    return [version_lifecycle, frozen_definitions, operation_start, version_pinned]


def _changed(old: NodeRecord, new: NodeRecord) -> set[str]:
    keys = set(old.props) | set(new.props)
    return {k for k in keys if old.props.get(k) != new.props.get(k)} - _BOOKKEEPING


def version_lifecycle(p: PendingWrite) -> list[Problem]:
    """Status transitions of stored process versions follow the lifecycle; Effective needs the
    change request's required signed approvals."""
    problems: list[Problem] = []
    for iri, new in p.after_of("ProcessVersion").items():
        old = p.before.get(iri)
        if old is None:
            continue
        was, now = old.props.get("versionStatus"), new.props.get("versionStatus")
        if was == now or was is None:
            continue
        allowed = LIFECYCLE.get(str(was), frozenset())
        if now not in allowed:
            problems.append(Problem(
                rule="version-lifecycle", field="versionStatus", value=now, focus=iri,
                message=f"a {was} process version cannot become {now}; from {was} it can "
                        f"become {', '.join(sorted(allowed)) or 'nothing (final)'}"))
        elif now == ProcessVersionStatus.EFFECTIVE:
            problems.extend(effectivity_problems(p.store, iri, p.new_edges))
    return problems


def frozen_definitions(p: PendingWrite) -> list[Problem]:
    """No edit of a released version or of a definition element it owns."""
    problems: list[Problem] = []
    edited: dict[str, str] = {}  # stored element → what changed
    for iri, new in p.after.items():
        old = p.before.get(iri)
        if old is None:
            continue
        changed = _changed(old, new)
        if new.label == "ProcessVersion":
            was, now = old.props.get("versionStatus"), new.props.get("versionStatus")
            if was in FROZEN:
                content = changed - (LIFECYCLE_PROPS if was != now else {"versionStatus"})
                if content:
                    problems.append(_frozen(iri, str(was), sorted(content)[0],
                                            new.props.get(sorted(content)[0]), iri))
        elif new.label in OWNED_CLASSES and changed:
            edited[iri] = sorted(changed)[0]
    for e in p.new_edges:
        if e.type == PRIOR_VERSION:
            continue
        src = p.before.get(e.src)
        if src is not None and src.label == "ProcessVersion" and \
                src.props.get("versionStatus") in FROZEN:
            problems.append(_frozen(e.src, str(src.props["versionStatus"]), e.type, e.dst,
                                    e.src))
        elif src is not None and src.label in OWNED_CLASSES:
            edited.setdefault(e.src, e.type)
        if e.type in _CHILD and e.dst in p.before:
            edited.setdefault(e.dst, e.type)
    if not edited:
        return problems
    owners = owning_versions(p.store, sorted(edited))
    status = p.store.get_many(sorted({v for vs in owners.values() for v in vs}))
    for element, versions in sorted(owners.items()):
        for v in sorted(versions):
            cur = p.current(v)
            states = {str(n.props.get("versionStatus")) for n in (status.get(v), cur) if n}
            hit = sorted(states & FROZEN)
            if hit:
                problems.append(_frozen(element, hit[0], edited[element],
                                        (p.after.get(element) or p.before[element]).props.get(
                                            edited[element]), v))
    return problems


def _frozen(focus: str, status: str, field: str, value: object, version: str) -> Problem:
    return Problem(rule="version-immutable", field=field, value=value, focus=focus,
                   message=f"{version} is {status}: its definition is frozen; make the change "
                           "in a new version through change control")


def _links(p: PendingWrite, iris: Sequence[str], types: Sequence[str]) -> list[EdgeRecord]:
    stored = [i for i in iris if i in p.before]
    out = list(p.store.links(stored, list(types))) if stored else []
    wanted = set(iris)
    return out + [e for e in p.new_edges_of(types) if e.src in wanted]


def operation_start(p: PendingWrite) -> list[Problem]:
    """A new operation execution: equipment calibrated, fixture within usage life, operator
    holding the operation's required qualifications (at the execution's start time)."""
    starts = {i: n for i, n in p.after_of("OperationExecution").items() if i not in p.before}
    if not starts:
        return []
    problems: list[Problem] = []
    by_exec: dict[str, dict[str, list[str]]] = {}
    for e in _links(p, sorted(starts), [R.ON_EQUIPMENT, R.USED_FIXTURE, R.EXECUTES_OPERATION,
                                        R.WAS_ASSOCIATED_WITH]):
        by_exec.setdefault(e.src, {}).setdefault(e.type, []).append(e.dst)
    for iri, ex in sorted(starts.items()):
        at = str(ex.props.get("startedAtTime") or p.tx.at)
        links = by_exec.get(iri, {})
        for eq in (*links.get(R.ON_EQUIPMENT, ()), *links.get(R.USED_FIXTURE, ())):
            problems.extend(_equipment_problems(p, iri, eq, at))
    problems.extend(_qualification_problems(p, starts, by_exec))
    problems.extend(training_problems(p, starts, by_exec))  # issue 18 item 1: documents
    return problems


def _equipment_problems(p: PendingWrite, execution: str, eq: str, at: str) -> list[Problem]:
    node = p.before.get(eq) or p.after.get(eq)
    if node is None:
        return []
    out: list[Problem] = []
    why = calibration_lapse(node, at)
    if why is not None:
        out.append(Problem(
            rule="equipment-calibrated", field="onEquipment", value=node.key, focus=execution,
            message=f"cannot start at {at} on {node.label} {node.key}: {why}"))
    life = usage_life(node)
    if life is not None and life.exhausted:
        out.append(Problem(
            rule="fixture-usage-life", field="usedFixture", value=node.key, focus=execution,
            message=f"cannot start: fixture {node.key} has reached its usage life "
                    f"({life.count} of {life.limit} cycles)"))
    return out


def _qualification_problems(p: PendingWrite, starts: dict[str, NodeRecord],
                            by_exec: dict[str, dict[str, list[str]]]) -> list[Problem]:
    ops = sorted({o for ls in by_exec.values() for o in ls.get(R.EXECUTES_OPERATION, ())})
    people = sorted({u for ls in by_exec.values() for u in ls.get(R.WAS_ASSOCIATED_WITH, ())})
    if not ops or not people:
        return []
    required: dict[str, set[str]] = {}
    for e in _links(p, ops, [R.REQUIRES_QUALIFICATION]):
        required.setdefault(e.src, set()).add(e.dst)
    if not required:
        return []
    held: dict[str, set[str]] = {}
    for e in _links(p, people, [R.HAS_QUALIFICATION]):
        held.setdefault(e.src, set()).add(e.dst)
    windows = training_windows(p.store, people)
    problems: list[Problem] = []
    for iri, links in sorted(by_exec.items()):
        at = str(starts[iri].props.get("startedAtTime") or p.tx.at)
        needs = set().union(*(required.get(o, set()) for o in links.get(R.EXECUTES_OPERATION, ())))
        for person in links.get(R.WAS_ASSOCIATED_WITH, ()):
            for q in sorted(needs):
                spans = windows.get((person, q))
                ok = q in held.get(person, set()) and (spans is None or in_window(spans, at))
                if not ok:
                    problems.append(Problem(
                        rule="operator-qualified", field="wasAssociatedWith", value=person,
                        focus=iri, message=f"cannot start at {at}: the operator does not hold "
                                           f"the required qualification {q} (valid then)"))
    return problems



def version_pinned(p: PendingWrite) -> list[Problem]:
    """A batch is pinned only to a released process version, and a new operation execution of
    a batch starts only while the batch's pinned version is Effective (its effectivity window)."""
    pins = p.new_edges_of([R.RUNS_PROCESS_VERSION])
    starts = sorted(i for i in p.after_of("OperationExecution") if i not in p.before)
    batch_of = {e.src: e.dst for e in _links(p, starts, [R.FOR_BATCH])} if starts else {}
    batches = sorted(set(batch_of.values()) - {e.src for e in pins})
    pinned = {e.src: e.dst for e in p.store.links(batches, [R.RUNS_PROCESS_VERSION])} \
        if batches else {}
    pinned.update({e.src: e.dst for e in pins})
    wanted = sorted(set(pinned.values()) - set(p.after))
    stored = p.store.get_many(wanted) if wanted else {}

    def version(iri: str) -> NodeRecord | None:
        return p.current(iri) or stored.get(iri)

    problems: list[Problem] = []
    for e in pins:
        v = version(e.dst)
        status = v.props.get("versionStatus") if v is not None else None
        if v is not None and status not in RELEASED:
            problems.append(Problem(
                rule="version-effective", field="runsProcessVersion", value=v.key, focus=e.src,
                message=f"a batch cannot be pinned to process version {v.key}: it is {status}, "
                        "not released (Effective)"))
    begun = _batch_starts(p, batch_of)
    for x in starts:
        batch = batch_of.get(x, "")
        v = version(pinned.get(batch, ""))
        if v is None:
            continue
        at = str(p.after[x].props.get("startedAtTime") or p.tx.at)
        first = begun.get(batch, at)
        if not effective_at(v, first):
            frm, to = v.props.get("effectiveFrom"), v.props.get("effectiveTo")
            window = f"effective from {frm}" + (f" to {to}" if to else "") \
                if frm and v.props.get("versionStatus") in RELEASED \
                else f"{v.props.get('versionStatus')}, never effective"
            problems.append(Problem(
                rule="version-effective", field="startedAtTime", value=at, focus=x,
                message=f"cannot start at {at}: the batch, begun at {first}, runs process "
                        f"version {v.key} ({window}), which was not Effective when the batch "
                        "began"))
    return problems


def _batch_starts(p: PendingWrite, batch_of: dict[str, str]) -> dict[str, str]:
    """When each batch began: the earliest start of its operation executions (stored or new);
    WIP batches keep running the version pinned when they began."""
    batches = sorted(set(batch_of.values()))
    if not batches:
        return {}
    links = p.store.links(batches, [R.FOR_BATCH], Direction.DOWNSTREAM)
    stored = p.store.get_many(sorted({e.src for e in links}))
    out: dict[str, str] = {}
    for run, batch in [*((e.src, e.dst) for e in links), *batch_of.items()]:
        n = p.after.get(run) or stored.get(run)
        if n is None or n.label != "OperationExecution":
            continue
        at = str(n.props.get("startedAtTime") or p.tx.at)
        if batch not in out or at < out[batch]:
            out[batch] = at
    return out
