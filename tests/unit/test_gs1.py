"""GS1 identifier parsing (graph.identifiers.gs1 and its parts), driven by the real GS1
artefacts in shared/.

The artefacts are read in place: the GS1 Barcode Syntax Dictionary (AI table with formats,
linters, FNC1 flags and Digital Link attributes) and the EPC URNs and Digital Links that appear
in the EPCIS example documents of GS1 and of openepcis.
"""

from __future__ import annotations

import datetime as dt
import doctest
import pickle
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pytest
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from hypothesis import example, given
from hypothesis import strategies as st

import graph.identifiers.gs1
import graph.identifiers.gs1_epc
import graph.identifiers.gs1_key
import graph.identifiers.gs1_write
from graph.identifiers.gs1 import (
    CHECK_DIGIT_SPANS,
    DATE_COMPONENTS,
    DIGITAL_LINK_QUALIFIERS,
    NON_DIGITAL_LINK_ATTRIBUTES,
    PRIMARY_KEY_AIS,
    REQUIRED_ASSOCIATIONS,
    GS1Error,
    GS1Key,
    epc_urn_pairs,
    is_gtin,
    is_sscc,
    parse_identifier,
    to_barcode_data,
    to_digital_link,
    to_element_string,
    to_epc_urn,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
STANDARDS = SHARED / "standards"
DICTIONARY = STANDARDS / "gs1-syntax-dictionary" / "gs1-syntax-dictionary.txt"
EXAMPLE_DIRS = (STANDARDS / "gs1-epcis", STANDARDS / "openepcis-test-resources")

GTIN = "09506000134352"
SSCC = "095060000000000015"
# GS1 AI encodable character set 82, in the order of the General Specifications.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

# Modelled AIs and the GS1Key field that holds each.
FIELDS = {"00": "sscc", "01": "gtin", "10": "lot", "11": "production_date", "17": "expiry",
          "21": "serial", "414": "gln", "8004": "giai"}


# --- the GS1 Barcode Syntax Dictionary ----------------------------------------------------------


@dataclass(frozen=True)
class Component:
    kind: str  # N, X, Y or Z
    min_len: int
    max_len: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    ai: str
    flags: str
    components: tuple[Component, ...]
    attributes: dict[str, tuple[str, ...]]
    title: str

    @property
    def fixed(self) -> bool:
        return all(c.min_len == c.max_len for c in self.components)


_COMPONENT = re.compile(
    r"(?P<open>\[)?(?P<kind>[NXYZ])(?P<min>\d+)?(?:\.\.(?P<max>\d+))?\]?(?P<linters>(?:,\w+)*)")


@cache
def dictionary() -> dict[str, Entry]:
    """Every AI of the dictionary (ranges expanded), parsed from the file in shared/."""
    if not DICTIONARY.exists():
        pytest.fail(f"GS1 Barcode Syntax Dictionary not found at {DICTIONARY}")
    entries: dict[str, Entry] = {}
    for raw in DICTIONARY.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        body, _, title = raw.partition("#")
        tokens = body.split()
        ais, rest = tokens[0], tokens[1:]
        flags = rest.pop(0) if rest and not _COMPONENT.fullmatch(rest[0]) else ""
        components: list[Component] = []
        attributes: dict[str, tuple[str, ...]] = {}
        for token in rest:
            match = _COMPONENT.fullmatch(token)
            if match and not attributes:
                fixed = match["min"] is not None
                size = int(match["min"] or match["max"])
                components.append(Component(
                    kind=match["kind"], min_len=size if fixed else 1, max_len=size,
                    optional=bool(match["open"]),
                    linters=tuple(x for x in match["linters"].split(",") if x)))
            else:
                key, _, value = token.partition("=")
                attributes[key] = tuple(value.split(",")) if value else ()
        first, _, last = ais.partition("-")
        for number in range(int(first), int(last or first) + 1):
            ai = str(number).zfill(len(first))
            entries[ai] = Entry(ai, flags, tuple(components), attributes, title.strip())
    return entries


def _check_digit(digits: str) -> str:
    return str(gs1_standard_check_digit(digits))


# One valid sample per linter that constrains content (length is handled by the caller).
_LINTER_SAMPLES = {
    "yymmd0": "250100", "yymmdd": "250115", "yyyymmdd": "20250115", "hhmi": "1230",
    "hh": "12", "mi": "30", "ss": "45", "iso3166": "276", "iso3166999": "999",
    "iso3166alpha2": "DE", "iso4217": "978", "yesno": "1", "zero": "0", "winding": "9",
    "pieceoftotal": "0102", "mediatype": "01", "iso5218": "2", "latitude": "0900000000",
    "longitude": "1800000000", "hyphen": "-", "posinseqslash": "1/2", "packagetype": "BX",
    "importeridx": "A", "iban": "DE89370400440532013000",
}
# Linters whose content rules the samples cannot satisfy generically.
_UNSYNTHESISABLE = {"csumalpha", "couponcode", "couponposoffer"}


def _sample(component: Component, length: int) -> str:
    if component.kind in "XY" and {"gcppos1", "gcppos2"} & set(component.linters):
        # starts with a GS1 Company Prefix; biip wants at least 5 characters for a CPID
        length = max(length, min(component.max_len, 7))
        return ("9506000" + "A" * length)[:length]
    for linter in component.linters:
        if linter in _LINTER_SAMPLES and len(_LINTER_SAMPLES[linter]) <= length:
            value = _LINTER_SAMPLES[linter]
            if component.min_len <= len(value):
                return value
    if "csum" in component.linters:
        body = ("1234567890" * 2)[:length - 1]
        return body + _check_digit(body)
    filler = {"N": "1", "X": "A", "Y": "A", "Z": "A"}[component.kind]
    return filler * length


def synthesise(entry: Entry, longest: bool = False) -> str:
    """A value that satisfies the entry's spec: mandatory components, shortest or longest."""
    parts = []
    for component in entry.components:
        if component.optional and not longest:
            break
        parts.append(_sample(component, component.max_len if longest else component.min_len))
    return "".join(parts)


def too_long(entry: Entry) -> str:
    """The longest valid value padded one character past the spec's total maximum."""
    value = synthesise(entry, longest=True)
    total = sum(c.max_len for c in entry.components)
    return value + ("1" if entry.components[-1].kind == "N" else "A") * (total + 1 - len(value))


def synthesisable(entry: Entry) -> bool:
    return not any(set(c.linters) & _UNSYNTHESISABLE for c in entry.components)


def _context(ai: str) -> str:
    """Element strings that satisfy the key's own rules (a primary key) around AI ``ai``."""
    return "" if ai == "01" else f"(01){GTIN}"


def _hri(ai: str, value: str) -> str:
    return f"({ai}){value.replace('(', chr(92) + '(')}"


# --- dictionary-driven tests --------------------------------------------------------------------


def test_dictionary_is_read_in_full() -> None:
    entries = dictionary()
    assert len(entries) > 500
    for ai in ("00", "01", "10", "11", "17", "21", "414", "8004"):
        assert ai in entries


@pytest.mark.parametrize(("ai", "kind", "max_len", "linters", "title"), [
    ("00", "N", 18, ("csum", "gcppos2"), "SSCC"),
    ("01", "N", 14, ("csum", "gcppos2"), "GTIN"),
    ("10", "X", 20, (), "BATCH/LOT"),
    ("11", "N", 6, ("yymmd0",), "PROD DATE"),
    ("17", "N", 6, ("yymmd0",), "USE BY or EXPIRY"),
    ("21", "X", 20, (), "SERIAL"),
    ("414", "N", 13, ("csum", "gcppos1"), "LOC No."),
    ("8004", "X", 30, ("gcppos1",), "GIAI"),
])
def test_dictionary_lists_the_modelled_ais_as_this_module_expects(
        ai: str, kind: str, max_len: int, linters: tuple[str, ...], title: str) -> None:
    entry = dictionary()[ai]
    assert entry.title == title
    (component,) = entry.components
    assert (component.kind, component.max_len, component.linters) == (kind, max_len, linters)
    assert entry.fixed == (kind == "N")


@pytest.mark.parametrize("ai", ["00", "01", "10", "11", "17", "21", "414", "8004"])
def test_modelled_ai_accepts_its_dictionary_spec_at_both_lengths(ai: str) -> None:
    entry = dictionary()[ai]
    for longest in (False, True):
        value = synthesise(entry, longest)
        key = parse_identifier(_context(ai) + _hri(ai, value))
        held = getattr(key, FIELDS[ai])
        # the yymmd0 sample is 250100: day 00 reads as the month's last day
        assert held == ("2025-01-31" if ai in ("11", "17") else value)
        assert parse_identifier(to_element_string(key)) == key


@pytest.mark.parametrize("ai", ["00", "01", "10", "11", "17", "21", "414", "8004"])
def test_modelled_ai_rejects_a_value_longer_than_its_spec(ai: str) -> None:
    with pytest.raises(GS1Error) as caught:
        parse_identifier(_context(ai) + _hri(ai, too_long(dictionary()[ai])))
    assert caught.value.field == ai
    assert caught.value.rule in (f"AI {ai} format", f"AI {ai} date")


@pytest.mark.parametrize("ai", [ai for ai, e in dictionary().items()
                                if any("csum" in c.linters for c in e.components)])
@pytest.mark.req("URS-ID-01")
def test_every_ai_with_a_check_digit_rejects_a_wrong_one(ai: str) -> None:
    entry = dictionary()[ai]
    value = synthesise(entry)
    _, end = CHECK_DIGIT_SPANS[ai]
    wrong = str((int(value[end - 1]) + 1) % 10)
    bad = value[:end - 1] + wrong + value[end:]
    with pytest.raises(GS1Error, match="expected check digit") as caught:
        parse_identifier(_context(ai) + _hri(ai, bad))
    assert caught.value.field == ai
    assert caught.value.rule.endswith("check digit")
    assert f"expected check digit {value[end - 1]}" in str(caught.value)


@pytest.mark.parametrize("ai", ["11", "17"])
@pytest.mark.parametrize(("yymmdd", "ok"), [
    ("270301", True), ("270300", True), ("280229", True), ("270229", False),
    ("271301", False), ("270001", False), ("270332", False), ("27031", False),
])
def test_yymmd0_dates_follow_the_dictionary(ai: str, yymmdd: str, ok: bool) -> None:
    text = f"(01){GTIN}({ai}){yymmdd}"
    if ok:
        iso = getattr(parse_identifier(text), FIELDS[ai])
        assert iso[:4] in ("2027", "2028")
        if yymmdd == "270300":
            assert iso == "2027-03-31"  # day 00: last day of the month
    else:
        with pytest.raises(GS1Error) as caught:
            parse_identifier(text)
        assert (caught.value.field, caught.value.rule) == (ai, f"AI {ai} date")


@pytest.mark.req("URS-ID-01")
def test_lot_and_serial_accept_all_of_character_set_82_and_nothing_else() -> None:
    for start in range(0, len(CSET82), 20):
        chunk = CSET82[start:start + 20]
        key = parse_identifier(f"(01){GTIN}" + _hri("10", chunk) + _hri("21", chunk[::-1]))
        assert (key.lot, key.serial) == (chunk, chunk[::-1])
        assert parse_identifier(to_element_string(key)) == key
        assert parse_identifier(to_barcode_data(key)) == key
        assert parse_identifier(to_digital_link(key)) == key
    for outsider in "#$@[]^`{|}~\\é":
        with pytest.raises(GS1Error) as caught:
            GS1Key(gtin=GTIN, lot=f"A{outsider}", source_format="gtin")
        assert caught.value.field == "10"


def test_tables_of_this_module_match_the_dictionary() -> None:
    entries = dictionary()
    assert {ai for ai, e in entries.items() if "dlpkey" in e.attributes} == PRIMARY_KEY_AIS
    for ai in PRIMARY_KEY_AIS:
        qualifiers = [q for alt in entries[ai].attributes["dlpkey"] for q in alt.split("|")]
        assert tuple(dict.fromkeys(qualifiers)) == DIGITAL_LINK_QUALIFIERS.get(ai, ()), ai
    assert {ai for ai, e in entries.items() if "?" not in e.flags} \
        == NON_DIGITAL_LINK_ATTRIBUTES
    for ai, needs in REQUIRED_ASSOCIATIONS.items():
        assert entries[ai].attributes["req"] == needs
    spans = {}
    for ai, entry in entries.items():
        offset = 0
        for component in entry.components:
            if "csum" in component.linters:
                spans[ai] = (offset, offset + component.max_len)
            offset += component.max_len
    assert spans == CHECK_DIGIT_SPANS
    dates = {}
    for ai, entry in entries.items():
        offset, found = 0, []
        for component in entry.components:
            found += [(offset, lint) for lint in component.linters
                      if lint in ("yymmd0", "yymmdd", "yyyymmdd")]
            offset += component.max_len
        if found:
            dates[ai] = tuple(found)
    assert dates == DATE_COMPONENTS


@pytest.mark.parametrize("ai", sorted(dictionary()))
def test_biip_knows_every_dictionary_ai_with_its_fnc1_rule(ai: str) -> None:
    entry = dictionary()[ai]
    known = GS1ApplicationIdentifier.extract(ai)
    assert known.ai == ai
    # "*": predefined length, no FNC1 separator after it.
    assert known.separator_required == ("*" not in entry.flags)


@pytest.mark.parametrize("ai", sorted(ai for ai, e in dictionary().items()
                                      if ai not in FIELDS and synthesisable(e)))
def test_every_other_dictionary_ai_round_trips_and_enforces_its_length(ai: str) -> None:
    entry = dictionary()[ai]
    for longest in (False, True):
        value = synthesise(entry, longest)
        key = parse_identifier(f"(01){GTIN}" + _hri(ai, value))
        assert dict(key.other)[ai] == value
        assert parse_identifier(to_element_string(key)) == key
        assert parse_identifier(to_barcode_data(key)) == key
    with pytest.raises(GS1Error) as caught:
        parse_identifier(f"(01){GTIN}" + _hri(ai, too_long(entry)))
    assert caught.value.field == ai


def test_dictionary_ais_the_generator_skips_are_few_and_named() -> None:
    skipped = sorted(ai for ai, e in dictionary().items() if not synthesisable(e))
    assert skipped == ["8013", "8014", "8110", "8112"]


# --- EPC URNs and Digital Links in the EPCIS example documents ---------------------------------

_URN = re.compile(
    r"urn:epc:(?:id:sgtin|class:lgtin|id:sscc|id:sgln|id:giai):[A-Za-z0-9!'()*+,\-.:;=_%]+")
_LINK = re.compile(r"https://id\.gs1\.org/[^\s\"'<>\\,)]*")

# Identifiers in the example documents that are genuinely invalid, with the reason.
KNOWN_INVALID = {
    "https://id.gs1.org/414/9521141123452": (
        "GLN check digit", "GLN 952114112345|2 has check digit 2, GS1 mod-10 gives 4 "
        "(openepcis Query/Queries/SimpleEventQuery.json, EQ_bizLocation)"),
}


@cache
def example_identifiers() -> dict[str, str]:
    """Every matching EPC URN and id.gs1.org Digital Link → the first file it appears in."""
    found: dict[str, str] = {}
    for folder in EXAMPLE_DIRS:
        if not folder.is_dir():
            pytest.fail(f"EPCIS example documents not found at {folder}")
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".json", ".jsonld", ".yaml", ".xml", ".ttl", ".md"):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for identifier in [*_URN.findall(text), *_LINK.findall(text)]:
                found.setdefault(identifier, str(path.relative_to(STANDARDS)))
    return found


