"""The validation report: the trace matrix requirement → clause → test → result with evidence,
the environment, IQ, PQ and the deviations from expected results — as a JSON document
(:func:`oq_document`, :func:`complete`) and a self-contained HTML page (:func:`render_html`),
printed to PDF by the same headless Chromium as the eDHR (:func:`quality.edhr.render_pdf`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import orjson

from tracegraph.validation.catalogue import CATALOGUE, REQUIRED_CLAUSES, Catalogue, load

__all__ = ["FORMAT", "complete", "digest", "oq_document", "render_html", "summary_line",
           "write_matrix"]

FORMAT = "tracegraph.validation-report/1"
Json = dict[str, Any]
_BAD = ("failed", "error")


def _requirement_result(outcomes: Sequence[str]) -> str:
    if any(o in _BAD for o in outcomes):
        return "failed"
    return "passed" if "passed" in outcomes else "not verified"


def oq_document(results: Iterable[Json], environment: Json, cat: Catalogue | None = None,
                kind: str = "test run") -> Json:
    """The trace matrix of one pytest run's req-marked results, with its deviations."""
    cat = cat or load()
    everything = sorted(results, key=lambda r: str(r["test"]))
    tests = [t for t in everything if t["requirements"]]
    uncollected = [t for t in everything if not t["requirements"]]  # modules that did not load
    by_req: dict[str, list[Json]] = {r: [] for r in cat.requirements}
    for t in tests:
        for rid in t["requirements"]:
            by_req.setdefault(rid, []).append(t)
    matrix: list[Json] = []
    for rid, ts in by_req.items():
        req = cat.requirements.get(rid)
        matrix.append({
            "requirement": rid, "title": req.title if req else "(not in the catalogue)",
            "gampCategory": req.gamp_category if req else None,
            "risk": req.risk if req else "", "clauses": list(req.clauses) if req else [],
            "tests": [{k: t[k] for k in ("test", "outcome", "seconds", "message")} for t in ts],
            "result": _requirement_result([t["outcome"] for t in ts]) if req else "unknown"})
    served = cat.served()
    result_of = {m["requirement"]: m["result"] for m in matrix}
    clauses = [{"clause": c, "title": cat.clauses[c].title, "note": cat.clauses[c].note,
                "requirements": served.get(c, []),
                "result": _requirement_result([result_of.get(r, "") for r in served.get(c, [])])}
               for c in cat.clauses]
    deviations = [{"section": "OQ", "item": t["test"], "expected": "passed",
                   "actual": t["outcome"], "detail": t["message"][-400:]}
                  for t in everything if t["outcome"] in _BAD]
    deviations += [{"section": "OQ", "item": m["requirement"], "expected": "verified by at "
                    "least one passing test", "actual": m["result"],
                    "detail": "a test of this requirement failed" if m["result"] == "failed"
                    else "no test of this requirement passed in this run"}
                   for m in matrix if m["result"] != "passed"]
    deviations += [{"section": "catalogue", "item": c, "expected": "served by a requirement",
                    "actual": "no requirement", "detail": ""}
                   for c in REQUIRED_CLAUSES if not served.get(c)]
    outcomes = [t["outcome"] for t in tests]
    doc: Json = {
        "format": FORMAT, "kind": kind, "environment": environment,
        "catalogue": {"file": CATALOGUE.name, "sha256": digest(CATALOGUE.read_bytes()),
                      "requirements": len(cat.requirements), "clauses": len(cat.clauses)},
        "matrix": matrix, "clauses": clauses, "oq": {"tests": tests, "notCollected": uncollected},
        "iq": None, "pq": None, "deviations": deviations}
    doc["counts"] = {
        "requirements": len(cat.requirements),
        "requirementsVerified": sum(m["result"] == "passed" for m in matrix),
        "clauses": len(cat.clauses), "requiredClauses": len(REQUIRED_CLAUSES),
        "requiredClausesServed": sum(bool(served.get(c)) for c in REQUIRED_CLAUSES),
        "tests": len(tests), "passed": outcomes.count("passed"),
        "failed": sum(o in _BAD for o in outcomes), "skipped": outcomes.count("skipped")}
    doc["outcome"] = "deviations" if deviations else "conforming"
    return doc


