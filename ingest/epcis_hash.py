"""The EPCIS Event Hash ID of CBV 2.0 (section 8.9): a pre-hash string built from the event's
fields in the canonical property order with the specified normalisations, hashed with SHA-256
and written ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920).

The pre-hash string is ``eventType=<type>`` followed by, in the canonical order, ``key=value``
for each simple field and ``<listName>`` once followed by its sorted elements for each list;
then the ILMD (``ilmd`` and its sorted ``{namespace}name=value`` entries) and last the sorted
user extensions. Normalisations: values trimmed; times in UTC at millisecond precision with
``Z``; numbers without trailing zeros; ``urn:epcglobal:cbv:…`` and bare CBV words (bizStep,
disposition, business-transaction / source / destination types) as ``https://ref.gs1.org/cbv/``
web URIs; CURIEs expanded (``gs1:``, ``cbv:``, ``epcis:`` and the document's own prefixes);
EPC URIs (``urn:epc:id|class|idpat``, read by :func:`graph.identifiers.gs1.epc_urn_pairs`)
and any GS1 Digital Link as the constrained canonical Digital Link on ``https://id.gs1.org``
(no query string, only the finest key and qualifier).
``eventID``, ``recordTime``, ``errorDeclaration`` and ``certificationInfo`` are not part of it,
so an error declaration or a re-sent event keeps the hash of the event it is about.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from graph.identifiers.gs1 import GS1Error, epc_urn_pairs

__all__ = ["event_hash", "hash_value", "namespaces_of", "prehash", "to_hash_digital_link"]

CBV = "https://ref.gs1.org/cbv/"
DL_BASE = "https://id.gs1.org"
_CURIES = {"gs1": "https://gs1.org/voc/", "cbv": CBV, "epcis": "https://ref.gs1.org/epcis/"}
_CBV_URNS = (("urn:epcglobal:cbv:bizstep:", "BizStep-"), ("urn:epcglobal:cbv:disp:", "Disp-"),
             ("urn:epcglobal:cbv:btt:", "BTT-"), ("urn:epcglobal:cbv:sdt:", "SDT-"),
             ("urn:epcglobal:cbv:er:", "ER-"))
_QTY = ("epcClass", "quantity", "uom")
_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
             "dataProcessingMethod", "bizRules")
_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
           "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue",
           "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue",
           "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem")
#: the canonical property order (CBV 2.0 section 8.9.2), after eventType
_ORDER = ("eventTime", "eventTimeZoneOffset", "epcList", "parentID", "inputEPCList",
          "childEPCs", "quantityList", "childQuantityList", "inputQuantityList",
          "outputEPCList", "outputQuantityList", "action", "transformationID", "bizStep",
          "disposition", "persistentDisposition", "readPoint", "bizLocation",
          "bizTransactionList", "sourceList", "destinationList", "sensorElementList", "ilmd")
_EPC_LISTS = {"epcList", "inputEPCList", "childEPCs", "outputEPCList"}
_TYPED_LISTS = {"bizTransactionList": ("bizTransaction", "BTT-"),
                "sourceList": ("source", "SDT-"), "destinationList": ("destination", "SDT-")}
_NOT_HASHED = {"type", "eventID", "recordTime", "errorDeclaration", "certificationInfo",
               "@context"}
#: bare words that are GS1 web vocabulary terms (sensor measurement types and the like)
_GS1_VOC_FIELDS = {"type", "exception", "component"}

# --- GS1 keys: EPC URIs and Digital Links to the constrained canonical Digital Link -----------

#: scheme -> (primary AI, layout); layouts say how the dot-separated URN parts make the AIs
#: Digital Link primary keys and the qualifiers the constrained form keeps, finest first
_DL_QUALIFIERS = {"00": (), "01": ("21", "235", "10"), "253": (), "255": (), "401": (),
                  "402": (), "414": ("254",), "417": (), "8003": (), "8004": (),
                  "8006": ("21", "10"), "8010": ("8011",), "8017": (), "8018": ()}
_DL_SHORT = {"gtin": "01", "sscc": "00", "gln": "414", "ser": "21", "lot": "10",
             "giai": "8004", "grai": "8003", "gdti": "253", "gsrn": "8018", "gsrnp": "8017",
             "cpid": "8010", "cpsn": "8011", "gcn": "255", "ginc": "401", "gsin": "402",
             "itip": "8006", "upui": "235", "party": "417"}


def _dl(pairs: list[tuple[str, str]]) -> str:
    return DL_BASE + "".join(f"/{ai}/{quote(value, safe=chr(33) + chr(39) + '()*')}"
                             for ai, value in pairs)


def _constrained(pairs: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    found = dict(pairs)
    primary = next((ai for ai, _ in pairs if ai in _DL_QUALIFIERS), None)
    if primary is None:
        return None
    value = found[primary].zfill(14) if primary == "01" else found[primary]
    out = [(primary, value)]
    qualifier = next((q for q in _DL_QUALIFIERS[primary] if q in found), None)
    if qualifier is not None:
        out.append((qualifier, found[qualifier]))
    return out


def to_hash_digital_link(text: str) -> str | None:
    """An EPC URI or GS1 Digital Link as the constrained canonical Digital Link the event hash
    uses, or ``None`` when ``text`` is neither."""
    low = text.lower()
    if low.startswith("urn:epc:"):
        try:
            return _dl(epc_urn_pairs(text, patterns=True))
        except GS1Error:
            return None
    if low.startswith(("http://", "https://")):
        segments = [unquote(s) for s in urlsplit(text).path.split("/")]
        start = next((i for i, s in enumerate(segments)
                      if _DL_SHORT.get(s, s) in _DL_QUALIFIERS and i + 1 < len(segments)), None)
        if start is None:
            return None
        tail = segments[start:]
        pairs = [(_DL_SHORT.get(tail[i], tail[i]), tail[i + 1])
                 for i in range(0, len(tail) - 1, 2)]
        if not all(ai.isdigit() for ai, _ in pairs):
            return None
        constrained = _constrained(pairs)
        return _dl(constrained) if constrained else None
    return None


# --- values -------------------------------------------------------------------------------------


def namespaces_of(context: Any) -> dict[str, str]:
    """The prefix -> namespace IRI map of a JSON-LD ``@context`` (string, object or list)."""
    out: dict[str, str] = {}
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, dict):
            out.update({k: v for k, v in item.items() if isinstance(v, str)})
    return out


def _utc_ms(value: str) -> str:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return value
    if t.tzinfo is None:
        return value
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def hash_value(value: Any, namespaces: Mapping[str, str] | None = None,
               cbv_prefix: str | None = None, key: str = "") -> str:
    """One value in its pre-hash form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    if "time" in key.lower() and "offset" not in key.lower():
        return _utc_ms(text)
    for urn, term in _CBV_URNS:
        if text.startswith(urn):
            return CBV + term + text[len(urn):]
    if ":" not in text:
        if cbv_prefix is not None and text:
            return CBV + cbv_prefix + text
        if key in _GS1_VOC_FIELDS and text and text[0].isalpha():
            return _CURIES["gs1"] + text
        return text
    dl = to_hash_digital_link(text)
    if dl is not None:
        return dl
    prefix, _, local = text.partition(":")
    if not local.startswith("//"):
        ns = (namespaces or {}).get(prefix) or _CURIES.get(prefix)
        if ns is not None:
            return ns + local
    return text


