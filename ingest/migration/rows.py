"""Rows of a legacy export → capture events of a migration stage (one event per row), and every
problem found on the way, named by file, row, column, value and rule (:class:`Finding`).

The events are ordinary ``tracegraph.capture/1`` events: the rest of the way (ontology and
datatype checks, the Writer's authority table, guards, shapes and audit) is the one write path
every other input takes (:mod:`ingest.capture`, :class:`graph.write.Writer`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from graph.errors import Problem
from graph.retract import stage_event_prefix
from ingest.migration.mapping import Mapping, RecordMap, ValueMap, columns_of
from ontology.units import UnitError, convert, parse_unit

__all__ = ["Finding", "RowEvents", "build_events", "event_id", "find_column", "when"]

_FIELD = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Finding:
    """One problem of a stage, where a person finds it in the source."""

    rule: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None
    record: str | None = None  # the record (IRI) it concerns, when known
    field: str = ""  # the ontology property or mapping path

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, p: Problem, file: str | None = None, row: int | None = None,
           column: str | None = None) -> Finding:
        return cls(p.rule, p.message, file, row, column, p.value, p.focus, p.field)


def event_id(stage: str, file: str, row: int) -> str:
    return f"{stage_event_prefix(stage)}{file}:{row}"


class _Bad(Exception):
    def __init__(self, rule: str, column: str | None, value: Any, message: str) -> None:
        self.finding = (rule, column, value, message)


@dataclass
class RowEvents:
    """The capture events of the rows that built, where each came from, and the findings of
    the rows that did not."""

    events: list[dict[str, Any]] = field(default_factory=list)
    origin: dict[str, tuple[str, int]] = field(default_factory=dict)  # event id → (file, row)
    specs: dict[str, list[int]] = field(default_factory=dict)  # event id → record map per node
    findings: list[Finding] = field(default_factory=list)
    rows: int = 0


def _render(template: str, row: dict[str, str | None]) -> str:
    def sub(m: re.Match[str]) -> str:
        v = row.get(m.group(1))
        if v is None:
            raise _Bad("required", m.group(1), None,
                       f"column {m.group(1)} is empty; the mapping needs it here ({template})")
        return v

    return _FIELD.sub(sub, template)


def when(cond: str | list[str] | None, row: dict[str, str | None]) -> bool:
    """Whether a row takes part in a record or derivation map: ``COL`` (the column is not
    empty), ``COL == value`` or ``COL != value``, or a list of them (all hold)."""
    if cond is None:
        return True
    if isinstance(cond, list):
        return all(when(c, row) for c in cond)
    for op in ("==", "!="):
        if op in cond:
            col, _, value = (x.strip() for x in cond.partition(op))
            return (row.get(col) == value) == (op == "==")
    return row.get(cond.strip()) is not None


def _empty(template: str, row: dict[str, str | None]) -> bool:
    """Whether every column a template names is empty in this row (an optional value)."""
    cols = _FIELD.findall(template)
    return bool(cols) and all(row.get(c) is None for c in cols)


def _value(m: Mapping, v: ValueMap, row: dict[str, str | None]) -> str | float | None:
    if v.constant:
        return v.template
    if _empty(v.template, row):
        return None
    text = _render(v.template, row)
    col = v.columns[0] if v.columns else None
    if v.codes is not None:
        code = m.codes.get(v.codes, {}).get(text)
        if code is None:
            raise _Bad("code-value", col, text, f"legacy code {text!r} has no entry in "
                       f"[codes.{v.codes}] ({', '.join(sorted(m.codes.get(v.codes, {})))})")
        return code
    if v.unit is None and v.unit_column is None:
        return text
    try:
        number = float(text.replace(",", "")) if "," in text and "." in text else \
            float(text.replace(",", "."))
    except ValueError:
        raise _Bad("datatype:decimal", col, text, f"{text!r} is not a number") from None
    given = row_unit(m, v, row) or v.unit
    if v.unit is None or given is None:
        return number  # recorded in the row's own unit (see row_unit)
    try:
        scale = _scale(given, v.unit)
        return number * scale if scale is not None else convert(number, given, v.unit)
    except (UnitError, ValueError) as e:
        raise _Bad("unit", v.unit_column or col, row.get(v.unit_column or "") or given,
                   f"{number} {given} cannot be expressed in {v.unit}: {e}") from None


@functools.cache
def _scale(given: str, unit: str) -> float | None:
    """The factor from ``given`` to ``unit`` when the conversion is a pure scale (mass, length,
    count …: pint is asked once per pair of units, not once per row), ``None`` when it has an
    offset (temperatures: converted value by value)."""
    if convert(0.0, given, unit) != 0.0:
        return None
    return convert(1.0, given, unit)


def row_unit(m: Mapping, v: ValueMap, row: dict[str, str | None]) -> str | None:
    """The unit code of a value in this row: its ``unit_column`` through the ``[units]``
    table (checked readable), or ``None`` when the map has no unit column."""
    if v.unit_column is None:
        return None
    raw = row.get(v.unit_column)
    if raw is None:
        raise _Bad("required", v.unit_column, None, f"column {v.unit_column} (a unit) is empty")
    code = m.units.get(raw, raw)
    try:
        parse_unit(code)
    except UnitError as e:
        raise _Bad("unit", v.unit_column, raw, f"{e} (add it to [units])") from None
    return code


def _node(m: Mapping, r: RecordMap, row: dict[str, str | None], bad: list[_Bad]
          ) -> dict[str, Any]:
    """The record of one row; every problem goes to ``bad`` (all of them, not the first)."""
    def get(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except _Bad as b:
            bad.append(b)
            return None

    key = get(_render, r.key, row)
    props = {p: v for p, v in ((p, get(_value, m, vm, row)) for p, vm in r.properties.items())
             if v is not None}
    links = {k: [x for t in ts if not _empty(t, row) and (x := get(_render, t, row))]
             for k, ts in r.links.items()}
    return {"class": r.cls, "key": key, "properties": props,
            "links": {k: v for k, v in links.items() if v}}


def build_events(m: Mapping, stage: str, file: str,
                 rows: Iterable[tuple[int, dict[str, str | None]]],
                 out: RowEvents | None = None) -> RowEvents:
    """One capture event per row (``migrate/<stage>/<file>:<row>``); a row with a problem
    yields a :class:`Finding` per problem and no event."""
    out = out or RowEvents()
    for n, row in rows:
        out.rows += 1
        eid = event_id(stage, file, n)
        nodes: list[dict[str, Any]] = []
        specs: list[int] = []
        derivations: list[dict[str, Any]] = []
        bad: list[Finding] = []
        for i, r in enumerate(m.records):
            if not when(r.when, row):
                continue
            problems: list[_Bad] = []
            nodes.append(_node(m, r, row, problems))
            specs.append(i)
            bad.extend(Finding(b.finding[0], b.finding[3], file, n, b.finding[1],
                               b.finding[2], field=f"records.{i} ({r.cls})") for b in problems)
        for i, d in enumerate(m.derivations):
            if not when(d.when, row):
                continue
            try:
                ev: dict[str, Any] = {"kind": d.kind, "output": _render(d.output, row),
                                      "input": _render(d.input, row)}
                if d.quantity is not None:
                    q = _value(m, d.quantity, row)
                    if q is not None:
                        ev["quantity"] = q
                        unit = d.unit or d.quantity.unit or row_unit(m, d.quantity, row)
                        if unit is not None:
                            ev["unit"] = unit
                if d.time is not None:
                    t = _value(m, d.time, row)
                    if t is not None:
                        ev["time"] = t
                derivations.append(ev)
            except _Bad as b:
                bad.append(Finding(b.finding[0], b.finding[3], file, n, b.finding[1],
                                   b.finding[2], field=f"derivations.{i} ({d.kind})"))
        if bad:
            out.findings.extend(bad)
            continue
        out.events.append({"eventId": eid, "nodes": nodes, "derivations": derivations})
        out.origin[eid] = (file, n)
        out.specs[eid] = specs
    return out


def find_column(m: Mapping, spec: int | None, cls: str | None, prop: str) -> str | None:
    """The source column the mapping reads ``prop`` of a record from (the record map ``spec``,
    else the first map of class ``cls``), or of a derivation's quantity/time."""
    maps = [m.records[spec]] if spec is not None and spec < len(m.records) else \
        [r for r in m.records if r.cls == cls]
    for r in maps:
        v = r.properties.get(prop)
        if v is not None and v.columns:
            return v.columns[0]
        for t in r.links.get(prop, []):
            cols = columns_of(t)
            if cols:
                return cols[0]
        if prop in ("key", r.key) or prop == "class":
            cols = columns_of(r.key)
            return cols[0] if cols else None
    for d in m.derivations:
        v2 = {"quantity": d.quantity, "time": d.time}.get(prop)
        if v2 is not None and v2.columns:
            return v2.columns[0]
        if prop in ("wasDerivedFrom", "input", "consumedEntity"):
            cols = columns_of(d.input)
            return cols[0] if cols else None
        if prop in ("output", "intoBatch"):
            cols = columns_of(d.output)
            return cols[0] if cols else None
    return None