def complete(doc: Json, iq: Json | None, pq: Json | None) -> Json:
    """The run's document with its IQ and PQ sections and their deviations added."""
    out = {**doc, "kind": "validation run", "iq": iq, "pq": pq,
           "deviations": [*(iq or {}).get("deviations", []), *doc["deviations"],
                          *(pq or {}).get("deviations", [])]}
    out["outcome"] = "deviations" if out["deviations"] else "conforming"
    return out


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(doc: Json) -> bytes:
    """The document's canonical JSON bytes (sorted keys): what the record's hash covers."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def summary_line(doc: Json) -> str:
    c = doc["counts"]
    return (f"validation: {c['requirements']} requirements ({c['requirementsVerified']} "
            f"verified by a passing test), {c['requiredClausesServed']}/{c['requiredClauses']} "
            f"listed clauses served ({c['clauses']} clauses in the catalogue), {c['tests']} "
            f"requirement tests: {c['passed']} passed, {c['failed']} failed, {c['skipped']} "
            f"skipped; {len(doc['deviations'])} deviation(s) — {doc['outcome']}")


def write_matrix(doc: Json, out: Path) -> list[Path]:
    """``trace-matrix.json`` and ``trace-matrix.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    j, h = out / "trace-matrix.json", out / "trace-matrix.html"
    j.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    h.write_text(render_html(doc), encoding="utf-8")
    return [j, h]


