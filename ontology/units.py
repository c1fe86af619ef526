"""Unit codes (``tg:unitCode``) read as pint units, so limits and values can be compared and
converted. A code is a case-sensitive UCUM code (``kg``, ``mm``, ``Cel``, ``mJ/cm2``, ``m/min``,
``{pc}``) or one of the common UN/CEFACT Recommendation 20 codes EPCIS uses (``KGM``, ``H87``).

UCUM syntax is mapped onto pint's: exponents written after the unit (``cm2``, ``s-1``) become
``**``, ``.`` multiplies, a bracketed special unit (``[psi]``, ``[degF]``) or ``Cel`` takes its
pint name, and an annotation (``{pc}``, ``{cells}``) is dimensionless.

>>> str(parse_unit("mJ/cm2"))
'millijoule / centimeter ** 2'
>>> parse_unit("Cel") == parse_unit("CEL")
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import pint

__all__ = ["UnitError", "convert", "display_table", "display_unit", "parse_unit", "registry"]

#: UCUM special (bracketed or non-SI-named) units and their pint names
_UCUM: dict[str, str] = {
    "Cel": "degC", "[degF]": "degF", "[psi]": "psi", "[in_i]": "inch", "[ft_i]": "foot",
    "[lb_av]": "lb", "[oz_av]": "oz", "[ppm]": "ppm", "[ppb]": "ppb", "%": "percent",
    "[mi_i]": "mile", "[gal_us]": "gallon", "mo": "month", "wk": "week", "d": "day",
    "a": "year", "Ohm": "ohm", "[iU]": "count",
}
#: common UN/CEFACT Recommendation 20 codes (EPCIS uom)
_REC20: dict[str, str] = {
    "KGM": "kg", "GRM": "g", "MGM": "mg", "TNE": "t", "MTR": "m", "CMT": "cm", "MMT": "mm",
    "MTK": "m**2", "MTQ": "m**3", "LTR": "L", "MLT": "mL", "CEL": "degC", "KEL": "K",
    "SEC": "s", "MIN": "minute", "HUR": "hour", "DAY": "day", "PAL": "Pa", "KPA": "kPa",
    "BAR": "bar", "NEU": "N", "P1": "percent", "H87": "count", "C62": "dimensionless",
    "EA": "count", "KWH": "kWh", "WTT": "W", "VLT": "V", "AMP": "A",
}
_ANNOTATION = re.compile(r"\{[^{}]*\}")
_SPECIAL = re.compile(r"\[[^\[\]]*\]|Cel|Ohm|%")
_EXPONENT = re.compile(r"(?<=[A-Za-z\]_])(-?[0-9]+)")


#: how people write the UCUM codes a record stores (display only: the stored code is the record)
_SHOWN: dict[str, str] = {
    "Cel": "°C", "[degF]": "°F", "{pc}": "pcs", "[psi]": "psi", "[in_i]": "in", "[ft_i]": "ft",
    "[lb_av]": "lb", "[oz_av]": "oz", "[ppm]": "ppm", "[ppb]": "ppb", "um": "µm", "ug": "µg",
    "uL": "µL", "Ohm": "Ω", "[iU]": "IU", "KGM": "kg", "GRM": "g", "MGM": "mg", "MTR": "m",
    "CMT": "cm", "MMT": "mm", "LTR": "L", "MLT": "mL", "CEL": "°C", "H87": "pcs", "EA": "pcs",
    "C62": "", "P1": "%", "KPA": "kPa", "PAL": "Pa", "SEC": "s", "MIN": "min", "HUR": "h",
}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def display_unit(code: str) -> str:
    """A unit code as people write it on a record or a chart.

    >>> [display_unit(c) for c in ("Cel", "{pc}", "kg", "mJ/cm2", "s-1", "m/min", "{cells}")]
    ['°C', 'pcs', 'kg', 'mJ/cm²', 's⁻¹', 'm/min', 'cells']
    """
    if code in _SHOWN:
        return _SHOWN[code]
    parts = re.split(r"([./])", code)
    out = []
    for part in parts:
        if part in _SHOWN:
            out.append(_SHOWN[part])
        elif part == ".":
            out.append("·")
        elif part.startswith("{") and part.endswith("}"):
            out.append(part[1:-1])
        else:
            out.append(_EXPONENT.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), part))
    return "".join(out)


def display_table(codes: Iterable[str] = ()) -> dict[str, str]:
    """The unit codes and how people write them, for a client that shows units (the explorer):
    every code of the fixed table, plus ``codes`` (e.g. the plant's spec units) composed by
    :func:`display_unit` — so no client keeps a second copy of the table or of its rules."""
    table = dict(_SHOWN)
    for code in codes:
        table[code] = display_unit(code)
    return table


class UnitError(ValueError):
    """A unit code pint cannot read, with the code and why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"unit code {code!r} is not a UCUM or UN/CEFACT unit: {detail}")
        self.code = code
        self.detail = detail


@cache
def registry() -> pint.UnitRegistry:  # type: ignore[type-arg]  # pint's UnitRegistry is generic over the magnitude type; this one serves all
    return pint.UnitRegistry()


def _to_pint(code: str) -> str:
    if code in _REC20:
        return _REC20[code]
    text = _ANNOTATION.sub("1", code)  # {pc}, kg{wet}: annotations carry no dimension
    for special in sorted(set(_SPECIAL.findall(text)), key=len, reverse=True):
        if special not in _UCUM:
            raise UnitError(code, f"{special} is not a known UCUM special unit")
        text = text.replace(special, f"({_UCUM[special]})")
    parts = re.split(r"([./()])", text)
    words = {"a", "d", "mo", "wk"}
    out = []
    for part in parts:
        if part in words:  # whole-token UCUM names pint reads differently
            out.append(_UCUM[part])
        elif part == ".":
            out.append("*")
        else:
            out.append(_EXPONENT.sub(r"**\1", part) if not part.isdigit() else part)
    return "".join(out)


@cache
def parse_unit(code: str) -> pint.Unit:
    """The pint unit of a UCUM or UN/CEFACT unit code; :class:`UnitError` if unreadable."""
    if not code or code != code.strip():
        raise UnitError(code, "empty or padded with spaces")
    expr = _to_pint(code)
    try:
        unit = registry().parse_units(expr)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError,
            TypeError, ValueError, SyntaxError, AssertionError) as exc:
        raise UnitError(code, f"pint reads it as {expr!r}: {exc}") from None
    return unit


def convert(value: float, given: str, unit: str) -> float:
    """``value`` in unit code ``given`` expressed in unit code ``unit``: :class:`UnitError` when
    a code is unreadable, ValueError when the two measure different things."""
    if given == unit:
        return value
    quantity = registry().Quantity(value, parse_unit(given))
    try:
        return float(quantity.to(parse_unit(unit)).magnitude)
    except pint.errors.DimensionalityError as exc:
        raise ValueError(f"{value} {given} cannot be expressed in {unit}: {exc}") from None
