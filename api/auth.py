"""Authentication (OAuth2 password flow issuing signed bearer tokens) and the authorization
table: every GraphQL root field and mutation names the roles that may use it.

Tokens are short-lived JWTs (HS256) signed with the server's secret; each request re-reads the
account, so a disabled or locked account loses access at once, whatever tokens it holds. The
auditor role reads everything and writes nothing (21 CFR 11.10(d), (g)).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from graphql import GraphQLError

from ontology.codes import AccountStatus, RoleName
from ontology.datatypes import utc_now
from quality.accounts import AuthError, User, get_user
from quality.holds import HOLD_PLACERS
from quality.lots import LOT_DECIDERS
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["ALL_ROLES", "RULES", "Unauthorized", "active_user", "authorize", "issue_token",
           "user_from_token"]

#: every role of the system: the code list tg:RoleNameScheme
ALL_ROLES: frozenset[str] = frozenset(RoleName)
READERS = ALL_ROLES
#: GMP data: not auditors, not admins
WRITERS: frozenset[str] = frozenset({RoleName.OPERATOR, RoleName.ENGINEER, RoleName.QC,
                                     RoleName.QA})
SIGNERS = ALL_ROLES - {RoleName.AUDITOR}
#: deviation investigation and CAPA work
QUALITY: frozenset[str] = frozenset({RoleName.ENGINEER, RoleName.QC, RoleName.QA})
QA: frozenset[str] = frozenset({RoleName.QA})  # verification, closure, dispositions, release
ADMIN: frozenset[str] = frozenset({RoleName.ADMIN})
CHANGE: frozenset[str] = frozenset({RoleName.ENGINEER, RoleName.QA})  # change control

#: operation (GraphQL root field, or an HTTP route) → roles allowed; nothing is open by default
RULES: dict[str, frozenset[str]] = {
    # reads
    "Query.stats": READERS, "Query.node": READERS, "Query.identify": READERS,
    "Query.find": READERS, "Query.genealogy": READERS, "Query.massBalance": READERS,
    "Query.recall": READERS, "Query.equipmentImpact": READERS, "Query.me": READERS,
    "Query.auditTrail": READERS,
    # introspection (GraphiQL's docs and autocomplete, client code generation) for any signed-in
    # user; production turns it off altogether (api.graphql.limits.extensions)
    "Query.__schema": READERS, "Query.__type": READERS, "Query.vocabulary": READERS,
    "Query.signatures": READERS,
    # explorer page (api/graphql/explorer.py)
    "Query.recordStatus": READERS, "Query.deviationView": READERS, "Query.spcChart": READERS,
    "Query.signalWindow": READERS,
    "Query.batchEnvironment": READERS,  # issue 17 item 1
    "Query.knownAt": READERS,  # issue 18 item 4
    # subscriptions
    "Subscription.qcNotifications": READERS,
    # writes
    "Mutation.capture": WRITERS,
    "Mutation.sign": SIGNERS,
    "Mutation.createUser": ADMIN,
    # process versions and change control (api/graphql/versions.py)
    "Query.processVersions": READERS, "Query.effectiveVersion": READERS,
    "Query.versionDiff": READERS, "Query.changeImpact": READERS, "Query.changeRequest": READERS,
    "Mutation.proposeChange": CHANGE, "Mutation.assessChange": CHANGE,
    "Mutation.approveChange": CHANGE, "Mutation.makeChangeEffective": QA,
    # closed-loop quality (issue 7)
    "Query.deviation": READERS, "Query.deviationImpact": READERS, "Query.commonality": READERS,
    "Query.effectiveness": READERS, "Query.overdueCapaActions": READERS,
    "Query.releaseReport": READERS, "Query.edhr": READERS,
    "Mutation.openDeviation": WRITERS,
    "Mutation.advanceDeviation": QUALITY, "Mutation.assessImpact": QUALITY,
    "Mutation.recordRootCause": QUALITY, "Mutation.openCapa": QUALITY,
    "Mutation.addCapaAction": QUALITY, "Mutation.completeCapaAction": QUALITY,
    "Mutation.defineEffectivenessCheck": QUALITY,
    "Mutation.verifyEffectivenessCheck": QA, "Mutation.closeCapa": QA, "Mutation.dispose": QA,
    "Mutation.releaseBatch": QA,
    "Mutation.placeHold": HOLD_PLACERS,
    "Mutation.decideLot": LOT_DECIDERS, "Mutation.qualifySupplier": QA,
    "GET /api/edhr": READERS,
    # equipment health and maintenance work orders (issue 17 item 2; the commands check the
    # role per maintenance type and step: quality.maintenance)
    "Query.equipmentHealth": READERS,
    # the explorer's equipment list and SPC spec picker (issue 17 item 5, issue 15 item 7)
    "Query.equipmentList": READERS, "Query.parameterSpecs": READERS,
    "Mutation.openWorkOrder": frozenset({RoleName.OPERATOR, RoleName.ENGINEER}),
    "Mutation.startWorkOrder": frozenset({RoleName.ENGINEER}),
    "Mutation.completeWorkOrder": frozenset({RoleName.ENGINEER}),
    # worklists and the home page (issue 15; api/graphql/worklists.py): everyone signed in
    # reads the lists (the auditor reads everything); what waits for a user is by their roles
    "Query.deviations": READERS, "Query.holds": READERS, "Query.capas": READERS,
    "Query.capaActions": READERS, "Query.changeRequests": READERS, "Query.batches": READERS,
    "Query.excursions": READERS, "Query.alarms": READERS, "Query.myWork": READERS,
    "Query.openExceptions": READERS,
    # the KPI dashboard (issue 15 item 3; read-only)
    "Query.kpis": READERS, "Query.kpiRecords": READERS,
    # what-if recall and proof of non-exposure (issue 18 item 3; quality.exposure checks QA too)
    "Query.whatIf": READERS, "Query.exposure": READERS, "Query.exposureProof": READERS,
    "Mutation.proveNonExposure": QA,
    # recall records (issue 18 item 5; quality.recalls checks the role per step again)
    "Query.recalls": READERS, "Query.recallRecord": READERS,
    "Mutation.initiateRecall": QA, "Mutation.startRecallChecks": QA,
    "Mutation.terminateRecall": QA,
    "Mutation.notifyRecallCustomer": frozenset({RoleName.QA, RoleName.QC}),
    "Mutation.recordRecallResponse": frozenset({RoleName.QA, RoleName.QC}),
    # document control (issue 18 item 1; api/graphql/documents.py): the commands check the
    # roles again (quality.documents)
    "Query.documents": READERS, "Query.document": READERS,
    "Mutation.submitDocument": CHANGE, "Mutation.approveDocument": QA,
    "Mutation.makeDocumentEffective": QA, "Mutation.recordTraining": CHANGE,
    # supplier quality (issue 18 item 2; api/graphql/suppliers.py)
    "Query.suppliers": READERS, "Query.approvedSupplierList": READERS,
    "Query.supplierScorecard": READERS, "Query.scar": READERS, "Query.scars": READERS,
    "Mutation.approveSupplierMaterial": QA, "Mutation.inspectIncomingLot": LOT_DECIDERS,
    "Mutation.issueScar": QUALITY, "Mutation.recordScarResponse": QUALITY,
    "Mutation.closeScar": QA,
    # HTTP routes
    "POST /api/recall": READERS,
    "POST /capture": WRITERS,
    "GET /events": READERS,
    "POST /events": WRITERS,
    "GET /events/{eventID}": READERS,
    "GET /epcis/genealogy": READERS,
    # integration events and webhooks (issue 18 item 6, api/routes/integration.py): the events
    # are the workflow's own records (QA, QC, auditors and the admin who wires a QMS read
    # them); only the admin registers an endpoint
    "GET /api/integration/events": frozenset({RoleName.QC, RoleName.QA, RoleName.AUDITOR,
                                              RoleName.ADMIN}),
    "GET /api/integration/webhooks": ADMIN,
    "POST /api/integration/webhooks": ADMIN,
    # their GraphQL surface (api/graphql/integration.py): the same readers; the subscriptions
    # are the admin's configuration, which the auditor reads too (never the secret)
    "Query.integrationEvents": frozenset({RoleName.QC, RoleName.QA, RoleName.AUDITOR,
                                          RoleName.ADMIN}),
    "Query.webhookSubscriptions": frozenset({RoleName.AUDITOR, RoleName.ADMIN}),
}

TOKEN_TTL = timedelta(hours=8)
ALGORITHM = "HS256"
#: a token without these is refused, even if signed with the server's key (no ``exp``: it
#: would never expire)
REQUIRED_CLAIMS = ("exp", "iat", "sub")


class Unauthorized(GraphQLError):
    """Refused: not signed in (``UNAUTHENTICATED``) or not allowed (``FORBIDDEN``)."""

    def __init__(self, code: str, message: str, operation: str = "") -> None:
        super().__init__(message, extensions={"code": code, "operation": operation})
        self.code = code


def server_secret(cfg: Settings) -> str:
    """The token-signing secret: ``TRACEGRAPH_SECRET_KEY``, else one kept in the data dir."""
    if cfg.secret_key:
        return cfg.secret_key
    path = Path(cfg.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def issue_token(user: User, secret: str, now: datetime | None = None) -> dict[str, Any]:
    t = now or datetime.now(UTC)
    claims = {"sub": user.username, "iat": int(t.timestamp()),
              "exp": int((t + TOKEN_TTL).timestamp())}
    return {"access_token": jwt.encode(claims, secret, algorithm=ALGORITHM),
            "token_type": "bearer", "expires_in": int(TOKEN_TTL.total_seconds()),
            "username": user.username, "roles": sorted(user.roles)}


def user_from_token(rt: Runtime, secret: str, authorization: str | None) -> User | None:
    """The signed-in account behind an ``Authorization: Bearer`` header, or ``None``."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    try:
        claims = jwt.decode(authorization[7:].strip(), secret, algorithms=[ALGORITHM],
                            options={"require": list(REQUIRED_CLAIMS)})
    except jwt.PyJWTError:
        return None
    return active_user(rt, str(claims.get("sub", "")))


def active_user(rt: Runtime, username: str) -> User | None:
    """The account as stored now, if it is active and not locked (a long-lived websocket
    subscription asks again before each message)."""
    user = get_user(rt, username)
    if user is None or user.status != AccountStatus.ACTIVE or user.locked_at(utc_now()):
        return None
    return user


def authorize(operation: str, user: User | None) -> None:
    """Raise :class:`Unauthorized` unless ``user`` may perform ``operation``."""
    if user is None:
        raise Unauthorized("UNAUTHENTICATED", "sign in first (POST /auth/token)", operation)
    allowed = RULES.get(operation)
    if allowed is None:  # a field without a rule is closed, never open
        raise Unauthorized("FORBIDDEN", f"{operation} has no authorization rule", operation)
    if not user.roles & allowed:
        raise Unauthorized(
            "FORBIDDEN", f"{operation} needs one of the roles {', '.join(sorted(allowed))}; "
                         f"{user.username} has {', '.join(sorted(user.roles)) or 'none'}",
            operation)


def auth_error_status(e: AuthError) -> int:
    return {"invalid-credentials": 401, "locked": 423, "disabled": 403,
            "not-permitted": 403}.get(e.code, 400)
