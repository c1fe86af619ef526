// SPC page (issue 15 item 7, issue 17 item 3): pick a parameter spec from the list
// (parameterSpecs, with its counts of observations and samples); the spec's subgroups, computed
// by the module the signal pipeline uses (spcChart: quality.spc, quality.capability), on a time
// axis: an individuals chart with its moving ranges (I-MR) when subgroups are single values, else
// an X̄ chart with its S chart; rule violations marked; Cpk and Ppk with their confidence
// intervals, or "not assessable" with the reason (below the minimum sample size).
import { gql, el, status, fill } from "./api.js";
import { linePlot, timeTicks } from "./plot.js";
import { t } from "./strings.js";
import { fmtTime, plantTimeZone } from "./format.js";  // issue 15 item 4

const QUERY = `query($spec: String!, $last: Int!) { spcChart(spec: $spec, last: $last) {
  spec { key properties } limits { setpoint lsl usl unit unitShown }
  subgroupRule subgroupSize basis basisNote
  subgroups { key execution time n mean sd range movingRange sLcl sCenter sUcl }
  center ucl lcl sigma dispersion mrCenter mrUcl cpk ppk
  capability { assessable reason subgroups values cpkInterval { low high } ppkInterval { low high } confidence beyondSpec }
  violations { index rule description } episodes { start end rules } } }`;
const SPECS = `{ parameterSpecs { key name unitShown observations samples } }`;

let specs = null;

export function init() {
  document.getElementById("spc-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = document.getElementById("spc-id").value.trim();
    if (id) location.hash = `#/spc/${encodeURIComponent(id)}`;
  });
  document.getElementById("spc-id").addEventListener("change", (ev) => {
    if (ev.target.value) location.hash = `#/spc/${encodeURIComponent(ev.target.value)}`;
  });
}

const fmt = (v, d = 3) => (v === null || v === undefined ? "—" : (+v).toFixed(d));

async function picker(id) {
  const sel = document.getElementById("spc-id");
  if (!specs) {
    try { specs = (await gql(SPECS)).parameterSpecs; } catch (e) { specs = []; }
  }
  fill(sel, el("option", { value: "" }, t("spc.choose")),
    specs.map((s) => el("option", { value: s.key, "data-observations": s.observations, "data-samples": s.samples },
      `${s.key}${s.name ? ` — ${s.name}` : ""} (${t("spc.counts", s.observations, s.samples)})`)),
    id && !specs.some((s) => s.key === id) ? el("option", { value: id }, id) : null);
  sel.value = id || "";
}

function basisText(c, cap) {
  const rule = c.subgroupRule === "perExecution" ? t("spc.perExecution") : t("spc.consecutive", c.subgroupSize);
  const text = c.basis === "raw"
    ? t("spc.basisRaw", rule) + (c.basisNote ? ` (${c.basisNote})` : "")
    : t("spc.basisAgg") + (c.subgroupRule === "perExecution" ? "" : t("spc.basisWanted", rule));
  return text + (cap.assessable ? ` · ${t("spc.intervals", Math.round(cap.confidence * 100))}` : "");
}