def test_example_documents_yield_the_expected_identifier_kinds() -> None:
    identifiers = example_identifiers()
    for kind in ("urn:epc:id:sgtin:", "urn:epc:class:lgtin:", "urn:epc:id:sscc:",
                 "https://id.gs1.org/01/", "https://id.gs1.org/00/"):
        assert sum(i.startswith(kind) for i in identifiers) >= 1, kind
    assert len(identifiers) >= 90
    assert set(KNOWN_INVALID) <= set(identifiers)


@pytest.mark.parametrize("identifier", sorted(example_identifiers()))
def test_every_identifier_in_the_example_documents_parses(identifier: str) -> None:
    where = example_identifiers()[identifier]
    if identifier in KNOWN_INVALID:
        rule, reason = KNOWN_INVALID[identifier]
        with pytest.raises(GS1Error) as caught:
            parse_identifier(identifier)
        assert caught.value.rule == rule, reason
        return
    key = parse_identifier(identifier)
    if identifier.startswith("urn:"):
        assert key.source_format == "epc-urn", where
        prefix_length = len(identifier.split(":")[4].split(".")[0])
        assert to_epc_urn(key, prefix_length) == identifier, where
    else:
        assert key.source_format == "digital-link", where
        assert to_digital_link(key) == identifier, where
    assert parse_identifier(to_element_string(key)) == key


