"""Proof of non-exposure (issue 18 item 3): for a unit, shipment or customer (or any traced
record), whether a recall hypothesis (:mod:`graph.hypothesis`) reaches it, and — when it does not
— a signed record saying so.

The question is answered twice, in one snapshot: downstream (the hypothesis' scope, one walk from
all its seeds, does not contain the target; for a customer, none of the shipments to it) and
upstream (the target's whole upstream genealogy contains none of the seeds). Both walks run to
exhaustion (:data:`graph.hypothesis.PROOF_DEPTH`), so "not reached" means no derivation path at
all at the watermark. The counts of what was examined go into the proof.

An exposed target is no proof: :func:`prove` refuses it (:class:`ExposedError`, code
``exposed``) with the witness path from a seed and the exposure fraction of each seed reaching it
(the seed's mass balance, :mod:`graph.massbalance`). An unexposed target's proof is written by the
``proveNonExposure`` command (role ``qa``, re-authenticated) as an ``ExposureProof`` — its
canonical JSON and the SHA-256 of it — and signed by the same QA account
(:func:`quality.signatures.sign`; only QA signs this class). Nothing is written for a refusal.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from graph.hypothesis import PROOF_DEPTH, Hypothesis, HypothesisError, Scope, scope_at
from graph.identifiers.identify import identify
from graph.massbalance import mass_balance
from graph.model import Direction
from graph.port import GraphStore
from graph.recall import SHIPPED_TO
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import RoleName, SignatureMeaning
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P
from quality.accounts import authenticate
from quality.signatures import Signature, sign, signatures_of
from quality.workflow import WorkflowRefused, require_user, resolve

__all__ = ["PROOF_FORMAT", "PROVERS", "ExposedError", "Finding", "Share", "StoredProof",
           "examine", "prove", "stored_proof"]

PROOF_FORMAT = "tracegraph.non-exposure-proof/1"
#: who may write (and sign) a proof of non-exposure
PROVERS = frozenset({RoleName.QA})


@dataclass(frozen=True)
class Share:
    """How much of one seed reached one exposed item (the seed's mass balance)."""

    seed: str
    item: str
    quantity: float | None
    fraction: float | None
    unit: str | None
    note: str | None


@dataclass
class Finding:
    """Whether ``hypothesis`` reaches ``target`` at ``watermark``, and how it was established."""

    hypothesis: str
    target: str
    target_class: str
    target_key: str
    watermark: int
    exposed: bool
    items: list[str]  # the target, or for a customer the shipments to it
    examined: dict[str, int]
    origins: list[dict[str, Any]]
    scope_counts: dict[str, int]
    witness: list[str] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)

    def statement(self) -> str:
        if self.exposed:
            return (f"{self.target_class} {self.target_key} IS exposed to hypothesis "
                    f"{self.hypothesis}: a derivation path leads to it from "
                    f"{self.witness[0] if self.witness else 'a seed'}.")
        return (f"No derivation path leads from the {self.examined['seeds']} seed(s) of "
                f"hypothesis {self.hypothesis} to {self.target_class} {self.target_key} at "
                f"watermark {self.watermark}: {self.examined['reachedDownstream']} node(s) "
                f"reached downstream of the seeds do not include it, and its upstream "
                f"genealogy ({self.examined['upstreamNodes']} node(s), "
                f"{self.examined['upstreamEdges']} derivation edge(s)) holds none of the seeds.")

    def document(self, record_time: str) -> dict[str, Any]:
        """The proof's content (what its digest and signature cover)."""
        return {"format": PROOF_FORMAT, "hypothesis": self.hypothesis, "seeds": self.origins,
                "target": self.target, "targetClass": self.target_class,
                "targetKey": self.target_key, "items": self.items,
                "watermark": self.watermark, "recordTime": record_time,
                "maxDepth": PROOF_DEPTH, "examined": self.examined,
                "scopeCounts": self.scope_counts, "exposed": self.exposed,
                "statement": self.statement()}


class ExposedError(WorkflowRefused):
    """The target is exposed: no proof of non-exposure; ``finding`` holds the witness path and
    the exposure fractions."""

    def __init__(self, finding: Finding) -> None:
        shown = ", ".join(f"{s.fraction:.6g} of {s.seed}" for s in finding.shares
                          if s.fraction is not None) or "fraction unknown"
        super().__init__("exposed", "the target is exposed to the hypothesis, so no proof "
                         f"of non-exposure: witness {' > '.join(finding.witness)} ({shown})",
                         "target", finding.target)
        self.finding = finding


def _target(store: GraphStore, ref: str) -> tuple[str, str, str]:
    hits = identify(store, ref)
    if len(hits) != 1:
        raise HypothesisError("not-found" if not hits else "ambiguous",
                              "names no record (any identifier)" if not hits else
                              f"names {len(hits)} records; give the IRI", "target", ref)
    return hits[0].iri, hits[0].label, hits[0].key


