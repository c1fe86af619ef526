"""The tables of the GS1 identifier parser (:mod:`graph.identifiers.gs1`): facts of the GS1
Barcode Syntax Dictionary (tests check them against the dictionary), the Digital Link short names,
the EPC Tag Data Standard schemes, and the patterns the parser matches. Data only, no logic.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from biip import ParseConfig

SourceFormat = Literal["element-string", "digital-link", "epc-urn", "gtin", "sscc"]
"""How the identifier was written when it was read."""

EpcScheme = Literal["sgtin", "lgtin", "sscc", "sgln", "giai"]
"""EPC pure-identity (or class) schemes that :func:`to_epc_urn` can write."""

GS: Final = "\x1d"
"""ASCII group separator: how scanners transmit FNC1 between element strings."""

# Textual stand-ins for FNC1 seen in copied scans and label specifications. "{GS}" and "[GS]" use
# characters outside GS1 character set 82, and "<GS>" is the rendering used in GS1 documents.
GS_TOKENS: Final = ("<GS>", "{GS}", "[GS]", "\u241d")

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

KEY_NAMES: Final = {
    "00": "SSCC", "01": "GTIN", "02": "GTIN", "03": "GTIN", "253": "GDTI", "255": "GCN",
    "402": "GSIN", "8003": "GRAI", "8006": "ITIP", "8017": "GSRN", "8018": "GSRN", "8026": "ITIP",
    **{ai: "GLN" for ai in ("410", "411", "412", "413", "414", "415", "416", "417")},
}

FIELD_BY_AI: Final = {
    "00": "sscc", "01": "gtin", "10": "lot", "11": "production_date", "17": "expiry",
    "21": "serial", "414": "gln", "8004": "giai",
}
AI_BY_FIELD: Final = {name: ai for ai, name in FIELD_BY_AI.items()}
DATE_FIELDS: Final = ("production_date", "expiry")

# GS1 Digital Link 1.2 convenience short names for path keys and qualifiers.
DL_SHORT_NAMES: Final = {
    "gtin": "01", "itip": "8006", "gmn": "8013", "cpid": "8010", "gln": "414", "party": "417",
    "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401",
    "gsin": "402", "grai": "8003", "giai": "8004", "cpv": "22", "lot": "10", "ser": "21",
    "cpsn": "8011", "glnx": "254", "refno": "8020", "srin": "8019",
}

# EPC Tag Data Standard: characters that must be %-escaped in the URN form of a GS1 AI value;
# the other characters of set 82 appear literally.
EPC_ESCAPED: Final = frozenset('"%&/<>?')
EPC_LITERAL = re.compile(r"(?:[A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})*")
EPC_HEADER = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):", re.IGNORECASE)
NO_DATE_CHECK: Final = ParseConfig(gs1_element_strings_verify_date=False)
ASCII_DIGITS = re.compile(r"[0-9]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
HRI = re.compile(r"(?:\([0-9]{2,4}\)(?:[^(\\]|\\\()+)+")
HRI_PART = re.compile(r"\(([0-9]{2,4})\)((?:[^(\\]|\\\()+)")


#: EPC schemes of the Tag Data Standard: scheme → (primary AI, digits of company prefix +
#: reference or None when the reference is free text, layout, attribute AI: "" when the serial
#: is appended to the primary key, None when the scheme has no attribute)
EPC_TDS: Final[dict[str, tuple[str, int | None, str, str | None]]] = {
    "sgtin": ("01", 13, "indicator", "21"), "lgtin": ("01", 13, "indicator", "10"),
    "upui": ("01", 13, "indicator", "235"), "itip": ("8006", 13, "itip", "21"),
    "sscc": ("00", 17, "indicator", None), "sgln": ("414", 12, "check", "254"),
    "pgln": ("417", 12, "check", None), "gsrn": ("8018", 17, "check", None),
    "gsrnp": ("8017", 17, "check", None), "gsin": ("402", 16, "check", None),
    "grai": ("8003", 12, "check", ""), "gdti": ("253", 12, "check", ""),
    "sgcn": ("255", 12, "check", ""), "giai": ("8004", None, "concat", None),
    "ginc": ("401", None, "concat", None), "cpi": ("8010", None, "concat", "8011"),
}
EPC_PART_NAMES: Final = {"01": "epc item reference", "00": "epc serial reference",
                          "414": "epc location reference"}
EPC_SYNTAX: Final = {"sgtin": "CompanyPrefix.IndicatorItemRef.Serial",
                      "lgtin": "CompanyPrefix.IndicatorItemRef.Lot",
                      "upui": "CompanyPrefix.IndicatorItemRef.TPX",
                      "itip": "CompanyPrefix.IndicatorItemRef.Piece.Total.Serial",
                      "sscc": "CompanyPrefix.SerialRef",
                      "sgln": "CompanyPrefix.LocationRef.Extension",
                      "cpi": "CompanyPrefix.ComponentPartRef.Serial",
                      "giai": "CompanyPrefix.AssetRef", "ginc": "CompanyPrefix.ConsignmentRef"}
#: the schemes :func:`parse_identifier` reads into a :class:`GS1Key` (the others name keys
#: GS1Key does not model; :func:`epc_urn_pairs` reads them all)
KEY_SCHEMES: Final = frozenset(get_args(EpcScheme))
