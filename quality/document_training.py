"""Controlled documents as executed and trained on (issue 18 item 1): the revision of a document
in force at a time, who must train on it, and the operation-start rule.

A document is the chain of its revisions (``tg:Document`` records linked newer →
older by ``prov:wasRevisionOf``); an operation or inspection method names it with
``tg:governedBy`` (any revision of the chain). The revision **in force** at ``t`` is the chain's
revision that was effective then (:func:`graph.versions.effective_at`: Effective — or later
Superseded — with ``effectiveFrom <= t < effectiveTo``).

A revision made Effective through :mod:`quality.documents` carries ``trainingDueBy`` (effective
from + grace period). From that time an operator starting an operation governed by the document
must hold a TrainingRecord ``trainedOn`` the revision in force, completed (``effectiveFrom``) at
or before the start: rule ``operator-trained-on-document``, checked by the operation-start
guard (:func:`quality.version_guards.operation_start` calls :func:`training_problems`).
Revisions without ``trainingDueBy`` (loaded from a legacy system) require nothing.

Who must train: everyone holding a qualification an operation governed by the document
requires (:func:`training_status`) — the requirement is read from the graph, so a person
qualified later is due as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graph.documents import chains, in_force
from graph.errors import Problem
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.write import PendingWrite
from ontology.terms import C, P, R

__all__ = ["RULE", "TrainingDue", "chains", "executed_under", "governed_operations", "in_force",
           "qualified_people", "trained_on", "training_problems", "training_status"]

RULE = "operator-trained-on-document"


def trained_on(store: GraphStore, people: Sequence[str],
               extra: Sequence[tuple[NodeRecord, Sequence[EdgeRecord]]] = ()
               ) -> dict[tuple[str, str], str]:
    """(person, document revision) → when the person first completed training on it, from the
    stored TrainingRecords (and ``extra``: records with their links not yet stored)."""
    if not people:
        return {}
    srcs = sorted({e.src for e in store.links(sorted(set(people)), [R.TRAINEE],
                                              Direction.DOWNSTREAM)})
    records = {i: n for i, n in store.get_many(srcs).items() if n.label == C.TrainingRecord}
    links = list(store.links(sorted(records), [R.TRAINEE, R.TRAINED_ON])) if records else []
    for node, edges in extra:
        records[node.iri] = node
        links += edges
    who: dict[str, list[str]] = {}
    on: dict[str, list[str]] = {}
    for e in links:
        (who if e.type == R.TRAINEE else on if e.type == R.TRAINED_ON else {}
         ).setdefault(e.src, []).append(e.dst)
    out: dict[tuple[str, str], str] = {}
    for rec, n in records.items():
        at = str(n.props.get(P.effectiveFrom, ""))
        for person in who.get(rec, []):
            for doc in on.get(rec, []):
                if at and ((person, doc) not in out or at < out[(person, doc)]):
                    out[(person, doc)] = at
    return out


def _pending_training(p: PendingWrite) -> list[tuple[NodeRecord, list[EdgeRecord]]]:
    new = p.after_of(C.TrainingRecord)
    out_of: dict[str, list[EdgeRecord]] = {i: [] for i in new}
    for e in p.new_edges if new else ():  # one pass over the new edges, not one per record
        if e.src in out_of:
            out_of[e.src].append(e)
    return [(n, out_of[i]) for i, n in new.items()]


def training_problems(p: PendingWrite, starts: Mapping[str, NodeRecord],
                      by_exec: Mapping[str, Mapping[str, Sequence[str]]]) -> list[Problem]:
    """The operation-start rule: each new execution's operators trained on the revision in
    force of every document its operation is governed by, once that revision's training is due."""
    ops = sorted({o for ls in by_exec.values() for o in ls.get(R.EXECUTES_OPERATION, ())})
    stored_ops = [o for o in ops if o not in p.after or o in p.before]
    governed: dict[str, set[str]] = {}
    op_set = set(ops)
    for e in [*(p.store.links(stored_ops, [R.GOVERNED_BY]) if stored_ops else []),
              *(e for e in p.new_edges_of([R.GOVERNED_BY]) if e.src in op_set)]:
        governed.setdefault(e.src, set()).add(e.dst)
    if not governed:
        return []
    chain = chains(p.store, sorted({d for ds in governed.values() for d in ds}))
    due: list[tuple[str, str, str, NodeRecord]] = []  # execution, person, at, revision
    for x, links in sorted(by_exec.items()):
        at = str(starts[x].props.get(P.startedAtTime) or p.tx.at)
        for op in links.get(R.EXECUTES_OPERATION, ()):
            for doc in sorted(governed.get(op, ())):
                rev = in_force(chain.get(doc, []), at)
                when = rev.props.get(P.trainingDueBy) if rev is not None else None
                if rev is not None and when and at >= str(when):
                    due += [(x, person, at, rev) for person in links.get(R.WAS_ASSOCIATED_WITH, ())]
    if not due:
        return []
    done = trained_on(p.store, sorted({d[1] for d in due}), _pending_training(p))
    people = p.store.get_many(sorted({d[1] for d in due}))
    problems: list[Problem] = []
    unique = {(x, person, rev.iri): (x, person, at, rev) for x, person, at, rev in due}
    for x, person, at, rev in (unique[k] for k in sorted(unique)):
        trained = done.get((person, rev.iri))
        if trained is not None and trained <= at:
            continue
        who = people.get(person)
        name = who.key if who else person.rsplit("/", 1)[-1]
        problems.append(Problem(
            rule=RULE, field="wasAssociatedWith", value=person, focus=x,
            message=f"cannot start at {at}: operator {name} has not trained on document "
                    f"{rev.key} revision {rev.props.get(P.revision)}, in force since "
                    f"{rev.props.get(P.effectiveFrom)}; the training was due by "
                    f"{rev.props.get(P.trainingDueBy)}"
                    + (f" (trained only at {trained})" if trained else "")))
    return problems


