"""The mapping file of a legacy-data migration (TOML or YAML) and its check against the ontology
(``tracegraph migrate plan``).

A mapping says how each row of a legacy export (ERP, MES, QMS: CSV, XLSX or JSON) becomes
records of the tracegraph ontology::

    [source]                      # which file and how to read it (all optional)
    format = "csv"                # csv | xlsx | json (default: from the file's extension)
    sheet = "Batches"             # xlsx: the sheet (default: the first)
    records = "rows"              # json: the key holding the list of rows (default: the top list)

    [[records]]                   # one record per row (skipped when a `when` column is empty)
    class = "Batch"
    key = "{BATCH_NO}"            # templates name columns in braces
    properties.lotNumber = "{BATCH_NO}"
    properties.batchStatus = { column = "STATUS", codes = "batch_status" }
    properties.quantity = { column = "QTY", unit_column = "UOM", unit = "{pc}" }
    properties.unitCode = { value = "{pc}" }   # a constant (braces and all)
    links.ofProduct = "Product/{ITEM}"

    [[derivations]]               # genealogy edges (consumption, aggregation …)
    kind = "consumption"
    output = "Batch/{BATCH_NO}"
    input = "MaterialLot/{COMPONENT_LOT}"
    quantity = { column = "QTY", unit_column = "UOM", unit = "kg" }
    time = "{DATE}"
    when = "COMPONENT_LOT"        # only rows where it is not empty ("COL == value" also)

    [codes.batch_status]          # legacy code → the ontology's code (checked at plan)
    REL = "Released"

    [units]                       # legacy unit spelling → UCUM / UN/CEFACT code (ontology.units)
    EA = "{pc}"

A property value is a template string, a constant ``{value}``, or ``{column, codes,
unit_column, unit}``:
``codes`` maps the legacy value through a ``[codes]`` table, ``unit_column``/``unit`` convert the
number from the row's unit into ``unit`` (pint, :mod:`ontology.units`). Everything a mapping names
— classes, properties, links, code values, units — is checked against the ontology by
:func:`plan_problems` before a single row is read.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.authority import MIGRATED, MIGRATION_STAGE
from graph.errors import Problem
from graph.schema import NODE_SYSTEM_PROPS
from ontology.units import UnitError, parse_unit
from ontology.vocab import UnknownTermError, Vocabulary

__all__ = ["DerivationMap", "Mapping", "MappingError", "RecordMap", "ValueMap", "columns_of",
           "load_mapping", "plan_problems"]

_FIELD = re.compile(r"\{([^{}]+)\}")
_NUMERIC = ("decimal", "double", "float", "integer", "int", "long")


class MappingError(ValueError):
    """A mapping file that cannot be read: ``problems`` names each defect."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


def columns_of(template: str) -> list[str]:
    """The columns a template names (``"Lot/{LOT}-{SUB}"`` → ``["LOT", "SUB"]``)."""
    return _FIELD.findall(template)


@dataclass(frozen=True)
class ValueMap:
    """How one value is read from a row."""

    template: str  # a template ("{COL}", "Product/{ITEM}") or, with ``constant``, a value
    codes: str | None = None  # name of a [codes] table
    unit_column: str | None = None
    unit: str | None = None  # convert numbers into this unit code
    constant: bool = False

    @property
    def columns(self) -> list[str]:
        return [] if self.constant else columns_of(self.template)

    @staticmethod
    def of(raw: Any, where: str, problems: list[Problem]) -> ValueMap:
        if isinstance(raw, str):
            return ValueMap(raw)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return ValueMap(str(raw))
        if isinstance(raw, dict) and set(raw) == {"value"}:
            return ValueMap(str(raw["value"]), constant=True)
        if isinstance(raw, dict) and isinstance(raw.get("column"), str):
            unknown = set(raw) - {"column", "codes", "unit_column", "unit"}
            if unknown:
                problems.append(Problem(rule="mapping-schema", field=where,
                                        value=sorted(unknown), message="unknown keys"))
            return ValueMap("{" + raw["column"] + "}", raw.get("codes"), raw.get("unit_column"),
                            raw.get("unit"))
        problems.append(Problem(rule="mapping-schema", field=where, value=raw,
                                message="a value is a template string or a table with `column`"))
        return ValueMap("")


@dataclass(frozen=True)
class RecordMap:
    cls: str
    key: str
    properties: dict[str, ValueMap] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    when: str | list[str] | None = None


@dataclass(frozen=True)
class DerivationMap:
    kind: str
    output: str
    input: str
    quantity: ValueMap | None = None
    unit: str | None = None  # the unit code recorded on the edge (default: quantity's unit)
    time: ValueMap | None = None
    when: str | list[str] | None = None


