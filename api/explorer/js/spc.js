// SPC view: the spec's subgroups on an X-bar chart (or individuals) with control and spec limits,
// rule violations marked; the dispersion chart (S, or moving ranges for individuals); Cpk and Ppk
// with their intervals, or "not assessable" with the reason.
import { gql, el, status, fill } from "./api.js";
import { linePlot } from "./plot.js";

const QUERY = `query($spec: String!, $last: Int!) { spcChart(spec: $spec, last: $last) {
  spec { key properties } limits { setpoint lsl usl unit }
  subgroupRule subgroupSize basis basisNote
  subgroups { key execution time n mean sd range movingRange sLcl sCenter sUcl }
  center ucl lcl sigma dispersion mrCenter mrUcl cpk ppk
  capability { assessable reason subgroups values cpkInterval { low high } ppkInterval { low high } confidence beyondSpec }
  violations { index rule description } episodes { start end rules } } }`;

export function init() {
  document.getElementById("spc-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/spc/${encodeURIComponent(document.getElementById("spc-id").value.trim())}`;
  });
}

const fmt = (v, d = 3) => (v === null || v === undefined ? "—" : (+v).toFixed(d));

export async function open(id) {
  const out = document.getElementById("spc");
  if (!id) return;
  document.getElementById("spc-id").value = id;
  const t0 = performance.now();
  let c;
  try { c = (await gql(QUERY, { spec: id, last: +document.getElementById("spc-last").value || 100 })).spcChart; }
  catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); return; }
  if (!c) { out.replaceChildren(el("p", { class: "error" }, `no parameter spec ${id}`)); return; }
  const cap = c.capability;
  const bad = new Set(c.violations.map((v) => v.index));
  const ind = c.dispersion === "MR";
  const points = c.subgroups.map((g, i) => ({ x: i + 1, y: g.mean, color: bad.has(i) ? "#c62828" : undefined,
    title: `#${i + 1} ${g.key} ${g.time || ""}: mean ${g.mean} (n ${g.n}${g.sd !== null ? `, sd ${fmt(g.sd, 4)}` : ""})` }));
  const lines = [
    { y: c.limits.usl, label: "USL", color: "#c62828" }, { y: c.limits.lsl, label: "LSL", color: "#c62828" },
    { y: c.ucl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: c.lcl, label: "LCL", color: "#ef6c00", dash: "6 3" },
    { y: c.center, label: "CL", color: "#2e7d32", dash: "2 3" }];
  const marks = c.violations.map((v) => ({ x: v.index + 1, y: c.subgroups[v.index].mean }));
  const spread = c.subgroups.map((g, i) => ({ x: i + 1, y: ind ? g.movingRange : g.sd })).filter((p) => p.y !== null && p.y !== undefined);
  const typical = c.subgroups.find((g) => g.sCenter !== null) || {};
  const spreadLines = ind
    ? [{ y: c.mrUcl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: c.mrCenter, label: "MR̄", color: "#2e7d32", dash: "2 3" }]
    : [{ y: typical.sUcl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: typical.sCenter, label: "CL", color: "#2e7d32", dash: "2 3" },
       { y: typical.sLcl, label: "LCL", color: "#ef6c00", dash: "6 3" }];
  const ci = (iv) => (iv ? ` [${fmt(iv.low, 2)}, ${fmt(iv.high, 2)}]` : "");
  const rule = c.subgroupRule === "perExecution" ? "one per execution" : `${c.subgroupSize} consecutive samples`;
  const what = ind ? "individuals" : "X̄";
  fill(out,
    el("div", { class: "card" }, el("h2", {}, `${c.spec.key}: ${c.spec.properties.name || ""} (${c.limits.unit || ""})`),
      el("div", { class: "counts" },
        ...[["Cpk", cap.assessable ? fmt(c.cpk, 2) + ci(cap.cpkInterval) : "n/a"],
            ["Ppk", cap.assessable ? fmt(c.ppk, 2) + ci(cap.ppkInterval) : "n/a"],
            ["subgroups", cap.subgroups], ["values", cap.values],
            ["violations", c.violations.length], ["episodes", c.episodes.length],
            ["sigma within", fmt(c.sigma, 4)], ["beyond spec", cap.beyondSpec]].map(([k, v]) =>
          el("div", { class: "count", "data-stat": k }, el("b", {}, v), k))),
      el("p", { class: "muted", id: "spc-basis" },
        (c.basis === "raw" ? `subgroups: ${rule}, from the raw samples` + (c.basisNote ? ` (${c.basisNote})` : "")
          : `subgroups: one per execution, from its aggregates (n, mean, sd, min, max)` +
            (c.subgroupRule === "perExecution" ? "" : `: the spec asks for ${rule}, and the raw store does not hold samples of every execution`)) +
        (cap.assessable ? `; ${Math.round(cap.confidence * 100)} % intervals (Bissell)` : "")),
      cap.assessable ? "" : el("p", { class: "error", id: "spc-not-assessable" }, `capability not assessable: ${cap.reason}`)),
    points.length > 1 ? linePlot({ id: "spc-plot", points, lines, marks, xLabel: (x) => Math.round(x),
                                   title: `${what} chart (subgroup means), in time order` })
      : el("p", { class: "muted" }, "fewer than two subgroups"),
    spread.length > 1 ? linePlot({ id: "spc-dispersion", points: spread, lines: spreadLines, xLabel: (x) => Math.round(x),
                                   title: ind ? "moving range" : "S chart (subgroup standard deviations)" }) : "",
    el("div", { class: "card" }, el("h3", {}, "Rule violations"),
      c.violations.length ? el("ul", {}, c.violations.map((v) => el("li", {}, `subgroup ${v.index + 1}: rule ${v.rule} — ${v.description}`)))
        : el("p", { class: "muted" }, "none"),
      el("h3", {}, "Rule episodes (one alarm each)"),
      c.episodes.length ? el("ul", {}, c.episodes.map((e) => el("li", {},
        `subgroups ${e.start + 1}–${e.end === null ? "open" : e.end + 1}: ${e.rules.join(", ")}`)))
        : el("p", { class: "muted" }, "none")));
  status(`SPC chart in ${Math.round(performance.now() - t0)} ms`);
}
