"""Writing a :class:`GS1Key`: element string, barcode data, GS1 Digital Link URI and EPC URN.
Part of the GS1 identifier parser, whose entry point is :mod:`graph.identifiers.gs1` (examples
there read keys with :func:`graph.identifiers.gs1.parse_identifier`).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlsplit, urlunsplit

from biip import EncodeError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message

from graph.identifiers.gs1_key import GS1Error, GS1Key
from graph.identifiers.gs1_tables import (
    AI_BY_FIELD,
    ASCII_DIGITS,
    DATE_FIELDS,
    DIGITAL_LINK_QUALIFIERS,
    EPC_ESCAPED,
    NO_DATE_CHECK,
    NON_DIGITAL_LINK_ATTRIBUTES,
    PRIMARY_KEY_AIS,
    EpcScheme,
)

__all__ = ["to_barcode_data", "to_digital_link", "to_element_string", "to_epc_urn"]


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
    for name, ai in AI_BY_FIELD.items():
        value: str | None = getattr(key, name)
        if value is not None:
            pairs.append((ai, _yymmdd(value, ai) if name in DATE_FIELDS else value))
    return sorted(pairs)


def _elements(pairs: list[tuple[str, str]]) -> GS1ElementStrings:
    # The values are validated already; skip biip's date check, which rejects 7007 ranges.
    return GS1ElementStrings(GS1ElementString.parse(ai + value, config=NO_DATE_CHECK)
                             for ai, value in pairs)


def to_element_string(key: GS1Key) -> str:
    r"""Write the key as a human-readable element string, AIs in ascending order.

    A literal ``(`` inside a value is written ``\(`` so the string parses back unambiguously.

    Examples
    --------
    >>> from graph.identifiers.gs1 import parse_identifier
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
    >>> from graph.identifiers.gs1 import parse_identifier
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
    >>> from graph.identifiers.gs1 import parse_identifier
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
    return "".join(quote(c, safe="") if c in EPC_ESCAPED else c for c in value)


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
    >>> from graph.identifiers.gs1 import parse_identifier
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
        if not ASCII_DIGITS.fullmatch(prefix) or len(key.giai) <= length:
            raise GS1Error(key.giai, "8004", "EPC company prefix",
                           f"a GIAI must start with {length} company-prefix digits "
                           "and an asset reference")
        return f"urn:epc:id:giai:{prefix}.{_epc_escape(key.giai[length:])}"
    raise GS1Error(to_element_string(key), "key", "EPC scheme",
                   f"the key lacks the parts of {scheme} (it fits {fits})")
