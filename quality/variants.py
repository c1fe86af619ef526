"""Variant conditions of routing operations (``tg:variantCondition``) and the variants of
products, work orders and batches (``tg:variant``): a small grammar, parsed and evaluated here,
never by ``eval``.

Grammar (whitespace between tokens is free; ``and`` is a keyword, case-insensitive)::

    condition := clause ("and" clause)*
    clause    := NAME OP VALUE
    NAME      := a letter, then letters, digits, "_", "." or "-"      (e.g. length, gauge)
    OP        := "=" | "!=" | "<" | "<=" | ">" | ">="
    VALUE     := "quoted text" | one or more words, up to the next "and" or the end
                 (a word has no whitespace, quote, "<", ">", "=" or "!")

A variant (``tg:variant``) is a condition whose clauses all use ``=`` and name each attribute
once: ``length = 32 mm and gauge = 20G``.

A value is a *quantity* when it is a number, optionally followed by a unit code pint reads
(:func:`ontology.units.parse_unit`: ``32 mm``, ``0.8 mm``, ``20``); else it is *text*. A clause
holds for an attribute value when

- both are quantities of the same dimension (both without a unit, or with units one converts
  to the other): compared as numbers, the attribute converted to the condition's unit;
- both are text (whitespace collapsed, case-sensitive): ``=`` / ``!=`` compare them;
- otherwise (the attribute is absent, or a quantity and a text, or units that do not convert)
  the clause is **false** whatever the operator — a variant operation runs only for a batch that
  positively declares the variant it needs.

The ordering operators need a quantity: ``colour < blue`` is not a condition (a
:class:`VariantError`). A condition holds when every clause holds.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ontology.units import UnitError, parse_unit, registry

__all__ = ["Clause", "VariantError", "holds", "parse_condition", "parse_variant"]

_TOKEN = re.compile(r'\s*(?:(?P<quoted>"[^"]*")|(?P<op><=|>=|!=|=|<|>)|(?P<word>[^\s<>=!"]+))')
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}
_MAX = 200


class VariantError(ValueError):
    """A condition or variant that does not follow the grammar, and why."""


@dataclass(frozen=True)
class Clause:
    name: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value}"


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise VariantError(f"unexpected {text[pos:].strip()[:20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_condition(text: object) -> list[Clause]:
    """The clauses of a variant condition; :class:`VariantError` if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise VariantError("a condition is non-empty text such as 'length = 32 mm'")
    if len(text) > _MAX:
        raise VariantError(f"longer than {_MAX} characters")
    toks = _tokens(text)
    clauses: list[Clause] = []
    i = 0
    while True:
        if i >= len(toks) or toks[i][0] != "word" or not _NAME.match(toks[i][1]):
            got = toks[i][1] if i < len(toks) else "the end"
            raise VariantError(f"expected an attribute name (e.g. length), found {got!r}")
        name = toks[i][1]
        if i + 1 >= len(toks) or toks[i + 1][0] != "op":
            got = toks[i + 1][1] if i + 1 < len(toks) else "the end"
            raise VariantError(f"expected one of {' '.join(_OPS)} after {name!r}, found "
                               f"{got!r}")
        op = toks[i + 1][1]
        i += 2
        if i < len(toks) and toks[i][0] == "quoted":
            value = toks[i][1][1:-1]
            i += 1
        else:
            words: list[str] = []
            while i < len(toks) and toks[i][0] == "word" and toks[i][1].lower() != "and":
                words.append(toks[i][1])
                i += 1
            value = " ".join(words)
            if not words:
                raise VariantError(f"no value after {name} {op}")
        if op not in ("=", "!=") and _quantity(value) is None:
            raise VariantError(f"{op} compares quantities (a number with an optional unit), "
                               f"not {value!r}")
        clauses.append(Clause(name, op, value))
        if i == len(toks):
            return clauses
        if toks[i][0] != "word" or toks[i][1].lower() != "and":
            raise VariantError(f"expected 'and' or the end after {clauses[-1]}, found "
                               f"{toks[i][1]!r}")
        i += 1


def parse_variant(text: object) -> dict[str, str]:
    """The attributes a variant assigns; :class:`VariantError` if it is not a variant."""
    clauses = parse_condition(text)
    out: dict[str, str] = {}
    for c in clauses:
        if c.op != "=":
            raise VariantError(f"a variant assigns attributes with '=', not {c}")
        if c.name in out:
            raise VariantError(f"{c.name} is assigned twice")
        out[c.name] = c.value
    return out


def _quantity(text: str) -> tuple[float, str | None] | None:
    """(number, unit code or None) when ``text`` is a quantity, else None."""
    m = _NUMBER.match(text)
    if m is None:
        return None
    unit = text[m.end():].strip() or None
    if unit is not None:
        try:
            parse_unit(unit)
        except UnitError:
            return None
    return float(m.group(0)), unit


def _clause_holds(c: Clause, actual: str | None) -> bool:
    if actual is None:
        return False
    want, have = _quantity(c.value), _quantity(actual)
    if want is not None and have is not None:
        (w, wu), (h, hu) = want, have
        if (wu is None) != (hu is None):
            return False
        if wu is not None and hu is not None and wu != hu:
            try:
                h = float(registry().Quantity(h, parse_unit(hu)).to(parse_unit(wu)).magnitude)
            except Exception:  # pint's DimensionalityError and kin: not comparable
                return False
        return _OPS[c.op](h, w)
    if want is None and have is None and c.op in ("=", "!="):
        same = " ".join(actual.split()) == " ".join(c.value.split())
        return same if c.op == "=" else not same
    return False


def holds(condition: str, variant: Mapping[str, str]) -> bool:
    """Whether ``condition`` holds for the attributes ``variant``; :class:`VariantError` if the
    condition does not parse."""
    return all(_clause_holds(c, variant.get(c.name)) for c in parse_condition(condition))