# -- HTML ------------------------------------------------------------------------------------
_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font: 10pt/1.35 system-ui, sans-serif; color: #111; margin: 0 auto; max-width: 190mm; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt;
  border-bottom: 1px solid #999; } table { border-collapse: collapse; width: 100%;
  margin: 4pt 0; } th, td { border: 1px solid #bbb; padding: 2pt 4pt; text-align: left;
  vertical-align: top; font-size: 8.5pt; overflow-wrap: anywhere; } th { background: #eee; }
tr { break-inside: avoid; } .passed, .conforming { color: #05620e; font-weight: 600; }
.failed, .error, .deviations, .mismatch, .missing { color: #a00; font-weight: 600; }
.skipped, .not { color: #8a5a00; } code, .mono { font-family: ui-monospace, monospace;
  font-size: 8pt; } .sig { border: 1px solid #333; padding: 4pt 6pt; margin: 3pt 0; }
pre { white-space: pre-wrap; font-size: 7.5pt; margin: 0; }
table.kv td:first-child { white-space: nowrap; width: 1%; }
"""


def _cls(value: str) -> str:
    return escape(value.split()[0] if value else "")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Rows of already-escaped HTML cells."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _kv(d: dict[str, Any]) -> str:
    return _table(("item", "value"), ((escape(str(k)), f"<span class=mono>{escape(str(v))}"
                                       "</span>") for k, v in d.items())).replace(
        "<table>", "<table class=kv>", 1)


def _result(v: str) -> str:
    return f"<span class='{_cls(v)}'>{escape(v)}</span>"


def _iq(iq: Json) -> str:
    files = iq.get("files", {})
    parts = [_kv({k: v for k, v in iq.items() if isinstance(v, (str, int, float))})]
    parts.append("<h3>Installed package files (distribution RECORD)</h3>" + _kv(
        {k: v for k, v in files.items() if not isinstance(v, list)}))
    deps = iq.get("dependencies", [])
    if deps:
        parts.append("<h3>Dependencies</h3>" + _table(
            ("package", "required", "installed", "result"),
            ((escape(d["name"]), escape(d["required"]), escape(d["installed"]),
              _result(d["result"])) for d in deps)))
    if iq.get("configuration"):
        parts.append("<h3>Configuration</h3>" + _kv(iq["configuration"]))
    if iq.get("store"):
        parts.append("<h3>Store</h3>" + _kv(iq["store"]))
    return "".join(parts)


def _pq(pq: Json) -> str:
    checks = pq.get("checks", [])
    if not checks:
        return f"<p>{escape(pq.get('note', 'No performance-qualification checks were run.'))}</p>"
    return _table(("check", "command", "expected", "actual", "result", "evidence"), (
        (escape(c["name"]), f"<code>{escape(' '.join(c['command']))}</code>",
         escape(f"exit {c['expectedExit']}" + (f", contains {c['expectText']!r}"
                                                if c.get("expectText") else "")),
         escape(f"exit {c['exit']}"), _result(c["result"]),
         f"<pre>{escape(c['output'][-1200:])}</pre>") for c in checks))


def render_html(doc: Json, record: Json | None = None) -> str:
    """The report as one self-contained HTML page; ``record``: the stored record's number,
    hash and signature manifestations, shown in the header."""
    c, env = doc["counts"], doc["environment"]
    head = [f"<h1>tracegraph validation report — {_result(doc['outcome'])}</h1>",
            f"<p>{escape(doc['kind'])}; tracegraph {escape(str(env.get('tracegraph', '')))}; "
            f"{escape(str(env.get('started', '')))} to {escape(str(env.get('finished', '')))}"
            "</p>", f"<p>{escape(summary_line(doc))}</p>"]
    if record:
        head.append(f"<p>Record <b>{escape(record['number'])}</b>, report SHA-256 "
                    f"<code>{escape(record['hash'])}</code></p>")
        sigs = record.get("signatures") or []
        head += [f"<div class=sig>{escape(s)}</div>" for s in sigs] or [
            "<div class=sig>Not signed.</div>"]
    body = ["<h2>Summary</h2>", _kv(c), "<h2>Environment</h2>", _kv(env)]
    if doc.get("iq"):
        body += ["<h2>Installation qualification (IQ)</h2>", _iq(doc["iq"])]
    rows = []
    for m in doc["matrix"]:
        tests = m["tests"] or [{"test": "(no test)", "outcome": "not run", "seconds": 0,
                                "message": ""}]
        for i, t in enumerate(tests):
            first = i == 0
            rows.append((
                f"<b>{escape(m['requirement'])}</b> {escape(m['title'])}" if first else "",
                escape(", ".join(m["clauses"])) if first else "",
                f"GAMP {m['gampCategory']}, {escape(m['risk'])}" if first else "",
                f"<span class=mono>{escape(t['test'])}</span>",
                _result(t["outcome"]) + f" <span class=mono>{t['seconds']:.2f} s</span>"
                + (f"<pre>{escape(t['message'][-300:])}</pre>" if t["message"] else ""),
                _result(m["result"]) if first else ""))
    body += ["<h2>Operational qualification (OQ): trace matrix</h2>",
             _table(("requirement", "clauses", "risk", "test", "result / evidence",
                     "requirement result"), rows),
             "<h2>Clauses</h2>",
             _table(("clause", "title", "requirements", "result"), (
                 (escape(x["clause"]), escape(x["title"]) + (
                     f"<br><i>{escape(x['note'])}</i>" if x["note"] else ""),
                  escape(", ".join(x["requirements"])), _result(x["result"]))
                 for x in doc["clauses"]))]
    if doc.get("pq") is not None:
        body += ["<h2>Performance qualification (PQ): the plant's checks</h2>", _pq(doc["pq"])]
    devs = doc["deviations"]
    body += ["<h2>Deviations from expected results</h2>",
             _table(("section", "item", "expected", "actual", "detail"), (
                 (escape(d["section"]), f"<span class=mono>{escape(d['item'])}</span>",
                  escape(d["expected"]), _result(str(d["actual"])),
                  f"<pre>{escape(d['detail'])}</pre>") for d in devs))
             if devs else "<p>None.</p>"]
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>tracegraph "
            f"validation report</title><style>{_CSS}</style></head><body>"
            + "".join(head + body) + "</body></html>")