@pytest.mark.req("URS-ID-01")
def test_sgtin_and_digital_link_of_the_same_item_give_the_same_key() -> None:
    urn = parse_identifier("urn:epc:id:sgtin:9506000.013435.12345")
    link = parse_identifier("https://id.gs1.org/01/09506000134352/21/12345")
    assert urn == link
    assert (urn.source_format, link.source_format) == ("epc-urn", "digital-link")


# --- parse_identifier: input forms --------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "(01)09506000134352(10)LOT1(21)SN1",
    "(01) 09506000134352 (10) LOT1 (21) SN1",
    "010950600013435210LOT1\x1d21SN1",
    "\x1d010950600013435210LOT1\x1d21SN1\x1d",
    "010950600013435210LOT1<GS>21SN1",
    "010950600013435210LOT1{GS}21SN1",
    "010950600013435210LOT1\u241d21SN1",
    "]C1010950600013435210LOT1\x1d21SN1",
    "]d2010950600013435210LOT1\x1d21SN1",
    "]Q3010950600013435210LOT1\x1d21SN1",
    "]e0010950600013435210LOT1\x1d21SN1",
    "https://id.gs1.org/01/09506000134352/10/LOT1/21/SN1",
    "https://example.com/resolver/01/9506000134352/10/LOT1/21/SN1?linkType=all",
    "HTTPS://id.gs1.org/gtin/09506000134352/lot/LOT1/ser/SN1",
    "]Q1https://id.gs1.org/01/09506000134352/10/LOT1/21/SN1",
])
@pytest.mark.req("URS-ID-01")
def test_every_form_of_the_same_item_parses_to_the_same_key(text: str) -> None:
    assert parse_identifier(text) == GS1Key(gtin=GTIN, lot="LOT1", serial="SN1",
                                            source_format="element-string")


