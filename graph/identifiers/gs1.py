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

Layout: this module reads (:func:`parse_identifier`, :func:`is_gtin`, :func:`is_sscc`) and is
the one import for callers (it re-exports the public names of its parts);
:mod:`graph.identifiers.gs1_key` holds :class:`GS1Key`, :class:`GS1Error` and the validation of
single values, :mod:`graph.identifiers.gs1_epc` reads EPC URNs, :mod:`graph.identifiers.gs1_write`
writes keys in every form, and :mod:`graph.identifiers.gs1_tables` holds the tables. It sits in
``graph/`` because both ``ingest/`` (EPCIS capture) and ``api/`` (lookups) read identifiers.

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

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from biip import EncodeError, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gtin import Gtin
from biip.sscc import Sscc
from biip.symbology import GS1Symbology, SymbologyIdentifier

from graph.identifiers.gs1_epc import epc_urn_pairs, parse_epc_urn
from graph.identifiers.gs1_key import GS1Error, GS1Key, format_rule, key_from_pairs
from graph.identifiers.gs1_tables import (
    ASCII_DIGITS,
    CHECK_DIGIT_SPANS,
    DATE_COMPONENTS,
    DIGITAL_LINK_QUALIFIERS,
    DL_SHORT_NAMES,
    GS,
    GS_TOKENS,
    HRI,
    HRI_PART,
    NO_DATE_CHECK,
    NON_DIGITAL_LINK_ATTRIBUTES,
    PRIMARY_KEY_AIS,
    REQUIRED_ASSOCIATIONS,
    EpcScheme,
    SourceFormat,
)
from graph.identifiers.gs1_write import (
    to_barcode_data,
    to_digital_link,
    to_element_string,
    to_epc_urn,
)

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
    graph.identifiers.gs1_key.GS1Error: AI 17 date broken by (17) '271301': Failed to match ...
    """
    data = text
    for token in GS_TOKENS:
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
        return parse_epc_urn(data)
    if lowered.startswith(("http://", "https://")):
        return _parse_digital_link(data)
    if symbology in GS1Symbology.with_gtin():
        return _parse_bare_gtin(data)
    if symbology not in GS1Symbology.with_gs1_messages():
        if data.startswith("("):
            return key_from_pairs(_split_hri(data), "element-string")
        if ASCII_DIGITS.fullmatch(data) and len(data) in (8, 12, 13, 14):
            return _parse_bare_gtin(data)
        if ASCII_DIGITS.fullmatch(data) and len(data) == 18:
            return _parse_bare_sscc(data)
    return key_from_pairs(_split_raw(data), "element-string")


def _parse_bare_gtin(data: str) -> GS1Key:
    if not ASCII_DIGITS.fullmatch(data) or len(data) not in (8, 12, 13, 14):
        raise GS1Error(data, "01", "GTIN length", "a GTIN has 8, 12, 13 or 14 digits")
    expected = gs1_standard_check_digit(data[:-1])
    if data[-1] != str(expected):
        raise GS1Error(data, "01", "GTIN check digit",
                       f"expected check digit {expected}, got {data[-1]}")
    try:
        gtin = Gtin.parse(data).as_gtin_14()
    except (ParseError, EncodeError) as exc:
        raise GS1Error(data, "01", "GTIN format", str(exc)) from None
    return key_from_pairs([("01", gtin)], "gtin")


def _parse_bare_sscc(data: str) -> GS1Key:
    expected = gs1_standard_check_digit(data[:-1])
    if data[-1] != str(expected):
        raise GS1Error(data, "00", "SSCC check digit",
                       f"expected check digit {expected}, got {data[-1]}")
    try:
        sscc = Sscc.parse(data).value
    except ParseError as exc:
        raise GS1Error(data, "00", "SSCC format", str(exc)) from None
    return key_from_pairs([("00", sscc)], "sscc")


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
            element = GS1ElementString.extract(rest, config=NO_DATE_CHECK)  # dates: below
        except ParseError as exc:
            raise GS1Error(candidate, ai.ai, format_rule(ai.ai), str(exc)) from None
        rest = rest[len(element):]
        if rest and not rest.startswith(GS) and ai.separator_required:
            raise GS1Error(candidate, ai.ai, format_rule(ai.ai),
                           f"value longer than {ai.format} or FNC1 separator missing")
        pairs.append((ai.ai, element.value))
        rest = rest.lstrip(GS)
    return pairs


def _split_hri(data: str) -> list[tuple[str, str]]:
    compact = "".join(data.split())
    if not HRI.fullmatch(compact):
        raise GS1Error(data, "input", "element string syntax",
                       r"expected (AI)value… with a literal '(' in a value written '\('")
    return [(ai, value.replace("\\(", "("))
            for ai, value in HRI_PART.findall(compact)]


def _parse_digital_link(uri: str) -> GS1Key:
    parts = urlsplit(uri)
    segments = parts.path.split("/")
    start = next((i for i, seg in enumerate(segments)
                  if DL_SHORT_NAMES.get(seg, seg) in PRIMARY_KEY_AIS), None)
    if start is None:
        raise GS1Error(uri, "digital-link", "Digital Link primary key",
                       "no primary key (01, 00, 414, 8004, …) in the path")
    for i in range(start, len(segments), 2):
        segments[i] = DL_SHORT_NAMES.get(segments[i], segments[i])
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in NON_DIGITAL_LINK_ATTRIBUTES:
            raise GS1Error(value, name, "Digital Link attribute",
                           f"({name}) may not appear in the query string")
    normalised = urlunsplit(parts._replace(path="/".join(segments)))
    try:
        link = GS1DigitalLinkURI.parse(normalised)
    except ParseError as exc:
        raise _digital_link_error(exc, uri) from None
    return key_from_pairs([(es.ai.ai, es.value) for es in link.element_strings],
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
        return GS1Error(value, ai, format_rule(ai), message)
    if "qualifier" in message:
        return GS1Error(value_match[1] if value_match else uri, "digital-link",
                        "Digital Link qualifier", message)
    return GS1Error(uri, "digital-link", "Digital Link syntax", message)


# --- cheap validators ---------------------------------------------------------------------------


def is_gtin(text: str) -> bool:
    """Whether ``text`` is a GTIN-8/12/13/14 (ASCII digits only) with a valid check digit.

    Examples
    --------
    >>> is_gtin("09506000134352"), is_gtin("9506000134352"), is_gtin("09506000134353")
    (True, True, False)
    """
    if not isinstance(text, str) or not ASCII_DIGITS.fullmatch(text) \
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
    if not isinstance(text, str) or not ASCII_DIGITS.fullmatch(text) or len(text) != 18:
        return False
    try:
        Sscc.parse(text)
    except ParseError:
        return False
    return True
