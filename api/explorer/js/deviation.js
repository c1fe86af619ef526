// Deviation view: the excursion's signal around the event with its limits, the computed impact,
// the holds, the lifecycle state as stored with the records the investigation already has and
// the next steps (who, which signatures), the signed actions (actions.js: triage, advance,
// impact, root cause, CAPA and its actions and checks, disposition) and, beside every record,
// its genealogy, audit history, release report and eDHR (record.js).
import { gql, el, kvTable, status, fill } from "./api.js";
import { ACTIVE_HOLD_STATES, OPEN_DEVIATION_STATES, label } from "./codes.js";
import { lang } from "./i18n.js";
import { linePlot, timeLabel } from "./plot.js";
import { fmtTime, fmtUnit, plantIso } from "./format.js";  // issue 15 item 4
import { t } from "./strings.js";
import { deviationActions, disposeAction } from "./actions.js";
import { recordLinks, capaBlock } from "./record.js";
import "./act-strings.js";

const NODE = "iri class key properties";
const QUERY = `query($id: String!) { deviationView(id: $id) {
  state grade deviation { ${NODE} } excursion { ${NODE} }
  signal { eventTime windowStart windowEnd spec { ${NODE} }
    limits { setpoint lsl usl alertLow alertHigh actionLow actionHigh unit }
    source points { time mean min max samples execution } samples { time value quality } }
  concerns { ${NODE} } holds { ${NODE} } held { ${NODE} } impact { ${NODE} }
  rootCauses { ${NODE} } capas { ${NODE} }
  signatures { manifestation valid } }
  deviation(id: $id) { nextSteps { target roles signatures } approvals { key signatures { manifestation valid } } } }`;
const STATES = ["Open", "Triaged", "Investigation", "CAPALinked", "EffectivenessVerified", "Closed", "Archived"];

export function init() {
  document.getElementById("deviation-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/deviation/${encodeURIComponent(document.getElementById("deviation-id").value.trim())}`;
  });
}

// a code as stored, with its English and Chinese label (ontology code lists) as the tooltip
const code = (prop, value, attrs = {}) => el("span", { ...attrs, title: value ? `${label(prop, value)} / ${label(prop, value, "zh")}` : null }, value || "?");

const nodeLink = (n) => el("a", { class: "node", href: `#/trace/${encodeURIComponent(n.key)}/DOWNSTREAM` }, `${n.class} ${n.key}`);
const recordItem = (n) => el("li", { "data-key": n.key }, nodeLink(n), " ", recordLinks(n));
const meaningOf = (words) => /'(\w+)'/.exec(words || "")?.[1] || null;  // "a valid 'reviewed' signature by …"

// the lifecycle as stored (the state the record has, every state in order), what the
// investigation has recorded so far, and the next steps with who may take them
function lifecycleCard(v, steps, approvals, reload) {
  const at = STATES.indexOf(v.state || "Open");
  const yes = (n) => (n ? `✓ ${n}` : "—");
  const dev = { iri: v.deviation.iri, key: v.deviation.key, state: v.state || "Open", grade: v.grade };
  return el("div", { class: "card", id: "lifecycle", "data-state": v.state || "Open" },
    el("h3", {}, t("act.lifecycle")),
    el("ol", { class: "stepper" }, STATES.map((s, i) => el("li", { "data-step": s,
      class: i < at ? "done" : i === at ? "current" : "" }, label("deviationState", s, lang)))),
    el("p", { id: "lifecycle-state" }, t("act.state", label("deviationState", dev.state, lang))),
    el("p", { id: "lifecycle-records", class: "muted" }, t("act.stored", yes(v.impact.length), yes(v.rootCauses.length), yes(v.capas.length))),
    steps.length ? el("ul", { id: "next-steps" }, steps.map((s) => el("li", { "data-target": s.target },
      t("act.next", label("deviationState", s.target, lang), s.roles.map((r) => label("roleName", r, lang)).join(", "), s.signatures))))
      : el("p", { class: "muted" }, t("act.none")),
    approvals.length ? [el("h4", {}, t("dev.approvals")), el("ul", { id: "approvals" }, approvals.map((a) => el("li", { "data-key": a.key },
      `${a.key}: `, a.signatures.map((x) => `${x.manifestation}${x.valid ? "" : " ✗"}`).join("; "))))] : null,
    el("h4", {}, t("act.title")),
    el("div", { class: "actions", id: "deviation-actions" },
      deviationActions(dev, steps.map((s) => ({ ...s, meaning: meaningOf(s.signatures) })), v.impact.map((n) => n.key), reload)));
}