@pytest.mark.parametrize(("text", "gtin"), [
    ("96385074", "00000096385074"), ("614141123452", "00614141123452"),
    ("9506000134352", "09506000134352"), ("09506000134352", "09506000134352"),
    ("]E09506000134352", "09506000134352"), ("]I109506000134352", "09506000134352"),
])
def test_bare_gtins_are_normalised_to_gtin_14(text: str, gtin: str) -> None:
    key = parse_identifier(text)
    assert (key.gtin, key.source_format) == (gtin, "gtin")
    assert to_element_string(key) == f"(01){gtin}"


def test_bare_sscc_and_element_string_sscc() -> None:
    assert parse_identifier(SSCC) == GS1Key(sscc=SSCC, source_format="sscc")
    assert parse_identifier(SSCC).source_format == "sscc"
    key = parse_identifier(f"(00){SSCC}(02){GTIN}(37)12(10)L7")
    assert key.other == (("02", GTIN), ("37", "12"))
    assert key.lot == "L7"  # a lot may qualify the content GTIN (02), per the dictionary
    assert to_digital_link(key) == f"https://id.gs1.org/00/{SSCC}?02={GTIN}&10=L7&37=12"


def test_all_modelled_fields_and_other_ais() -> None:
    key = parse_identifier(f"(01){GTIN}(11)260115(17)290131(10)B-12(21)0042(30)5(8012)2.1")
    # equality ignores source_format: the same data read from any form is the same key
    assert key == GS1Key(gtin=GTIN, lot="B-12", serial="0042", production_date="2026-01-15",
                         expiry="2029-01-31", other=(("30", "5"), ("8012", "2.1")),
                         source_format="digital-link")
    assert to_element_string(key) == \
        f"(01){GTIN}(10)B-12(11)260115(17)290131(21)0042(30)5(8012)2.1"


