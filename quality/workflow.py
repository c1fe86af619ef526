"""Helpers the quality workflows share: resolving a record by IRI or business key, refusing
with a list of problems, checking the acting user's role, and the graph facts several
workflows ask (records linked to a record, open deviations and active holds on entities).
What "open deviation" and "active hold" mean is :mod:`graph.status` (one definition for
release, the guards, GraphQL and the explorer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from graph.errors import Problem, RefusedError
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.session import Session
from graph.status import is_active_hold, is_open_deviation
from ontology.terms import C, R
from quality.accounts import User, get_user

__all__ = ["WorkflowRefused", "active_holds", "linked_from", "open_deviations", "require_user",
           "resolve"]


class WorkflowRefused(RefusedError):
    """A quality workflow refused a step; ``problems`` lists every reason (field, value, rule,
    message), nothing was written."""

    def __init__(self, code: str, message: str, field: str, value: object,
                 problems: Sequence[Problem] = ()) -> None:
        super().__init__(code, message, field, value)
        self.problems = list(problems) or [Problem(rule=code, message=message, field=field,
                                                   value=value)]


def resolve(rt: Session, cls: str, ref: str) -> NodeRecord:
    """The record of class ``cls`` named by IRI or business key; refused if there is none."""
    node = rt.store.get(ref) if "://" in ref else None
    if node is None:
        node = rt.store.get(rt.vocab.mint_iri(cls, ref))
    if node is None:
        hits = rt.store.find(ref, label=cls)
        node = hits[0] if len(hits) == 1 else None
    if node is None or not rt.vocab.cls(node.label).is_a(cls):
        raise WorkflowRefused("no-such-record", f"no {cls} has this IRI or key", cls, ref)
    return node


def require_user(rt: Session, username: str, roles: Iterable[str], step: str) -> User:
    """The account acting, refused unless it holds one of ``roles``."""
    allowed = frozenset(roles)
    user = get_user(rt, username)
    if user is None:
        raise WorkflowRefused("no-such-user", "no account has this username", "username",
                              username)
    if not user.roles & allowed:
        raise WorkflowRefused("role", f"{step} needs one of the roles "
                              f"{', '.join(sorted(allowed))}; {username} has "
                              f"{', '.join(sorted(user.roles)) or 'none'}", "username", username)
    return user


def linked_from(store: GraphStore, targets: Sequence[str], rel: str,
                label: str | None = None) -> dict[str, NodeRecord]:
    """Records with a ``rel`` link to any of ``targets`` (optionally only of class ``label``)."""
    if not targets:
        return {}
    srcs = sorted({e.src for e in store.links(list(targets), [rel], Direction.DOWNSTREAM)})
    nodes = store.get_many(srcs)
    return {i: n for i, n in nodes.items() if label is None or n.label == label}


def open_deviations(store: GraphStore, entities: Sequence[str]) -> list[NodeRecord]:
    """Deviations concerning any of ``entities`` that are open (:func:`graph.status.
    is_open_deviation`)."""
    devs = linked_from(store, entities, R.CONCERNS, C.Deviation).values()
    return sorted((d for d in devs if is_open_deviation(d)), key=lambda d: d.key)


def active_holds(store: GraphStore, entities: Sequence[str]) -> list[NodeRecord]:
    """Holds on any of ``entities`` still active (:func:`graph.status.is_active_hold`)."""
    holds = linked_from(store, entities, R.HOLDS, C.Hold).values()
    return sorted((h for h in holds if is_active_hold(h)), key=lambda h: h.key)
