r"""GS1 identifiers for lookups and labels.

One entry point, :func:`parse_identifier`, reads every form in which a GS1 key reaches the plant:
a raw barcode scan (FNC1 as ``\x1d``, optionally behind a symbology identifier such as ``]C1``,
``]d2`` or ``]Q3``), a human-readable element string ``(01)…(10)…(21)…``, a GS1 Digital Link URI
on any host, an EPC URN from EPCIS (SGTIN, LGTIN, SSCC, SGLN, GIAI; :func:`epc_urn_pairs` reads
every Tag Data Standard scheme, for the EPCIS event hash), a bare GTIN-8/12/13/14 or a
bare SSCC. It returns one normalised, fully validated :class:`GS1Key` or raises
:class:`GS1Error`; it never returns a half-parsed key.

Division of labour with `biip <https://pypi.org/project/biip/>`_ (pinned in ``pyproject.toml``):
biip supplies the Application Identifier table (all 541 AIs of the GS1 Barcode Syntax
Dictionary, with their formats and FNC1 rules), element-string extraction and format checks,
date decoding (``YYMMDD`` with the GS1 century window, day ``00`` as the last day of the month),
GTIN/SSCC/GLN parsing and check digits, symbology identifiers, and Digital Link parsing and
building. This module adds what biip lacks: EPC URN decoding and encoding (the partition rules of
the GS1 EPC Tag Data Standard), Digital Link convenience short names (``/gtin/…/lot/…``), the
``\(`` escape in human-readable strings, strict FNC1 termination of variable-length fields,
ASCII-only input, check digits of the other keys (GDTI, GCN, GSIN, GRAI, ITIP, GSRN), the
mandatory AI associations of the syntax dictionary for the modelled fields, and errors that
name the value, the AI or part, and the rule broken.

Examples
--------
>>> key = parse_identifier("]d2010950600013435217270301109876\x1d21SN-7")
>>> key.gtin, key.lot, key.serial, key.expiry
('09506000134352', '9876', 'SN-7', '2027-03-01')
>>> to_element_string(key)
'(01)09506000134352(10)9876(17)270301(21)SN-7'
>>> to_digital_link(key)
'https://id.gs1.org/01/09506000134352/10/9876/21/SN-7?17=270301'
>>> to_epc_urn(key, company_prefix_length=7)
'urn:epc:id:sgtin:9506000.013435.SN-7'
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Final, Literal, get_args
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from biip import EncodeError, ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc
from biip.symbology import GS1Symbology, SymbologyIdentifier

__all__ = [
    "CHECK_DIGIT_SPANS",
    "DATE_COMPONENTS",
    "DIGITAL_LINK_QUALIFIERS",
    "NON_DIGITAL_LINK_ATTRIBUTES",
    "PRIMARY_KEY_AIS",
    "REQUIRED_ASSOCIATIONS",
    "EpcScheme",
    "GS1Error",
    "GS1Key",
    "SourceFormat",
    "epc_urn_pairs",
    "is_gtin",
    "is_sscc",
    "parse_identifier",
    "to_barcode_data",
    "to_digital_link",
    "to_element_string",
    "to_epc_urn",
]

SourceFormat = Literal["element-string", "digital-link", "epc-urn", "gtin", "sscc"]
"""How the identifier was written when it was read."""

EpcScheme = Literal["sgtin", "lgtin", "sscc", "sgln", "giai"]
"""EPC pure-identity (or class) schemes that :func:`to_epc_urn` can write."""

GS: Final = "\x1d"
"""ASCII group separator: how scanners transmit FNC1 between element strings."""

# Textual stand-ins for FNC1 seen in copied scans and label specifications. "{GS}" and "[GS]" use
# characters outside GS1 character set 82, and "<GS>" is the rendering used in GS1 documents.
_GS_TOKENS: Final = ("<GS>", "{GS}", "[GS]", "\u241d")

# --- facts of the GS1 Barcode Syntax Dictionary (tests check them against the dictionary) -----

PRIMARY_KEY_AIS: Final = frozenset({
    "00", "01", "253", "255", "401", "402", "414", "415", "417",
    "8003", "8004", "8006", "8010", "8013", "8017", "8018",
})
"""AIs that are GS1 Digital Link primary keys (``dlpkey``); a key needs at least one."""

DIGITAL_LINK_QUALIFIERS: Final[dict[str, tuple[str, ...]]] = {
    "01": ("22", "10", "21", "235"),
    "8006": ("22", "10", "21"),
    "8010": ("8011",),
    "414": ("254", "7040"),
    "415": ("8020",),
    "417": ("7040",),
    "8004": ("7040",),
    "8017": ("8019",),
    "8018": ("8019",),
}
"""Path qualifiers a Digital Link primary key accepts, in their required order."""

NON_DIGITAL_LINK_ATTRIBUTES: Final = frozenset({
    "03", "21", "22", "235", "254", "7040", "7041", "8011", "8014", "8019", "8020",
    "8040", "8041", "8042", "8043", "8200",
})
"""AIs that are not permitted as Digital Link query attributes (no ``?`` flag)."""

REQUIRED_ASSOCIATIONS: Final[dict[str, tuple[str, ...]]] = {
    "10": ("01", "02", "03", "8006", "8026"),
    "11": ("01", "02", "03", "8006", "8026"),
    "17": ("01", "02", "03", "255", "8006", "8026"),
    "21": ("01", "03", "8006"),
}
"""Mandatory associations (``req=``) of the modelled attribute AIs: one of these must be present."""

CHECK_DIGIT_SPANS: Final[dict[str, tuple[int, int]]] = {
    "00": (0, 18), "01": (0, 14), "02": (0, 14), "03": (0, 14),
    "253": (0, 13), "255": (0, 13), "402": (0, 17),
    "410": (0, 13), "411": (0, 13), "412": (0, 13), "413": (0, 13),
    "414": (0, 13), "415": (0, 13), "416": (0, 13), "417": (0, 13),
    "8003": (1, 14), "8006": (0, 14), "8017": (0, 18), "8018": (0, 18), "8026": (0, 14),
}
"""For each AI with a ``csum`` component: the slice of the value that ends in its check digit."""

DATE_COMPONENTS: Final[dict[str, tuple[tuple[int, str], ...]]] = {
    **{ai: ((0, "yymmd0"),) for ai in ("11", "12", "13", "15", "16", "17", "4324", "4325")},
    **{ai: ((0, "yymmdd"),) for ai in ("4326", "7003", "7006", "7011", "8008")},
    "7007": ((0, "yymmdd"), (6, "yymmdd")),
    "7250": ((0, "yyyymmdd"),),
    "7251": ((0, "yyyymmdd"),),
}
"""For each AI with date components: (offset, linter); ``yymmd0`` allows day ``00``."""

_KEY_NAMES: Final = {
    "00": "SSCC", "01": "GTIN", "02": "GTIN", "03": "GTIN", "253": "GDTI", "255": "GCN",
    "402": "GSIN", "8003": "GRAI", "8006": "ITIP", "8017": "GSRN", "8018": "GSRN", "8026": "ITIP",
    **{ai: "GLN" for ai in ("410", "411", "412", "413", "414", "415", "416", "417")},
}

_FIELD_BY_AI: Final = {
    "00": "sscc", "01": "gtin", "10": "lot", "11": "production_date", "17": "expiry",
    "21": "serial", "414": "gln", "8004": "giai",
}
_AI_BY_FIELD: Final = {name: ai for ai, name in _FIELD_BY_AI.items()}
_DATE_FIELDS: Final = ("production_date", "expiry")

# GS1 Digital Link 1.2 convenience short names for path keys and qualifiers.
_DL_SHORT_NAMES: Final = {
    "gtin": "01", "itip": "8006", "gmn": "8013", "cpid": "8010", "gln": "414", "party": "417",
    "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401",
    "gsin": "402", "grai": "8003", "giai": "8004", "cpv": "22", "lot": "10", "ser": "21",
    "cpsn": "8011", "glnx": "254", "refno": "8020", "srin": "8019",
}

# EPC Tag Data Standard: characters that must be %-escaped in the URN form of a GS1 AI value;
# the other characters of set 82 appear literally.
_EPC_ESCAPED: Final = frozenset('"%&/<>?')
_EPC_LITERAL = re.compile(r"(?:[A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})*")
_EPC_HEADER = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):", re.IGNORECASE)
_NO_DATE_CHECK: Final = ParseConfig(gs1_element_strings_verify_date=False)
_ASCII_DIGITS = re.compile(r"[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HRI = re.compile(r"(?:\([0-9]{2,4}\)(?:[^(\\]|\\\()+)+")
_HRI_PART = re.compile(r"\(([0-9]{2,4})\)((?:[^(\\]|\\\()+)")


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
    ingest.gs1.GS1Error: primary key broken by key 'L1': a GS1 key needs one of (00), (01), ...
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
            if ai in _FIELD_BY_AI:
                raise GS1Error(value, ai, "modelled AI in other",
                               f"({ai}) belongs in GS1Key.{_FIELD_BY_AI[ai]}")
            if ai in present:
                raise GS1Error(value, ai, "duplicate AI",
                               f"({ai}) given twice: {present[ai]!r} and {value!r}")
            _validate_pair(ai, value)
            present[ai] = value
        for name, ai in _AI_BY_FIELD.items():
            value = getattr(self, name)
            if value is None:
                continue
            if name in _DATE_FIELDS:
                _check_iso_date(value, ai)
            else:
                _validate_pair(ai, value)
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


def _format_rule(ai: str) -> str:
    return f"AI {ai} date" if ai in DATE_COMPONENTS else f"AI {ai} format"


def _known_ai(ai: str) -> bool:
    try:
        return GS1ApplicationIdentifier.extract(ai).ai == ai
    except ParseError:
        return False


def _validate_pair(ai: str, value: str) -> GS1ElementString:
    """Validate one AI value with biip and the check-digit table; return biip's element."""
    if not _known_ai(ai):
        raise GS1Error(value, ai, "unknown AI",
                       f"({ai}) is not in the GS1 Application Identifier table")
    if not value or not value.isascii() or GS in value:
        raise GS1Error(value, ai, _format_rule(ai),
                       "value must be non-empty ASCII of the AI's character set")
    checked = value
    if ai == "7007" and _ASCII_DIGITS.fullmatch(value) and len(value) == 12:
        # biip 5.2 rejects the optional second date of a harvest range; _check_dates covers it
        checked = value[:6]
    try:
        element = GS1ElementString.parse(ai + checked)
    except ParseError as exc:
        raise GS1Error(value, ai, _format_rule(ai), str(exc)) from None
    _check_dates(ai, value)
    span = CHECK_DIGIT_SPANS.get(ai)
    if span is not None:
        digits = value[span[0]:span[1]]
        expected = gs1_standard_check_digit(digits[:-1])
        if digits[-1] != str(expected):
            raise GS1Error(value, ai, f"{_KEY_NAMES[ai]} check digit",
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
        if not _ISO_DATE.fullmatch(value):
            raise ValueError("not YYYY-MM-DD")
        dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise GS1Error(str(value), ai, f"AI {ai} date",
                       f"expected an ISO date YYYY-MM-DD ({exc})") from None


def _key_from_pairs(pairs: list[tuple[str, str]], source_format: SourceFormat) -> GS1Key:
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
        element = _validate_pair(ai, value)
        name = _FIELD_BY_AI.get(ai)
        if name is None:
            other.append((ai, value))
        elif name in _DATE_FIELDS:
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


# --- parsing ------------------------------------------------------------------------------------


def parse_identifier(text: str) -> GS1Key:
    r"""Parse any written form of a GS1 identifier into a validated :class:`GS1Key`.

    Parameters
    ----------
    text
        A raw barcode string (FNC1 as ``\x1d`` or a textual ``<GS>``, optionally behind a
        symbology identifier like ``]C1``, ``]d2``, ``]Q3``), a human-readable element string
        ``(01)…(10)…`` (a literal ``(`` in data written ``\(``), a GS1 Digital Link URI (any
        host and path prefix, numeric AIs or convenience short names), an EPC URN (SGTIN,
        LGTIN, SSCC, SGLN, GIAI), a bare GTIN-8/12/13/14 or a bare SSCC.

    Returns
    -------
    GS1Key
        The key; GTINs are normalised to GTIN-14 and dates to ISO.

    Raises
    ------
    GS1Error
        If any part is invalid: unknown AI, bad format, bad date, wrong check digit,
        a duplicate AI with two values, a missing primary key or mandatory association.

    Examples
    --------
    >>> parse_identifier("(01)09506000134352(10)LOT1(21)SN1").serial
    'SN1'
    >>> parse_identifier("https://example.org/01/09506000134352/10/LOT1?17=270301").expiry
    '2027-03-01'
    >>> parse_identifier("urn:epc:id:sgtin:9506000.013435.SN1").gtin
    '09506000134352'
    >>> parse_identifier("urn:epc:id:sscc:9506000.0000000001").sscc
    '095060000000000015'
    >>> parse_identifier("9506000134352").gtin
    '09506000134352'
    >>> parse_identifier("(01)09506000134352(17)271301")
    Traceback (most recent call last):
    ...
    ingest.gs1.GS1Error: AI 17 date broken by (17) '271301': Failed to match ...
    """
    data = text
    for token in _GS_TOKENS:
        data = data.replace(token, GS)
    data = data.strip()  # also drops leading/trailing FNC1 (\x1d counts as whitespace)
    if not data:
        raise GS1Error(text, "input", "identifier syntax", "empty input")
    if not data.isascii():
        raise GS1Error(text, "input", "character set", "GS1 identifiers are ASCII")
    symbology: GS1Symbology | None = None
    if data.startswith("]"):
        try:
            identifier = SymbologyIdentifier.extract(data)
        except (ParseError, IndexError, ValueError) as exc:
            raise GS1Error(data[:3], "symbology identifier", "symbology identifier",
                           str(exc)) from None
        symbology = identifier.gs1_symbology
        data = data[len(identifier):].lstrip(GS)
        if not data:
            raise GS1Error(text, "input", "identifier syntax", "no data after the identifier")
    lowered = data.lower()
    if lowered.startswith("urn:epc:"):
        return _parse_epc_urn(data)
    if lowered.startswith(("http://", "https://")):
        return _parse_digital_link(data)
    if symbology in GS1Symbology.with_gtin():
        return _parse_bare_gtin(data)
    if symbology not in GS1Symbology.with_gs1_messages():
        if data.startswith("("):
            return _key_from_pairs(_split_hri(data), "element-string")
        if _ASCII_DIGITS.fullmatch(data) and len(data) in (8, 12, 13, 14):
            return _parse_bare_gtin(data)
        if _ASCII_DIGITS.fullmatch(data) and len(data) == 18:
            return _parse_bare_sscc(data)
    return _key_from_pairs(_split_raw(data), "element-string")


def _parse_bare_gtin(data: str) -> GS1Key:
    if not _ASCII_DIGITS.fullmatch(data) or len(data) not in (8, 12, 13, 14):
        raise GS1Error(data, "01", "GTIN length", "a GTIN has 8, 12, 13 or 14 digits")
    expected = gs1_standard_check_digit(data[:-1])
    if data[-1] != str(expected):
        raise GS1Error(data, "01", "GTIN check digit",
                       f"expected check digit {expected}, got {data[-1]}")
    try:
        gtin = Gtin.parse(data).as_gtin_14()
    except (ParseError, EncodeError) as exc:
        raise GS1Error(data, "01", "GTIN format", str(exc)) from None
    return _key_from_pairs([("01", gtin)], "gtin")


def _parse_bare_sscc(data: str) -> GS1Key:
    expected = gs1_standard_check_digit(data[:-1])
    if data[-1] != str(expected):
        raise GS1Error(data, "00", "SSCC check digit",
                       f"expected check digit {expected}, got {data[-1]}")
    try:
        sscc = Sscc.parse(data).value
    except ParseError as exc:
        raise GS1Error(data, "00", "SSCC format", str(exc)) from None
    return _key_from_pairs([("00", sscc)], "sscc")


def _split_raw(data: str) -> list[tuple[str, str]]:
    """Split unbracketed barcode data into (AI, value) pairs with biip's extractor."""
    pairs: list[tuple[str, str]] = []
    rest = data.lstrip(GS)
    while rest:
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            raise GS1Error(rest[:4], "AI", "unknown AI",
                           f"no GS1 Application Identifier starts {rest[:4]!r}") from None
        candidate = rest[len(ai):].split(GS, 1)[0]
        try:
            element = GS1ElementString.extract(rest, config=_NO_DATE_CHECK)  # dates: below
        except ParseError as exc:
            raise GS1Error(candidate, ai.ai, _format_rule(ai.ai), str(exc)) from None
        rest = rest[len(element):]
        if rest and not rest.startswith(GS) and ai.separator_required:
            raise GS1Error(candidate, ai.ai, _format_rule(ai.ai),
                           f"value longer than {ai.format} or FNC1 separator missing")
        pairs.append((ai.ai, element.value))
        rest = rest.lstrip(GS)
    return pairs


def _split_hri(data: str) -> list[tuple[str, str]]:
    compact = "".join(data.split())
    if not _HRI.fullmatch(compact):
        raise GS1Error(data, "input", "element string syntax",
                       r"expected (AI)value… with a literal '(' in a value written '\('")
    return [(ai, value.replace("\\(", "("))
            for ai, value in _HRI_PART.findall(compact)]


def _parse_digital_link(uri: str) -> GS1Key:
    parts = urlsplit(uri)
    segments = parts.path.split("/")
    start = next((i for i, seg in enumerate(segments)
                  if _DL_SHORT_NAMES.get(seg, seg) in PRIMARY_KEY_AIS), None)
    if start is None:
        raise GS1Error(uri, "digital-link", "Digital Link primary key",
                       "no primary key (01, 00, 414, 8004, …) in the path")
    for i in range(start, len(segments), 2):
        segments[i] = _DL_SHORT_NAMES.get(segments[i], segments[i])
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in NON_DIGITAL_LINK_ATTRIBUTES:
            raise GS1Error(value, name, "Digital Link attribute",
                           f"({name}) may not appear in the query string")
    normalised = urlunsplit(parts._replace(path="/".join(segments)))
    try:
        link = GS1DigitalLinkURI.parse(normalised)
    except ParseError as exc:
        raise _digital_link_error(exc, uri) from None
    return _key_from_pairs([(es.ai.ai, es.value) for es in link.element_strings],
                           "digital-link")


def _digital_link_error(exc: ParseError, uri: str) -> GS1Error:
    message = str(exc)
    ai_match = re.search(r"GS1 AI \(([0-9]{2,4})\)", message)
    value_match = re.search(r"'([^']*)'", message)
    if ai_match:
        ai = ai_match[1]
        value = value_match[1] if value_match else uri
        if message.startswith("Failed to match") and value.startswith(ai):
            value = value[len(ai):]
        return GS1Error(value, ai, _format_rule(ai), message)
    if "qualifier" in message:
        return GS1Error(value_match[1] if value_match else uri, "digital-link",
                        "Digital Link qualifier", message)
    return GS1Error(uri, "digital-link", "Digital Link syntax", message)


def _epc_decode(text: str, part: str) -> str:
    if not text or not _EPC_LITERAL.fullmatch(text):
        raise GS1Error(text, part, "EPC URN character",
                       "expected GS1 characters, with \" % & / < > ? escaped as %XX")
    return unquote(text)


def _epc_digits(text: str, part: str, rule: str) -> str:
    if not _ASCII_DIGITS.fullmatch(text):
        raise GS1Error(text, part, rule, "expected digits")
    return text


def _epc_company_prefix(text: str) -> str:
    _epc_digits(text, "epc company prefix", "EPC company prefix")
    if not 6 <= len(text) <= 12:
        raise GS1Error(text, "epc company prefix", "EPC company prefix",
                       "the TDS partition tables allow 6 to 12 digits")
    return text


def _with_check_digit(digits: str) -> str:
    return digits + str(gs1_standard_check_digit(digits))


#: EPC schemes of the Tag Data Standard: scheme → (primary AI, digits of company prefix +
#: reference or None when the reference is free text, layout, attribute AI: "" when the serial
#: is appended to the primary key, None when the scheme has no attribute)
_EPC_TDS: Final[dict[str, tuple[str, int | None, str, str | None]]] = {
    "sgtin": ("01", 13, "indicator", "21"), "lgtin": ("01", 13, "indicator", "10"),
    "upui": ("01", 13, "indicator", "235"), "itip": ("8006", 13, "itip", "21"),
    "sscc": ("00", 17, "indicator", None), "sgln": ("414", 12, "check", "254"),
    "pgln": ("417", 12, "check", None), "gsrn": ("8018", 17, "check", None),
    "gsrnp": ("8017", 17, "check", None), "gsin": ("402", 16, "check", None),
    "grai": ("8003", 12, "check", ""), "gdti": ("253", 12, "check", ""),
    "sgcn": ("255", 12, "check", ""), "giai": ("8004", None, "concat", None),
    "ginc": ("401", None, "concat", None), "cpi": ("8010", None, "concat", "8011"),
}
_EPC_PART_NAMES: Final = {"01": "epc item reference", "00": "epc serial reference",
                          "414": "epc location reference"}
_EPC_SYNTAX: Final = {"sgtin": "CompanyPrefix.IndicatorItemRef.Serial",
                      "lgtin": "CompanyPrefix.IndicatorItemRef.Lot",
                      "upui": "CompanyPrefix.IndicatorItemRef.TPX",
                      "itip": "CompanyPrefix.IndicatorItemRef.Piece.Total.Serial",
                      "sscc": "CompanyPrefix.SerialRef",
                      "sgln": "CompanyPrefix.LocationRef.Extension",
                      "cpi": "CompanyPrefix.ComponentPartRef.Serial",
                      "giai": "CompanyPrefix.AssetRef", "ginc": "CompanyPrefix.ConsignmentRef"}
#: the schemes :func:`parse_identifier` reads into a :class:`GS1Key` (the others name keys
#: GS1Key does not model; :func:`epc_urn_pairs` reads them all)
_KEY_SCHEMES: Final = frozenset(get_args(EpcScheme))


def _epc_header(urn: str, patterns: bool) -> tuple[str, str, str]:
    header = _EPC_HEADER.match(urn)
    if header is None or (header[1].lower() == "idpat" and not patterns):
        raise GS1Error(urn, "epc-urn", "EPC URN syntax",
                       "expected urn:epc:id:… or urn:epc:class:…")
    kind, scheme = header[1].lower(), header[2].lower()
    if scheme not in _EPC_TDS or (kind == "class") != (scheme == "lgtin"):
        raise GS1Error(urn, "epc-urn", "EPC scheme",
                       f"urn:epc:{kind}:{scheme} is not an EPC scheme of the Tag Data Standard")
    return kind, scheme, urn[header.end():]


def epc_urn_pairs(urn: str, *, patterns: bool = False) -> list[tuple[str, str]]:
    """The validated (AI, value) pairs of an EPC URN of any Tag Data Standard scheme (SGTIN,
    LGTIN, SSCC, SGLN, GRAI, GIAI, GSRN, GSRNP, GDTI, CPI, SGCN, GINC, GSIN, ITIP, UPUI, PGLN):
    partition and character rules checked, check digits computed, every value validated as its
    AI. With ``patterns``, also ``urn:epc:idpat:…`` whose last part is ``*``: that part's AI
    (or appended serial) is left out. An SGLN extension ``0`` means none.

    >>> epc_urn_pairs("urn:epc:id:grai:9506000.01234.5")
    [('8003', '095060000123465')]
    >>> epc_urn_pairs("urn:epc:idpat:sgtin:9506000.013435.*", patterns=True)
    [('01', '09506000134352')]
    """
    kind, scheme, body = _epc_header(urn, patterns)
    ai, digits, layout, attribute = _EPC_TDS[scheme]
    count = 2 + (attribute is not None) + 2 * (layout == "itip")
    parts = body.split(".", count - 1)
    if len(parts) != count:
        shape = _EPC_SYNTAX.get(scheme) or (
            "CompanyPrefix.Reference" + (".Serial" if attribute is not None else ""))
        raise GS1Error(urn, "epc-urn", "EPC URN syntax", f"{scheme} needs {shape}")
    wild = kind == "idpat"
    if wild and (parts[-1] != "*" or attribute is None or "*" in parts[:-1]):
        raise GS1Error(urn, "epc-urn", "EPC pattern",
                       "only the last part (serial, lot or extension) may be *")
    if wild:
        parts = parts[:-1]
    prefix = _epc_company_prefix(parts[0])
    if digits is None:
        value = prefix + _epc_decode(parts[1], ai)
    else:
        field = _EPC_PART_NAMES.get(ai, "epc reference")
        ref = _epc_digits(parts[1], field, "EPC partition") if parts[1] else ""
        if len(prefix) + len(ref) != digits:
            shown = f"{prefix}.{ref}" if ai == "01" else body
            raise GS1Error(shown, field, "EPC partition",
                           f"company prefix and reference must total {digits} digits")
        value = _with_check_digit(ref[:1] + prefix + ref[1:] if layout != "check"
                                  else prefix + ref)
    if layout == "itip":
        for name, part in (("piece", parts[2]), ("total", parts[3])):
            if len(_epc_digits(part, f"epc {name}", "EPC partition")) != 2:
                raise GS1Error(part, f"epc {name}", "EPC partition", "expected two digits")
        value += parts[2] + parts[3]
        parts = [parts[0], parts[1], *parts[4:]]
    if ai == "8003":
        value = "0" + value
    pairs = [(ai, value)]
    if len(parts) > 2 and attribute is not None:
        extra = _epc_decode(parts[2], attribute or ai)
        if attribute == "":
            pairs = [(ai, value + extra)]
        elif not (attribute == "254" and extra == "0"):
            pairs.append((attribute, extra))
    for pair_ai, pair_value in pairs:
        _validate_pair(pair_ai, pair_value)
    return pairs


def _parse_epc_urn(urn: str) -> GS1Key:
    _, scheme, _ = _epc_header(urn, patterns=False)
    if scheme not in _KEY_SCHEMES:
        raise GS1Error(urn, "epc-urn", "EPC scheme",
                       f"urn:epc:id:{scheme} names a key GS1Key does not model "
                       f"(supported: {', '.join(sorted(_KEY_SCHEMES))})")
    return _key_from_pairs(epc_urn_pairs(urn), "epc-urn")


# --- writing ------------------------------------------------------------------------------------


def _yymmdd(iso: str, ai: str) -> str:
    day = dt.date.fromisoformat(iso)
    encoded = day.strftime("%y%m%d")
    decoded = GS1ElementString.parse(ai + encoded).date
    if decoded != day:
        raise GS1Error(iso, ai, f"AI {ai} date",
                       "year outside the GS1 two-digit-year window (-49…+50 years)")
    return encoded


def _pairs(key: GS1Key) -> list[tuple[str, str]]:
    """The key's (AI, GS1 value) pairs in AI order."""
    pairs = list(key.other)
    for name, ai in _AI_BY_FIELD.items():
        value: str | None = getattr(key, name)
        if value is not None:
            pairs.append((ai, _yymmdd(value, ai) if name in _DATE_FIELDS else value))
    return sorted(pairs)


def _elements(pairs: list[tuple[str, str]]) -> GS1ElementStrings:
    # The values are validated already; skip biip's date check, which rejects 7007 ranges.
    return GS1ElementStrings(GS1ElementString.parse(ai + value, config=_NO_DATE_CHECK)
                             for ai, value in pairs)


def to_element_string(key: GS1Key) -> str:
    r"""Write the key as a human-readable element string, AIs in ascending order.

    A literal ``(`` inside a value is written ``\(`` so the string parses back unambiguously.

    Examples
    --------
    >>> key = parse_identifier("urn:epc:class:lgtin:9506000.013435.LOT(1)")
    >>> to_element_string(key)
    '(01)09506000134352(10)LOT\\(1)'
    >>> parse_identifier(to_element_string(key)) == key
    True
    """
    return "".join(f"({ai}){value.replace('(', chr(92) + '(')}" for ai, value in _pairs(key))


def to_barcode_data(key: GS1Key) -> str:
    r"""Write the key as barcode data: predefined-length AIs first, FNC1 as ``\x1d``.

    This is the string to hand to a GS1-128 or GS1 DataMatrix encoder (after its own FNC1 in
    first position); biip decides where separators are needed.

    Examples
    --------
    >>> to_barcode_data(parse_identifier("(01)09506000134352(21)SN1(10)L1(17)270301"))
    '01095060001343521727030110L1\x1d21SN1'
    """
    pairs = _pairs(key)
    elements = _elements(pairs)
    ordered = sorted(elements, key=lambda es: (es.ai.separator_required, es.ai.ai))
    return GS1Message.from_element_strings(GS1ElementStrings(ordered)).value


def to_digital_link(key: GS1Key, base: str = "https://id.gs1.org") -> str:
    """Write the key as a GS1 Digital Link URI on ``base`` (scheme, host, optional path).

    The primary key and its qualifiers form the path; every other AI becomes a query
    attribute in AI order.

    Raises
    ------
    GS1Error
        If ``base`` is not an http(s) URI, the key has more than one primary key, or an AI
        that may not appear in a Digital Link query.

    Examples
    --------
    >>> key = parse_identifier("(01)09506000134352(10)LOT1(17)270301")
    >>> to_digital_link(key, base="https://resolver.example.com/dl")
    'https://resolver.example.com/dl/01/09506000134352/10/LOT1?17=270301'
    """
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise GS1Error(base, "base", "Digital Link base URI",
                       "expected http(s)://host[/path] without query or fragment")
    pairs = _pairs(key)
    primary = [ai for ai, _ in pairs if ai in PRIMARY_KEY_AIS]
    if len(primary) != 1:
        raise GS1Error(to_element_string(key), "key", "Digital Link primary key",
                       f"exactly one primary key needed, found {len(primary)}")
    qualifiers = DIGITAL_LINK_QUALIFIERS.get(primary[0], ())
    for ai, value in pairs:
        if ai in NON_DIGITAL_LINK_ATTRIBUTES and ai not in qualifiers:
            raise GS1Error(value, ai, "Digital Link attribute",
                           f"({ai}) can be neither a qualifier of ({primary[0]}) "
                           "nor a query attribute")
    try:
        uri = GS1DigitalLinkURI.from_element_strings(_elements(pairs)).as_uri()
    except EncodeError as exc:  # pragma: no cover - prevented by the checks above
        raise GS1Error(to_element_string(key), "key", "Digital Link syntax", str(exc)) from None
    path_and_query = uri.removeprefix("https://id.gs1.org")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")) \
        + path_and_query


def _epc_escape(value: str) -> str:
    return "".join(quote(c, safe="") if c in _EPC_ESCAPED else c for c in value)


def to_epc_urn(key: GS1Key, company_prefix_length: int, *,
               scheme: EpcScheme | None = None) -> str:
    """Write the key as an EPC URN (pure identity, or LGTIN class) per the GS1 TDS.

    Parameters
    ----------
    key
        The key to write.
    company_prefix_length
        Digits of the GS1 Company Prefix (6 to 12); it fixes the TDS partition.
    scheme
        ``"sgtin"`` (GTIN + serial), ``"lgtin"`` (GTIN + lot), ``"sscc"``, ``"sgln"`` or
        ``"giai"``. By default the only scheme the key fits; a key that fits several
        (e.g. GTIN + serial + SSCC) must name one.

    Raises
    ------
    GS1Error
        If the prefix length is out of range or the key lacks the scheme's parts.

    Examples
    --------
    >>> to_epc_urn(parse_identifier("(00)095060000000000015"), 7)
    'urn:epc:id:sscc:9506000.0000000001'
    >>> to_epc_urn(parse_identifier("(01)09506000134352(10)A/B"), 7)
    'urn:epc:class:lgtin:9506000.013435.A%2FB'
    """
    length = company_prefix_length
    if not isinstance(length, int) or not 6 <= length <= 12:
        raise GS1Error(str(length), "epc company prefix", "EPC company prefix",
                       "the TDS partition tables allow 6 to 12 digits")
    fits: list[EpcScheme] = []
    if key.gtin and key.serial:
        fits.append("sgtin")
    if key.gtin and key.lot and not key.serial:
        fits.append("lgtin")
    if key.sscc:
        fits.append("sscc")
    if key.gln:
        fits.append("sgln")
    if key.giai:
        fits.append("giai")
    if scheme is None:
        if len(fits) != 1:
            raise GS1Error(to_element_string(key), "key", "EPC scheme",
                           f"the key fits {fits or 'no EPC scheme'}; name one with scheme=")
        scheme = fits[0]
    if scheme == "sgtin" and key.gtin and key.serial:
        g = key.gtin
        return f"urn:epc:id:sgtin:{g[1:1 + length]}.{g[0]}{g[1 + length:13]}." \
            + _epc_escape(key.serial)
    if scheme == "lgtin" and key.gtin and key.lot:
        g = key.gtin
        return f"urn:epc:class:lgtin:{g[1:1 + length]}.{g[0]}{g[1 + length:13]}." \
            + _epc_escape(key.lot)
    if scheme == "sscc" and key.sscc:
        s = key.sscc
        return f"urn:epc:id:sscc:{s[1:1 + length]}.{s[0]}{s[1 + length:17]}"
    if scheme == "sgln" and key.gln:
        extension = dict(key.other).get("254", "0")
        return f"urn:epc:id:sgln:{key.gln[:length]}.{key.gln[length:12]}." \
            + _epc_escape(extension)
    if scheme == "giai" and key.giai:
        prefix = key.giai[:length]
        if not _ASCII_DIGITS.fullmatch(prefix) or len(key.giai) <= length:
            raise GS1Error(key.giai, "8004", "EPC company prefix",
                           f"a GIAI must start with {length} company-prefix digits "
                           "and an asset reference")
        return f"urn:epc:id:giai:{prefix}.{_epc_escape(key.giai[length:])}"
    raise GS1Error(to_element_string(key), "key", "EPC scheme",
                   f"the key lacks the parts of {scheme} (it fits {fits})")


# --- cheap validators ---------------------------------------------------------------------------


def is_gtin(text: str) -> bool:
    """Whether ``text`` is a GTIN-8/12/13/14 (ASCII digits only) with a valid check digit.

    Examples
    --------
    >>> is_gtin("09506000134352"), is_gtin("9506000134352"), is_gtin("09506000134353")
    (True, True, False)
    """
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text) \
            or len(text) not in (8, 12, 13, 14):
        return False
    try:
        Gtin.parse(text)
    except ParseError:
        return False
    return True


def is_sscc(text: str) -> bool:
    """Whether ``text`` is an 18-digit SSCC with a valid check digit.

    Examples
    --------
    >>> is_sscc("095060000000000015"), is_sscc("095060000000000014")
    (True, False)
    """
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text) or len(text) != 18:
        return False
    try:
        Sscc.parse(text)
    except ParseError:
        return False
    return True
