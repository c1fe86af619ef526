"""GraphQL for the 21 CFR Part 11 records: the signed-in account, the audit trail, electronic
signatures of a record, signing (re-entering the password) and creating accounts."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.enums import AuditAction, RoleName, SignatureMeaning
from api.graphql.types import (
    Signature,
    as_json,
    not_found,
    page,
    resolve_one,
    runtime_of,
    user_of,
)
from graph import model
from quality import accounts, signatures

__all__ = ["AuditEntry", "Me", "Mutation", "Query"]


@strawberry.type
class Me:
    username: str
    printed_name: str
    roles: list[str]

    @classmethod
    def of(cls, u: accounts.User) -> Me:
        return cls(username=u.username, printed_name=u.printed_name, roles=sorted(u.roles))


@strawberry.type
class AuditEntry:
    seq: int
    tx: int
    at: str
    actor: str
    action: AuditAction
    record: str
    record_class: str
    field: str | None
    old: JSON | None
    new: JSON | None
    reason: str | None
    event_id: str | None
    hash: str

    @classmethod
    def of(cls, e: model.AuditEntry) -> AuditEntry:
        return cls(seq=e.seq, tx=e.tx, at=e.at, actor=e.actor, action=AuditAction(e.action),
                   record=e.record, record_class=e.record_class, field=e.field,
                   old=as_json(e.old), new=as_json(e.new), reason=e.reason,
                   event_id=e.event_id, hash=e.hash)


def _refused(e: accounts.AuthError | signatures.SignatureError) -> GraphQLError:
    return GraphQLError(str(e), extensions={"code": e.code.upper().replace("-", "_"),
                                            "field": e.field})


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in account.")
    def me(self, info: Info[Any, None]) -> Me:
        return Me.of(user_of(info))

    @strawberry.field(description="Audit trail entries by record, user and/or UTC time window, "
                                  "in chain order (paged by sequence).")
    def audit_trail(self, info: Info[Any, None], record: str | None = None,
                    user: str | None = None, since: str | None = None,
                    until: str | None = None, after: int = 0,
                    first: int = 100) -> list[AuditEntry]:
        rt = runtime_of(info)
        entries = rt.store.audit_entries(record=record, actor=user, since=since, until=until,
                                         after_seq=after, limit=page("first", first))
        return [AuditEntry.of(e) for e in entries]

    @strawberry.field(description="Electronic signatures of a record, each with its validity "
                                  "(the record still has the signed content) and manifestation.")
    def signatures(self, info: Info[Any, None], record: str) -> list[Signature]:
        rt = runtime_of(info)
        node = resolve_one(rt, record)
        if node is None:
            raise not_found("record", record)
        return [Signature.of(s) for s in signatures.signatures_of(rt, node.iri)]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Electronically sign a record (21 CFR 11.50/11.200): "
                                     "re-enter your password; the signature binds to the "
                                     "record's current content.")
    def sign(self, info: Info[Any, None], record: str, meaning: SignatureMeaning, password: str,
             reason: str, expected_hash: str | None = None) -> Signature:
        rt = runtime_of(info)
        node = resolve_one(rt, record)
        if node is None:
            raise not_found("record", record)
        try:
            sig = signatures.sign(rt, node.iri, user_of(info).username, password, meaning,
                                  reason, expected_hash=expected_hash)
        except (accounts.AuthError, signatures.SignatureError) as e:
            raise _refused(e) from None
        return Signature.of(sig)

    @strawberry.mutation(description="Create a user account (admin).")
    def create_user(self, info: Info[Any, None], username: str, password: str,
                    roles: list[RoleName], printed_name: str, reason: str) -> Me:
        rt = runtime_of(info)
        try:
            u = accounts.create_user(rt, username, password, roles, printed_name,
                                     actor=user_of(info).username, reason=reason)
        except accounts.AuthError as e:
            raise _refused(e) from None
        return Me.of(u)
