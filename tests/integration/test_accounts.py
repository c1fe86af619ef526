"""User accounts on both engines: argon2 hashing, password policy, lockout (with an injected
clock), every failure and lockout audited through the write path, secrets never shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from quality.accounts import (
    AUTH_ACTOR,
    LOCKOUT,
    MAX_FAILURES,
    AuthError,
    authenticate,
    create_first_admin,
    create_user,
    get_user,
    public_props,
    roles_of,
    set_account_status,
    set_password,
    unlock_user,
)
from tracegraph.cli.admin import user_app
from tracegraph.runtime import Runtime

PASSWORD = "anna-s3cret-passphrase"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def qa_user(rt: Runtime) -> None:
    create_user(rt, "aschmidt", PASSWORD, ["qa", "qc"], "Anna Schmidt", "admin",
                "new QA engineer")


def refused(rt: Runtime, username: str, password: str, clock: Clock) -> AuthError:
    with pytest.raises(AuthError) as e:
        authenticate(rt, username, password, clock)
    return e.value


@pytest.mark.req("URS-ACC-03")
def test_passwords_are_argon2_hashed_and_never_shown(runtime: Runtime) -> None:
    qa_user(runtime)
    user = get_user(runtime, "aschmidt")
    assert user is not None and roles_of(user) == {"qa", "qc"}
    assert user.printed_name == "Anna Schmidt" and user.status == "active"
    node = runtime.store.get(user.iri)
    assert node is not None
    stored = str(node.props["passwordHash"])
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    assert "passwordHash" not in public_props(node)
    assert public_props(node)["username"] == "aschmidt"
    roles = runtime.store.get_many([runtime.vocab.mint_iri("Role", r) for r in ("qa", "qc")])
    assert sorted(str(r.props["roleName"]) for r in roles.values()) == ["qa", "qc"]
    # the audit trail records the account's creation but keeps only a digest of the hash
    trail = runtime.store.audit_entries(record=user.iri)
    assert [e.action for e in trail] == ["create"]
    text = orjson.dumps([e.new for e in trail]).decode()
    assert stored not in text and PASSWORD not in text
    assert trail[0].new["props"]["passwordHash"].startswith("[redacted sha256:")
    assert trail[0].actor == "admin" and trail[0].reason == "new QA engineer"
    set_password(runtime, "aschmidt", "another-long-passphrase", "admin", "reset by request")
    (change,) = [e for e in runtime.store.audit_entries(record=user.iri)
                 if e.field == "passwordHash"]
    assert str(change.old).startswith("[redacted") and str(change.new).startswith("[redacted")
    assert change.old != change.new
    assert authenticate(runtime, "aschmidt", "another-long-passphrase").username == "aschmidt"


@pytest.mark.req("URS-ACC-03")
def test_policy_duplicates_and_unknown_roles_are_refused_and_write_nothing(
        runtime: Runtime) -> None:
    qa_user(runtime)
    before = runtime.store.watermark()
    cases = [
        (("bchen", "short-pw", ["qa"]), "password-policy", "password"),
        (("bchen", "my-name-is-bchen!", ["qa"]), "password-policy", "password"),
        (("aschmidt", "a-fine-long-password", ["qa"]), "user-exists", "username"),
        (("bchen", "a-fine-long-password", ["qa", "boss"]), "unknown-role", "roles"),
        (("bchen", "a-fine-long-password", []), "unknown-role", "roles"),
    ]
    for (username, password, roles), code, field in cases:
        with pytest.raises(AuthError) as e:
            create_user(runtime, username, password, roles, "Bo Chen", "admin", "new user")
        assert (e.value.code, e.value.field) == (code, field)
        assert password not in str(e.value)  # a password is never echoed
    assert runtime.store.watermark() == before


@pytest.mark.req("URS-ACC-03")
def test_the_first_admin_is_created_once(runtime: Runtime) -> None:
    admin = create_first_admin(runtime, "admin", "correct horse battery", "Ada Admin")
    assert roles_of(admin) == {"admin"}
    with pytest.raises(AuthError) as e:
        create_first_admin(runtime, "root", "correct horse battery", "Root")
    assert e.value.code == "admin-exists"
    assert get_user(runtime, "root") is None


@pytest.mark.req("URS-ACC-03")
def test_a_wrong_password_is_refused_and_audited(runtime: Runtime) -> None:
    qa_user(runtime)
    clock = Clock()
    before = runtime.store.watermark()
    assert refused(runtime, "nobody", PASSWORD, clock).code == "invalid-credentials"
    assert runtime.store.watermark() == before  # unknown users write nothing
    e = refused(runtime, "aschmidt", "wrong-password-123", clock)
    assert e.code == "invalid-credentials" and e.value == "aschmidt"
    user = get_user(runtime, "aschmidt")
    assert user is not None and user.failed_attempts == 1
    last = runtime.store.audit_entries(record=user.iri)[-1]
    assert (last.action, last.field, last.old, last.new) == ("update", "failedAttempts", 0, 1)
    assert last.actor == AUTH_ACTOR and "wrong password" in (last.reason or "")
    # a success resets the counter (audited too)
    assert authenticate(runtime, "aschmidt", PASSWORD, clock).failed_attempts == 0
    reset = runtime.store.audit_entries(record=user.iri)[-1]
    assert (reset.field, reset.old, reset.new) == ("failedAttempts", 1, 0)


@pytest.mark.req("URS-ACC-03")
def test_lockout_after_five_failures_refuses_even_the_right_password(runtime: Runtime) -> None:
    qa_user(runtime)
    clock = Clock()
    for i in range(1, MAX_FAILURES):
        assert refused(runtime, "aschmidt", f"wrong-password-{i}", clock).code == \
            "invalid-credentials"
    fifth = refused(runtime, "aschmidt", "wrong-password-5", clock)
    until = clock.now + LOCKOUT
    assert fifth.code == "locked" and fifth.locked_until is not None
    assert datetime.fromisoformat(fifth.locked_until) == until
    user = get_user(runtime, "aschmidt")
    assert user is not None and user.failed_attempts == MAX_FAILURES and user.locked_at(clock())
    # the lockout is an audited write: the entry carries the lock and why
    trail = runtime.store.audit_entries(record=user.iri)
    lock = [e for e in trail if e.field == "lockedUntil"]
    assert len(lock) == 1 and lock[0].old is None
    assert "locked until" in (lock[0].reason or "") and lock[0].actor == AUTH_ACTOR
    assert sum(1 for e in trail if e.field == "failedAttempts") == MAX_FAILURES
    # locked: even the right password is refused, and the refused attempt is audited
    clock.advance(LOCKOUT - timedelta(minutes=1))
    assert refused(runtime, "aschmidt", PASSWORD, clock).code == "locked"
    assert runtime.store.audit_entries(record=user.iri)[-1].field == "failedAttempts"
    # after the window the right password works and the count starts afresh
    clock.advance(timedelta(minutes=1, seconds=1))
    assert authenticate(runtime, "aschmidt", PASSWORD, clock).failed_attempts == 0
    assert refused(runtime, "aschmidt", "wrong-again-123", clock).code == "invalid-credentials"
    again = get_user(runtime, "aschmidt")
    assert again is not None and again.failed_attempts == 1 and not again.locked_at(clock())


@pytest.mark.req("URS-ACC-03")
def test_an_expired_lockout_counts_failures_afresh(runtime: Runtime) -> None:
    qa_user(runtime)
    clock = Clock()
    for i in range(MAX_FAILURES):
        refused(runtime, "aschmidt", f"wrong-password-{i}", clock)
    clock.advance(LOCKOUT + timedelta(seconds=1))
    for i in range(1, MAX_FAILURES):
        assert refused(runtime, "aschmidt", f"wrong-{i}-password", clock).code == \
            "invalid-credentials"
    assert refused(runtime, "aschmidt", "wrong-5-password", clock).code == "locked"


@pytest.mark.req("URS-ACC-03")
def test_administrators_unlock_and_disable_accounts(runtime: Runtime) -> None:
    qa_user(runtime)
    clock = Clock()
    for i in range(MAX_FAILURES):
        refused(runtime, "aschmidt", f"wrong-password-{i}", clock)
    with pytest.raises(AuthError) as e:
        unlock_user(runtime, "aschmidt", "admin", " ", clock)
    assert e.value.code == "reason-required"
    unlock_user(runtime, "aschmidt", "admin", "identity confirmed by phone", clock)
    assert authenticate(runtime, "aschmidt", PASSWORD, clock).username == "aschmidt"
    set_account_status(runtime, "aschmidt", "disabled", "admin", "left the company")
    assert refused(runtime, "aschmidt", PASSWORD, clock).code == "disabled"
    set_account_status(runtime, "aschmidt", "locked", "admin", "under investigation")
    assert refused(runtime, "aschmidt", PASSWORD, clock).code == "locked"


def test_cli_creates_the_first_admin_from_stdin(tmp_path: Path) -> None:
    env = {"TRACEGRAPH_DATA_DIR": str(tmp_path / "data"), "TRACEGRAPH_STORE": "embedded"}
    args = ["create-admin", "--username", "admin", "--name", "Ada Admin", "--password-stdin"]
    short = CliRunner().invoke(user_app, args, input="short\n", env=env)
    assert short.exit_code == 1 and "password-policy" in short.output
    first = CliRunner().invoke(user_app, args, input="correct horse battery\n", env=env)
    assert first.exit_code == 0, first.output
    assert "created administrator admin" in first.output
    second = CliRunner().invoke(user_app, [*args[:2], "root", *args[3:]],
                                input="correct horse battery\n", env=env)
    assert second.exit_code == 1 and "admin-exists" in second.output
