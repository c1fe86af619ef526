"""The validation report as a record (issue 19 item 1; 21 CFR 11.10(a), EU GMP Annex 11 §4,
ISO 13485 4.1.6): the ``recordValidation`` workflow command stores the report document of a
``tracegraph validation run`` as a ``ValidationReport`` — its canonical JSON, the SHA-256 of that
JSON and the outcome — through the one write path, audited.

Who may: recording needs the role ``qa`` or ``admin`` and re-authentication (the administrator
who runs the installation qualification may record it); signing needs ``qa``
(:data:`quality.signatures.SIGNER_ROLES`), with any meaning, through
:func:`quality.signatures.sign` like every other signature. No role may capture the class (the
authority table: command only). Editing the stored report invalidates its signatures.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import RoleName, ValidationOutcome
from ontology.datatypes import Clock, StoredValue
from ontology.terms import C, P
from quality.accounts import authenticate
from quality.signatures import Signature, signatures_of
from quality.workflow import WorkflowRefused, require_user, resolve

__all__ = ["RECORDERS", "StoredReport", "canonical", "record_report", "stored_report"]

#: Roles that may record a validation report.
RECORDERS = frozenset({RoleName.QA, RoleName.ADMIN})


def canonical(document: Mapping[str, Any]) -> bytes:
    """The report's canonical JSON (keys sorted, no whitespace): what its digest covers."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class StoredReport:
    """A stored validation report: its number, IRI, digest, outcome, document (parsed) and
    signatures (each checked against the record's content now); ``intact``: the stored
    document still hashes to the stored digest."""

    iri: str
    number: str
    digest: str
    outcome: str
    document: dict[str, Any]
    signatures: list[Signature]
    intact: bool


def record_report(rt: Session, document: Mapping[str, Any], username: str, password: str,
                  reason: str, clock: Clock | None = None) -> StoredReport:
    """Store ``document`` (a ``tracegraph.validation-report/1``) as a ValidationReport, by
    ``username`` (role qa or admin, re-authenticated with ``password``), with ``reason``."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, RECORDERS, "recording a validation report")
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "recording a validation report needs a reason",
                              "reason", reason)
    outcome = document.get("outcome")
    if outcome not in set(ValidationOutcome):
        raise WorkflowRefused("validation-outcome", "must be one of "
                              f"{', '.join(ValidationOutcome)} (tg:ValidationOutcomeScheme)",
                              "outcome", outcome)
    authenticate(rt, username, password, clock, purpose="recording a validation report")
    body = canonical(document)
    digest = hashlib.sha256(body).hexdigest()
    number = f"VAL-{clock():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    iri = rt.vocab.mint_iri(C.ValidationReport, number)
    props: dict[str, StoredValue] = {
        P.recordNumber: number, P.validationOutcome: str(outcome),
        P.validationDocument: body.decode(), P.validationDigest: digest}
    write_nodes(rt, [NodeUpsert(C.ValidationReport, number, iri, props, {})], username, reason,
                f"validation:{number}", command=Command.RECORD_VALIDATION)
    return stored_report(rt, iri)


def stored_report(rt: Session, ref: str) -> StoredReport:
    """The validation report named by IRI or record number, checked: its document against its
    digest, its signatures against its content."""
    node = resolve(rt, C.ValidationReport, ref)
    text = str(node.props.get(P.validationDocument, ""))
    digest = str(node.props.get(P.validationDigest, ""))
    doc = orjson.loads(text) if text else {}
    return StoredReport(node.iri, node.key, digest, str(node.props.get(P.validationOutcome, "")),
                        doc, signatures_of(rt, node.iri),
                        hashlib.sha256(text.encode()).hexdigest() == digest)