def test_epc_urns_of_every_supported_scheme() -> None:
    assert parse_identifier("urn:epc:class:lgtin:9506000.013435.LOT1") == GS1Key(
        gtin=GTIN, lot="LOT1", source_format="epc-urn")
    assert parse_identifier("urn:epc:id:sscc:9506000.0000000001").sscc == SSCC
    sgln = parse_identifier("urn:epc:id:sgln:9506000.13430.dock%2F7")
    assert (sgln.gln, sgln.other) == ("9506000134307", (("254", "dock/7"),))
    assert to_epc_urn(sgln, 7) == "urn:epc:id:sgln:9506000.13430.dock%2F7"
    giai = parse_identifier("urn:epc:id:giai:9506000.ASSET-1")
    assert giai.giai == "9506000ASSET-1"
    assert to_epc_urn(giai, 7) == "urn:epc:id:giai:9506000.ASSET-1"
    escaped = parse_identifier("urn:epc:id:sgtin:9506000.013435.A%26B%3F%22")
    assert escaped.serial == 'A&B?"'
    assert to_epc_urn(escaped, 7) == "urn:epc:id:sgtin:9506000.013435.A%26B%3F%22"


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "field", "rule", "value"), [
    ("09506000134353", "01", "GTIN check digit", "09506000134353"),
    ("(01)09506000134353(10)L", "01", "GTIN check digit", "09506000134353"),
    ("https://id.gs1.org/01/09506000134353", "01", "GTIN check digit", "09506000134353"),
    ("095060000000000016", "00", "SSCC check digit", "095060000000000016"),
    ("(414)9506000134306", "414", "GLN check digit", "9506000134306"),
    (f"(01){GTIN}(17)270230", "17", "AI 17 date", "270230"),
    (f"(01){GTIN}(17)271301", "17", "AI 17 date", "271301"),
    (f"01{GTIN}17271301", "17", "AI 17 date", "271301"),
    (f"https://id.gs1.org/01/{GTIN}?17=271301", "17", "AI 17 date", "271301"),
    (f"01{GTIN}2612", "AI", "unknown AI", "2612"),
    (f"(01){GTIN}(26)12", "26", "unknown AI", "12"),
    (f"01{GTIN}10" + "L" * 21, "10", "AI 10 format", "L" * 21),
    (f"(01){GTIN}(21)" + "S" * 21, "21", "AI 21 format", "S" * 21),
    (f"(01){GTIN}(10)A(10)B", "10", "duplicate AI", "B"),
    ("(10)LOT1", "key", "primary key", "LOT1"),
    (f"(00){SSCC}(21)S1", "21", "AI 21 association", "S1"),
    (f"https://id.gs1.org/01/{GTIN}?21=S1", "21", "Digital Link attribute", "S1"),
    (f"https://id.gs1.org/01/{GTIN}/21/S/10/L", "digital-link", "Digital Link qualifier", "10"),
    ("https://id.gs1.org/foo/bar", "digital-link", "Digital Link primary key",
     "https://id.gs1.org/foo/bar"),
    ("urn:epc:id:sgtin:950600.013435.1", "epc item reference", "EPC partition", "950600.013435"),
    ("urn:epc:id:sgtin:95060.0013435.1", "epc company prefix", "EPC company prefix", "95060"),
    ("urn:epc:id:sscc:9506000.000000001", "epc serial reference", "EPC partition",
     "9506000.000000001"),
    ("urn:epc:id:sgtin:9506000.013435.A/B", "21", "EPC URN character", "A/B"),
    ("urn:epc:id:grai:9506000.01234.5", "epc-urn", "EPC scheme",
     "urn:epc:id:grai:9506000.01234.5"),
    ("\u0660" * 14, "input", "character set", "\u0660" * 14),
    ("", "input", "identifier syntax", ""),
    ("]C1", "input", "identifier syntax", "]C1"),
])
@pytest.mark.req("URS-ID-01")
def test_invalid_input_raises_naming_value_field_and_rule(text: str, field: str, rule: str,
                                                          value: str) -> None:
    with pytest.raises(GS1Error) as caught:
        parse_identifier(text)
    error = caught.value
    assert (error.field, error.rule, error.value) == (field, rule, value)
    assert rule in str(error) and repr(value) in str(error) and field in str(error)
    assert isinstance(error, ValueError)


