// KPI dashboard (issue 15 item 3; #/kpi/<from>/<to>/<kpi id>): the quality KPIs of a period
// (GraphQL kpis, the module tracegraph kpi prints), each card with its value, population and
// definition in the page's language, a trend chart over the period's months (or weeks, or days)
// and, one click away, the records behind it (kpiRecords).
import { gql, el, status, fill } from "./api.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";

const KPIS = `query($from: String!, $to: String!, $lang: String) {
  kpis(from: $from, to: $to, lang: $lang) { id name definition unit value n byGroup { group value } } }`;
const RECORDS = `query($id: String!, $from: String!, $to: String!) {
  kpiRecords(id: $id, from: $from, to: $to, first: 1000) { key iri class value ok group note } }`;
const NS = "http://www.w3.org/2000/svg";
const DAY = 86400000;
const enc = encodeURIComponent;
const iso = (ms) => new Date(ms).toISOString().slice(0, 10);

export function shown(unit, v) {
  if (v === null || v === undefined) return t("kpi.na");
  return unit === "ratio" ? `${(100 * v).toFixed(1)} %` : `${v.toFixed(1)} ${t(`kpi.unit.${unit}`)}`;
}

// the period cut into at most 12 buckets: months, else weeks, else days
export function buckets(from, to) {
  const a = Date.parse(from), b = Date.parse(to);
  const out = [];
  if (b - a > 62 * DAY) {
    let d = new Date(a);
    while (d.getTime() < b && out.length < 12) {
      const next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
      out.push([d.getTime(), Math.min(next.getTime(), b)]);
      d = next;
    }
  } else {
    const step = b - a > 14 * DAY ? 7 * DAY : DAY;
    for (let x = a; x < b && out.length < 12; x += step) out.push([x, Math.min(x + step, b)]);
  }
  if (out.length) out[out.length - 1][1] = b;
  return out.map(([x, y]) => [new Date(x).toISOString().replace(".000", ""), new Date(y).toISOString().replace(".000", "")]);
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// a bar per bucket (empty population: no bar, "n/a"); a click opens that bucket's records
function trend(k, series, onPick) {
  const W = 300, H = 110, L = 6, B = 18, T = 14;
  const vals = series.map((s) => s.value).filter((v) => v !== null);
  const top = k.unit === "ratio" ? 1 : Math.max(...vals, 1e-9);
  const w = (W - 2 * L) / series.length;
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "kpi-trend", role: "img", "aria-label": t("kpi.trend") });
  g.append(svg("line", { x1: L, x2: W - L, y1: H - B, y2: H - B, stroke: "#9aa5b1" }));
  series.forEach((s, i) => {
    const x = L + i * w;
    const label = s.from.slice(5, 10);
    if (i % Math.ceil(series.length / 6) === 0) g.append(svg("text", { x: x + w / 2, y: H - 4, "text-anchor": "middle", class: "tick" }, label));
    if (s.value === null) return;
    const h = ((H - B - T) * s.value) / top;
    const bar = svg("rect", { x: x + 2, width: Math.max(1, w - 4), y: H - B - h, height: Math.max(h, 1), fill: "#1f6feb", class: "bar", "data-from": s.from, "data-n": s.n });
    bar.append(svg("title", {}, `${s.from.slice(0, 10)} – ${s.to.slice(0, 10)}: ${shown(k.unit, s.value)} (n = ${s.n})`));
    bar.addEventListener("click", (ev) => { ev.stopPropagation(); onPick(s.from, s.to); });
    g.append(bar);
  });
  return g;
}

let current = null;

export function init() {}

