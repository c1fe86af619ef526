"""GraphQL for what-if recall (issue 18 item 3): the scopes of recall hypotheses side by side
(:mod:`graph.hypothesis`), whether a hypothesis reaches a unit, shipment or customer, and the
signed proof of non-exposure (:mod:`quality.exposure`).

A hypothesis is a name and seeds, each given as fields (``kind``, ``ref``, ``from``, ``to``) or
all at once as ``spec`` text (``lot:PA-778+equipment:UV-01@FROM..TO``). Lists of members are
paged per class (``items(class:, first:)``); the counts are always whole.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.enums import SignatureMeaning
from api.graphql.limits import LIST_BOUNDS
from api.graphql.types import (
    Problem,
    Signature,
    Stat,
    as_json,
    bad_input,
    page,
    runtime_of,
    user_of,
)
from graph.errors import RefusedError, WriteRejectedError
from graph.hypothesis import (
    Comparison,
    Hypothesis,
    HypothesisError,
    Scope,
    Seed,
    compare,
    parse_hypothesis,
    scopes,
)
from ontology.vocab import vocabulary
from quality import exposure as exp
from quality.workflow import WorkflowRefused

__all__ = ["ExposureFinding", "HypothesisInput", "Mutation", "ProofResult", "Query", "WhatIf"]

MAX_HYPOTHESES = 8
MAX_SEEDS_PER_HYPOTHESIS = 20
_CLASSES = len(vocabulary().classes)  # a list of counts per class holds at most this many
LIST_BOUNDS.update({
    "WhatIf.scopes": MAX_HYPOTHESES, "WhatIf.adds": MAX_HYPOTHESES, "WhatIf.shared": _CLASSES,
    "WhatIf.union": _CLASSES, "HypothesisScope.counts": _CLASSES,
    "HypothesisScope.origins": MAX_SEEDS_PER_HYPOTHESIS, "ScopeAdds.counts": _CLASSES})


@strawberry.input
class SeedInput:
    kind: str = strawberry.field(description="lot, equipment, operator, supplier or version")
    ref: str = strawberry.field(description="Any identifier of the lot, equipment, user, "
                                            "supplier or process version.")
    window_start: str | None = strawberry.field(
        default=None, name="from", description="Start of the window (equipment: required).")
    window_end: str | None = strawberry.field(default=None, name="to",
                                              description="End of the window.")


@strawberry.input
class HypothesisInput:
    name: str
    seeds: list[SeedInput] | None = None
    spec: str | None = strawberry.field(default=None, description="The seeds as text: "
                                        "KIND:REF[@FROM..TO][+KIND:REF…]")

    def hypothesis(self) -> Hypothesis:
        if self.spec:
            return parse_hypothesis(f"{self.name}={self.spec}")
        return Hypothesis(self.name, tuple(Seed(s.kind, s.ref, s.window_start, s.window_end)
                                           for s in self.seeds or ()))


def _hypotheses(items: list[HypothesisInput]) -> list[Hypothesis]:
    if not 1 <= len(items) <= MAX_HYPOTHESES:
        raise bad_input("hypotheses", len(items), f"1 to {MAX_HYPOTHESES} hypotheses")
    try:
        out = [h.hypothesis() for h in items]
    except HypothesisError as e:
        raise bad_input(e.field, e.value, str(e)) from None
    for h in out:
        if len(h.seeds) > MAX_SEEDS_PER_HYPOTHESIS:
            raise bad_input("seeds", len(h.seeds),
                            f"at most {MAX_SEEDS_PER_HYPOTHESIS} seeds per hypothesis")
    return out


def _stats(m: dict[str, set[str]]) -> list[Stat]:
    return [Stat(label=c, count=len(v)) for c, v in sorted(m.items()) if v]


def _items(m: dict[str, set[str]], cls: str, first: int, offset: int) -> list[str]:
    return sorted(m.get(cls, ()))[offset:offset + page("first", first)]


@strawberry.type
class SeedOrigin:
    seed: str
    node: str
    executions: list[str]
    walk_seeds: list[str]


@strawberry.type
class HypothesisScope:
    name: str
    spec: str
    watermark: int
    seeds: list[str]
    origins: list[SeedOrigin]
    counts: list[Stat]
    _scope: strawberry.Private[Scope]

    @strawberry.field(description="Members of one class, in IRI order (paged).")
    def items(self, class_name: Annotated[str, strawberry.argument(name="class")],
              first: int = 100, offset: int = 0) -> list[str]:
        return _items(self._scope.members, class_name, first, offset)

    @strawberry.field(description="One shortest derivation path from a seed to a member.")
    def witness(self, iri: str) -> list[str]:
        return self._scope.witness(iri)

    @classmethod
    def of(cls, s: Scope) -> HypothesisScope:
        return cls(name=s.hypothesis.name, spec=s.hypothesis.text(), watermark=s.watermark,
                   seeds=s.seeds,
                   origins=[SeedOrigin(seed=o.seed.text(), node=o.node, executions=o.via,
                                       walk_seeds=o.seeds) for o in s.origins],
                   counts=_stats(s.members), _scope=s)


@strawberry.type
class ScopeAdds:
    name: str
    counts: list[Stat]
    _members: strawberry.Private[dict[str, set[str]]]

    @strawberry.field(description="What this hypothesis adds (in no other scope), one class.")
    def items(self, class_name: Annotated[str, strawberry.argument(name="class")],
              first: int = 100, offset: int = 0) -> list[str]:
        return _items(self._members, class_name, first, offset)


@strawberry.type
class WhatIf:
    watermark: int
    scopes: list[HypothesisScope]
    shared: list[Stat] = strawberry.field(description="The shared core: in every scope.")
    adds: list[ScopeAdds]
    union: list[Stat]
    _cmp: strawberry.Private[Comparison]

    @strawberry.field(description="Members of the shared core, one class.")
    def shared_items(self, class_name: Annotated[str, strawberry.argument(name="class")],
                     first: int = 100, offset: int = 0) -> list[str]:
        return _items(self._cmp.shared, class_name, first, offset)

    @classmethod
    def of(cls, c: Comparison) -> WhatIf:
        return cls(watermark=c.watermark, scopes=[HypothesisScope.of(s) for s in c.scopes],
                   shared=_stats(c.shared), union=_stats(c.union),
                   adds=[ScopeAdds(name=k, counts=_stats(v), _members=v)
                         for k, v in c.adds.items()], _cmp=c)


@strawberry.type
class ExposureShare:
    seed: str
    item: str
    quantity: float | None
    fraction: float | None = strawberry.field(description="Share of the seed in the item "
                                                          "(mass balance); null if unknown.")
    unit: str | None
    note: str | None


@strawberry.type
class ExposureFinding:
    hypothesis: str
    target: str
    target_class: str
    target_key: str
    watermark: int
    exposed: bool
    items: list[str]
    examined: JSON
    witness: list[str]
    shares: list[ExposureShare]
    statement: str

    @classmethod
    def of(cls, f: exp.Finding) -> ExposureFinding:
        return cls(hypothesis=f.hypothesis, target=f.target, target_class=f.target_class,
                   target_key=f.target_key, watermark=f.watermark, exposed=f.exposed,
                   items=f.items, examined=as_json(f.examined), witness=f.witness,
                   shares=[ExposureShare(seed=s.seed, item=s.item, quantity=s.quantity,
                                         fraction=s.fraction, unit=s.unit, note=s.note)
                           for s in f.shares], statement=f.statement())


@strawberry.type
class ExposureProof:
    iri: str
    number: str
    digest: str
    intact: bool
    document: JSON
    signatures: list[Signature]

    @classmethod
    def of(cls, p: exp.StoredProof) -> ExposureProof:
        return cls(iri=p.iri, number=p.number, digest=p.digest, intact=p.intact,
                   document=as_json(p.document),
                   signatures=[Signature.of(s) for s in p.signatures])


@strawberry.type
class ProofResult:
    ok: bool
    proof: ExposureProof | None = None
    finding: ExposureFinding | None = strawberry.field(
        default=None, description="For an exposed target: the witness path and fractions.")
    problems: list[Problem] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    @strawberry.field(description="What-if recall: the scope of each hypothesis (seeds: lots, "
                                  "equipment windows, operators, supplier lots, process "
                                  "versions), the shared core and what each adds, per class.")
    def what_if(self, info: Info[Any, None], hypotheses: list[HypothesisInput]) -> WhatIf:
        hs = _hypotheses(hypotheses)
        try:
            return WhatIf.of(compare(scopes(runtime_of(info).store, hs)))
        except HypothesisError as e:
            raise bad_input(e.field, e.value, str(e)) from None

    @strawberry.field(description="Whether a hypothesis reaches a unit, shipment or customer "
                                  "(item: any identifier): the witness path and exposure "
                                  "fractions, or what was examined to show it does not.")
    def exposure(self, info: Info[Any, None], hypothesis: HypothesisInput,
                 item: str) -> ExposureFinding:
        [h] = _hypotheses([hypothesis])
        try:
            return ExposureFinding.of(exp.examine(runtime_of(info).store, h, item))
        except HypothesisError as e:
            raise bad_input(e.field, e.value, str(e)) from None

    @strawberry.field(description="A stored proof of non-exposure (IRI or record number), "
                                  "checked against its digest and signatures; null if none.")
    def exposure_proof(self, info: Info[Any, None], proof: str) -> ExposureProof | None:
        try:
            return ExposureProof.of(exp.stored_proof(runtime_of(info), proof))
        except WorkflowRefused:
            return None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Prove (QA, re-entering the password) that no derivation "
                                     "path leads from the hypothesis' seeds to the target; "
                                     "stored and signed. An exposed target is refused with its "
                                     "witness path and exposure fraction.")
    def prove_non_exposure(self, info: Info[Any, None], hypothesis: HypothesisInput,
                           item: str, password: str, reason: str,
                           meaning: SignatureMeaning = SignatureMeaning.VERIFIED) -> ProofResult:
        [h] = _hypotheses([hypothesis])
        rt = runtime_of(info)
        try:
            p = exp.prove(rt, h, item, user_of(info).username, password, reason,
                          str(meaning))
        except exp.ExposedError as e:
            return ProofResult(ok=False, finding=ExposureFinding.of(e.finding),
                               problems=[Problem.of(x) for x in e.problems])
        except WorkflowRefused as e:
            return ProofResult(ok=False, problems=[Problem.of(x) for x in e.problems])
        except RefusedError as e:
            return ProofResult(ok=False, problems=[Problem.of(e.problem())])
        except WriteRejectedError as e:
            return ProofResult(ok=False, problems=[Problem.of(x) for x in e.problems])
        return ProofResult(ok=True, proof=ExposureProof.of(p))