@dataclass
class Mapping:
    path: Path
    text: str  # the file as read (its checksum goes into the report)
    fmt: str | None = None
    sheet: str | None = None
    records_key: str | None = None
    records: list[RecordMap] = field(default_factory=list)
    derivations: list[DerivationMap] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def columns(self) -> set[str]:
        """Every source column the mapping reads."""
        out: set[str] = set()
        for r in self.records:
            out.update(columns_of(r.key))
            out.update(*(v.columns for v in r.properties.values()))
            out.update(v.unit_column for v in r.properties.values() if v.unit_column)
            out.update(*(columns_of(t) for ts in r.links.values() for t in ts))
            out.update(_when_columns(r.when))
        for d in self.derivations:
            out.update(columns_of(d.output), columns_of(d.input))
            for v in (d.quantity, d.time):
                if v is not None:
                    out.update(v.columns)
                    out.update([v.unit_column] if v.unit_column else [])
            out.update(_when_columns(d.when))
        return out


def _when_columns(cond: str | list[str] | None) -> list[str]:
    out: list[str] = []
    for c in [] if cond is None else [cond] if isinstance(cond, str) else cond:
        for op in ("==", "!="):
            c = c.partition(op)[0]
        out.append(c.strip())
    return out


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]  # pyyaml ships no type information

        data = yaml.safe_load(text)
    else:
        data = tomllib.loads(text)
    if not isinstance(data, dict):
        raise MappingError([Problem(rule="mapping-schema", field=str(path), value=None,
                                    message="a mapping is a table (TOML) or a mapping (YAML)")])
    return text, data


def load_mapping(path: Path) -> Mapping:
    """Read a mapping file; :class:`MappingError` when its structure is wrong (its terms are
    checked by :func:`plan_problems`)."""
    try:
        text, data = _read(path)
    except (tomllib.TOMLDecodeError, ValueError) as e:
        if isinstance(e, MappingError):
            raise
        raise MappingError([Problem(rule="mapping-syntax", field=str(path), value=None,
                                    message=str(e))]) from None
    problems: list[Problem] = []
    src = data.get("source") or {}
    m = Mapping(path, text, src.get("format"), src.get("sheet"), src.get("records"),
                codes={str(k): {str(a): str(b) for a, b in v.items()}
                       for k, v in (data.get("codes") or {}).items()},
                units={str(k): str(v) for k, v in (data.get("units") or {}).items()})
    for i, r in enumerate(data.get("records") or []):
        where = f"records.{i}"
        if not isinstance(r.get("class"), str) or not isinstance(r.get("key"), str):
            problems.append(Problem(rule="mapping-schema", field=where, value=r,
                                    message="a record needs `class` and `key`"))
            continue
        props = {str(k): ValueMap.of(v, f"{where}.properties.{k}", problems)
                 for k, v in (r.get("properties") or {}).items()}
        links = {str(k): [v] if isinstance(v, str) else [str(x) for x in v]
                 for k, v in (r.get("links") or {}).items()}
        m.records.append(RecordMap(r["class"], r["key"], props, links, r.get("when")))
    for i, d in enumerate(data.get("derivations") or []):
        where = f"derivations.{i}"
        if not all(isinstance(d.get(k), str) for k in ("kind", "output", "input")):
            problems.append(Problem(rule="mapping-schema", field=where, value=d,
                                    message="a derivation needs `kind`, `output` and `input`"))
            continue
        qty = ValueMap.of(d["quantity"], f"{where}.quantity", problems) \
            if "quantity" in d else None
        at = ValueMap.of(d["time"], f"{where}.time", problems) if "time" in d else None
        m.derivations.append(DerivationMap(d["kind"], d["output"], d["input"], qty,
                                           d.get("unit"), at, d.get("when")))
    if not m.records and not m.derivations:
        problems.append(Problem(rule="mapping-schema", field="records", value=None,
                                message="the mapping writes nothing: give [[records]] or "
                                        "[[derivations]]"))
    if problems:
        raise MappingError(problems)
    return m


def _ref_class(template: str) -> str | None:
    cls, sep, _ = template.partition("/")
    return cls if sep and "{" not in cls else None


