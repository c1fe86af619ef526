// A small SVG line chart: a series (with an optional min–max band), horizontal limit lines,
// marked points and an optional vertical event line. Scales to its container's width.
import { plantIso, plantOffset } from "./format.js";  // issue 15 item 4: the plant's time zone

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// xTicks: a function (x0, x1) → [{ x, label }] (e.g. timeTicks) in place of five evenly spaced
// xLabel ticks; xTitle: the x axis' caption
export function linePlot({ points, lines = [], marks = [], event = null, xLabel = (x) => x, id, title,
                           xTicks = null, xTitle = null }) {
  const W = 900, H = 320, L = 60, R = 110, T = 24, B = 34;
  const xs = points.map((p) => p.x);
  const ys = points.flatMap((p) => [p.y, p.lo, p.hi]).concat(lines.map((l) => l.y)).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (event !== null) { x0 = Math.min(x0, event.x); x1 = Math.max(x1, event.x); }
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const pad = (y1 - y0) * 0.08 || 1; y0 -= pad; y1 += pad;
  const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", id, "aria-label": title || "plot" });
  if (title) svg.append(s("text", { x: L, y: 15 }, title));
  svg.append(s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa5b1" }),
             s("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#9aa5b1" }));
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4;
    svg.append(s("text", { x: L - 6, y: Y(yv) + 4, "text-anchor": "end" }, +yv.toPrecision(4)));
    if (xTicks) continue;
    const xv = x0 + ((x1 - x0) * i) / 4;
    svg.append(s("text", { x: X(xv), y: H - B + 16, "text-anchor": "middle" }, xLabel(xv)));
  }
  for (const tk of xTicks ? xTicks(x0, x1) : []) {
    svg.append(s("line", { x1: X(tk.x), x2: X(tk.x), y1: H - B, y2: H - B + 4, stroke: "#9aa5b1" }),
               s("text", { x: X(tk.x), y: H - B + 16, "text-anchor": "middle", class: "tick" }, tk.label));
  }
  if (xTitle) svg.append(s("text", { x: W - R, y: H - 2, "text-anchor": "end" }, xTitle));
  const band = points.filter((p) => Number.isFinite(p.lo) && Number.isFinite(p.hi));
  if (band.length > 1) {
    const d = band.map((p, i) => `${i ? "L" : "M"}${X(p.x)},${Y(p.hi)}`).join("") +
      band.slice().reverse().map((p) => `L${X(p.x)},${Y(p.lo)}`).join("") + "Z";
    svg.append(s("path", { d, fill: "#1f6feb", "fill-opacity": 0.12, stroke: "none", class: "band" }));
  }
  // limit captions top to bottom, each at least 12 px below the one above (close limits stay legible)
  let below = -Infinity;
  for (const l of lines.filter((l) => Number.isFinite(l.y)).sort((a, b) => b.y - a.y)) {
    const ty = Math.max(Y(l.y) + 4, below + 12);
    below = ty;
    svg.append(s("line", { x1: L, x2: W - R, y1: Y(l.y), y2: Y(l.y), stroke: l.color, "stroke-dasharray": l.dash || "", class: `limit ${l.cls || ""}` }),
               s("text", { x: W - R + 4, y: ty, fill: l.color }, `${l.label} ${+l.y.toPrecision(5)}`));
  }
  if (event !== null) {
    svg.append(s("line", { x1: X(event.x), x2: X(event.x), y1: T, y2: H - B, stroke: "#c62828", "stroke-dasharray": "2 3", class: "event" }),
               s("text", { x: X(event.x) + 4, y: T + 10, fill: "#c62828" }, event.label));
  }
  const path = points.map((p, i) => `${i ? "L" : "M"}${X(p.x)},${Y(p.y)}`).join("");
  svg.append(s("path", { d: path, fill: "none", stroke: "#1f3b57", "stroke-width": 1.5, class: "series" }));
  const r = points.length > 150 ? 1.5 : 3;  // dense raw signals stay readable
  for (const p of points) {
    const c = s("circle", { cx: X(p.x), cy: Y(p.y), r, fill: p.color || "#1f3b57", class: "point" });
    if (p.title) c.append(s("title", {}, p.title));
    svg.append(c);
  }
  for (const m of marks) svg.append(s("circle", { cx: X(m.x), cy: Y(m.y), r: 6, fill: "none", stroke: "#c62828", "stroke-width": 2, class: "violation" }, undefined));
  return svg;
}

export const timeLabel = (x) => plantIso(x).slice(5, 16).replace("T", " ");

// time ticks (x in epoch ms) at round steps of the plant's wall clock (format.js), each label
// distinct: dates over days, times within one, seconds within minutes (no tick repeats its
// neighbour's label)
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 172800, 604800, 1209600, 2592000].map((s) => s * 1000);
export function timeTicks(x0, x1, most = 6) {
  const step = STEPS.find((s) => (x1 - x0) / s <= most) || STEPS[STEPS.length - 1];
  const day = (x) => plantIso(x).slice(0, 10);
  const off = plantOffset(x0);
  const fmt = step >= 86400000 ? (d) => d.slice(5, 10)
    : step >= 60000 ? (d) => (day(x0) !== day(x1) ? d.slice(5, 16).replace("T", " ") : d.slice(11, 16))
    : (d) => d.slice(11, 19);
  const out = [];
  for (let x = Math.ceil((x0 + off) / step) * step - off; x <= x1; x += step) {
    const label = fmt(plantIso(x));
    if (!out.length || out[out.length - 1].label !== label) out.push({ x, label });
  }
  return out;
}
