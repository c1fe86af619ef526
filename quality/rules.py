"""Reusable workflow rules that state transitions attach (deviation close, change approval,
batch release …).

>>> from ontology.codes import RoleName, SignatureMeaning
>>> rule = RequiresSignatures({RoleName.QA: {SignatureMeaning.APPROVED}})
>>> rule.describe()
"a valid 'approved' signature by a user with role qa"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from graph.errors import Problem
from graph.port import GraphStore
from graph.session import Session
from ontology.codes import RoleName, SignatureMeaning
from quality.accounts import User, users_by_iri
from quality.signatures import Signature, signatures_by_record

__all__ = ["RequiresSignatures"]


@dataclass(frozen=True)
class RequiresSignatures:
    """Requires, for each role R and each meaning M in ``meanings_by_role[R]``, at least one
    VALID signature with meaning M by a user who holds role R (now).

    A signature made invalid by a later change of the record does not count, so a transition
    guarded by this rule needs the record signed again after any edit.
    """

    meanings_by_role: Mapping[str, AbstractSet[str]]

    def __post_init__(self) -> None:
        # codes as the plain strings the stores hold (members of ontology.codes or strings)
        roles = {str(r): frozenset(str(x) for x in m) for r, m in self.meanings_by_role.items()}
        unknown_roles = sorted(r for r in roles if r not in set(RoleName))
        if unknown_roles:
            raise ValueError(f"roles {unknown_roles}: not roles of the system (code list "
                             f"tg:RoleNameScheme: {', '.join(RoleName)})")
        unknown = sorted({m for ms in roles.values() for m in ms} - set(SignatureMeaning))
        if unknown:
            raise ValueError(f"signature meanings {unknown}: not in the code list "
                             f"tg:SignatureMeaningScheme ({', '.join(SignatureMeaning)})")
        if not any(roles.values()):
            raise ValueError("meanings_by_role: require at least one meaning of one role")
        object.__setattr__(self, "meanings_by_role", roles)

    def _needs(self) -> list[tuple[str, str]]:
        return sorted((r, m) for r, ms in self.meanings_by_role.items() for m in ms)

    def describe(self) -> str:
        """The requirement in words."""
        return "; ".join(f"a valid {m!r} signature by a user with role {r}"
                         for r, m in self._needs())

    def check(self, rt: Session, record_iri: str) -> list[Problem]:
        """What is missing on ``record_iri``; empty when the rule is satisfied."""
        return self.check_many(rt.store, [record_iri])[record_iri]

    def check_many(self, store: GraphStore, records: Sequence[str]) -> dict[str, list[Problem]]:
        """:meth:`check` for many records with batched reads."""
        sigs = signatures_by_record(store, records)
        users = users_by_iri(store, {s.signer for ss in sigs.values() for s in ss if s.signer})
        existing = store.get_many(records)
        out: dict[str, list[Problem]] = {}
        for record in records:
            if record not in existing:
                out[record] = [Problem(rule="no-such-record", field="record", value=record,
                                       focus=record, message="no record has this IRI")]
                continue
            out[record] = [p for r, m in self._needs()
                           if (p := self._missing(record, r, m, sigs.get(record, []), users))]
        return out

    @staticmethod
    def _missing(record: str, role: str, meaning: str, sigs: list[Signature],
                 users: Mapping[str, User]) -> Problem | None:
        def holds(s: Signature) -> bool:
            u = users.get(s.signer)
            return u is not None and role in u.roles

        same = [s for s in sigs if s.meaning == meaning]
        if any(s.valid and holds(s) for s in same):
            return None
        notes = []
        invalid = [s for s in same if holds(s) and not s.valid]
        if invalid:
            notes.append(f"{len(invalid)} such signature(s) by {role} are invalid: the record "
                         "changed after signing")
        others = sorted({s.username for s in same if not holds(s)})
        if others:
            notes.append(f"signed {meaning!r} by {', '.join(others)}, who do(es) not hold role "
                         f"{role}")
        return Problem(rule="requires-signature", field="signatureMeaning", value=meaning,
                       focus=record,
                       message=f"needs a valid {meaning!r} signature by a user with role {role}"
                               + (f" ({'; '.join(notes)})" if notes else ""))
