// Deviation view: the excursion's signal around the event with its limits, the computed impact,
// the holds, the lifecycle state and signatures.
import { gql, el, kvTable, status, fill } from "./api.js";
import { ACTIVE_HOLD_STATES, OPEN_DEVIATION_STATES, label } from "./codes.js";
import { linePlot, timeLabel } from "./plot.js";
import { fmtTime, fmtUnit, plantIso } from "./format.js";  // issue 15 item 4

const NODE = "iri class key properties";
const QUERY = `query($id: String!) { deviationView(id: $id) {
  state grade deviation { ${NODE} } excursion { ${NODE} }
  signal { eventTime windowStart windowEnd spec { ${NODE} }
    limits { setpoint lsl usl alertLow alertHigh actionLow actionHigh unit }
    source points { time mean min max samples execution } samples { time value quality } }
  concerns { ${NODE} } holds { ${NODE} } held { ${NODE} } impact { ${NODE} }
  rootCauses { ${NODE} } capas { ${NODE} }
  signatures { manifestation valid } } }`;

export function init() {
  document.getElementById("deviation-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/deviation/${encodeURIComponent(document.getElementById("deviation-id").value.trim())}`;
  });
}

// a code as stored, with its English and Chinese label (ontology code lists) as the tooltip
const code = (prop, value, attrs = {}) => el("span", { ...attrs, title: value ? `${label(prop, value)} / ${label(prop, value, "zh")}` : null }, value || "?");

const nodeLink = (n) => el("a", { href: `#/trace/${encodeURIComponent(n.key)}/DOWNSTREAM` }, `${n.class} ${n.key}`);

export async function open(id) {
  const out = document.getElementById("deviation");
  if (!id) return;
  document.getElementById("deviation-id").value = id;
  const t0 = performance.now();
  let v;
  try { v = (await gql(QUERY, { id })).deviationView; } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); return; }
  if (!v) { out.replaceChildren(el("p", { class: "error" }, `no deviation ${id}`)); return; }
  const d = v.deviation.properties;
  fill(out,
    el("div", { class: "card" },
      el("h2", {}, `${v.deviation.key}: ${d.title || ""}`),
      el("p", {}, code("deviationState", v.state, { id: "deviation-state", "data-open": String(OPEN_DEVIATION_STATES.includes(v.state)),
          class: OPEN_DEVIATION_STATES.includes(v.state) ? "badge dev" : "badge" }), " ",
        el("span", { class: "badge" }, "grade ", code("deviationGrade", v.grade)), " opened ", d.openedAt || "", d.dueDate ? `, due ${d.dueDate}` : ""),
      el("p", {}, d.description || "")),
    signalCard(v),
    el("div", { class: "card" }, el("h3", {}, "Impact"),
      el("div", { id: "computed-impact", class: "counts" }, el("span", { class: "muted" }, "computing downstream impact …")),
      v.impact.length ? v.impact.map((i) => kvTable(i.properties)) : el("p", { class: "muted" }, "no impact assessment yet"),
      el("h4", {}, "Concerns"), el("ul", {}, v.concerns.map((n) => el("li", {}, nodeLink(n))))),
    el("div", { class: "card" }, el("h3", {}, `Holds (${v.holds.length})`),
      el("ul", {}, v.holds.map((h) => el("li", { "data-active": String(ACTIVE_HOLD_STATES.includes(h.properties.holdState)) },
        `${h.key} — `, code("holdState", h.properties.holdState), `: ${h.properties.description || ""}`))),
      el("h4", {}, `Held records (${v.held.length})`), el("ul", { id: "held" }, v.held.map((n) => el("li", {}, nodeLink(n))))),
    el("div", { class: "card" }, el("h3", {}, "Investigation"),
      ...v.rootCauses.map((r) => el("p", {}, "Root cause (", code("causeCategory", r.properties.causeCategory), `): ${r.properties.description}`)),
      ...v.capas.map((c) => el("p", {}, `${c.key} [`, code("capaState", c.properties.capaState), `] ${c.properties.title}`)),
      el("h4", {}, `Signatures (${v.signatures.length})`),
      v.signatures.length ? el("ul", {}, v.signatures.map((s) => el("li", {}, `${s.manifestation}${s.valid ? "" : " — INVALID"}`)))
        : el("p", { class: "muted" }, "not signed yet")));
  status(`deviation loaded in ${Math.round(performance.now() - t0)} ms`);
  computedImpact([...new Set([...v.concerns, ...v.held].map((n) => n.iri))]);
}

// everything downstream of the records the deviation concerns or holds, as a recall would see it
async function computedImpact(seeds) {
  const box = document.getElementById("computed-impact");
  if (!seeds.length) { box.replaceChildren(el("span", { class: "muted" }, "no records concerned")); return; }
  let r;
  try {
    r = (await gql(`query($s: [String!]!) { recall(seeds: $s, unitLimit: 0) {
      unitsTotal batches { key } shipments { key } customers { key } } }`, { s: seeds })).recall;
  } catch (e) { box.replaceChildren(el("span", { class: "error" }, e.message)); return; }
  box.replaceChildren(...[["batches", r.batches.length], ["units", r.unitsTotal],
    ["shipments", r.shipments.length], ["customers", r.customers.length]].map(([k, n]) =>
    el("div", { class: "count", "data-impact": k }, el("b", {}, n), `${k} downstream`)));
}

function signalCard(v) {
  if (!v.signal) return el("div", { class: "card" }, el("h3", {}, "Signal"), el("p", { class: "muted" }, "no excursion signal for this deviation"));
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
    el("h3", {}, `Signal: ${s.spec.properties.name || s.spec.key} (${fmtUnit(l.unit)}) around ${fmtTime(s.eventTime)}`),
    points.length ? linePlot({ id: "signal-plot", points, lines,
      xLabel: raw ? (x) => plantIso(x).slice(11, 19) : timeLabel,
      event: { x: Date.parse(s.eventTime), label: `excursion, peak ${exc.peakValue}` },
      title: raw ? `${s.spec.key}: raw samples` : `${s.spec.key}: mean per execution, band = min–max` })
      : el("p", { class: "muted" }, "no observations in the window"),
    el("p", { class: "muted", id: "signal-source", "data-source": s.source },
      `${points.length} ${raw ? "raw samples" : "observations"} between ${fmtTime(s.windowStart)} and ${fmtTime(s.windowEnd)}. `,
      el("a", { href: `#/spc/${encodeURIComponent(s.spec.key)}` }, "SPC chart of this parameter")));
}