def plan_problems(m: Mapping, vocab: Vocabulary, columns: set[str] | None = None
                  ) -> list[Problem]:
    """Everything the mapping names that the ontology does not know or forbids: an unknown or
    abstract class, a property or link the class does not have, one the Writer keeps for itself
    or its workflows (system-managed), a code value outside the property's code list, an
    unreadable unit; with ``columns`` (the source's header) also every column it reads that
    the source lacks."""
    out: list[Problem] = []

    def bad(rule: str, where: str, value: Any, message: str) -> None:
        out.append(Problem(rule=rule, field=where, value=value, message=message))

    def unit_ok(code: str, where: str) -> None:
        try:
            parse_unit(code)
        except UnitError as e:
            bad("unit", where, code, str(e))

    for name, code in m.units.items():
        unit_ok(code, f"units.{name}")
    for i, r in enumerate(m.records):
        where = f"records.{i}"
        try:
            c = vocab.cls(r.cls)
        except UnknownTermError as e:
            bad("ontology-unknown-term", f"{where}.class", r.cls, str(e))
            continue
        if c.abstract or c.key_property is None:
            bad("ontology-abstract", f"{where}.class", r.cls, f"{r.cls} is abstract")
            continue
        if r.cls in vocab.system_managed:
            bad("system-managed-class", f"{where}.class", r.cls,
                f"{r.cls} records are written only by tracegraph's own workflows "
                "(accounts, signatures, audit); no migration may write them")
        for prop, v in r.properties.items():
            pw = f"{where}.properties.{prop}"
            p = c.data_properties.get(prop)
            if prop in (MIGRATED, MIGRATION_STAGE) or prop in vocab.system_managed_properties:
                bad("system-managed-property", pw, prop,
                    f"{prop} is written only by tracegraph itself (the Writer marks migrated "
                    "records and their stage); no mapping may set it")
            elif prop in NODE_SYSTEM_PROPS:
                bad("system-property", pw, prop, f"{prop} is kept by tracegraph itself")
            elif p is None:
                bad("ontology-domain" if prop in vocab.properties else "ontology-unknown-term",
                    pw, prop, f"{prop!r} is not a datatype property of {r.cls}")
            else:
                _value_problems(m, v, p.code_list, str(p.datatype), pw, bad, unit_ok)
        for link, targets in r.links.items():
            lw = f"{where}.links.{link}"
            lp = c.object_properties.get(link)
            if lp is None:
                bad("ontology-domain" if link in vocab.properties else "ontology-unknown-term",
                    lw, link, f"{link!r} is not a link of {r.cls}")
                continue
            for t in targets:
                _ref_problems(vocab, t, lp.range_class, lw, bad)
    kinds = vocab.prop("derivationKind").code_list or ()
    for i, d in enumerate(m.derivations):
        where = f"derivations.{i}"
        if d.kind not in kinds:
            bad("code-list:derivationKind", f"{where}.kind", d.kind,
                f"kind must be one of {', '.join(kinds)}")
        for end in ("output", "input"):
            _ref_problems(vocab, getattr(d, end), "TraceableEntity", f"{where}.{end}", bad)
        if d.quantity is not None:
            _value_problems(m, d.quantity, None, "decimal", f"{where}.quantity", bad, unit_ok)
        if d.unit is not None:
            unit_ok(d.unit, f"{where}.unit")
    if columns is not None:
        for col in sorted(m.columns() - columns):
            bad("source-column", col, col, f"the mapping reads column {col!r}, which the "
                f"source does not have (it has {', '.join(sorted(columns)) or 'no columns'})")
    return out


def _value_problems(m: Mapping, v: ValueMap, code_list: tuple[str, ...] | None, datatype: str,
                    where: str, bad: Any, unit_ok: Any) -> None:
    if v.codes is not None:
        table = m.codes.get(v.codes)
        if table is None:
            bad("mapping-codes", f"{where}.codes", v.codes, f"no [codes.{v.codes}] table")
        elif where.endswith(".unitCode"):
            for legacy, code in table.items():
                unit_ok(code, f"codes.{v.codes}.{legacy}")
        elif code_list is not None:
            for legacy, code in table.items():
                if code not in code_list:
                    bad("code-list", f"codes.{v.codes}.{legacy}", code,
                        f"{code!r} is not in the property's code list "
                        f"({', '.join(code_list)})")
    elif code_list is not None and not v.columns and v.template not in code_list:
        bad("code-list", where, v.template, f"{v.template!r} is not in the property's code "
            f"list ({', '.join(code_list)})")
    if v.unit is not None:
        unit_ok(v.unit, f"{where}.unit")
        if not datatype.endswith(_NUMERIC):
            bad("unit", f"{where}.unit", v.unit, "only numbers are converted between units")


def _ref_problems(vocab: Vocabulary, template: str, range_class: str | None, where: str,
                  bad: Any) -> None:
    cls = _ref_class(template)
    if cls is None:
        bad("reference", where, template, "a reference is 'Class/{column}'")
        return
    try:
        c = vocab.cls(cls)
    except UnknownTermError as e:
        bad("ontology-unknown-term", where, cls, str(e))
        return
    if range_class and not c.is_a(range_class):
        bad("ontology-range", where, cls, f"must point to a {range_class}, not a {cls}")
