"""``tracegraph documents list|show|submit|approve|effective|train`` (issue 18 item 1): controlled
documents, their revisions and the training they ask for, and the document-control commands
of :mod:`quality.documents` as an authenticated account (password from TRACEGRAPH_PASSWORD or
a prompt)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graph.documents import chains, in_force
from graph.model import NodeRecord
from ontology.datatypes import to_utc_text
from ontology.terms import C, P
from quality import documents as dc
from quality.document_training import governed_operations, training_status
from quality.workflow import resolve
from tracegraph.cli.tables import Column, JsonOpt
from tracegraph.cli.tables import show as tableshow
from tracegraph.cli.workflow import ReasonOpt, UserOpt, password, run_step, signed_in
from tracegraph.runtime import Runtime

__all__ = ["documents_app"]

documents_app = typer.Typer(help="document control: revisions Draft → InReview → Approved → "
                                 "Effective → Superseded, and training on them",
                            no_args_is_help=True)
console = Console()
DocArg = Annotated[str, typer.Argument(help="document revision (code or IRI)")]


def _signed_in(rt: Runtime, user: str) -> str:
    return signed_in(rt, user, "document control")


def _do(step: str, run: Callable[[Runtime], object], document: str) -> None:
    def step_then_document(rt: Runtime) -> NodeRecord:
        run(rt)
        return resolve(rt, C.Document, document)

    run_step(step_then_document, lambda doc: f"{step}: {doc.key} "
             f"{doc.props.get(P.versionStatus)}" + (
                 f", training due by {doc.props[P.trainingDueBy]}"
                 if doc.props.get(P.trainingDueBy) else ""))


@documents_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """Every document (revision chain) with the revision in force now."""
    rt = Runtime.open()
    try:
        now = to_utc_text(rt.clock())
        docs = rt.store.nodes_of_class(C.Document)
        groups = chains(rt.store, [d.iri for d in docs])
        rows: list[dict[str, object]] = []
        seen: set[str] = set()
        for d in docs:
            if d.iri in seen:
                continue
            revs = groups[d.iri]
            seen.update(r.iri for r in revs)
            cur = in_force(revs, now)
            rows.append({"document": revs[0].key,
                         "revisions": [{"key": r.key, "status": r.props.get(P.versionStatus)}
                                       for r in revs],
                         "inForce": cur.key if cur else None,
                         "trainingDueBy": (cur.props if cur else {}).get(P.trainingDueBy),
                         "title": (cur or revs[-1]).props.get("title")})
    finally:
        rt.close()
    tableshow(rows, [Column("document", "document", nowrap=True),
                Column("revisions", "revisions", priority=2, shown=lambda rs: ", ".join(
                    f"{r['key']} ({r['status']})" for r in rs)),
                Column("inForce", "in force", nowrap=True, shown=lambda v: v or "—"),
                Column("trainingDueBy", "training due by", priority=1),
                Column("title", "title", priority=3)], as_json=as_json)


@documents_app.command("show")
def show(document: DocArg) -> None:
    """A revision: status, the operations executed under its document, who must train on it."""
    rt = Runtime.open()
    try:
        doc = resolve(rt, C.Document, document)
        revs = chains(rt.store, [doc.iri])[doc.iri]
        console.print(f"{doc.key} revision {doc.props.get(P.revision)}: "
                      f"{doc.props.get(P.versionStatus)}; effective from "
                      f"{doc.props.get(P.effectiveFrom, '—')}; training due by "
                      f"{doc.props.get(P.trainingDueBy, '—')}")
        console.print("operations: " + (", ".join(o.key for o in governed_operations(
            rt.store, revs)) or "none"))
        for p in dc.approval_problems(rt.store, doc) \
                if doc.props.get(P.versionStatus) == "Approved" else []:
            console.print(f"[yellow]blocks effectivity[/yellow]: {escape(p.message)}")
        t = Table("person", "name", "due by", "trained at", "state",
                  title=f"training on {doc.key}")
        for s in training_status(rt.store, doc, to_utc_text(rt.clock())):
            t.add_row(s.person_key, s.name, s.due_by, s.trained_at or "—", s.state)
        console.print(t)
    finally:
        rt.close()


@documents_app.command("submit")
def submit(document: DocArg, user: UserOpt, reason: ReasonOpt) -> None:
    """Put a Draft revision in review (engineer or QA)."""
    _do("submitted", lambda rt: dc.submit(rt, document, _signed_in(rt, user), reason), document)


@documents_app.command("approve")
def approve(document: DocArg, user: UserOpt, reason: ReasonOpt,
            reject: Annotated[bool, typer.Option(help="reject instead")] = False) -> None:
    """QA approves (or rejects) a revision in review, signing the approval."""
    _do("rejected" if reject else "approved", lambda rt: dc.approve(
        rt, document, user, password(user), reason, "rejected" if reject else "approved"),
        document)


@documents_app.command("effective")
def effective(document: DocArg, user: UserOpt, reason: ReasonOpt,
              at: Annotated[str | None, typer.Option(help="effective from (UTC)")] = None,
              grace_days: Annotated[int | None, typer.Option(
                  help="training grace period (default: the revision's, else "
                       "TRACEGRAPH_DOCUMENT_TRAINING_GRACE_DAYS)")] = None) -> None:
    """QA makes an Approved revision Effective, superseding the revision in force."""
    _do("effective", lambda rt: dc.make_effective(
        rt, document, _signed_in(rt, user), reason, at, grace_days,
        rt.settings.document_training_grace_days), document)


@documents_app.command("train")
def train(document: DocArg,
          person: Annotated[str, typer.Option(help="the trained person (code or IRI)")],
          user: UserOpt, reason: ReasonOpt,
          qualification: Annotated[str | None, typer.Option(
              help="the qualification renewed (when the person holds several)")] = None,
          at: Annotated[str | None, typer.Option(help="when the training was completed")] = None
          ) -> None:
    """A trainer (QA or engineer, never for themselves) records training on a revision."""
    def run(rt: Runtime) -> NodeRecord:
        dc.record_training(rt, document, person, user, password(user), reason,
                           qualification, at)
        return resolve(rt, C.Document, document)
    _do("trained", run, document)
