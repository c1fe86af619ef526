"""Who may assert what: the ontology's write-authority table applied to every write event.

The table (``tg:assertedBy`` / ``tg:commandOnly`` on classes, ``tg:changedBy`` /
``tg:captureValue`` on properties; :attr:`ontology.vocab.Vocabulary.authority`, rendered in
``ontology/authority.py``) is checked by :class:`graph.write.Writer` for every event, whatever
path it came by (GraphQL capture, EPCIS, CSV, RDF import, CLI load, signals, workflow commands):

- a **capture** event (``command is None``) may create or change a record only if one of the
  principal's roles is in its class's ``assertedBy`` (rule ``not-authorised``), and may not change
  a workflow-managed property (rule ``workflow-managed``) except to a ``captureValue`` while the
  stored value is absent or itself a capture value — capture never moves a record out of a state
  a command set;
- a **command** event may change a workflow-managed property only if its command is one of the
  property's ``changedBy`` (rule ``workflow-managed``);
- system-managed classes and properties (``tg:systemManaged``: signatures, the audit trail,
  credentials, lockout, the migration mark) are written only by commands (rules
  ``system-managed-class`` / ``system-managed-property``);
- a **migration** event (an admin-run, re-authenticated, reasoned load,
  :func:`quality.accounts.begin_migration`) may write records in any state and of any class but
  system-managed ones; the Writer marks every record it writes ``migrated``.

**The system loader.** An in-process caller that names no principal (tests, ``bench/``, the
CLI without ``--user``, RDF import) writes as :data:`SYSTEM_LOADER` (``roles=None``): it may
capture facts of every class some role may assert, and is refused every workflow-managed change
like any other capture — so no path sets a state without its command.

Any problem refuses the whole batch; nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.errors import Problem
from graph.model import NodeRecord
from ontology.vocab import Vocabulary

__all__ = ["MIGRATED", "MIGRATION_STAGE", "SYSTEM_LOADER", "Migration", "Principal",
           "event_problems"]

#: the property the Writer sets on every record a migration writes
MIGRATED = "migrated"
#: the property the Writer sets on every record a migration stage writes (its stage id)
MIGRATION_STAGE = "migrationStage"


@dataclass(frozen=True)
class Principal:
    """Who sends a capture: the signed-in account's username and roles. ``roles=None`` is the
    system loader (see the module docstring)."""

    name: str
    roles: frozenset[str] | None


#: the in-process loader: capture of any assertable class, never a workflow-managed change
SYSTEM_LOADER = Principal("system", None)


@dataclass(frozen=True)
class Migration:
    """An admin-run, signed (re-authenticated) and reasoned migration; made by
    :func:`quality.accounts.begin_migration`, never by a request."""

    admin: str
    reason: str
    #: the stage id of a staged migration (``tracegraph migrate apply``): its records are marked
    #: with it, and it may only create records (so that ``migrate rollback`` can remove them)
    stage: str | None = None


class _Upsert(Protocol):
    @property
    def cls(self) -> str: ...

    @property
    def iri(self) -> str: ...

    @property
    def props(self) -> Mapping[str, object]: ...

    @property
    def links(self) -> Mapping[str, list[str]]: ...


class _Derivation(Protocol):
    @property
    def output(self) -> str: ...

    @property
    def input(self) -> str: ...


class _Event(Protocol):
    """What the check reads of a :class:`graph.write.WriteEvent` (which imports this module)."""

    event_id: str
    command: str | None
    roles: frozenset[str] | None
    migration: bool

    @property
    def nodes(self) -> Sequence[_Upsert]: ...

    @property
    def derivations(self) -> Sequence[_Derivation]: ...


def _roles_text(roles: frozenset[str] | None) -> str:
    if roles is None:
        return "the system loader (no account)"
    return f"roles {', '.join(sorted(roles)) or 'none'}"


def _who_may(allowed: Iterable[str]) -> str:
    roles = sorted(allowed)
    if not roles:
        return "no role may: only workflow commands (or an admin-run, signed migration) write them"
    return f"only role{'s' if len(roles) > 1 else ''} {', '.join(roles)} may"


def event_problems(vocab: Vocabulary, ev: _Event,
                   current: Callable[[str], NodeRecord | None]) -> list[Problem]:
    """Every authority problem of one write event; ``current`` gives a node's state before the
    event (stored, or as earlier events of the batch left it)."""
    table = vocab.authority
    out: list[Problem] = []
    capture = ev.command is None
    who = _roles_text(ev.roles)

    def refuse(rule: str, field: str, value: object, focus: str, message: str) -> None:
        out.append(Problem(rule=rule, field=field, value=value, focus=focus,
                           event_id=ev.event_id, message=message))

    def may_assert(cls: str) -> bool:
        allowed = table.asserted_by.get(cls, frozenset())
        return ev.migration or bool(allowed if ev.roles is None else allowed & ev.roles)

    def managed(cls: str, prop: str, new: object, old: object, focus: str) -> None:
        commands = table.changed_by.get(prop)
        if commands is None or ev.migration or (not capture and ev.command in commands):
            return
        names = f"command{'s' if len(commands) > 1 else ''} {', '.join(sorted(commands))}"
        if capture:
            values = table.capture_values.get(prop, frozenset())
            if new in values and (old is None or old in values):
                return
            extra = (f"; capture may set only {', '.join(sorted(values))}, and only while the "
                     "stored value is absent or one of them" if values else "")
            refuse("workflow-managed", prop, new, focus,
                   f"{cls}.{prop} is workflow-managed: only the {names} may change it{extra}; "
                   f"the caller ({who}) sent it by capture")
        else:
            refuse("workflow-managed", prop, new, focus,
                   f"{cls}.{prop} is workflow-managed: only the {names} may change it, "
                   f"not {ev.command}")

    for up in ev.nodes:
        old = current(up.iri)
        if (capture or ev.migration) and up.cls in vocab.system_managed:
            refuse("system-managed-class", "class", up.cls, up.iri,
                   f"{up.cls} records are written only by tracegraph's own workflows "
                   "(accounts, signatures, audit)")
            continue
        if capture and not may_assert(up.cls):
            refuse("not-authorised", "class", up.cls, up.iri,
                   f"{up.cls}.{', '.join(sorted(up.props)) or '(links)'}: the caller ({who}) may "
                   f"not assert {up.cls} records through capture; "
                   f"{_who_may(table.asserted_by.get(up.cls, ()))}")
            continue
        for prop, value in up.props.items():
            before = None if old is None else old.props.get(prop)
            if before == value:
                continue
            if (capture or ev.migration) and prop in vocab.system_managed_properties:
                refuse("system-managed-property", prop, "(withheld)", up.iri,
                       f"{prop} is written only by tracegraph's own workflows")
                continue
            managed(up.cls, prop, value, before, up.iri)
        for prop, targets in up.links.items():
            for t in targets:
                managed(up.cls, prop, t, None, up.iri)
    if capture:
        for d in ev.derivations:
            node = current(d.output)
            if node is not None and not may_assert(node.label):
                refuse("not-authorised", "wasDerivedFrom", d.input, d.output,
                       f"{node.label}.wasDerivedFrom: the caller ({who}) may not assert "
                       f"{node.label} records through capture; "
                       f"{_who_may(table.asserted_by.get(node.label, ()))}")
    return out