def test_wrong_check_digit_error_names_the_expected_digit() -> None:
    with pytest.raises(GS1Error, match=r"expected check digit 2, got 3"):
        parse_identifier("09506000134353")


def test_gs1_error_pickles_with_its_attributes() -> None:
    error = GS1Error("x", "17", "AI 17 date", "detail")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.value, clone.field, clone.rule, clone.detail, str(clone)) == (
        "x", "17", "AI 17 date", "detail", str(error))


def test_keys_are_validated_on_construction() -> None:
    with pytest.raises(GS1Error, match="GTIN check digit"):
        GS1Key(gtin="09506000134353", source_format="gtin")
    with pytest.raises(GS1Error, match="AI 01 format"):
        GS1Key(gtin="9506000134352", source_format="gtin")  # GTIN-13: not normalised
    with pytest.raises(GS1Error, match="AI 17 date"):
        GS1Key(gtin=GTIN, expiry="2027-02-30", source_format="gtin")
    with pytest.raises(GS1Error, match="modelled AI in other"):
        GS1Key(gtin=GTIN, other=(("10", "L"),), source_format="gtin")
    with pytest.raises(GS1Error, match="source format"):
        GS1Key(gtin=GTIN, source_format="barcode")  # type: ignore[arg-type]  # a bad source format, on purpose
    key = GS1Key(gtin=GTIN, other=(("8012", "1"), ("30", "2")), source_format="gtin")
    assert key.other == (("30", "2"), ("8012", "1"))


# --- writing ------------------------------------------------------------------------------------