export async function open(from, to, id) {
  const out = document.getElementById("kpi-view");
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) + DAY;
  to = to || iso(today);
  from = from || iso(Date.parse(to) - 365 * DAY);
  const f = el("input", { type: "date", id: "kpi-from", value: from.slice(0, 10), "aria-label": t("kpi.from") });
  const e = el("input", { type: "date", id: "kpi-to", value: to.slice(0, 10), "aria-label": t("kpi.to") });
  const form = el("form", { id: "kpi-form", class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/kpi/${f.value}/${e.value}`; } },
    el("label", {}, el("span", {}, t("kpi.from")), " ", f), el("label", {}, el("span", {}, t("kpi.to")), " ", e),
    el("button", { type: "submit" }, t("kpi.show")));
  const grid = el("div", { id: "kpi-cards", class: "kpi-grid" });
  const list = el("div", { id: "kpi-list" });
  fill(out, el("h2", {}, t("kpi.title")), form, el("p", { class: "muted" }, t("kpi.period", from.slice(0, 10), to.slice(0, 10))), grid, list);
  const t0 = performance.now();
  let ks, parts;
  try {
    const cuts = buckets(from, to);
    [ks, ...parts] = await Promise.all([gql(KPIS, { from, to, lang }), ...cuts.map(([a, b]) => gql(KPIS, { from: a, to: b, lang }))]);
    ks = ks.kpis;
    parts = parts.map((p, i) => ({ from: cuts[i][0], to: cuts[i][1], kpis: p.kpis }));
  } catch (err) { fill(grid, el("p", { class: "error", role: "alert" }, err.message)); return; }
  current = { from, to };
  const pick = (k) => (a, b) => records(k, a, b);
  fill(grid, ks.map((k) => {
    const series = parts.map((p) => { const x = p.kpis.find((y) => y.id === k.id); return { from: p.from, to: p.to, value: x.value, n: x.n }; });
    return el("div", { class: "card kpi", id: `kpi-${k.id}`, "data-kpi": k.id, "data-value": k.value ?? "", "data-n": k.n, tabindex: 0, role: "button",
      title: t("kpi.clickList"), onclick: () => records(k, from, to), onkeydown: (ev) => { if (ev.key === "Enter") records(k, from, to); } },
    el("h3", { class: "kpi-name" }, k.name),
    el("div", { class: "kpi-value" }, el("b", {}, shown(k.unit, k.value)), " ", el("span", { class: "muted" }, `n = ${k.n}`)),
    k.byGroup.length ? el("ul", { class: "kpi-groups" }, k.byGroup.map((g) => el("li", { "data-group": g.group }, `${g.group}: ${shown(k.unit, g.value)}`))) : null,
    trend(k, series, pick(k)),
    el("p", { class: "kpi-definition muted" }, k.definition));
  }));
  status(t("kpi.loaded", Math.round(performance.now() - t0)));
  const open = ks.find((k) => k.id === id);
  if (open) records(open, from, to);
}

const link = (r) => {
  if (r.class === "Deviation") return el("a", { href: `#/deviation/${enc(r.key)}` }, r.key);
  if (r.class === "Batch") return el("a", { href: `#/trace/${enc(r.key)}/UPSTREAM` }, r.key);
  return r.key;
};

async function records(k, from, to) {
  const box = document.getElementById("kpi-list");
  let rows;
  try { rows = (await gql(RECORDS, { id: k.id, from, to })).kpiRecords; }
  catch (err) { fill(box, el("p", { class: "error", role: "alert" }, err.message)); return; }
  const whole = current && from === current.from && to === current.to;
  fill(box, el("div", { class: "card", id: "kpi-records", "data-kpi": k.id, "data-rows": rows.length },
    el("h3", {}, `${k.name}: ${t("kpi.records")} (${from.slice(0, 10)} – ${to.slice(0, 10)})`),
    whole ? null : el("p", { class: "muted" }, t("kpi.bucket")),
    rows.length ? el("div", { class: "scroll" }, el("table", { class: "table" },
      el("thead", {}, el("tr", {}, ["kpi.col.record", "kpi.col.class", "kpi.col.value", "kpi.col.counts", "kpi.col.group", "kpi.col.note"].map((c) => el("th", {}, t(c))))),
      el("tbody", {}, rows.map((r) => el("tr", { "data-key": r.key },
        el("td", {}, link(r)), el("td", {}, r.class),
        el("td", { "data-col": "value" }, r.value === null ? "—" : shown(k.unit, r.value)),
        el("td", { "data-col": "ok" }, r.ok === null ? "" : t(r.ok ? "kpi.yes" : "kpi.no")),
        el("td", {}, r.group || ""), el("td", {}, r.note)))))) : el("p", { class: "muted" }, t("kpi.empty"))));
  box.scrollIntoView({ block: "nearest" });
}
