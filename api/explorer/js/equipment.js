// Equipment (issue 17 item 5): the list of equipment with its health state (#/equipment, from
// equipmentList), and one piece of equipment's health (#/equipment/<tag>, from equipmentHealth):
// state, drift statistics (EWMA / CUSUM, the open drift episode, the last drift warning), the
// forecast of the breach time with its interval, calibration and maintenance due, work orders
// (planned, predictive, corrective: who, when, what was done) and the batches at risk.
import { gql, el, status, when, fill } from "./api.js";
import { LABELS } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";
import { table } from "./table.js";
import { num } from "./env.js";

const LIST = `{ equipmentList { equipment name state equipmentStatus
  calibrationDue { due overdue } maintenanceDue { due overdue }
  driftWarnings openWorkOrders batchesAtRisk breachAt } }`;
const HEALTH = `query($e: String!) { equipmentHealth(equipment: $e) {
  equipment name state equipmentStatus calibrationStatus
  calibrationDue { due source overdue } maintenanceDue { due source overdue }
  parameters { parameter samples lastValue lastAt ewma ewmaLimit cusumHigh cusumLow
    driftingSince limit breachAt breachEarliest breachLatest }
  driftWarnings { key properties }
  workOrders { key maintenanceType state openedAt openedBy raisedBy forecastBreachAt description
    startedAt closedAt doneBy workDone }
  batchesAtRisk { execution batch started expectedEnd breachAt alarm } } }`;

const enc = encodeURIComponent;
const coded = (list, v) => { const l = LABELS[list]?.[v]; return l ? (lang === "zh" && l[1]) || l[0] : v ?? ""; };
const at = (v) => (v ? when(v) : "—");
const STATE_CLASS = { ok: "rel", drifting: "hold", breachForecast: "dev", overdue: "dev" };
const stateBadge = (s) => el("span", { class: `badge ${STATE_CLASS[s] || ""}`, "data-state": s, title: s }, t(`state.${s}`));
const dueCell = (d) => (d.due ? el("span", { class: d.overdue ? "badge dev" : "", title: d.overdue ? t("overdue") : null }, at(d.due)) : "—");

export function init() {}

export function open(key) {
  return key ? health(key) : list();
}

async function list() {
  const out = document.getElementById("equipment-view");
  const t0 = performance.now();
  let rows;
  try { rows = (await gql(LIST)).equipmentList; }
  catch (e) { fill(out, el("p", { class: "error", role: "alert" }, e.message)); return; }
  fill(out, el("div", { class: "card" }, el("h2", {}, t("eq.list")),
    table("equipment-list", ["eq.col.equipment", "eq.col.name", "eq.col.state", "eq.col.status",
      "eq.col.calibrationDue", "eq.col.maintenanceDue", "eq.col.driftWarnings", "eq.col.openWorkOrders",
      "eq.col.atRisk", "eq.col.breachAt"],
    rows.map((r) => el("tr", { "data-key": r.equipment, "data-state": r.state, onclick: () => { location.hash = `#/equipment/${enc(r.equipment)}`; } },
      el("td", {}, el("a", { href: `#/equipment/${enc(r.equipment)}` }, r.equipment)), el("td", {}, r.name),
      el("td", { "data-col": "state" }, stateBadge(r.state)),
      el("td", {}, coded("EquipmentStatus", r.equipmentStatus)),
      el("td", {}, dueCell(r.calibrationDue)), el("td", {}, dueCell(r.maintenanceDue)),
      el("td", { "data-col": "driftWarnings" }, String(r.driftWarnings)),
      el("td", { "data-col": "openWorkOrders" }, String(r.openWorkOrders)),
      el("td", { "data-col": "batchesAtRisk" }, String(r.batchesAtRisk)),
      el("td", { "data-col": "breachAt" }, at(r.breachAt)))))));
  status(t("eq.loaded", Math.round(performance.now() - t0)));
}

function parameters(h) {
  if (!h.parameters.length) return el("p", { class: "muted" }, t("eq.noParams"));
  return table("health-parameters", ["eq.p.parameter", "eq.p.samples", "eq.p.last", "eq.p.lastAt", "eq.p.ewma",
    "eq.p.cusum", "eq.p.driftingSince", "eq.p.limit", "eq.p.breachAt", "eq.p.interval"],
  h.parameters.map((p) => el("tr", { "data-parameter": p.parameter },
    el("td", {}, p.parameter), el("td", {}, String(p.samples)), el("td", { "data-col": "last" }, num(p.lastValue)),
    el("td", {}, at(p.lastAt)),
    el("td", { "data-col": "ewma", class: p.ewma !== null && Math.abs(p.ewma) > p.ewmaLimit ? "bad" : "" },
      p.ewma === null ? "—" : `${num(p.ewma)} (±${num(p.ewmaLimit)})`),
    el("td", {}, p.cusumHigh === null ? "—" : `${num(p.cusumHigh)} / ${num(p.cusumLow)}`),
    el("td", {}, at(p.driftingSince)), el("td", {}, num(p.limit)),
    el("td", { "data-col": "breachAt", "data-value": p.breachAt || "" }, at(p.breachAt)),
    el("td", { "data-col": "interval" }, p.breachEarliest ? `${at(p.breachEarliest)} – ${at(p.breachLatest)}` : "—"))));
}