def test_to_digital_link_with_a_base_and_its_refusals() -> None:
    key = parse_identifier(f"(01){GTIN}(10)A/B(17)270301")
    assert to_digital_link(key, base="http://r.example/x/") == \
        f"http://r.example/x/01/{GTIN}/10/A%2FB?17=270301"
    with pytest.raises(GS1Error, match="Digital Link base URI"):
        to_digital_link(key, base="ftp://example.com")
    with pytest.raises(GS1Error, match="Digital Link primary key"):
        to_digital_link(replace(key, sscc=SSCC))
    with pytest.raises(GS1Error, match="Digital Link attribute") as caught:
        to_digital_link(GS1Key(gtin=GTIN, other=(("8200", "https://x.example"),),
                               source_format="gtin"))
    assert caught.value.field == "8200"


def test_to_epc_urn_needs_a_fitting_scheme_and_prefix_length() -> None:
    item = parse_identifier(f"(01){GTIN}(21)S1")
    assert to_epc_urn(item, 7) == "urn:epc:id:sgtin:9506000.013435.S1"
    assert to_epc_urn(item, 12) == "urn:epc:id:sgtin:950600013435.0.S1"
    assert to_epc_urn(item, 6) == "urn:epc:id:sgtin:950600.0013435.S1"
    for bad in (5, 13):
        with pytest.raises(GS1Error, match="EPC company prefix"):
            to_epc_urn(item, bad)
    with pytest.raises(GS1Error, match="EPC scheme"):
        to_epc_urn(parse_identifier(GTIN), 7)
    both = replace(item, sscc=SSCC)
    with pytest.raises(GS1Error, match="name one with scheme="):
        to_epc_urn(both, 7)
    assert to_epc_urn(both, 7, scheme="sscc") == "urn:epc:id:sscc:9506000.0000000001"
    with pytest.raises(GS1Error, match="lacks the parts of lgtin"):
        to_epc_urn(item, 7, scheme="lgtin")


def test_dates_outside_the_two_digit_year_window_cannot_be_written() -> None:
    key = GS1Key(gtin=GTIN, expiry="2199-01-01", source_format="gtin")
    with pytest.raises(GS1Error, match="AI 17 date"):
        to_element_string(key)


def test_module_doctests_run() -> None:
    results = [doctest.testmod(m, optionflags=doctest.ELLIPSIS)
               for m in (graph.identifiers.gs1, graph.identifiers.gs1_key,
                         graph.identifiers.gs1_epc, graph.identifiers.gs1_write)]
    assert sum(r.attempted for r in results) >= 20
    assert sum(r.failed for r in results) == 0


# --- properties ---------------------------------------------------------------------------------

digits13 = st.text(alphabet="0123456789", min_size=13, max_size=13)
gtins = digits13.map(lambda d: d + _check_digit(d))
values20 = st.text(alphabet=CSET82, min_size=1, max_size=20)
_TODAY = dt.date.today()
dates = st.dates(min_value=dt.date(_TODAY.year - 45, 1, 1),
                 max_value=dt.date(_TODAY.year + 45, 12, 31)).map(dt.date.isoformat)


@st.composite
def keys(draw: st.DrawFn) -> GS1Key:
    return GS1Key(gtin=draw(gtins), lot=draw(st.none() | values20),
                  serial=draw(st.none() | values20), expiry=draw(st.none() | dates),
                  production_date=draw(st.none() | dates), source_format="element-string")


@given(keys())
@example(GS1Key(gtin=GTIN, lot="(10)x", serial="%2F/?&(", source_format="gtin"))
def test_element_string_round_trip(key: GS1Key) -> None:
    assert parse_identifier(to_element_string(key)) == key
    assert parse_identifier(to_barcode_data(key)) == key
    assert parse_identifier("]d2" + to_barcode_data(key)) == key


@given(keys(), st.sampled_from(["https://id.gs1.org", "https://example.com/a/b"]))
def test_digital_link_round_trip(key: GS1Key, base: str) -> None:
    link = to_digital_link(key, base=base)
    assert link.startswith(base + "/01/")
    parsed = parse_identifier(link)
    assert parsed == key
    assert parsed.source_format == "digital-link"


@given(gtins, values20, st.integers(min_value=6, max_value=12), st.booleans())
def test_epc_round_trip(gtin: str, value: str, prefix_length: int, serialised: bool) -> None:
    key = GS1Key(gtin=gtin, serial=value if serialised else None,
                 lot=None if serialised else value, source_format="epc-urn")
    urn = to_epc_urn(key, prefix_length)
    assert urn.startswith("urn:epc:id:sgtin:" if serialised else "urn:epc:class:lgtin:")
    assert parse_identifier(urn) == key
    assert to_epc_urn(parse_identifier(urn), prefix_length) == urn


