// SPC view: individuals chart of a parameter spec with control and spec limits, rule violations
// marked, Cpk and Ppk.
import { gql, el, status } from "./api.js";
import { linePlot } from "./plot.js";

const QUERY = `query($spec: String!, $last: Int!) { spcChart(spec: $spec, last: $last) {
  spec { key properties } limits { setpoint lsl usl unit }
  points { time mean execution } center ucl lcl sigma cpk ppk
  violations { index rule description } } }`;

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
  const bad = new Set(c.violations.map((v) => v.index));
  const points = c.points.map((p, i) => ({ x: i + 1, y: p.mean, color: bad.has(i) ? "#c62828" : undefined,
    title: `#${i + 1} ${p.execution} ${p.time}: ${p.mean}` }));
  const lines = [
    { y: c.limits.usl, label: "USL", color: "#c62828" }, { y: c.limits.lsl, label: "LSL", color: "#c62828" },
    { y: c.ucl, label: "UCL", color: "#ef6c00", dash: "6 3" }, { y: c.lcl, label: "LCL", color: "#ef6c00", dash: "6 3" },
    { y: c.center, label: "CL", color: "#2e7d32", dash: "2 3" }];
  const marks = c.violations.map((v) => ({ x: v.index + 1, y: c.points[v.index].mean }));
  out.replaceChildren(
    el("div", { class: "card" }, el("h2", {}, `${c.spec.key}: ${c.spec.properties.name || ""} (${c.limits.unit || ""})`),
      el("div", { class: "counts" },
        ...[["Cpk", fmt(c.cpk, 2)], ["Ppk", fmt(c.ppk, 2)], ["points", c.points.length],
            ["violations", c.violations.length], ["sigma", fmt(c.sigma, 4)]].map(([k, v]) =>
          el("div", { class: "count", "data-stat": k }, el("b", {}, v), k)))),
    points.length > 1 ? linePlot({ id: "spc-plot", points, lines, marks, xLabel: (x) => Math.round(x),
                                   title: "individuals (mean per execution), in time order" })
      : el("p", { class: "muted" }, "fewer than two observations"),
    el("div", { class: "card" }, el("h3", {}, "Rule violations"),
      c.violations.length ? el("ul", {}, c.violations.map((v) => el("li", {}, `point ${v.index + 1}: rule ${v.rule} — ${v.description}`)))
        : el("p", { class: "muted" }, "none")));
  status(`SPC chart in ${Math.round(performance.now() - t0)} ms`);
}
