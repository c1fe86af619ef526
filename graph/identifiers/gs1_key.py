"""The validated GS1 key (:class:`GS1Key`), its error (:class:`GS1Error`) and the validation
of single AI values (biip does the work; the tables are in :mod:`graph.identifiers.gs1_tables`).
Part of the GS1 identifier parser, whose entry point is :mod:`graph.identifiers.gs1`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import get_args

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString

from graph.identifiers.gs1_tables import (
    AI_BY_FIELD,
    ASCII_DIGITS,
    CHECK_DIGIT_SPANS,
    DATE_COMPONENTS,
    DATE_FIELDS,
    FIELD_BY_AI,
    GS,
    ISO_DATE,
    KEY_NAMES,
    PRIMARY_KEY_AIS,
    REQUIRED_ASSOCIATIONS,
    SourceFormat,
)

__all__ = ["GS1Error", "GS1Key", "format_rule", "key_from_pairs", "validate_pair"]


class GS1Error(ValueError):
    """An identifier, or one part of it, breaks a GS1 rule.

    Parameters
    ----------
    value
        The offending value (the whole input, or the part that failed).
    field
        Which AI (``"01"``, ``"17"``, …) or which part (``"input"``, ``"epc company prefix"``,
        ``"digital-link"``, …) the value belongs to.
    rule
        The rule broken, e.g. ``"GTIN check digit"``, ``"AI 17 date"``, ``"unknown AI"``.
    detail
        A human explanation, e.g. the expected check digit.

    Examples
    --------
    >>> from graph.identifiers.gs1 import parse_identifier
    >>> try:
    ...     parse_identifier("09506000134353")
    ... except GS1Error as exc:
    ...     print(exc.field, exc.rule, exc.value)
    ...     print(exc)
    01 GTIN check digit 09506000134353
    GTIN check digit broken by (01) '09506000134353': expected check digit 2, got 3
    """

    def __init__(self, value: str, field: str, rule: str, detail: str = "") -> None:
        self.value = value
        self.field = field
        self.rule = rule
        self.detail = detail
        where = f"({field})" if field.isdigit() else field
        message = f"{rule} broken by {where} {value!r}"
        super().__init__(f"{message}: {detail}" if detail else message)

    def __reduce__(self) -> tuple[type[GS1Error], tuple[str, str, str, str]]:
        return (type(self), (self.value, self.field, self.rule, self.detail))


@dataclass(frozen=True, kw_only=True)
class GS1Key:
    """A validated GS1 identifier with its common attributes, in one normal form.

    Construction validates every field (formats and check digits through biip, dates, the
    syntax dictionary's mandatory associations, and that a primary key is present), so a
    ``GS1Key`` is always complete and consistent. Keys compare equal when they carry the same
    data, whatever ``source_format`` they were read from.

    Parameters
    ----------
    gtin
        GTIN-14 (AI 01), always 14 digits; shorter GTINs are left-padded with zeros.
    lot
        Batch/lot number (AI 10).
    serial
        Serial number (AI 21).
    sscc
        Serial Shipping Container Code (AI 00), 18 digits.
    expiry
        Expiry date (AI 17) as ISO ``YYYY-MM-DD``; day ``00`` is read as the month's last day.
    production_date
        Production date (AI 11) as ISO ``YYYY-MM-DD``.
    gln
        Physical location GLN (AI 414), 13 digits.
    giai
        Global Individual Asset Identifier (AI 8004).
    other
        Every other AI as ``(ai, value)`` pairs with raw GS1 values, sorted by AI.
    source_format
        The form the key was read from; not part of equality.

    Examples
    --------
    >>> GS1Key(gtin="09506000134352", lot="L1", source_format="gtin").lot
    'L1'
    >>> GS1Key(lot="L1", source_format="element-string")
    Traceback (most recent call last):
    ...
    graph.identifiers.gs1_key.GS1Error: primary key broken by key 'L1': a GS1 key needs one of ...
    """

    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    sscc: str | None = None
    expiry: str | None = None
    production_date: str | None = None
    gln: str | None = None
    giai: str | None = None
    other: tuple[tuple[str, str], ...] = ()
    source_format: SourceFormat = field(compare=False)

    def __post_init__(self) -> None:
        if self.source_format not in get_args(SourceFormat):
            raise GS1Error(str(self.source_format), "source_format", "source format",
                           f"expected one of {', '.join(get_args(SourceFormat))}")
        other = tuple(sorted((ai, value) for ai, value in self.other))
        object.__setattr__(self, "other", other)
        present: dict[str, str] = {}
        for ai, value in other:
            if ai in FIELD_BY_AI:
                raise GS1Error(value, ai, "modelled AI in other",
                               f"({ai}) belongs in GS1Key.{FIELD_BY_AI[ai]}")
            if ai in present:
                raise GS1Error(value, ai, "duplicate AI",
                               f"({ai}) given twice: {present[ai]!r} and {value!r}")
            validate_pair(ai, value)
            present[ai] = value
        for name, ai in AI_BY_FIELD.items():
            value = getattr(self, name)
            if value is None:
                continue
            if name in DATE_FIELDS:
                _check_iso_date(value, ai)
            else:
                validate_pair(ai, value)
            present[ai] = value
        if not present.keys() & PRIMARY_KEY_AIS:
            shown = next(iter(present.values()), "")
            raise GS1Error(shown, "key", "primary key",
                           "a GS1 key needs one of "
                           + ", ".join(f"({ai})" for ai in sorted(PRIMARY_KEY_AIS)))
        for ai, needs in REQUIRED_ASSOCIATIONS.items():
            if ai in present and not present.keys() & set(needs):
                raise GS1Error(present[ai], ai, f"AI {ai} association",
                               f"({ai}) requires one of " + ", ".join(f"({n})" for n in needs))


# --- validation of single AI values (biip does the work) ----------------------------------------


def format_rule(ai: str) -> str:
    return f"AI {ai} date" if ai in DATE_COMPONENTS else f"AI {ai} format"


def _known_ai(ai: str) -> bool:
    try:
        return GS1ApplicationIdentifier.extract(ai).ai == ai
    except ParseError:
        return False


def validate_pair(ai: str, value: str) -> GS1ElementString:
    """Validate one AI value with biip and the check-digit table; return biip's element."""
    if not _known_ai(ai):
        raise GS1Error(value, ai, "unknown AI",
                       f"({ai}) is not in the GS1 Application Identifier table")
    if not value or not value.isascii() or GS in value:
        raise GS1Error(value, ai, format_rule(ai),
                       "value must be non-empty ASCII of the AI's character set")
    checked = value
    if ai == "7007" and ASCII_DIGITS.fullmatch(value) and len(value) == 12:
        # biip 5.2 rejects the optional second date of a harvest range; _check_dates covers it
        checked = value[:6]
    try:
        element = GS1ElementString.parse(ai + checked)
    except ParseError as exc:
        raise GS1Error(value, ai, format_rule(ai), str(exc)) from None
    _check_dates(ai, value)
    span = CHECK_DIGIT_SPANS.get(ai)
    if span is not None:
        digits = value[span[0]:span[1]]
        expected = gs1_standard_check_digit(digits[:-1])
        if digits[-1] != str(expected):
            raise GS1Error(value, ai, f"{KEY_NAMES[ai]} check digit",
                           f"expected check digit {expected}, got {digits[-1]}")
    for problem, kind in ((element.gtin_error, "GTIN"), (element.sscc_error, "SSCC"),
                          (element.gln_error, "GLN")):
        if problem:  # anything biip finds beyond the check digit
            raise GS1Error(value, ai, f"{kind} format", problem)
    return element


def _check_dates(ai: str, value: str) -> None:
    """Apply the dictionary's date linters; biip accepts day 00 and YYYYMMDD unchecked."""
    for offset, linter in DATE_COMPONENTS.get(ai, ()):
        part = value[offset:offset + len(linter)]  # each linter's name is as long as its field
        if len(part) < len(linter):
            continue  # an optional component that is absent
        try:
            if linter == "yyyymmdd":
                dt.date(int(part[:4]), int(part[4:6]), int(part[6:]))
            elif linter == "yymmdd" and part.endswith("00"):
                raise ValueError("day 00 is not allowed here")
            else:
                GS1ElementString.parse("17" + part)  # biip's YYMMDD rules and century window
        except (ValueError, ParseError):
            raise GS1Error(value, ai, f"AI {ai} date",
                           f"{part!r} is not a valid {linter.upper()} date") from None


def _check_iso_date(value: str, ai: str) -> None:
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError("not YYYY-MM-DD")
        dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise GS1Error(str(value), ai, f"AI {ai} date",
                       f"expected an ISO date YYYY-MM-DD ({exc})") from None


def key_from_pairs(pairs: list[tuple[str, str]], source_format: SourceFormat) -> GS1Key:
    seen: dict[str, str] = {}
    fields: dict[str, str] = {}
    other: list[tuple[str, str]] = []
    for ai, value in pairs:
        if ai in seen:
            if seen[ai] != value:
                raise GS1Error(value, ai, "duplicate AI",
                               f"({ai}) appears twice with {seen[ai]!r} and {value!r}")
            continue
        seen[ai] = value
        element = validate_pair(ai, value)
        name = FIELD_BY_AI.get(ai)
        if name is None:
            other.append((ai, value))
        elif name in DATE_FIELDS:
            assert element.date is not None  # biip decodes every valid YYMMDD
            fields[name] = element.date.isoformat()
        else:
            fields[name] = value
    return GS1Key(
        gtin=fields.get("gtin"), lot=fields.get("lot"), serial=fields.get("serial"),
        sscc=fields.get("sscc"), expiry=fields.get("expiry"),
        production_date=fields.get("production_date"), gln=fields.get("gln"),
        giai=fields.get("giai"), other=tuple(other), source_format=source_format,
    )