export async function open(id) {
  const out = document.getElementById("deviation");
  if (!id) return;
  document.getElementById("deviation-id").value = id;
  const t0 = performance.now();
  const reload = () => open(id);
  let v, d;
  try { ({ deviationView: v, deviation: d } = await gql(QUERY, { id })); } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); return; }
  if (!v) { out.replaceChildren(el("p", { class: "error" }, t("dev.none", id))); return; }
  const p = v.deviation.properties;
  // what a disposition decides (the held records: exact when the deviation has one hold)
  const heldOf = () => (v.holds.length === 1 ? v.held.map((n) => n.key) : []);
  fill(out,
    el("div", { class: "card" },
      el("h2", {}, `${v.deviation.key}: ${p.title || ""}`),
      el("p", {}, code("deviationState", v.state, { id: "deviation-state", "data-open": String(OPEN_DEVIATION_STATES.includes(v.state)),
          class: OPEN_DEVIATION_STATES.includes(v.state) ? "badge dev" : "badge" }), " ",
        el("span", { class: "badge" }, `${t("dev.grade")} `, code("deviationGrade", v.grade)), " ",
        t("dev.opened", p.openedAt || ""), p.dueDate ? t("dev.due", p.dueDate) : "", " ", recordLinks(v.deviation)),
      el("p", {}, p.description || "")),
    lifecycleCard(v, d?.nextSteps || [], d?.approvals || [], reload),
    signalCard(v),
    el("div", { class: "card" }, el("h3", {}, t("dev.impact")),
      el("div", { id: "computed-impact", class: "counts" }, el("span", { class: "muted" }, t("dev.computing"))),
      v.impact.length ? v.impact.map((i) => el("div", { class: "impact", "data-key": i.key }, kvTable(i.properties), recordLinks(i)))
        : el("p", { class: "muted" }, t("dev.noImpact")),
      el("h4", {}, t("dev.concerns")), el("ul", { id: "concerns" }, v.concerns.map(recordItem))),
    el("div", { class: "card" }, el("h3", {}, t("dev.holds", v.holds.length)),
      el("ul", { id: "holds" }, v.holds.map((h) => el("li", { "data-key": h.key, "data-active": String(ACTIVE_HOLD_STATES.includes(h.properties.holdState)) },
        `${h.key} — `, code("holdState", h.properties.holdState), `: ${h.properties.description || ""} `, recordLinks(h), " ",
        ACTIVE_HOLD_STATES.includes(h.properties.holdState) ? disposeAction(h, heldOf(), reload) : null))),
      el("h4", {}, t("dev.held", v.held.length)), el("ul", { id: "held" }, v.held.map(recordItem))),
    el("div", { class: "card", id: "investigation" }, el("h3", {}, t("dev.investigation")),
      ...v.rootCauses.map((r) => el("div", { class: "root-cause", "data-key": r.key },
        el("p", {}, `${t("dev.rootCause")} ${r.key} (`, code("causeCategory", r.properties.causeCategory), ") ", recordLinks(r)),
        el("ol", { class: "whys", title: t("act.whys") }, (r.properties.description || "").split(/\s*Why \d+: /).filter(Boolean).map((w) => el("li", {}, w))))),
      el("div", { id: "capas" }, v.capas.map((c) => el("div", { "data-capa": c.key }, `${c.key} …`))),
      el("h4", {}, t("dev.signatures", v.signatures.length)),
      v.signatures.length ? el("ul", {}, v.signatures.map((s) => el("li", {}, `${s.manifestation}${s.valid ? "" : ` — ${t("rec.invalid")}`}`)))
        : el("p", { class: "muted" }, t("dev.notSigned"))));
  status(t("dev.loaded", Math.round(performance.now() - t0)));
  computedImpact([...new Set([...v.concerns, ...v.held].map((n) => n.iri))]);
  for (const c of v.capas) {
    capaBlock(c, reload).then((b) => document.querySelector(`#capas [data-capa="${CSS.escape(c.key)}"]`)?.replaceWith(b))
      .catch((e) => status(e.message));
  }
}

