"""User accounts: creation, argon2 password hashing, authentication with lockout, roles.

Users are ``User`` nodes (key ``username``) linked ``hasRole`` to ``Role`` nodes (key = the role
name: operator, engineer, qc, qa, auditor, admin). Every change — a new account, each failed
authentication, each lockout, an unlock, a new password — goes through the one write path
(:class:`graph.write.Writer`), so the audit trail records who, what, when and why. Password
hashes are secrets: :func:`public_props` strips them from anything shown, and the audit trail
keeps only a digest of them (:data:`graph.audit.SECRET_FIELDS`).

Lockout (21 CFR 11.300(d), EU GMP Annex 11 §12): after :data:`MAX_FAILURES` consecutive failed
authentications (logins and signings alike) the account refuses every attempt, even with the
right password, for :data:`LOCKOUT`; the first attempt after the window starts a fresh count.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from graph.audit import SECRET_FIELDS
from graph.authority import Migration
from graph.errors import EventConflictError, RefusedError
from graph.model import Direction, NodeRecord
from graph.port import GraphStore, StoreTx
from graph.session import Session, node_event, write_nodes
from graph.write import NodeUpsert, WriteEvent
from ontology.authority import Command
from ontology.codes import AccountStatus, RoleName, label
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R

__all__ = [
    "AUTH_ACTOR",
    "LOCKOUT",
    "MAX_FAILURES",
    "MIN_PASSWORD_LENGTH",
    "ROLE_NAMES",
    "AuthError",
    "User",
    "admin_exists",
    "authenticate",
    "begin_migration",
    "check_password_policy",
    "create_first_admin",
    "create_user",
    "get_user",
    "public_props",
    "roles_of",
    "set_account_status",
    "set_password",
    "unlock_user",
    "users_by_iri",
]

#: The roles of the system (code list tg:RoleNameScheme) and the name each role node carries
#: (the role's English label in the ontology, capitalised).
ROLE_NAMES: Mapping[str, str] = {r: label(r).capitalize() for r in RoleName}
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # bounds the hashing work one request can ask for
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
#: Actor of the audit entries that failed authentications write (the claimed username is in
#: the record and the reason, never trusted as the actor).
AUTH_ACTOR = "system:authentication"

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
_DUMMY: list[str] = []  # a hash to verify against for unknown users (same timing as known ones)


class AuthError(RefusedError):
    """An account operation was refused. ``code`` is stable for the API
    (``invalid-credentials``, ``locked``, ``disabled``, ``password-policy``, ``user-exists``,
    ``admin-exists``, ``unknown-role``, ``no-such-user``, ``not-permitted``,
    ``reason-required``); the message names the field, the value and the rule."""

    def __init__(self, code: str, message: str, field: str = "username", value: Any = None,
                 locked_until: str | None = None) -> None:
        super().__init__(code, message, field, value)
        self.locked_until = locked_until


@dataclass(frozen=True)
class User:
    """A user account as the rest of the system sees it: never its password hash."""

    iri: str
    username: str
    printed_name: str
    roles: frozenset[str]
    status: str
    failed_attempts: int = 0
    locked_until: str | None = None  # stored UTC text; in the past = not locked
    has_password: bool = False

    def locked_at(self, now: datetime) -> bool:
        """Whether the account refuses authentication at ``now``."""
        if self.status == AccountStatus.LOCKED:
            return True
        return self.locked_until is not None and _parse(self.locked_until) > now


def roles_of(user: User) -> frozenset[str]:
    """The role names a user holds."""
    return user.roles


def public_props(node: NodeRecord | Mapping[str, Any]) -> dict[str, Any]:
    """A node's properties without secrets: what any read API may return."""
    props = node.props if isinstance(node, NodeRecord) else node
    return {k: v for k, v in props.items() if k not in SECRET_FIELDS}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _hidden(password: str) -> str:
    return f"<hidden, {len(password)} characters>"