export async function open(...parts) {
  const id = parts.join("/");  // a spec key holds slashes (#/spc/<key>, encoded or not)
  await picker(id);
  const out = document.getElementById("spc");
  if (!id) { fill(out); return; }
  const t0 = performance.now();
  let c;
  try { c = (await gql(QUERY, { spec: id, last: +document.getElementById("spc-last").value || 100 })).spcChart; }
  catch (e) { fill(out, el("p", { class: "error", role: "alert" }, e.message)); return; }
  if (!c) { fill(out, el("p", { class: "error", role: "alert" }, t("spc.noSpec", id))); return; }
  const cap = c.capability;
  const unit = c.limits.unitShown || c.limits.unit || "";
  const ind = c.dispersion === "MR";
  const bad = new Set(c.violations.map((v) => v.index));
  // the time axis: each subgroup at the source time of its first value
  const gs = c.subgroups.map((g, i) => ({ ...g, i, x: g.time ? Date.parse(g.time) : null })).filter((g) => g.x !== null);
  const points = gs.map((g) => ({ x: g.x, y: g.mean, color: bad.has(g.i) ? "#c62828" : undefined,
    title: `#${g.i + 1} ${g.key} ${fmtTime(g.time)}: ${ind ? "" : "x̄ "}${+g.mean.toPrecision(6)} ${unit} (n ${g.n}${g.sd !== null ? `, s ${fmt(g.sd, 4)}` : ""})` }));
  const lines = [
    { y: c.limits.usl, label: "USL", color: "#c62828" }, { y: c.limits.lsl, label: "LSL", color: "#c62828" },
    { y: c.ucl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: c.lcl, label: "LCL", color: "#ef6c00", dash: "6 3" },
    { y: c.center, label: "CL", color: "#2e7d32", dash: "2 3" }];
  const marks = gs.filter((g) => bad.has(g.i)).map((g) => ({ x: g.x, y: g.mean }));
  const spread = gs.map((g) => ({ x: g.x, y: ind ? g.movingRange : g.sd })).filter((p) => p.y !== null && p.y !== undefined);
  const typical = c.subgroups.find((g) => g.sCenter !== null) || {};
  const spreadLines = ind
    ? [{ y: c.mrUcl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: c.mrCenter, label: "MR̄", color: "#2e7d32", dash: "2 3" }]
    : [{ y: typical.sUcl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: typical.sCenter, label: "S̄", color: "#2e7d32", dash: "2 3" },
       { y: typical.sLcl, label: "LCL", color: "#ef6c00", dash: "6 3" }];
  const ci = (iv) => (iv ? ` [${fmt(iv.low, 2)}, ${fmt(iv.high, 2)}]` : "");
  const n = c.subgroups.length ? Math.max(...c.subgroups.map((g) => g.n)) : 1;
  const axis = { xTicks: timeTicks, xTitle: t("spc.time", plantTimeZone) };
  const stat = (key, caption, value) => el("div", { class: "count", "data-stat": key }, el("b", {}, value), caption);
  fill(out,
    el("div", { class: "card", id: "spc-head", "data-assessable": String(cap.assessable) },
      el("h2", {}, `${c.spec.key}: ${c.spec.properties.name || ""}${unit ? ` (${unit})` : ""}`),
      el("div", { class: "counts" },
        stat("Cpk", "Cpk", cap.assessable ? fmt(c.cpk, 2) + ci(cap.cpkInterval) : t("spc.notAssessable")),
        stat("Ppk", "Ppk", cap.assessable ? fmt(c.ppk, 2) + ci(cap.ppkInterval) : t("spc.notAssessable")),
        stat("subgroups", t("spc.subgroups"), cap.subgroups), stat("values", t("spc.values"), cap.values),
        stat("violations", t("spc.violations"), c.violations.length), stat("episodes", t("spc.episodes"), c.episodes.length),
        stat("sigma within", t("spc.sigmaWithin"), fmt(c.sigma, 4)), stat("beyond spec", t("spc.beyondSpec"), cap.beyondSpec)),
      el("p", { class: "muted", id: "spc-basis" }, basisText(c, cap)),
      cap.assessable ? null : el("p", { class: "error", id: "spc-not-assessable", role: "alert" }, `⚠ ${t("spc.warning", cap.reason)}`)),
    points.length > 1 ? linePlot({ id: "spc-plot", points, lines, marks, ...axis,
                                   title: ind ? t("spc.iChart") : t("spc.xbarChart", n) })
      : el("p", { class: "muted" }, t("spc.fewer")),
    spread.length > 1 ? linePlot({ id: "spc-dispersion", points: spread, lines: spreadLines, ...axis,
                                   title: ind ? t("spc.mrChart") : t("spc.sChart") }) : null,
    el("div", { class: "card" }, el("h3", {}, t("spc.rules")),
      c.violations.length ? el("details", { id: "spc-violations", open: c.violations.length <= 20 },
        el("summary", {}, `${t("spc.violations")}: ${c.violations.length}`),
        el("ul", {}, c.violations.slice(0, 500).map((v) => el("li", {},
          t("spc.violation", v.index + 1, fmtTime(c.subgroups[v.index]?.time || ""), v.rule, v.description)))))
        : el("p", { class: "muted" }, t("none")),
      el("h3", {}, t("spc.ruleEpisodes")),
      c.episodes.length ? el("ul", {}, c.episodes.map((e) => el("li", {},
        t("spc.episode", e.start + 1, e.end === null ? t("spc.open") : e.end + 1, e.rules.join(", ")))))
        : el("p", { class: "muted" }, t("none"))));
  status(t("spc.loaded", Math.round(performance.now() - t0)));
}
