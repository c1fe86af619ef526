"""Electronic device history record (21 CFR 820.184, ISO 13485 §7.5.1) of a batch or of one
serialized unit: dates, quantities made and released, process version, materials and lots,
equipment and fixtures, operators, parameters (with excursions), inspections, deviations,
holds and dispositions, the release decision, signatures with their manifestation, and the UDI
— as JSON (:func:`batch_dhr`, :func:`unit_dhr`) and as a self-contained HTML document
(:func:`render_html`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from graph.authority import MIGRATED
from graph.context import as_built
from graph.model import Direction, NodeRecord
from graph.schema import DERIVATION
from graph.session import Session
from graph.status import is_released
from ontology.terms import C, P, R
from ontology.units import display_unit
from ontology.vocab import DEFAULT_INSTANCE_BASE as ID_BASE
from quality.document_training import executed_under
from quality.edhr_words import Words, heading
from quality.environment import SampleSource, execution_conditions
from quality.release import release_report
from quality.signatures import manifestation, manifestation_text, signatures_by_record
from quality.workflow import linked_from, resolve

__all__ = ["FORMAT", "PAPER", "PdfUnavailable", "batch_dhr", "heading", "render_html",
           "render_pdf", "udi_of", "unit_dhr"]

FORMAT = "tracegraph.edhr/1"
Json = dict[str, Any]


def _gs1_date(text: object) -> str:
    s = str(text or "")
    return f"{s[2:4]}{s[5:7]}{s[8:10]}" if len(s) >= 10 else ""


def udi_of(product: NodeRecord | None, lot: str, manufactured: object, expiry: object,
           serial: str | None = None) -> Json:
    """The UDI of a batch or unit: device identifier and production identifiers (GS1 AIs)."""
    di = str((product.props.get(P.udiDI) or product.props.get(P.gtin)) if product else "")
    parts = [f"(01){di}"] if di else []
    if _gs1_date(manufactured):
        parts.append(f"(11){_gs1_date(manufactured)}")
    if _gs1_date(expiry):
        parts.append(f"(17){_gs1_date(expiry)}")
    parts.append(f"(10){lot}")
    if serial:
        parts.append(f"(21){serial}")
    return {"di": di, "lot": lot, "serial": serial, "manufacturedAt": manufactured,
            "expiryDate": expiry, "humanReadable": "".join(parts)}


def _props(n: NodeRecord, *names: str) -> Json:
    return {str(k): n.props.get(k) for k in names}


def batch_dhr(rt: Session, batch: str, unit_limit: int = 100,
              samples: SampleSource | None = None) -> Json:
    """The device history record of a batch as JSON-ready data, read in one snapshot
    (``watermark``: the store as of which every section reads). ``samples``: the raw signal
    store, for the room conditions of each operation (``environment``)."""
    with rt.store.snapshot() as watermark:
        return {**_batch_dhr(rt, batch, unit_limit, samples), "watermark": watermark}


def _batch_dhr(rt: Session, batch: str, unit_limit: int,
               samples: SampleSource | None = None) -> Json:
    st = rt.store
    b = resolve(rt, C.TraceableEntity, batch)
    ctx = as_built(st, [b.iri])
    nodes = ctx.nodes
    out_links: dict[str, dict[str, list[str]]] = {}
    for e in ctx.edges:
        out_links.setdefault(e.src, {}).setdefault(e.type, []).append(e.dst)

    def one(rel: str, src: str = b.iri) -> NodeRecord | None:
        dst = out_links.get(src, {}).get(rel, [])
        return nodes.get(dst[0]) if dst else None

    product = one(R.OF_PRODUCT)
    version = one(R.RUNS_PROCESS_VERSION)
    work_order = one(R.FOR_WORK_ORDER)
    executions = sorted((nodes[e.src] for e in ctx.edges
                         if e.type == R.FOR_BATCH and e.dst == b.iri),
                        key=lambda x: (str(x.props.get(P.startedAtTime, "")), x.key))
    during: dict[str, list[NodeRecord]] = {}
    for e in ctx.edges:
        if e.type == R.DURING_EXECUTION and e.src in nodes:
            during.setdefault(e.dst, []).append(nodes[e.src])
    obs_specs = {e.src: e.dst for e in st.links(
        sorted(n.iri for ns in during.values() for n in ns
               if n.label == C.ParameterObservation), [R.OBSERVES])} if during else {}
    specs = st.get_many(sorted(set(obs_specs.values())))
    results = sorted(n.iri for ns in during.values() for n in ns if n.label == C.InspectionResult)
    measured_with = {e.src: e.dst for e in st.links(results, [R.MEASURED_WITH])} \
        if results else {}
    instruments = st.get_many(sorted(set(measured_with.values())))

    operations, params, inspections, excursions = [], [], [], []
    equipment: dict[str, Json] = {}
    fixtures: dict[str, Json] = {}
    operators: dict[str, Json] = {}
    for x in executions:
        op = one(R.EXECUTES_OPERATION, x.iri)
        eq = one(R.ON_EQUIPMENT, x.iri)
        fx = one(R.USED_FIXTURE, x.iri)
        who = one(R.WAS_ASSOCIATED_WITH, x.iri)
        for n, bucket in ((eq, equipment), (fx, fixtures)):
            if n is not None:
                bucket[n.key] = {"key": n.key, "name": n.props.get(P.name),
                                 **_props(n, P.calibrationStatus, P.calibrationDue,
                                          P.usageCount, P.usageLimit)}
        if who is not None:
            operators[who.key] = {"username": who.key, "name": who.props.get(P.name)}
        operations.append({
            "execution": x.key, "operation": op.key if op else None,
            "name": op.props.get(P.name) if op else None,
            "sequence": op.props.get(P.sequence) if op else None,
            "startedAt": x.props.get(P.startedAtTime), "endedAt": x.props.get(P.endedAtTime),
            "status": x.props.get(P.executionStatus), "quantity": x.props.get(P.quantity),
            "scrap": x.props.get(P.scrapQuantity),
            "equipment": eq.key if eq else None, "fixture": fx.key if fx else None,
            "operator": who.key if who else None})
        for n in sorted(during.get(x.iri, []), key=lambda n: n.key):
            if n.label == C.ParameterObservation:
                spec = specs.get(obs_specs.get(n.iri, ""))
                lo = spec.props.get(P.lsl) if spec else None
                hi = spec.props.get(P.usl) if spec else None
                vmin, vmax = n.props.get(P.minValue), n.props.get(P.maxValue)
                within = not ((isinstance(lo, (int, float)) and isinstance(vmin, (int, float))
                               and vmin < lo) or (isinstance(hi, (int, float)) and
                                                  isinstance(vmax, (int, float)) and vmax > hi))
                params.append({"execution": x.key, "spec": spec.key if spec else None,
                               "parameter": spec.props.get(P.name) if spec else None,
                               "cpp": spec.props.get(P.isCPP) if spec else None,
                               "min": vmin, "max": vmax, "mean": n.props.get(P.meanValue),
                               "unit": n.props.get(P.unitCode), "lsl": lo, "usl": hi,
                               "withinSpec": within,  # samples of the material (item 4):
                               "residenceDelay": n.props.get(P.residenceDelay, 0.0),
                               "samplesFrom": n.props.get(P.windowStart),
                               "samplesTo": n.props.get(P.windowEnd)})
            elif n.label == C.InspectionResult:
                tool = instruments.get(measured_with.get(n.iri, ""))
                inspections.append({"execution": x.key, "result": n.key,
                                    **_props(n, P.inspectionOutcome, P.measuredValue,
                                             P.minValue, P.maxValue, P.unitCode,
                                             P.sampleCount, P.defectCount, P.resultTime),
                                    "instrument": tool.key if tool else None})
            elif n.label == C.Excursion:
                excursions.append({"execution": x.key, "excursion": n.key,
                                   **_props(n, P.excursionLevel, P.peakValue, P.limitValue,
                                            P.detectedAt, P.clearedAt, P.description)})

    consumed = [e for e in st.edges(b.iri, Direction.UPSTREAM, [DERIVATION])]
    inputs = st.get_many(sorted({e.dst for e in consumed}))
    in_links = st.links(sorted(inputs), [R.OF_MATERIAL, R.SUPPLIED_BY, R.OF_PRODUCT])
    in_nodes = st.get_many(sorted({e.dst for e in in_links}))
    of = {(e.src, e.type): in_nodes.get(e.dst) for e in in_links}
    materials = []
    for e in sorted(consumed, key=lambda e: (str(e.props.get("atTime", "")), e.dst)):
        lot = inputs.get(e.dst)
        if lot is None:
            continue
        mat = of.get((lot.iri, R.OF_MATERIAL)) or of.get((lot.iri, R.OF_PRODUCT))
        sup = of.get((lot.iri, R.SUPPLIED_BY))
        materials.append({"lot": lot.key, "class": lot.label,
                          "material": mat.key if mat else None,
                          "materialName": mat.props.get(P.name) if mat else None,
                          "supplier": sup.key if sup else None,
                          "supplierLot": lot.props.get(P.supplierLotNumber),
                          "quantity": e.props.get("quantity"), "unit": e.props.get("unitCode"),
                          "at": e.props.get("atTime"), "kind": e.props.get("derivationKind")})

    report = release_report(rt, b.iri)
    devs = linked_from(st, report.upstream, R.CONCERNS, C.Deviation)
    holds = linked_from(st, report.upstream, R.HOLDS, C.Hold)
    disps = linked_from(st, sorted(holds), R.RESOLVES_HOLD, C.Disposition)
    releases = linked_from(st, [b.iri], R.RELEASE_OF, C.ReleaseDecision)
    approvals = linked_from(st, sorted(devs), R.APPROVES, C.Approval)
    units = linked_from(st, [b.iri], DERIVATION, C.SerializedUnit)
    released_units = len(units) if is_released(b) else 0
    signed = {**devs, **disps, **releases, **approvals}
    sigs = signatures_by_record(st, sorted(signed))
    return {
        "format": FORMAT,
        "batch": {"iri": b.iri, "key": b.key, "class": b.label,
                  "status": b.props.get(P.batchStatus),
                  "quantityPlanned": work_order.props.get(P.quantity) if work_order else None,
                  "quantityMade": b.props.get(P.quantity), "unit": b.props.get(P.unitCode),
                  "unitsSerialized": len(units), "quantityReleased": released_units,
                  "manufacturedAt": b.props.get(P.manufacturedAt),
                  "expiryDate": b.props.get(P.expiryDate),
                  "startedAt": executions[0].props.get(P.startedAtTime) if executions else None,
                  "completedAt": executions[-1].props.get(P.endedAtTime) if executions else None,
                  "workOrder": work_order.key if work_order else None,
                  "migrated": b.props.get(MIGRATED) is True},
        "migrated": sorted({*report.migrated, *(r for r in signed if signed[r].props.get(
            MIGRATED) is True)}),
        "product": ({"key": product.key, **_props(product, P.name, P.gtin, P.udiDI)}
                    if product else None),
        "udi": udi_of(product, b.key, b.props.get(P.manufacturedAt),
                      b.props.get(P.expiryDate)),
        "processVersion": ({"key": version.key, **_props(version, P.name, P.revision,
                                                          P.versionStatus)}
                           if version else None),
        "materials": materials,
        "operations": operations,
        "documents": executed_under(st, [(x, one(R.EXECUTES_OPERATION, x.iri))  # issue 18 item 1
                                         for x in executions]),
        "equipment": sorted(equipment.values(), key=lambda x: str(x["key"])),
        "fixtures": sorted(fixtures.values(), key=lambda x: str(x["key"])),
        "operators": sorted(operators.values(), key=lambda x: str(x["username"])),
        "parameters": params,
        "environment": execution_conditions(st, samples, executions),  # issue 17 item 1
        "excursions": excursions,
        "inspections": inspections,
        "deviations": [{"key": d.key, **_props(d, P.title_, P.deviationGrade,
                                               P.deviationState, P.openedAt, P.closedAt)}
                       for d in sorted(devs.values(), key=lambda n: n.key)],
        "holds": [{"key": h.key, **_props(h, P.holdState, P.openedAt, P.closedAt)}
                  for h in sorted(holds.values(), key=lambda n: n.key)],
        "dispositions": [{"key": d.key, **_props(d, P.dispositionType, P.decidedAt,
                                                 P.description)}
                         for d in sorted(disps.values(), key=lambda n: n.key)],
        "release": [{"key": r.key, **_props(r, P.releaseOutcome, P.decidedAt,
                                            P.exceptionCount)}
                    for r in sorted(releases.values(), key=lambda n: n.key)],
        "exceptions": [p.as_dict() for p in report.exceptions],
        "signatures": [{"record": signed[r].key, "recordClass": signed[r].label,
                        "printedName": s.printed_name, "username": s.username,
                        "signedAt": s.signed_at, "meaning": s.meaning, "valid": s.valid,
                        "manifestation": manifestation(s)}
                       for r in sorted(sigs) for s in sigs[r]],
        "units": sorted(u.key for u in units.values())[:unit_limit],
    }


def unit_dhr(rt: Session, serial: str, samples: SampleSource | None = None) -> Json:
    """The device history record of one serialized unit: its batch's record plus the unit and
    its own UDI (with the serial), read in one snapshot."""
    with rt.store.snapshot():
        return _unit_dhr(rt, serial, samples)


def _unit_dhr(rt: Session, serial: str, samples: SampleSource | None = None) -> Json:
    u = resolve(rt, C.SerializedUnit, serial)
    batch = next((e.dst for e in rt.store.edges(u.iri, Direction.UPSTREAM, [DERIVATION])), None)
    if batch is None:
        raise ValueError(f"unit {u.key} was made from no batch")
    doc = batch_dhr(rt, batch, unit_limit=0, samples=samples)
    product = rt.store.get(next((e.dst for e in rt.store.links([u.iri], [R.OF_PRODUCT])), ""))
    doc["unit"] = {"serial": u.key, **_props(u, P.gtin, P.manufacturedAt, P.expiryDate)}
    doc["udi"] = udi_of(product, doc["batch"]["key"], u.props.get(P.manufacturedAt),
                        u.props.get(P.expiryDate), u.key)
    return doc


# -- HTML -------------------------------------------------------------------------------------
_UNIT_FIELDS = frozenset({"unit", "unitCode"})
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
PAPER = ("A4", "Letter")
_EN = Words()  # English, UTC: the default words


def _cell(v: object, field: str = "", w: Words = _EN, section: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return escape(w.phrase("yes" if v else "no"))
    if isinstance(v, list):
        return ", ".join(_cell(x, field, w, section) for x in v)
    text = str(v)
    if field in _UNIT_FIELDS:
        return escape(display_unit(text))
    if text.startswith(ID_BASE):  # our IRIs: class/key, as people know the record
        return escape(unquote(text[len(ID_BASE):]))
    if _TIME.fullmatch(text):
        return escape(w.time(text))
    if isinstance(v, str) and w.coded(section, field):  # codes and classes by their label
        return escape(w.code(section, field, text))
    return escape(text)


def _table(section: str, rows: Sequence[Mapping[str, Any]], cols: Iterable[str] | None = None,
           w: Words = _EN) -> str:
    head = f'<section id="{escape(section)}"><h2>{escape(w.title(section))}</h2>'
    if not rows:
        return head + f"<p>{escape(w.phrase('none-recorded'))}</p></section>"
    names = list(cols or rows[0].keys())
    th = "".join(f"<th>{escape(w.heading(c))}</th>" for c in names)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c), c, w, section)}</td>" for c in names)
                   + "</tr>" for r in rows)
    return f"{head}<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></section>"


def _fields(section: str, data: Mapping[str, Any] | None, w: Words) -> str:
    head = f'<section id="{section}"><h2>{escape(w.title(section))}</h2>'
    if not data:
        return head + f"<p>{escape(w.phrase('none-recorded'))}</p></section>"
    rows = "".join(f"<tr><th>{escape(w.heading(k))}</th><td>{_cell(v, k, w, section)}</td></tr>"
                   for k, v in data.items())
    return f'{head}<table class="fields">{rows}</table></section>'


def _css_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _style(paper: str, header: str, footer: str, w: Words) -> str:
    """Print layout: the paper size, a running header (record, batch, product) and footer
    (page n of m, watermark) in the page margins; tables fit the page width and wrap."""
    return (f"@page{{size:{paper};margin:20mm 12mm 18mm 12mm;"
            f"@top-left{{content:{_css_text(header)};font:9px sans-serif;color:#444}}"
            f"@bottom-left{{content:{_css_text(footer)};font:9px sans-serif;color:#444}}"
            f"@bottom-right{{content:{w.phrase('page')};"
            "font:9px sans-serif;color:#444}}"
            "body{font-family:sans-serif;margin:0;color:#111}"
            "@media screen{body{margin:2em}}"
            "table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%;table-layout:auto}"
            "td,th{border:1px solid #999;padding:2px 5px;font-size:10px;text-align:left;"
            "vertical-align:top;overflow-wrap:anywhere;word-break:break-word}"
            "thead{display:table-header-group}tr{break-inside:avoid}"
            "table.fields{width:auto;min-width:50%}table.fields th{width:14em}"
            "h1{font-size:18px}h2{font-size:14px;margin-top:1.2em;break-after:avoid}"
            "section.signatures table td{font-size:10px}")


def _signature_block(signatures: Sequence[Mapping[str, Any]], w: Words) -> str:
    """The signature manifestations (21 CFR 11.50): printed name, user, date and time, meaning —
    the same line the system shows everywhere (:func:`quality.signatures.manifestation_text`),
    in the record's language and the plant's time zone."""
    head = (f'<section id="signatures" class="signatures"><h2>{escape(w.title("signatures"))}'
            "</h2>")
    if not signatures:
        return head + f"<p>{escape(w.phrase('none'))}</p></section>"
    rows = "".join(
        '<tr class="sig">'
        f"<td>{escape(w.cls(str(s['recordClass'])))} {escape(str(s['record']))}</td>"
        f"<td>{escape(_manifestation(s, w))}</td>"
        f"<td>{escape(w.phrase('sig.valid' if s['valid'] else 'sig.invalid'))}</td></tr>"
        for s in signatures)
    return (head + f"<table><thead><tr><th>{escape(w.phrase('sig.record'))}</th>"
            f"<th>{escape(w.phrase('sig.line'))}</th><th>{escape(w.phrase('sig.status'))}</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></section>")


def _manifestation(s: Mapping[str, Any], w: Words) -> str:
    if "signedAt" not in s:  # a document of an older format: the line as it was made
        return str(s["manifestation"])
    return manifestation_text(str(s["printedName"]), str(s["username"]), str(s["signedAt"]),
                              w.code("signatures", "meaning", str(s["meaning"])), w.lang, w.tz)


def render_html(doc: Mapping[str, Any], paper: str = "A4", lang: str = "en",
                tz: str = "UTC") -> str:
    """A human-readable, printable device history record (one self-contained page, laid out
    for ``paper``: ``A4`` or ``Letter``), in English or Chinese (``lang``: headings, code values
    and classes by the ontology's labels) with its times in the time zone ``tz`` (the plant's)."""
    if paper not in PAPER:
        raise ValueError(f"paper {paper!r}: use A4 or Letter")
    w = Words(lang, tz)
    b = doc["batch"]
    unit = doc.get("unit")
    title = w.phrase("title.unit", unit["serial"]) if unit else w.phrase("title.batch", b["key"])
    product = doc.get("product") or {}
    of_batch = w.phrase("of-batch", b["key"]) if unit else ""
    header = (title + of_batch + w.phrase("product", product.get("key", "—"),
                                          product.get("name") or "")).strip()
    footer = w.phrase("footer", doc["format"], doc.get("watermark", "—")) + (
        w.phrase("as-of", doc["asOf"]) if doc.get("asOf") else "")  # issue 18 item 4: as asked
    parts = [f"<!DOCTYPE html><html lang=\"{'zh-CN' if w.zh else 'en'}\"><head>"
             f"<meta charset=\"utf-8\"><title>{escape(title)}</title>"
             f"<style>{_style(paper, header, footer, w)}</style></head><body>",
             f"<h1>{escape(title)}</h1>",
             f"<p>{escape(w.phrase('basis', doc['format']))} "
             f"{escape(w.phrase('times', tz))}</p>",
             _fields("batch", b, w),
             (f'<p class="migrated">{escape(w.phrase("migrated"))}'
              + _cell(doc["migrated"], "", w) + "</p>") if doc.get("migrated") else "",
             _fields("unit", unit, w) if unit else "",
             _fields("udi", doc["udi"], w),
             _fields("product", doc["product"], w),
             _fields("process-version", doc["processVersion"], w),
             _table("materials", doc["materials"], w=w),
             _table("operations", doc["operations"], w=w),
             _table("documents", doc.get("documents", []), w=w),
             _table("equipment", doc["equipment"], w=w),
             _table("fixtures", doc["fixtures"], w=w),
             _table("operators", doc["operators"], w=w),
             _table("parameters", doc["parameters"], w=w),
             _table("environment", _environment_rows(doc.get("environment", [])), w=w),
             _table("excursions", doc["excursions"], w=w),
             _table("inspections", doc["inspections"], w=w),
             _table("deviations", doc["deviations"], w=w),
             _table("holds", doc["holds"], w=w),
             _table("dispositions", doc["dispositions"], w=w),
             _table("release", doc["release"], w=w),
             _table("exceptions", doc["exceptions"],
                    ("rule", "focus", "field", "value", "message"), w),
             _signature_block(doc["signatures"], w),
             "</body></html>"]
    return "".join(parts)


def _environment_rows(env: Sequence[Mapping[str, Any]]) -> list[Json]:
    """One row per operation and room parameter (issue 17 item 1)."""
    return [{"execution": x["execution"], "room": x["room"], "parameter": p["parameter"],
             "min": p["min"], "max": p["max"], "mean": p["mean"], "unit": p["unit"],
             "samples": p["samples"], "withinSpec": p["withinSpec"],
             "excursions": ", ".join(e["excursion"] for e in p["excursions"])}
            for x in env for p in x["parameters"]]


class PdfUnavailable(RuntimeError):
    """No headless Chromium to print the HTML record to PDF (Debian package ``chromium``)."""


def render_pdf(html: str, timeout: float = 120.0) -> bytes:
    """The HTML record printed to PDF by headless Chromium (the browser the explorer tests
    already use; no PDF library is pinned for it)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise PdfUnavailable("headless Chromium is not installed (Debian package chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "edhr.html", Path(tmp) / "edhr.pdf"
        src.write_text(html, encoding="utf-8")
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
                        f"--print-to-pdf={out}", src.as_uri()],
                       check=True, capture_output=True, timeout=timeout)
        return out.read_bytes()
