"""What-if recall and proof of non-exposure (issue 18 item 3) on the demo plant, both engines,
checked against an independent computation: networkx over the capture documents (never over our
store)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import networkx as nx
import pytest

from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.hypothesis import HypothesisError, compare, parse_hypothesis, scopes
from ontology.terms import C
from quality.accounts import AuthError
from quality.exposure import ExposedError, examine, prove, stored_proof
from quality.signatures import sign
from quality.workflow import WorkflowRefused
from tests.conftest import PASSWORD, make_user
from tests.integration.test_change_impact import read_docs
from tests.integration.test_recall import demo  # noqa: F401  (the loaded demo plant)
from tracegraph.runtime import Runtime

CLASSES = ("MaterialLot", "Batch", "Sublot", "SerializedUnit", "PackagingAggregation",
           "Shipment", "Customer")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def short(iri: str) -> str:
    return iri.rsplit("/", 1)[1]


class Plant:
    """The demo plant as the documents say it, and two hypotheses chosen from the documents: a
    supplier lot, and an equipment window covering one run of a batch made from that lot and the
    run after it (so the scopes share a core and each adds something)."""

    def __init__(self, rt: Runtime, docs: list[dict[str, Any]]) -> None:
        self.rt, self.d = rt, read_docs(docs, rt)
        d = self.d
        self.q: nx.DiGraph = nx.DiGraph()  # input → output with the derivation's quantity
        self.pairs: list[tuple[str, str]] = []  # every derivation, repeated ones too
        for doc in docs:
            for ev in doc["events"]:
                for x in ev.get("derivations", []):
                    a, b = (rt.vocab.mint_iri(*r.split("/", 1)) for r in (x["input"], x["output"]))
                    self.q.add_edge(a, b, q=x.get("quantity"))
                    self.pairs.append((a, b))
        lots = sorted(n for n, c in d.cls.items() if c == "MaterialLot" and d.out(n, "suppliedBy"))
        for lot in lots:  # the first lot with a run on equipment whose next other run adds
            made = {b for b in nx.descendants(d.derived, lot) if d.cls[b] == "Batch"}
            if not any(d.cls[y] == "SerializedUnit" for y in nx.descendants(d.derived, lot)):
                continue
            for x in sorted(x for b in made for x in d.into(b, "forBatch")
                            if d.cls[x] == "OperationExecution" and d.out(x, "onEquipment")):
                [eq] = d.out(x, "onEquipment")
                on = sorted((t(d.props[r]["startedAtTime"]), t(d.props[r]["endedAtTime"]), r)
                            for r in d.into(eq, "onEquipment"))
                i = next(k for k, r in enumerate(on) if r[2] == x)
                later = [r for r in on[i + 1:] if not d.out(r[2], "forBatch") & made
                         and any(d.cls[y] == "SerializedUnit" for b in d.out(r[2], "forBatch")
                                 for y in nx.descendants(d.derived, b))]
                if later:
                    self.lot, self.equipment = lot, eq
                    self.start, self.end = on[i][0], later[0][1]
                    return
        raise AssertionError("the demo plant has no such lot and window")

    def window_seeds(self) -> set[str]:
        d = self.d
        execs = {x for x in d.into(self.equipment, "onEquipment") | d.into(self.equipment,
                                                                           "usedFixture")
                 if t(d.props[x]["startedAtTime"]) <= self.end
                 and t(d.props[x]["endedAtTime"]) >= self.start}
        measured = {r for r in d.into(self.equipment, "measuredWith")
                    if self.start <= t(d.props[r]["resultTime"]) <= self.end}
        return ({b for x in execs for b in d.out(x, "forBatch")}
                | {e for r in measured for e in d.out(r, "inspectedEntity")})

    def scope(self, seeds: set[str]) -> dict[str, set[str]]:
        d = self.d
        reached = seeds.union(*(nx.descendants(d.derived, s) for s in seeds if s in d.derived))
        out = {c: {n for n in reached if d.cls[n] == c} for c in CLASSES}
        out["Customer"] = {c for s in out["Shipment"] for c in d.out(s, "shippedTo")}
        return {c: v for c, v in out.items() if v}

    def texts(self) -> tuple[str, str, str]:
        lot = f"lot:{short(self.lot)}"
        eq = (f"equipment:{short(self.equipment)}@{self.start.isoformat()}.."
              f"{self.end.isoformat()}")
        return f"adhesive={lot}", f"uv={eq}", f"both={lot}+{eq}"


@pytest.fixture(scope="module")
def plant(demo: tuple[Runtime, list[dict[str, Any]]]) -> Plant:  # noqa: F811
    return Plant(*demo)


def nonempty(m: dict[str, set[str]]) -> dict[str, set[str]]:
    return {c: v for c, v in m.items() if v}


@pytest.mark.req("URS-TRC-02")
def test_two_hypotheses_compared_equal_the_documents(plant: Plant) -> None:
    a, b, both = scopes(plant.rt.store, [parse_hypothesis(x) for x in plant.texts()])
    want_a = plant.scope({plant.lot})
    want_b = plant.scope(plant.window_seeds())
    assert a.members == want_a and b.members == want_b
    assert both.members == {c: want_a.get(c, set()) | want_b.get(c, set())
                            for c in {*want_a, *want_b}}  # "if it is both": the union
    assert a.watermark == b.watermark == plant.rt.store.watermark()
    cmp = compare([a, b])
    shared = nonempty({c: want_a.get(c, set()) & want_b.get(c, set()) for c in CLASSES})
    assert nonempty(cmp.shared) == shared and shared.get("SerializedUnit")
    assert nonempty(cmp.adds["adhesive"]) == nonempty(
        {c: want_a.get(c, set()) - want_b.get(c, set()) for c in CLASSES})
    assert nonempty(cmp.adds["uv"]) == nonempty(
        {c: want_b.get(c, set()) - want_a.get(c, set()) for c in CLASSES})
    assert cmp.adds["uv"]["SerializedUnit"]  # the window reaches units the lot does not
    counts = cmp.as_counts()
    assert counts["scopes"]["uv"] == {c: len(v) for c, v in sorted(want_b.items())}
    assert counts["shared"]["SerializedUnit"] == len(shared["SerializedUnit"])
    for s in (a, b):  # every witness runs along derivations of the documents from a seed
        for u in sorted(s.members["SerializedUnit"])[:20]:
            w = s.witness(u)
            assert w[0] in s.seeds and w[-1] == u
            assert all(plant.d.derived.has_edge(x, y) for x, y in pairwise(w))


def test_other_seed_kinds_equal_the_documents(plant: Plant) -> None:
    d = plant.d
    [supplier] = d.out(plant.lot, "suppliedBy")
    version = sorted(v for v, c in d.cls.items() if c == "ProcessVersion"
                     and d.into(v, "runsProcessVersion"))[0]
    runs = sorted((t(d.props[x]["startedAtTime"]), x) for x, c in d.cls.items()
                  if c == "OperationExecution")
    [operator] = d.out(runs[0][1], "wasAssociatedWith")
    frm, to = runs[0][0], runs[5][0]
    by_op = {b for x in d.into(operator, "wasAssociatedWith") if d.cls[x] == "OperationExecution"
             and t(d.props[x]["startedAtTime"]) <= to and t(d.props[x]["endedAtTime"]) >= frm
             for b in d.out(x, "forBatch")}
    hyps = [f"s=supplier:{short(supplier)}", f"v=version:{version}",
            f"o=operator:{short(operator)}@{frm.isoformat()}..{to.isoformat()}"]
    s, v, o = scopes(plant.rt.store, [parse_hypothesis(h) for h in hyps])
    assert s.members == plant.scope(d.into(supplier, "suppliedBy"))
    assert v.members == plant.scope(d.into(version, "runsProcessVersion"))
    assert by_op and o.members == plant.scope(by_op)


@pytest.mark.req("URS-TRC-02")
def test_a_proof_of_non_exposure_outside_both_and_refused_inside(plant: Plant) -> None:
    rt, d = plant.rt, plant.d
    both = parse_hypothesis(plant.texts()[2])
    want = plant.scope({plant.lot} | plant.window_seeds())
    seeds = {plant.lot} | plant.window_seeds()
    units = sorted(n for n, c in d.cls.items() if c == "SerializedUnit")
    outside = next(u for u in units if u not in want["SerializedUnit"])
    inside = sorted(want["SerializedUnit"] & plant.scope({plant.lot})["SerializedUnit"])[0]
    qa = make_user(rt, f"qa.proof.{id(rt)}", ["qa"])

    proof = prove(rt, both, short(outside), qa, PASSWORD, "scope of the UV/adhesive recall")
    doc = proof.document
    assert doc["exposed"] is False and doc["target"] == outside and proof.intact
    ancestors = nx.ancestors(d.derived, outside)
    assert not ancestors & seeds  # the documents agree: no path from a seed
    assert doc["examined"]["seeds"] == len(seeds)
    assert doc["examined"]["upstreamNodes"] == len(ancestors) + 1
    assert doc["examined"]["upstreamEdges"] == sum(
        1 for a, b in plant.pairs if b in ancestors | {outside})
    assert doc["examined"]["reachedDownstream"] == sum(len(v) for v in want.values())
    assert doc["watermark"] < rt.store.watermark()  # the proof was written after the answer
    [sig] = proof.signatures
    assert sig.valid and sig.username == qa and sig.meaning == "verified"
    assert stored_proof(rt, proof.number).digest == proof.digest

    before = len(rt.store.nodes_of_class(C.ExposureProof))
    with pytest.raises(ExposedError) as refused:
        prove(rt, both, short(inside), qa, PASSWORD, "scope of the UV/adhesive recall")
    f = refused.value.finding
    assert refused.value.code == "exposed" and f.exposed
    assert f.witness[0] in seeds and f.witness[-1] == inside
    assert all(d.derived.has_edge(x, y) for x, y in pairwise(f.witness))
    [lot_share] = [s for s in f.shares if s.seed == plant.lot]
    assert lot_share.fraction == pytest.approx(path_fraction(plant, plant.lot, inside))
    assert len(rt.store.nodes_of_class(C.ExposureProof)) == before  # nothing written

    customers = want["Customer"]
    cust = sorted(customers)[0]
    cf = examine(rt.store, both, cust)
    assert cf.exposed and cf.witness[-1] == cust and d.cls[cf.witness[-2]] == "Shipment"
    far = sorted(c for c, k in d.cls.items() if k == "Customer" and c not in customers)
    if far:
        assert not examine(rt.store, both, far[0]).exposed


def path_fraction(plant: Plant, seed: str, target: str) -> float:
    """Share of the seed in the target: the sum over every derivation path of the product of
    (quantity / source quantity); a unit made without a quantity is one of its source's pieces."""
    g, props = plant.q, plant.d.props
    total = 0.0
    for path in nx.all_simple_paths(g, seed, target):
        share = 1.0
        for a, b in pairwise(path):
            q = g.edges[a, b]["q"]
            share *= (1.0 if q is None else q) / float(props[a]["quantity"])
        total += share
    return total


