"""EPC URNs of the GS1 Tag Data Standard, read: :func:`epc_urn_pairs` (every scheme, for the
EPCIS event hash and for :func:`graph.identifiers.gs1.parse_identifier`) and
:func:`parse_epc_urn` (the schemes a :class:`GS1Key` models). Writing is
:func:`graph.identifiers.gs1_write.to_epc_urn`.
"""

from __future__ import annotations

from urllib.parse import unquote

from biip.checksums import gs1_standard_check_digit

from graph.identifiers.gs1_key import GS1Error, GS1Key, key_from_pairs, validate_pair
from graph.identifiers.gs1_tables import (
    ASCII_DIGITS,
    EPC_HEADER,
    EPC_LITERAL,
    EPC_PART_NAMES,
    EPC_SYNTAX,
    EPC_TDS,
    KEY_SCHEMES,
)

__all__ = ["epc_urn_pairs", "parse_epc_urn"]


def _epc_decode(text: str, part: str) -> str:
    if not text or not EPC_LITERAL.fullmatch(text):
        raise GS1Error(text, part, "EPC URN character",
                       "expected GS1 characters, with \" % & / < > ? escaped as %XX")
    return unquote(text)


def _epc_digits(text: str, part: str, rule: str) -> str:
    if not ASCII_DIGITS.fullmatch(text):
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



def _epc_header(urn: str, patterns: bool) -> tuple[str, str, str]:
    header = EPC_HEADER.match(urn)
    if header is None or (header[1].lower() == "idpat" and not patterns):
        raise GS1Error(urn, "epc-urn", "EPC URN syntax",
                       "expected urn:epc:id:… or urn:epc:class:…")
    kind, scheme = header[1].lower(), header[2].lower()
    if scheme not in EPC_TDS or (kind == "class") != (scheme == "lgtin"):
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
    ai, digits, layout, attribute = EPC_TDS[scheme]
    count = 2 + (attribute is not None) + 2 * (layout == "itip")
    parts = body.split(".", count - 1)
    if len(parts) != count:
        shape = EPC_SYNTAX.get(scheme) or (
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
        field = EPC_PART_NAMES.get(ai, "epc reference")
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
        validate_pair(pair_ai, pair_value)
    return pairs


def parse_epc_urn(urn: str) -> GS1Key:
    _, scheme, _ = _epc_header(urn, patterns=False)
    if scheme not in KEY_SCHEMES:
        raise GS1Error(urn, "epc-urn", "EPC scheme",
                       f"urn:epc:id:{scheme} names a key GS1Key does not model "
                       f"(supported: {', '.join(sorted(KEY_SCHEMES))})")
    return key_from_pairs(epc_urn_pairs(urn), "epc-urn")
