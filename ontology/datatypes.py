"""Typed values: turning input into the one stored form of each XSD range, and the clock.

Both engines store the same scalars: ``str``, ``bool``, ``int``, ``float``, and timestamps as
fixed-width UTC strings (``2026-01-05T08:00:00.000000Z``) that compare correctly as text in SQLite
and in Neo4j alike.

>>> to_utc_text("2026-01-05T09:00:00+01:00")
'2026-01-05T08:00:00.000000Z'

The time helpers every layer shares live here, at the bottom: :data:`Clock` and its default
:func:`utc_now` (a :class:`graph.session.Session` carries one), and :func:`ms_to_text`, the
stored text of a signal's epoch milliseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from rdflib import XSD, URIRef

Scalar = str | bool | int | float
StoredValue = Scalar | list[Scalar]

__all__ = ["Clock", "Scalar", "StoredValue", "TypeRuleError", "coerce", "ms_to_text",
           "now_utc_text", "to_utc_text", "utc_now"]

#: A source of the current time (timezone-aware); tests pass one they move by hand.
Clock = Callable[[], datetime]


class TypeRuleError(ValueError):
    """A value that cannot be read as the datatype its property declares."""

    def __init__(self, value: object, rule: str) -> None:
        super().__init__(f"{value!r} is not {rule}")
        self.value = value
        self.rule = rule


_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,6}))?Z")


def to_utc_text(value: object) -> str:
    """Normalise an aware timestamp (``datetime`` or ISO-8601 text) to stored UTC text."""
    if isinstance(value, str):
        m = _UTC_TEXT.fullmatch(value)
        if m is not None:  # already UTC: check the date and time, pad the fraction
            try:
                datetime.fromisoformat(value[:19])
            except ValueError:
                raise TypeRuleError(value, "an ISO-8601 xsd:dateTime") from None
            return f"{value[:19]}.{(m.group(1) or '').ljust(6, '0')}Z"
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise TypeRuleError(value, "an ISO-8601 xsd:dateTime") from None
    else:
        raise TypeRuleError(value, "an ISO-8601 xsd:dateTime")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise TypeRuleError(value, "an xsd:dateTime with a timezone (e.g. Z or +01:00)")
    return _fmt(dt.astimezone(UTC))


def _fmt(dt: datetime) -> str:
    # fixed width even for years < 1000, where strftime("%Y") does not pad
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}.{dt.microsecond:06d}Z")


def now_utc_text() -> str:
    return _fmt(datetime.now(UTC))


def utc_now() -> datetime:
    """The default clock: now, timezone-aware UTC."""
    return datetime.now(UTC)


def ms_to_text(ms: int) -> str:
    """UTC text as the store keeps it (``…T…Z``, millisecond precision).

    >>> ms_to_text(1767600000123)
    '2026-01-05T08:00:00.123000Z'
    """
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}000Z"


def _number(value: object, rule: str) -> float:
    if isinstance(value, bool):
        raise TypeRuleError(value, rule)
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(Decimal(value.strip()))
        except (InvalidOperation, ValueError):
            raise TypeRuleError(value, rule) from None
    else:
        raise TypeRuleError(value, rule)
    if not math.isfinite(out):
        raise TypeRuleError(value, f"{rule} (finite)")
    return out


def _string(value: object) -> Scalar:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeRuleError(value, "an xsd:string")


def _boolean(value: object) -> Scalar:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise TypeRuleError(value, "an xsd:boolean (true or false)")


def _integer(value: object) -> Scalar:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeRuleError(value, "an xsd:integer")


def _date(value: object) -> Scalar:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise TypeRuleError(value, "an xsd:date (YYYY-MM-DD)")


_COERCERS: dict[URIRef | None, Callable[[object], Scalar]] = {
    None: _string, XSD.string: _string, XSD.anyURI: _string, XSD.boolean: _boolean,
    XSD.integer: _integer, XSD.decimal: lambda v: _number(v, "an xsd:decimal"),
    XSD.double: lambda v: _number(v, "an xsd:double"), XSD.dateTime: to_utc_text,
    XSD.date: _date,
}


def coerce(datatype: URIRef | None, value: object) -> Scalar:
    """Read ``value`` as the stored scalar of an XSD datatype, or raise :class:`TypeRuleError`.

    >>> coerce(XSD.decimal, "12.50")
    12.5
    >>> coerce(XSD.boolean, "yes")
    Traceback (most recent call last):
    ...
    ontology.datatypes.TypeRuleError: 'yes' is not an xsd:boolean (true or false)
    """
    fn = _COERCERS.get(datatype)
    if fn is None:
        raise TypeRuleError(value, f"a value of {datatype}")
    return fn(value)