@pytest.mark.req("URS-ACC-02", "URS-ESIG-01")
def test_an_operator_cannot_prove_or_sign_a_proof(plant: Plant) -> None:
    """Attacker test: an operator's account is refused at every door, nothing written."""
    rt = plant.rt
    both = parse_hypothesis(plant.texts()[2])
    units = sorted(n for n, c in plant.d.cls.items() if c == "SerializedUnit")
    outside = next(u for u in units if u not in plant.scope(
        {plant.lot} | plant.window_seeds())["SerializedUnit"])
    op = make_user(rt, f"op.proof.{id(rt)}", ["operator"])
    qa = make_user(rt, f"qa.proof2.{id(rt)}", ["qa"])
    before = len(rt.store.nodes_of_class(C.ExposureProof))
    with pytest.raises(WorkflowRefused) as e:
        prove(rt, both, outside, op, PASSWORD, "I would like to sign this")
    assert e.value.code == "role" and e.value.field == "username"
    assert len(rt.store.nodes_of_class(C.ExposureProof)) == before
    with pytest.raises(WriteRejectedError):  # nor capture one: the class is command-only
        rt.capture({"events": [{"eventId": f"forged-proof-{id(rt)}", "nodes": [{
            "class": "ExposureProof", "key": "NEP-FORGED",
            "properties": {"proofDocument": "{}", "proofDigest": "0" * 64,
                           "proofWatermark": 1}}]}]},
            principal=Principal(op, frozenset({"operator"})))
    proof = prove(rt, both, outside, qa, PASSWORD, "proof to countersign")
    with pytest.raises(AuthError) as a:  # nor sign a proof QA wrote
        sign(rt, proof.iri, op, PASSWORD, "approved", "countersign")
    assert a.value.code == "not-permitted"
    assert len(stored_proof(rt, proof.iri).signatures) == 1


def test_bad_hypotheses_are_refused_naming_field_value_and_rule(plant: Plant) -> None:
    store = plant.rt.store
    for text, code in (("nothing", "hypothesis-syntax"), ("x=color:red", "seed-kind"),
                       ("x=lot:NO-SUCH-LOT", "not-found"),
                       (f"x=equipment:{short(plant.equipment)}", "window-required"),
                       (f"x=equipment:{short(plant.equipment)}@yesterday..today", "window"),
                       (f"x=supplier:{short(plant.lot)}", "not-found")):
        with pytest.raises(HypothesisError) as e:
            scopes(store, [parse_hypothesis(text)])
        assert e.value.code == code, text
    with pytest.raises(HypothesisError) as e:
        scopes(store, [parse_hypothesis("a=lot:X"), parse_hypothesis("a=lot:Y")])
    assert e.value.code == "duplicate-name"