@given(st.text(alphabet="0123456789", min_size=17, max_size=17),
       st.integers(min_value=6, max_value=12))
def test_sscc_epc_round_trip(digits: str, prefix_length: int) -> None:
    sscc = digits + _check_digit(digits)
    assert is_sscc(sscc)
    urn = to_epc_urn(parse_identifier(sscc), prefix_length)
    assert parse_identifier(urn).sscc == sscc


@given(gtins, st.integers(min_value=0, max_value=13), st.integers(min_value=1, max_value=9))
@pytest.mark.req("URS-ID-01")
def test_a_single_digit_change_in_a_gtin_is_always_rejected(gtin: str, position: int,
                                                            shift: int) -> None:
    assert is_gtin(gtin)
    changed = gtin[:position] + str((int(gtin[position]) + shift) % 10) + gtin[position + 1:]
    assert not is_gtin(changed)
    with pytest.raises(GS1Error) as caught:
        parse_identifier(changed)
    assert caught.value.rule == "GTIN check digit"
    with pytest.raises(GS1Error, match="GTIN check digit"):
        parse_identifier(f"(01){changed}(10)L1")


@given(st.sampled_from([7, 11, 12]).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)))
def test_short_gtins_are_valid_iff_their_check_digit_is(payload: str) -> None:
    gtin = payload + _check_digit(payload)
    assert is_gtin(gtin)
    assert parse_identifier(gtin).gtin == gtin.zfill(14)


def test_validators_reject_non_ascii_and_wrong_lengths() -> None:
    assert not is_gtin("\u0660" * 14)
    assert not is_gtin("0950600013435")
    assert not is_gtin(" 09506000134352")
    assert not is_sscc(SSCC[:-1])
    assert is_sscc(SSCC)


@pytest.mark.parametrize(("urn", "pairs"), [
    ("urn:epc:id:grai:4012345.66666.87", [("8003", "04012345666663" + "87")]),
    ("urn:epc:id:gdti:4012345.55555.98", [("253", "4012345555554" + "98")]),
    ("urn:epc:id:sgcn:4012345.99999.44", [("255", "4012345999990" + "44")]),
    ("urn:epc:id:gsrn:4012345.9876540000", [("8018", "401234598765400000")]),
    ("urn:epc:id:gsrnp:4012345.0000098765", [("8017", "401234500000987658")]),
    ("urn:epc:id:gsin:4012345.999987654", [("402", "40123459999876541")]),
    ("urn:epc:id:pgln:4012345.00011", [("417", "4012345000115")]),
    ("urn:epc:id:ginc:4012345.333", [("401", "4012345333")]),
    ("urn:epc:id:cpi:4012345.ABC.123", [("8010", "4012345ABC"), ("8011", "123")]),
    ("urn:epc:id:itip:4012345.012345.01.02.999",
     [("8006", "040123451234560102"), ("21", "999")]),
    ("urn:epc:id:upui:4012345.012345.AB12", [("01", "04012345123456"), ("235", "AB12")]),
    ("urn:epc:id:sgln:4012345.00011.0", [("414", "4012345000115")]),
])
def test_epc_urn_pairs_of_every_tds_scheme(urn: str, pairs: list[tuple[str, str]]) -> None:
    assert epc_urn_pairs(urn) == pairs
    # every key the parser computes passes the element-string validation (check digits)
    parse_identifier("".join(f"({ai}){value}" for ai, value in pairs))


def test_epc_urn_pairs_patterns_and_refusals() -> None:
    assert epc_urn_pairs("urn:epc:idpat:grai:4012345.66666.*", patterns=True) == [
        ("8003", "04012345666663")]
    for urn, rule in (("urn:epc:idpat:grai:4012345.66666.*", "EPC URN syntax"),
                      ("urn:epc:id:gsrn:4012345.987654000", "EPC partition"),
                      ("urn:epc:id:itip:4012345.012345.1.02.9", "EPC partition"),
                      ("urn:epc:class:grai:4012345.66666.87", "EPC scheme"),
                      ("urn:epc:id:gdti:4012345.55555", "EPC URN syntax")):
        with pytest.raises(GS1Error) as caught:
            epc_urn_pairs(urn)
        assert caught.value.rule == rule, urn
    with pytest.raises(GS1Error, match="EPC pattern"):
        epc_urn_pairs("urn:epc:idpat:sgtin:4012345.*.*", patterns=True)