def check_password_policy(password: str, username: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD_LENGTH`, absurdly long, blank, or
    containing the username (``AuthError`` code ``password-policy``; the value is never shown)."""
    rule = None
    if len(password) < MIN_PASSWORD_LENGTH:
        rule = f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    elif len(password) > MAX_PASSWORD_LENGTH:
        rule = f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    elif not password.strip():
        rule = "a password cannot be blank"
    elif username.lower() in password.lower():
        rule = "a password must not contain the username"
    if rule is not None:
        raise AuthError("password-policy", rule, field="password", value=_hidden(password))


# -- writing ---------------------------------------------------------------------------------
def _update(rt: Session, user: User, props: dict[str, StoredValue], actor: str,
            reason: str, command: Command) -> None:
    write_nodes(rt, [NodeUpsert(C.User, user.username, user.iri, props)], actor, reason,
                _event_id(user.username), command=command)


# -- reading ---------------------------------------------------------------------------------
def users_by_iri(store: GraphStore, iris: Iterable[str]) -> dict[str, User]:
    """The accounts among ``iris``, with their roles (three batched reads)."""
    return _users(store, store.get_many(list(iris)))


def _users(store: GraphStore, found: Mapping[str, NodeRecord]) -> dict[str, User]:
    nodes = {i: n for i, n in found.items() if n.label == C.User}
    links = store.links(list(nodes), [R.HAS_ROLE]) if nodes else []
    role_nodes = store.get_many({e.dst for e in links})
    roles: dict[str, set[str]] = {}
    for e in links:
        role = role_nodes.get(e.dst)
        if role is not None:
            roles.setdefault(e.src, set()).add(str(role.props.get(P.roleName, role.key)))
    return {iri: _with_stored(User(iri, n.key, str(n.props.get(P.name, n.key)),
                                   frozenset(roles.get(iri, ())), AccountStatus.ACTIVE), n)
            for iri, n in nodes.items()}


def _with_stored(user: User, node: NodeRecord) -> User:
    """``user`` with the status, failure counter, lock and password flag of ``node``."""
    p = node.props
    until = p.get(P.lockedUntil)
    failed = p.get(P.failedAttempts, 0)
    return replace(user, status=str(p.get(P.accountStatus, AccountStatus.ACTIVE)),
                   failed_attempts=failed if isinstance(failed, int) else 0,
                   locked_until=None if until is None else str(until),
                   has_password=bool(p.get(P.passwordHash)))


def get_user(rt: Session, username: str) -> User | None:
    """The account named ``username``, or ``None``."""
    iri = rt.vocab.mint_iri(C.User, username)
    return users_by_iri(rt.store, [iri]).get(iri)


def _require(rt: Session, username: str) -> User:
    user = get_user(rt, username)
    if user is None:
        raise AuthError("no-such-user", "no account has this username", value=username)
    return user


def admin_exists(rt: Session) -> bool:
    """Whether some account holds the admin role."""
    admin = rt.vocab.mint_iri(C.Role, RoleName.ADMIN)
    return bool(rt.store.links([admin], [R.HAS_ROLE], Direction.DOWNSTREAM))


# -- creating --------------------------------------------------------------------------------
def _check_roles(roles: Iterable[str]) -> list[str]:
    wanted = sorted(set(roles))
    unknown = [r for r in wanted if r not in ROLE_NAMES]
    if unknown or not wanted:
        raise AuthError("unknown-role", f"roles must be among {', '.join(ROLE_NAMES)} (code "
                        "list tg:RoleNameScheme), at least one", field="roles", value=unknown)
    return wanted


def _need_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise AuthError("reason-required", "account changes need a reason", field="reason",
                        value=reason)


def create_user(rt: Session, username: str, password: str, roles: Iterable[str],
                printed_name: str, actor: str, reason: str,
                employee_code: str | None = None, qualifications: Iterable[str] = ()) -> User:
    """Create an account with an argon2id password hash and its roles (role nodes are created
    on first use), in one audited write. ``printed_name`` is what signatures show;
    ``qualifications`` (IRIs of stored Qualification records) are the ones the person holds
    (``hasQualification``; their training records say when each is in force)."""
    wanted = _check_roles(roles)
    check_password_policy(password, username)
    _need_reason(reason)
    iri = rt.vocab.mint_iri(C.User, username)
    if rt.store.get(iri) is not None:
        raise AuthError("user-exists", "an account with this username exists; usernames are "
                        "never reused", value=username)
    role_iris = {r: rt.vocab.mint_iri(C.Role, r) for r in wanted}
    stored_roles = rt.store.get_many(role_iris.values())
    nodes = [NodeUpsert(C.Role, r, i, {P.code: r, P.name: ROLE_NAMES[r], P.roleName: r})
             for r, i in role_iris.items() if i not in stored_roles]
    props: dict[str, StoredValue] = {
        P.username: username, P.code: employee_code or username.replace("@", "."),
        P.name: printed_name, P.accountStatus: AccountStatus.ACTIVE,
        P.passwordHash: _HASHER.hash(password), P.failedAttempts: 0}
    links: dict[str, list[str]] = {P.hasRole: list(role_iris.values())}
    if quals := sorted(set(qualifications)):
        links[P.hasQualification] = quals
    nodes.append(NodeUpsert(C.User, username, iri, props, links))
    try:  # the event id makes a concurrent second creation of the same username a conflict
        write_nodes(rt, nodes, actor, reason, f"account-create:{username}",
                    command=Command.CREATE_USER)
    except EventConflictError:
        raise AuthError("user-exists", "an account with this username exists; usernames are "
                        "never reused", value=username) from None
    return _require(rt, username)


def create_first_admin(rt: Session, username: str, password: str, printed_name: str,
                       actor: str = "system", reason: str = "first administrator account"
                       ) -> User:
    """Create the first administrator; refused once any account holds the admin role."""
    if admin_exists(rt):
        raise AuthError("admin-exists", "an administrator exists already; further accounts are "
                        "created by an administrator", value=username)
    return create_user(rt, username, password, [RoleName.ADMIN], printed_name, actor, reason)


# -- authenticating --------------------------------------------------------------------------
def _verify(stored: str | None, password: str) -> tuple[bool, bool]:
    """(password matches, hash should be upgraded)."""
    if not stored:
        if not _DUMMY:
            _DUMMY.append(_HASHER.hash(uuid.uuid4().hex))
        stored = _DUMMY[0]
        with contextlib.suppress(VerificationError):
            _HASHER.verify(stored, password)
        return False, False
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


def authenticate(rt: Session, username: str, password: str, clock: Clock | None = None,
                 purpose: str = "login") -> User:
    """The account if ``password`` is right and the account may authenticate now.

    Raises ``AuthError``: ``invalid-credentials`` (unknown user or wrong password, not told
    apart), ``locked`` (lockout window, even with the right password), ``disabled``. Each
    failure on an existing account increments its failure counter through the write path; the
    :data:`MAX_FAILURES`-th sets ``lockedUntil`` = now + :data:`LOCKOUT`. The counter and the
    lock are read inside the write transaction that changes them, so parallel attempts are
    each counted and none slips past a lockout another attempt has just set.
    """
    clock = rt.clock if clock is None else clock
    now = clock()
    iri = rt.vocab.mint_iri(C.User, username)
    node = rt.store.get(iri)
    user = None if node is None else _users(rt.store, {iri: node}).get(iri)
    if user is None or node is None:
        _verify(None, password)
        raise AuthError("invalid-credentials", "wrong username or password", value=username)
    stored_hash = node.props.get(P.passwordHash)
    if user.status == AccountStatus.DISABLED:
        raise AuthError("disabled", "the account is disabled", value=username)
    if user.locked_at(now):
        raise _count_failure(rt, user, now, purpose)
    ok, rehash = _verify(None if stored_hash is None else str(stored_hash), password)
    if not ok:
        raise _count_failure(rt, user, now, purpose, wrong_password=True)
    if not user.failed_attempts and not rehash:
        return user
    new_hash = _HASHER.hash(password) if rehash else None
    refused: list[AuthError] = []

    def reset(tx: StoreTx) -> list[WriteEvent]:
        stored = tx.fetch_nodes([iri]).get(iri)
        current = user if stored is None else _with_stored(user, stored)
        if current.locked_at(now):  # a parallel failure locked the account meanwhile
            return _failure_event(current, now, purpose, False, refused)
        fresh: dict[str, StoredValue] = {P.failedAttempts: 0}
        if new_hash is not None:
            fresh[P.passwordHash] = new_hash
        return [node_event([NodeUpsert(C.User, username, iri, fresh)], AUTH_ACTOR,
                           f"{purpose} succeeded for {username}: failure counter reset"
                           + (", password re-hashed with current parameters"
                              if rehash else ""), _event_id(username),
                           command=Command.AUTHENTICATE)]

    rt.writer.apply(reset)
    if refused:
        raise refused[-1]
    return _require(rt, username)


def _event_id(username: str) -> str:
    return f"account:{username}:{uuid.uuid4().hex}"


def _count_failure(rt: Session, user: User, now: datetime, purpose: str,
                   wrong_password: bool = False) -> AuthError:
    """Record a failed authentication, reading the counter and the lock inside the write
    transaction; the refusal to raise."""
    refused: list[AuthError] = []

    def count(tx: StoreTx) -> list[WriteEvent]:
        stored = tx.fetch_nodes([user.iri]).get(user.iri)
        current = user if stored is None else _with_stored(user, stored)
        return _failure_event(current, now, purpose, wrong_password, refused)

    rt.writer.apply(count)
    return refused[-1]


def _failure_event(user: User, now: datetime, purpose: str, wrong_password: bool,
                   refused: list[AuthError]) -> list[WriteEvent]:
    """The audited counter update of one failed authentication of ``user`` (its stored state);
    the refusal is appended to ``refused``."""
    name = user.username
    if user.locked_at(now) or not wrong_password:
        until = user.locked_until if user.status != AccountStatus.LOCKED else None
        props: dict[str, StoredValue] = {P.failedAttempts: user.failed_attempts + 1}
        reason = (f"{purpose} refused for {name}: account locked"
                  + (f" until {until}" if until else " by an administrator"))
        refused.append(AuthError(
            "locked", "the account is locked" + (f" until {until}" if until else "")
            + f" after {MAX_FAILURES} consecutive failed authentications", value=name,
            locked_until=until))
    else:
        # at or over the limit but not locked: the lockout has ended, counting starts afresh
        expired = user.failed_attempts >= MAX_FAILURES
        failures = (0 if expired else user.failed_attempts) + 1
        props = {P.failedAttempts: failures}
        if failures >= MAX_FAILURES:
            until = to_utc_text(now + LOCKOUT)
            props[P.lockedUntil] = until
            reason = (f"{purpose} failed for {name}: wrong password; account locked until "
                      f"{until} after {failures} consecutive failed authentications")
            refused.append(AuthError(
                "locked", f"wrong password; the account is now locked until {until} after "
                f"{failures} consecutive failed authentications", value=name,
                locked_until=until))
        else:
            reason = (f"{purpose} failed for {name}: wrong password ({failures} of "
                      f"{MAX_FAILURES} consecutive failures before lockout)")
            refused.append(AuthError("invalid-credentials", "wrong username or password",
                                     value=name))
    return [node_event([NodeUpsert(C.User, name, user.iri, props)], AUTH_ACTOR, reason,
                       _event_id(name), command=Command.AUTHENTICATE)]


# -- administering ---------------------------------------------------------------------------
def unlock_user(rt: Session, username: str, actor: str, reason: str,
                clock: Clock | None = None) -> User:
    """End a lockout now (and an administrator's lock): counter to 0, status active."""
    clock = rt.clock if clock is None else clock
    _need_reason(reason)
    user = _require(rt, username)
    props: dict[str, StoredValue] = {P.failedAttempts: 0, P.accountStatus: AccountStatus.ACTIVE}
    if user.locked_at(clock()) and user.locked_until is not None:
        props[P.lockedUntil] = to_utc_text(clock())
    _update(rt, user, props, actor, reason, Command.UNLOCK_USER)
    return _require(rt, username)


def set_account_status(rt: Session, username: str, status: str, actor: str,
                       reason: str) -> User:
    """Set an account active, locked (until an administrator unlocks it) or disabled."""
    _need_reason(reason)
    if status not in set(AccountStatus):
        raise AuthError("account-status", f"must be one of {', '.join(AccountStatus)} (code list "
                        "tg:AccountStatusScheme)", field="accountStatus", value=status)
    user = _require(rt, username)
    _update(rt, user, {P.accountStatus: status}, actor, reason, Command.SET_ACCOUNT_STATUS)
    return _require(rt, username)


def begin_migration(rt: Session, username: str, password: str, reason: str,
                    clock: Clock | None = None) -> Migration:
    """Open an admin-run migration (``tracegraph load --migration``): the administrator signs it
    by re-authenticating, and gives the reason. Records captured with the returned
    :class:`graph.authority.Migration` may arrive in any state (a released batch, an approved
    change, a closed deviation); each is marked ``migrated`` and every audit entry names the
    administrator and says migration."""
    _need_reason(reason)
    user = authenticate(rt, username, password, clock, purpose="migration")
    if "admin" not in user.roles:
        raise AuthError("role", "a migration is run by an administrator; "
                        f"{username} has {', '.join(sorted(user.roles)) or 'no role'}",
                        field="username", value=username)
    return Migration(user.username, reason.strip())


def set_password(rt: Session, username: str, new_password: str, actor: str,
                 reason: str) -> User:
    """Replace an account's password (policy checked; the audit trail keeps a digest only)."""
    _need_reason(reason)
    check_password_policy(new_password, username)
    user = _require(rt, username)
    _update(rt, user, {P.passwordHash: _HASHER.hash(new_password), P.failedAttempts: 0},
            actor, reason, Command.SET_PASSWORD)
    return _require(rt, username)
