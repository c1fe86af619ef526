"""Electronic signatures and the signature rule on both engines: binding to a canonical hash of
exactly the signed content, invalidation by any later edit, re-authentication that counts toward
lockout, and the manifestation in every rendering of the record."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from graph.model import EdgeRecord, NodeRecord
from quality.accounts import MAX_FAILURES, AuthError, create_user, get_user
from quality.rules import RequiresSignatures
from quality.signatures import (
    SignatureError,
    canonical_content,
    content_hash,
    current_hash,
    manifestation,
    render_record,
    sign,
    signatures_of,
)
from tests import plantlet
from tests.conftest import migrate
from tracegraph.runtime import Runtime

QA_PW = "anna-s3cret-passphrase"
ENG_PW = "bo-engineer-passphrase"
AUD_PW = "carla-auditor-passphrase"


@pytest.fixture
def plant(runtime: Runtime) -> Runtime:
    plantlet.load(runtime)
    create_user(runtime, "aschmidt", QA_PW, ["qa"], "Anna Schmidt", "admin", "QA")
    create_user(runtime, "bchen", ENG_PW, ["engineer"], "Bo Chen", "admin", "engineer")
    create_user(runtime, "cweber", AUD_PW, ["auditor"], "Carla Weber", "admin", "auditor")
    return runtime


def batch(rt: Runtime) -> str:
    return rt.vocab.mint_iri("Batch", "B-ASSY")


def edit(rt: Runtime, event_id: str, props: dict[str, Any], reason: str = "correction") -> None:
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": event_id, "reason": reason,
        "nodes": [{"class": "Batch", "key": "B-ASSY", "properties": props}]}]})


@pytest.mark.req("URS-ESIG-03")
def test_canonical_content_covers_exactly_the_records_own_content() -> None:
    node = NodeRecord("urn:b", "Batch", "B-1", {"lotNumber": "B-1", "quantity": 3.0},
                      "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", 4)
    links = [EdgeRecord("urn:b", "OF_PRODUCT", "urn:p"),
             EdgeRecord("urn:b", "WAS_DERIVED_FROM", "urn:l", "ev#0",
                        {"derivationKind": "consumption", "quantity": 2.0})]
    base = canonical_content(node, links)
    rewritten = dataclasses.replace(node, updated_at="2026-02-01T00:00:00.000000Z", tx=9)
    assert canonical_content(rewritten, list(reversed(links))) == base  # system props, order
    signature_link = EdgeRecord("urn:sig", "SIGNS", "urn:b")
    assert canonical_content(node, [*links, signature_link]) == base  # signatures are not content
    assert content_hash(node, links) != content_hash(
        dataclasses.replace(node, props={**node.props, "quantity": 4.0}), links)
    assert content_hash(node, links) != content_hash(node, links[:1])
    assert b'"iri"' not in base and b"recordedAt" not in base and b"txId" not in base


@pytest.mark.req("URS-ESIG-02", "URS-ESIG-03")
def test_a_signature_binds_printed_name_time_meaning_and_content_hash(plant: Runtime) -> None:
    sig = sign(plant, batch(plant), "aschmidt", QA_PW, "approved", "batch record reviewed")
    assert sig.valid and sig.meaning == "approved" and sig.printed_name == "Anna Schmidt"
    assert sig.content_hash == current_hash(plant.store, batch(plant))
    assert sig.signed_at.endswith("Z")
    (stored,) = signatures_of(plant, batch(plant))
    assert stored == sig
    node = plant.store.get(sig.iri)
    assert node is not None and node.label == "ElectronicSignature"
    assert node.props["contentHash"] == sig.content_hash
    assert {(e.type, e.dst) for e in plant.store.links([sig.iri])} == {
        ("SIGNS", batch(plant)), ("SIGNED_BY", plant.vocab.mint_iri("User", "aschmidt"))}
    (entry,) = plant.store.audit_entries(record=sig.iri)
    assert entry.action == "create" and entry.actor == "aschmidt"
    assert entry.reason == "batch record reviewed"


@pytest.mark.req("URS-ESIG-03")
def test_editing_signed_content_invalidates_the_signature(plant: Runtime) -> None:
    sign(plant, batch(plant), "aschmidt", QA_PW, "approved", "batch record reviewed")
    edit(plant, "fix-qty", {"quantity": 4}, "count corrected after recount")
    (sig,) = signatures_of(plant, batch(plant))
    assert not sig.valid
    text = render_record(plant, batch(plant))
    assert "INVALID" in text and manifestation(sig) in text
    # signing again binds the new content; the old signature stays, still invalid
    sign(plant, batch(plant), "aschmidt", QA_PW, "approved", "re-approved after correction")
    assert [s.valid for s in signatures_of(plant, batch(plant))] == [False, True]


@pytest.mark.req("URS-ESIG-03")
def test_a_new_link_on_the_signed_record_invalidates_it_too(plant: Runtime) -> None:
    sign(plant, batch(plant), "aschmidt", QA_PW, "reviewed", "reviewed")
    # B-ASSY is released, so only a signed migration may still add to it (rule batch-closed)
    migrate(plant, {"format": "tracegraph.capture/1", "events": [{
        "eventId": "late-consumption", "reason": "consumption missed at go-live",
        "derivations": [{
            "kind": "consumption", "output": "Batch/B-ASSY", "input": "MaterialLot/RL-TUBE",
            "quantity": 1, "unit": "m", "time": "2026-03-03T09:00:00Z"}]}]})
    assert [s.valid for s in signatures_of(plant, batch(plant))] == [False]


@pytest.mark.req("URS-ESIG-01")
def test_a_wrong_password_refuses_and_counts_toward_lockout(plant: Runtime) -> None:
    for i in range(1, MAX_FAILURES + 1):
        with pytest.raises(AuthError) as e:
            sign(plant, batch(plant), "aschmidt", f"wrong-password-{i}", "approved", "review")
        assert e.value.code == ("locked" if i == MAX_FAILURES else "invalid-credentials")
        user = get_user(plant, "aschmidt")
        assert user is not None and user.failed_attempts == i
    with pytest.raises(AuthError) as e:
        sign(plant, batch(plant), "aschmidt", QA_PW, "approved", "review")
    assert e.value.code == "locked"
    assert signatures_of(plant, batch(plant)) == []


@pytest.mark.req("URS-REC-02", "URS-ESIG-02")
def test_the_manifestation_is_in_every_rendering(plant: Runtime) -> None:
    assert "Signatures: none" in render_record(plant, batch(plant))
    sig = sign(plant, batch(plant), "aschmidt", QA_PW, "approved", "batch record reviewed")
    line = manifestation(sig)
    assert line.startswith("Signed by Anna Schmidt (aschmidt) on ")
    assert line.endswith(" UTC — approved")
    text = render_record(plant, batch(plant))
    assert f"✔ {line}" in text and "INVALID" not in text
    assert "lotNumber: B-ASSY" in text and "ofProduct → " in text
    user_text = render_record(plant, plant.vocab.mint_iri("User", "aschmidt"))
    assert "passwordHash" not in user_text and "$argon2" not in user_text


@pytest.mark.req("URS-ESIG-01")
def test_refusals_name_the_field_and_write_nothing(plant: Runtime) -> None:
    before = plant.store.watermark()
    cases = [("approved", "ok", "no-such", SignatureError, "record"),
             ("blessed", "ok", None, SignatureError, "signatureMeaning"),
             ("approved", "  ", None, SignatureError, "reason")]
    for meaning, reason, iri, exc, field in cases:
        with pytest.raises(exc) as e:
            sign(plant, iri or batch(plant), "aschmidt", QA_PW, meaning, reason)
        assert e.value.field == field
    assert plant.store.watermark() == before
    with pytest.raises(AuthError) as auth:
        sign(plant, batch(plant), "cweber", AUD_PW, "reviewed", "auditor tries")
    assert auth.value.code == "not-permitted"
    with pytest.raises(SignatureError) as changed:
        sign(plant, batch(plant), "aschmidt", QA_PW, "approved", "ok", expected_hash="0" * 64)
    assert changed.value.code == "content-changed"
    assert signatures_of(plant, batch(plant)) == []


@pytest.mark.req("URS-ESIG-01")
def test_requires_signatures_counts_only_valid_signatures_by_role_holders(
        plant: Runtime) -> None:
    rule = RequiresSignatures({"qa": {"approved"}, "engineer": {"reviewed"}})
    record = batch(plant)
    assert {p.value for p in rule.check(plant, record)} == {"approved", "reviewed"}
    sign(plant, record, "bchen", ENG_PW, "reviewed", "technical review")
    sign(plant, record, "bchen", ENG_PW, "approved", "engineer approves")  # wrong role
    (missing,) = rule.check(plant, record)
    assert (missing.rule, missing.field, missing.value) == (
        "requires-signature", "signatureMeaning", "approved")
    assert "bchen" in missing.message and "qa" in missing.message
    sign(plant, record, "aschmidt", QA_PW, "approved", "QA approval")
    assert rule.check(plant, record) == []
    edit(plant, "fix-qty", {"quantity": 2}, "recount")
    problems = rule.check(plant, record)
    assert {p.value for p in problems} == {"approved", "reviewed"}
    assert all("invalid" in p.message for p in problems)
    assert rule.check(plant, "urn:nothing")[0].rule == "no-such-record"
    with pytest.raises(ValueError, match="boss"):
        RequiresSignatures({"boss": {"approved"}})
    with pytest.raises(ValueError, match="blessed"):
        RequiresSignatures({"qa": {"blessed"}})