def _ext_key(key: str, namespaces: Mapping[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    ns = namespaces.get(prefix) or _CURIES.get(prefix)
    if sep and ns is not None and not local.startswith("//"):
        return "{" + ns + "}" + local
    return key


def _extension(key: str, value: Any, namespaces: Mapping[str, str]) -> list[str]:
    """The pre-hash strings of one user extension (or ILMD) field: a list gives one string per
    element; an object is its name followed by its children's sorted strings."""
    name = _ext_key(key, namespaces)
    if isinstance(value, list):
        return [s for v in value for s in _extension(key, v, namespaces)]
    if isinstance(value, dict):
        if "@value" in value:
            return _extension(key, value["@value"], namespaces)
        children = sorted(s for k, v in value.items() if not k.startswith("@")
                          for s in _extension(k, v, namespaces))
        return [name + "".join(children)] if children else []
    text = hash_value(value, namespaces)
    return [f"{name}={text}" if text else name]


def _extensions(obj: Mapping[str, Any], known: set[str] | tuple[str, ...],
                namespaces: Mapping[str, str]) -> str:
    return "".join(sorted(s for k, v in obj.items() if k not in known and not k.startswith("@")
                          for s in _extension(k, v, namespaces)))


def _fields(obj: Mapping[str, Any], order: tuple[str, ...], namespaces: Mapping[str, str]
            ) -> str:
    out = ""
    for k in order:
        if k in obj and obj[k] is not None and obj[k] != "":
            text = hash_value(obj[k], namespaces, key=k)
            out += f"{k}={text}"
    return out


# --- the pre-hash string -----------------------------------------------------------------------


def _part(field: str, value: Any, ns: Mapping[str, str]) -> str:
    if field in _EPC_LISTS:
        items = sorted(f"epc={hash_value(v, ns)}" for v in value)
        return field + "".join(items) if items else ""
    if field.endswith("uantityList"):
        items = sorted("quantityElement" + _fields(q, _QTY, ns) for q in value)
        return field + "".join(items) if items else ""
    if field in _TYPED_LISTS:
        name, prefix = _TYPED_LISTS[field]
        items = sorted(f"{name}={hash_value(e.get(name), ns)}"
                       + (f"type={hash_value(e['type'], ns, prefix)}" if e.get("type") else "")
                       for e in value)
        return field + "".join(items) if items else ""
    if field == "persistentDisposition":
        inner = "".join("".join(sorted(f"{k}={hash_value(v, ns, 'Disp-')}"
                                       for v in value.get(k, [])))
                        for k in ("set", "unset"))
        return field + inner if inner else ""
    if field in ("readPoint", "bizLocation"):
        inner = _fields(value, ("id",), ns) + _extensions(value, {"id"}, ns)
        return field + inner if inner else ""
    if field == "sensorElementList":
        items = sorted(_sensor_element(e, ns) for e in value)
        return field + "".join(items) if items else ""
    if field == "ilmd":
        inner = _extensions(value, (), ns)
        return field + inner if inner else ""
    word = {"bizStep": "BizStep-", "disposition": "Disp-"}.get(field)
    text = hash_value(value, ns, word, key=field)
    return f"{field}={text}" if text else ""


def _sensor_element(e: Mapping[str, Any], ns: Mapping[str, str]) -> str:
    out = "sensorElement"
    meta = e.get("sensorMetadata")
    if isinstance(meta, dict):
        inner = _fields(meta, _METADATA, ns) + _extensions(meta, _METADATA, ns)
        out += "sensorMetadata" + inner if inner else ""
    out += "".join(sorted("sensorReport" + _fields(r, _REPORT, ns) + _extensions(r, _REPORT, ns)
                          for r in e.get("sensorReport", [])))
    return out + _extensions(e, ("sensorMetadata", "sensorReport"), ns)


def prehash(event: Mapping[str, Any], context: Any = None) -> str:
    """The CBV 2.0 pre-hash string of one EPCIS 2.0 JSON(-LD) event; ``context`` is the
    enclosing document's ``@context`` (the event's own ``@context`` is read too)."""
    ns = {**namespaces_of(context), **namespaces_of(event.get("@context"))}
    out = f"eventType={event['type']}"
    for field in _ORDER:
        if field in event and event[field] is not None:
            out += _part(field, event[field], ns)
    known = set(_ORDER) | _NOT_HASHED
    return out + _extensions(event, known, ns)


def event_hash(event: Mapping[str, Any], context: Any = None) -> str:
    """The event's hash ID ``ni:///sha-256;<hex>?ver=CBV2.0`` (CBV 2.0 section 8.9)."""
    digest = hashlib.sha256(prehash(event, context).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