# -- who must train --------------------------------------------------------------------------------

def governed_operations(store: GraphStore, revisions: Sequence[NodeRecord]) -> list[NodeRecord]:
    """The operations governed by any revision of a document chain."""
    iris = sorted(r.iri for r in revisions)
    if not iris:
        return []
    links = store.links(iris, [R.GOVERNED_BY], Direction.DOWNSTREAM)
    found = store.get_many(sorted({e.src for e in links}))
    return sorted((n for n in found.values() if n.label == C.Operation), key=lambda n: n.key)


def qualified_people(store: GraphStore, operations: Sequence[NodeRecord]
                     ) -> dict[str, set[str]]:
    """person IRI → the qualifications they hold that ``operations`` require."""
    quals = sorted({e.dst for e in store.links(sorted(o.iri for o in operations),
                                               [R.REQUIRES_QUALIFICATION])}) if operations else []
    out: dict[str, set[str]] = {}
    for e in store.links(quals, [R.HAS_QUALIFICATION], Direction.DOWNSTREAM) if quals else []:
        out.setdefault(e.src, set()).add(e.dst)
    return out


@dataclass(frozen=True)
class TrainingDue:
    """One person's training on one document revision: ``state`` is ``trained``, ``pending``
    (not trained, still within the grace period) or ``overdue``."""

    person: str
    person_key: str
    name: str
    revision: str
    revision_key: str
    due_by: str
    trained_at: str | None
    state: str


def training_status(store: GraphStore, revision: NodeRecord, now: str) -> list[TrainingDue]:
    """Everyone qualified on the operations governed by ``revision``'s document, with their
    training on ``revision`` (only revisions with a due date ask for training)."""
    due = str(revision.props.get(P.trainingDueBy) or "")
    if not due:
        return []
    revs = chains(store, [revision.iri])[revision.iri]
    people = qualified_people(store, governed_operations(store, revs))
    done = trained_on(store, sorted(people))
    nodes = store.get_many(sorted(people))
    out: list[TrainingDue] = []
    for person in sorted(people, key=lambda i: nodes[i].key if i in nodes else i):
        n = nodes.get(person)
        at = done.get((person, revision.iri))
        state = "trained" if at else "overdue" if now >= due else "pending"
        out.append(TrainingDue(person, n.key if n else person, str(n.props.get(P.name, ""))
                               if n else "", revision.iri, revision.key, due, at, state))
    return out


# -- the eDHR -------------------------------------------------------------------------------------

def executed_under(store: GraphStore, steps: Sequence[tuple[NodeRecord, NodeRecord | None]]
                   ) -> list[dict[str, object]]:
    """For each (execution, its operation): the documents the operation is governed by, with
    the revision in force when the execution started (None when no revision was in force)."""
    ops = sorted({op.iri for _x, op in steps if op is not None})
    governed: dict[str, list[str]] = {}
    for e in store.links(ops, [R.GOVERNED_BY]) if ops else []:
        governed.setdefault(e.src, []).append(e.dst)
    chain = chains(store, sorted({d for ds in governed.values() for d in ds}))
    rows: list[dict[str, object]] = []
    for x, op in steps:
        if op is None:
            continue
        at = str(x.props.get(P.startedAtTime, ""))
        for doc in sorted(governed.get(op.iri, ())):
            revs = chain.get(doc, [])
            named = next((r for r in revs if r.iri == doc), None)
            rev = in_force(revs, at)
            shown = rev or named
            rows.append({
                "execution": x.key, "operation": op.key,
                "document": named.key if named else doc.rsplit("/", 1)[-1],
                "documentType": shown.props.get(P.documentType) if shown else None,
                "title": shown.props.get("title") if shown else None,
                "revisionInForce": rev.key if rev else None,
                "revision": rev.props.get(P.revision) if rev else None,
                "effectiveFrom": rev.props.get(P.effectiveFrom) if rev else None})
    return rows