function workOrders(h) {
  if (!h.workOrders.length) return el("p", { class: "muted" }, t("none"));
  return table("work-orders", ["eq.w.key", "eq.w.type", "eq.w.state", "eq.w.opened", "eq.w.by", "eq.w.raisedBy",
    "eq.w.forecast", "eq.w.what", "eq.w.started", "eq.w.closed", "eq.w.doneBy", "eq.w.workDone"],
  h.workOrders.map((w) => el("tr", { "data-key": w.key, "data-type": w.maintenanceType, "data-state": w.state },
    el("td", {}, w.key), el("td", { title: w.maintenanceType }, coded("MaintenanceType", w.maintenanceType)),
    el("td", { title: w.state }, coded("WorkOrderState", w.state)), el("td", {}, at(w.openedAt)),
    el("td", { "data-col": "openedBy" }, w.openedBy || "—"), el("td", {}, w.raisedBy || "—"),
    el("td", { "data-col": "forecast" }, at(w.forecastBreachAt)), el("td", {}, w.description || ""),
    el("td", {}, at(w.startedAt)), el("td", {}, at(w.closedAt)), el("td", {}, w.doneBy || "—"),
    el("td", {}, w.workDone || "—"))));
}

function atRisk(h) {
  if (!h.batchesAtRisk.length) return el("p", { class: "muted" }, t("none"));
  return table("batches-at-risk", ["eq.r.execution", "eq.r.batch", "eq.r.started", "eq.r.expectedEnd", "eq.r.breachAt", "eq.r.alarm"],
    h.batchesAtRisk.map((r) => el("tr", { "data-key": r.batch || r.execution },
      el("td", {}, r.execution),
      el("td", {}, r.batch ? el("a", { href: `#/trace/${enc(r.batch)}/UPSTREAM` }, r.batch) : "—"),
      el("td", {}, at(r.started)), el("td", {}, at(r.expectedEnd)), el("td", {}, at(r.breachAt)),
      el("td", {}, r.alarm || "—"))));
}

async function health(key) {
  const out = document.getElementById("equipment-view");
  const t0 = performance.now();
  let h;
  try { h = (await gql(HEALTH, { e: key })).equipmentHealth; }
  catch (e) { fill(out, el("p", { class: "error", role: "alert" }, e.message)); return; }
  const last = h.driftWarnings[0];
  const due = (name, d) => el("tr", { "data-due": name }, el("td", {}, t(`eq.${name}`)),
    el("td", {}, dueCell(d)), el("td", { class: "muted" }, d.source ? t("eq.dueFrom", d.source) : ""));
  fill(out,
    el("p", {}, el("a", { href: "#/equipment" }, t("eq.all"))),
    el("div", { class: "card", id: "health", "data-equipment": h.equipment, "data-state": h.state },
      el("h2", {}, `${t("eq.health", h.equipment)} — ${h.name}`),
      el("div", { class: "counts" },
        el("div", { class: "count", "data-stat": "state" }, el("b", {}, stateBadge(h.state)), t("eq.state")),
        el("div", { class: "count" }, el("b", {}, coded("EquipmentStatus", h.equipmentStatus) || "—"), t("eq.equipmentStatus")),
        el("div", { class: "count" }, el("b", {}, coded("CalibrationStatus", h.calibrationStatus) || "—"), t("eq.calibrationStatus")))),
    el("div", { class: "card" }, el("h3", {}, t("eq.drift")), parameters(h),
      el("h4", {}, t("eq.lastWarning")),
      last ? el("p", { id: "last-warning", "data-key": last.key }, `${last.key} · ${at(last.properties.detectedAt)} · ${last.properties.description || ""}`)
        : el("p", { class: "muted" }, t("eq.noWarning"))),
    el("div", { class: "card" }, el("h3", {}, t("eq.due")),
      el("table", { class: "kv", id: "due-dates" }, el("tbody", {}, due("calibration", h.calibrationDue), due("maintenance", h.maintenanceDue)))),
    el("div", { class: "card" }, el("h3", {}, t("eq.workOrders")), workOrders(h)),
    el("div", { class: "card" }, el("h3", {}, t("eq.atRisk")), atRisk(h)));
  status(`${h.equipment}: ${Math.round(performance.now() - t0)} ms`);
}