def _shares(store: GraphStore, seeds: list[str], items: list[str]) -> list[Share]:
    out: list[Share] = []
    for seed in seeds:
        mb = mass_balance(store.genealogy([seed], Direction.DOWNSTREAM, PROOF_DEPTH))
        out.extend(Share(seed, i, mb.exposure.get(i), mb.fraction(i), mb.unit, mb.notes.get(i))
                   for i in items if i in mb.exposure)
    return out


def _finding(store: GraphStore, scope: Scope, target: str) -> Finding:
    iri, cls, key = _target(store, target)
    items = ([e.src for e in store.links([iri], [SHIPPED_TO], Direction.DOWNSTREAM)]
             if cls == C.Customer else [iri])
    items = sorted(set(items))
    up = store.genealogy(items, Direction.UPSTREAM, PROOF_DEPTH) if items else None
    upstream = set(up.nodes) if up is not None else set()
    in_scope = scope.all()
    reached = [i for i in items if i in in_scope]
    seeds_up = sorted(set(scope.seeds) & upstream)
    if bool(reached) != bool(seeds_up):  # the two directions must agree
        raise RuntimeError(f"downstream ({reached}) and upstream ({seeds_up}) traces of "
                           f"{iri} disagree at watermark {scope.watermark}")
    examined = {"seeds": len(scope.seeds), "reachedDownstream": len(in_scope),
                "items": len(items), "upstreamNodes": len(upstream),
                "upstreamEdges": len(up.edges) if up is not None else 0}
    origins = [{"seed": o.seed.text(), "node": o.node, "executions": len(o.via),
                "walkSeeds": o.seeds} for o in scope.origins]
    f = Finding(scope.hypothesis.text(), iri, cls, key, scope.watermark, bool(reached), items,
                examined, origins, scope.counts())
    if reached:
        f.witness = scope.witness(reached[0]) + ([iri] if cls == C.Customer else [])
        f.shares = _shares(store, seeds_up, reached)
    return f


def examine(store: GraphStore, hypothesis: Hypothesis, target: str) -> Finding:
    """Whether ``hypothesis`` reaches ``target`` (any identifier), read in one snapshot."""
    with store.snapshot() as watermark:
        return _finding(store, scope_at(store, hypothesis, watermark), target)


@dataclass(frozen=True)
class StoredProof:
    """A stored proof: its number, IRI, digest, document and signatures (each checked against
    the record's content now); ``intact``: the document still hashes to the digest."""

    iri: str
    number: str
    digest: str
    document: dict[str, Any]
    signatures: list[Signature]
    intact: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prove(rt: Session, hypothesis: Hypothesis, target: str, username: str, password: str,
          reason: str, meaning: str = SignatureMeaning.VERIFIED,
          clock: Clock | None = None) -> StoredProof:
    """Write and sign the proof that ``hypothesis`` does not reach ``target``: by ``username``
    (role qa, re-authenticated with ``password``), with ``reason``. Refused — nothing written —
    for another role, without a reason, for an exposed target (:class:`ExposedError`)."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, PROVERS, "signing a proof of non-exposure")
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "a proof of non-exposure needs a reason",
                              "reason", reason)
    finding = examine(rt.store, hypothesis, target)
    if finding.exposed:
        raise ExposedError(finding)
    authenticate(rt, username, password, clock, purpose="proof of non-exposure")
    now = clock()
    doc = finding.document(to_utc_text(now))
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    number = f"NEP-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    iri = rt.vocab.mint_iri(C.ExposureProof, number)
    props: dict[str, StoredValue] = {
        P.recordNumber: number, P.proofDocument: body.decode(),
        P.proofDigest: hashlib.sha256(body).hexdigest(), P.proofWatermark: finding.watermark}
    write_nodes(rt, [NodeUpsert(C.ExposureProof, number, iri, props,
                                {P.proofTarget: [finding.target]})],
                username, reason, f"exposure-proof:{number}", command=Command.PROVE_NON_EXPOSURE)
    sign(rt, iri, username, password, meaning, reason, clock)
    return stored_proof(rt, iri)


def stored_proof(rt: Session, ref: str) -> StoredProof:
    """The proof named by IRI or record number, checked: its document against its digest, its
    signatures against its content."""
    node = resolve(rt, C.ExposureProof, ref)
    text = str(node.props.get(P.proofDocument, ""))
    digest = str(node.props.get(P.proofDigest, ""))
    return StoredProof(node.iri, node.key, digest, orjson.loads(text) if text else {},
                       signatures_of(rt, node.iri),
                       hashlib.sha256(text.encode()).hexdigest() == digest)