// everything downstream of the records the deviation concerns or holds, as a recall would see it
async function computedImpact(seeds) {
  const box = document.getElementById("computed-impact");
  if (!seeds.length) { box.replaceChildren(el("span", { class: "muted" }, t("dev.noRecords"))); return; }
  let r;
  try {
    r = (await gql(`query($s: [String!]!) { recall(seeds: $s, unitLimit: 0) {
      unitsTotal batches { key } shipments { key } customers { key } } }`, { s: seeds })).recall;
  } catch (e) { box.replaceChildren(el("span", { class: "error" }, e.message)); return; }
  box.replaceChildren(...[["batches", r.batches.length], ["units", r.unitsTotal],
    ["shipments", r.shipments.length], ["customers", r.customers.length]].map(([k, n]) =>
    el("div", { class: "count", "data-impact": k }, el("b", {}, n), t("dev.downstream", t(`dev.${k}`)))));
}

function signalCard(v) {
  if (!v.signal) return el("div", { class: "card" }, el("h3", {}, t("dev.signal")), el("p", { class: "muted" }, t("dev.noSignal")));
  const s = v.signal, l = s.limits, raw = s.source === "raw";
  const beyond = (lo, hi) => (l.lsl !== null && lo < l.lsl) || (l.usl !== null && hi > l.usl);
  const points = raw
    ? s.samples.map((p) => ({ x: Date.parse(p.time), y: p.value, title: `${fmtTime(p.time)}: ${p.value} (${p.quality})`,
      color: beyond(p.value, p.value) ? "#c62828" : undefined }))
    : s.points.map((p) => ({ x: Date.parse(p.time), y: p.mean, lo: p.min, hi: p.max,
      title: `${p.execution}: mean ${p.mean}, min ${p.min}, max ${p.max} (${p.samples} samples)`,
      color: beyond(p.min, p.max) ? "#c62828" : undefined }));
  const lines = [
    { y: l.usl, label: "USL", color: "#c62828" }, { y: l.lsl, label: "LSL", color: "#c62828" },
    { y: l.actionHigh, label: "action", color: "#ef6c00", dash: "6 3" }, { y: l.actionLow, label: "action", color: "#ef6c00", dash: "6 3" },
    { y: l.alertHigh, label: "alert", color: "#f9a825", dash: "3 3" }, { y: l.alertLow, label: "alert", color: "#f9a825", dash: "3 3" },
    { y: l.setpoint, label: "setpoint", color: "#2e7d32", dash: "2 3" }];
  const exc = v.excursion?.properties || {};
  return el("div", { class: "card" },
    el("h3", {}, t("dev.signalOf", s.spec.properties.name || s.spec.key, fmtUnit(l.unit), fmtTime(s.eventTime))),
    points.length ? linePlot({ id: "signal-plot", points, lines,
      xLabel: raw ? (x) => plantIso(x).slice(11, 19) : timeLabel,
      event: { x: Date.parse(s.eventTime), label: `excursion, peak ${exc.peakValue}` },
      title: raw ? `${s.spec.key}: raw samples` : `${s.spec.key}: mean per execution, band = min–max` })
      : el("p", { class: "muted" }, t("dev.noObs")),
    el("p", { class: "muted", id: "signal-source", "data-source": s.source },
      t("dev.window", points.length, t(raw ? "dev.raw" : "dev.obs"), fmtTime(s.windowStart), fmtTime(s.windowEnd)),
      el("a", { href: `#/spc/${encodeURIComponent(s.spec.key)}` }, t("dev.spc"))));
}
