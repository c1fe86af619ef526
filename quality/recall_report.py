"""The regulatory report data of a recall record (issue 18 item 5), as one structured document.

:func:`recall_report` gathers, from the recall record, its frozen scope and its consignee
tracking, what a report of correction or removal under **21 CFR 806.10(c)** and the NMPA
**医疗器械召回管理办法** (召回事件报告表, 调查评估报告, 召回计划, 召回总结评估) need.
Every field has an id, the clause it answers, an English and a Chinese name and its value; a
value the graph does not hold (the establishment registration number, the marketing status,
injuries …) is ``null`` and listed under 806.10(c)(13) as not available, for the firm to
complete. The counts are the frozen scope's, so the report answers the same on any later day.
:func:`render_html` is a readable view of the same document.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from graph.port import GraphStore
from ontology.codes import RecallClass
from ontology.terms import C, P, R
from quality.recall_scope import SCOPE_FORMAT
from quality.recalls import NOTIFY_DAYS, effectiveness, scope_of
from quality.signatures import signatures_by_record
from quality.workflow import linked_from

__all__ = ["REPORT_FORMAT", "recall_report", "render_html"]

REPORT_FORMAT = "tracegraph.recall-report/1"
_CLASS_ZH = {"I": "一级召回", "II": "二级召回", "III": "三级召回"}
_DEPTH_ZH = {"consumer": "使用者", "retail": "零售", "wholesale": "批发"}
_ACTION_ZH = {"correction": "纠正", "removal": "撤回"}


def _f(fid: str, clause: str, en: str, zh: str, value: Any) -> dict[str, Any]:
    return {"id": fid, "clause": clause, "en": en, "zh": zh, "value": value}


def _products(store: GraphStore, gtins: list[str]) -> list[dict[str, Any]]:
    by_gtin = {str(p.props.get(P.gtin)): p for p in store.nodes_of_class(C.Product)}
    return [{"gtin": g, "name": str(by_gtin[g].props.get(P.name, "")) if g in by_gtin else None}
            for g in gtins]


def _due(opened: str, recall_class: str) -> str | None:
    if not opened or recall_class not in NOTIFY_DAYS:
        return None
    t = datetime.fromisoformat(opened.replace("Z", "+00:00"))
    return (t + timedelta(days=NOTIFY_DAYS[RecallClass(recall_class)])).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def recall_report(store: GraphStore, rec_iri: str) -> dict[str, Any]:
    """The report document of one recall record (see the module)."""
    rec = store.get(rec_iri)
    if rec is None or rec.label != C.Recall:
        raise ValueError(f"no recall has the IRI {rec_iri}")
    p, scope = rec.props, scope_of(rec)
    eff = effectiveness(store, rec)
    approvals = linked_from(store, [rec.iri], R.APPROVES, C.Approval)
    sigs = signatures_by_record(store, sorted(approvals))
    signed = {approvals[i].key.rsplit("/", 1)[-1]: s for i, ss in sigs.items() for s in ss}
    init = signed.get("initiate")
    sites = store.nodes_of_class(C.Site)
    site = sites[0].props if sites else {}
    products = _products(store, [x["gtin"] for x in scope.get("products", [])])
    lots = [{"key": x["key"], "class": x["class"], "units": x["units"]}
            for x in scope.get("lots", [])]
    consignees = [{"key": c["key"], "name": c["name"], "address": c["address"],
                   "country": c["country"], "units": c["units"],
                   "shipments": [{"key": s["key"], "shippedAt": s["shippedAt"],
                                  "units": s["units"]} for s in c["shipments"]]}
                  for c in scope.get("consignees", [])]
    cls, opened = str(p.get(P.recallClass, "")), str(p.get(P.openedAt, ""))
    due = _due(opened, cls)
    comms = [{"customer": c.key, "name": c.name, "notifiedAt": c.notified_at,
              "method": c.method, "onTime": (c.notified_at <= due) if c.notified_at and due
              else None, "respondedAt": c.responded_at, "returned": len(c.returned),
              "corrected": len(c.corrected)} for c in eff.consignees]
    counts = scope.get("counts", {})
    action = str(p.get(P.recallAction, ""))
    fda = [
        _f("reportType", "806.10(c)(1)", "report type (C correction, R removal)",
           "报告类型(纠正/撤回)", {"correction": "C", "removal": "R"}.get(action)),
        _f("registrationNumber", "806.10(c)(1)", "establishment registration number",
           "企业注册号", None),
        _f("reportNumber", "806.10(c)(1)", "report (recall) number", "报告编号", rec.key),
        _f("manufacturer", "806.10(c)(2)", "manufacturer name and address", "生产企业名称和地址",
           {"name": site.get(P.name), "address": site.get(P.address),
            "country": site.get(P.country)} if site else None),
        _f("responsible", "806.10(c)(2)", "person responsible for the correction or removal",
           "召回负责人", {"name": init.printed_name, "username": init.username}
           if init else None),
        _f("devices", "806.10(c)(3)", "brand or common name of the device", "医疗器械名称",
           products or None),
        _f("intendedUse", "806.10(c)(3)", "intended use", "预期用途", None),
        _f("marketingStatus", "806.10(c)(4)", "marketing status (510(k), PMA, exempt)",
           "上市状态(注册证号)", None),
        _f("udi", "806.10(c)(5)", "UDI device identifiers (GTIN) and lot numbers",
           "UDI 产品标识与批号", {"gtins": [x["gtin"] for x in products],
                                "lots": [x["key"] for x in lots]}),
        _f("event", "806.10(c)(7)", "event giving rise to the recall and actions taken",
           "召回原因及采取的措施", {"hypothesis": p.get(P.recallHypothesis),
                             "title": p.get(P.title_), "action": action,
                             "depth": p.get(P.recallDepth)}),
        _f("injuries", "806.10(c)(8)", "illness or injuries, MDR numbers", "伤害事件", None),
        _f("devicesSubject", "806.10(c)(9)", "number of devices subject to the recall",
           "召回产品数量", counts.get("units")),
        _f("devicesPerLot", "806.10(c)(9)", "number of devices per lot subject", "各批次召回数量",
           lots),
        _f("manufactureDates", "806.10(c)(10)", "dates of manufacture", "生产日期",
           scope.get("manufactured")),
        _f("expiry", "806.10(c)(10)", "expiration dates", "有效期", scope.get("expiry")),
        _f("consignees", "806.10(c)(11)", "consignees with dates and numbers distributed",
           "收货单位及发货日期和数量", consignees),
        _f("communications", "806.10(c)(12)", "recall communications and their recipients",
           "召回通知及接收方", comms),
    ]
    missing = [x["id"] for x in fda if x["value"] is None]
    fda.append(_f("notAvailable", "806.10(c)(13)", "required information not available",
                  "暂缺信息", missing))
    nmpa = [
        _f("deviceInfo", "召回事件报告表", "device name, model, lots",
           "医疗器械名称、型号规格、批次",
           {"products": products, "lots": [x["key"] for x in lots]}),
        _f("reason", "调查评估报告", "reason for the recall", "召回原因",
           p.get(P.recallHypothesis)),
        _f("hazard", "调查评估报告", "health hazard evaluation", "健康危害评估",
           p.get(P.healthHazard)),
        _f("grade", "召回分级", "recall grade", "召回级别",
           {"code": cls, "zh": _CLASS_ZH.get(cls)}),
        _f("quantity", "召回计划", "quantity produced and to be recalled",
           "生产销售情况及拟召回数量",
           {"units": counts.get("units"), "shipments": counts.get("shipments"),
            "consignees": counts.get("customers"),
            "undistributed": scope.get("undistributedUnits")}),
        _f("measures", "召回计划", "recall measures and depth", "召回措施(范围与深度)",
           {"action": action, "actionZh": _ACTION_ZH.get(action),
            "depth": p.get(P.recallDepth),
            "depthZh": _DEPTH_ZH.get(str(p.get(P.recallDepth)))}),
        _f("noticeDeadline", "召回通知时限", "consignees to be notified by", "通知时限", due),
        _f("notices", "召回通知", "notices to consignees", "召回通知情况", comms),
        _f("effect", "召回总结评估", "effectiveness of the recall", "召回效果",
           {"units": eff.units, "returned": eff.returned, "corrected": eff.corrected,
            "accounted": eff.accounted, "share": eff.share,
            "consignees": len(eff.consignees), "notified": eff.notified,
            "responded": eff.responded}),
    ]
    return {"format": REPORT_FORMAT, "scopeFormat": scope.get("format", SCOPE_FORMAT),
            "recall": {"key": rec.key, "iri": rec.iri, "state": p.get(P.recallState),
                       "class": cls, "openedAt": opened, "closedAt": p.get(P.closedAt),
                       "scopeWatermark": p.get(P.scopeWatermark),
                       "scopeDigest": p.get(P.scopeDigest),
                       "signatures": [{"step": k, "by": s.printed_name, "at": s.signed_at,
                                       "meaning": s.meaning, "valid": s.valid}
                                      for k, s in sorted(signed.items())]},
            "fda806": fda, "nmpa": nmpa}


def _cell(v: Any) -> str:
    if v is None:
        return "<em>not available · 暂缺</em>"
    if isinstance(v, list):
        return "<ul>" + "".join(f"<li>{_cell(x)}</li>" for x in v) + "</ul>" if v else "—"
    if isinstance(v, dict):
        return "; ".join(f"{html.escape(str(k))}: {_cell(x)}" for k, x in v.items())
    return html.escape(str(v))


def render_html(doc: dict[str, Any]) -> str:
    """A readable, bilingual page of the report document."""
    r = doc["recall"]
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>Recall "
             f"{html.escape(r['key'])}</title><h1>Recall {html.escape(r['key'])} · 召回 "
             f"— {html.escape(str(r['state']))}</h1><p>{_cell(r)}</p>"]
    for sec, title in (("fda806", "21 CFR 806.10 report of correction or removal"),
                       ("nmpa", "医疗器械召回管理办法 · NMPA recall report")):
        parts.append(f"<h2>{html.escape(title)}</h2><table border='1'><tr><th>clause</th>"
                     "<th>field</th><th>字段</th><th>value · 内容</th></tr>")
        parts += [f"<tr><td>{html.escape(f['clause'])}</td><td>{html.escape(f['en'])}</td>"
                  f"<td>{html.escape(f['zh'])}</td><td>{_cell(f['value'])}</td></tr>"
                  for f in doc[sec]]
        parts.append("</table>")
    return "".join(parts) + "</html>"
