// Supplier quality (issue 18 item 2): every supplier with its qualification and number of
// approved supplier list entries (#/suppliers, from GraphQL suppliers), and one supplier
// (#/suppliers/<key>/<from>/<to>): its ASL entries (material, status, scope, last valid day;
// expired ones marked), its scorecard for the period [from, to) (supplierScorecard: lots
// received and rejected, deviations traced to it by genealogy, SCARs on time) and its
// corrective action requests (scars: state, due, overdue). Read-only: the ASL, incoming
// inspection and SCAR commands are signed mutations.
import { gql, el, status, when, fill } from "./api.js";
import { label } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";
import { table } from "./table.js";

const ASL = "key material status scope approvedUntil";
// (few fields each: the nested list multiplies the query's cost estimate)
const LIST = "{ suppliers { key name status approvals { key approvedUntil } } }";
const ONE = `query($k: String!, $from: String!, $to: String!) {
  suppliers { key name status } approvedSupplierList(supplier: $k) { ${ASL} }
  supplierScorecard(supplier: $k, start: $from, end: $to) { lotsReceived lotsRejected
    rejectionRate deviations scarsOnTime scarsLate scarsPending scarOnTimeRate }
  scars(supplier: $k) { key title state dueDate openedAt closedAt deviations capas } }`;

const DAY = 86400000;
const OPEN = new Set(["Issued", "Responded"]);
const enc = encodeURIComponent;
const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
const code = (prop, v) => (v ? label(prop, v, lang) || v : "—");
const pct = (v) => (v === null || v === undefined ? t("sup.na") : `${(100 * v).toFixed(1)} %`);
// a material's key from its IRI (…/id/Material/<key, URI-quoted>)
const materialKey = (iri) => decodeURIComponent(iri.slice(iri.lastIndexOf("/Material/") + 10));

export const expired = (until, today) => Boolean(until) && until < today;
export const overdue = (s, today) => OPEN.has(s.state) && Boolean(s.dueDate) && s.dueDate < today;

const error = (out, msg) => fill(out, el("p", { class: "error", role: "alert" }, msg));

export function init() {}

export function open(key, from, to) {
  return key ? one(key, from, to) : list();
}

async function list() {
  const out = document.getElementById("suppliers-view");
  const t0 = performance.now();
  let sups;
  try { sups = (await gql(LIST)).suppliers; } catch (e) { error(out, e.message); return; }
  const today = iso(Date.now());
  fill(out, el("div", { class: "card" }, el("h2", {}, t("sup.list")),
    table("supplier-list", ["sup.col.supplier", "sup.col.name", "sup.col.status", "sup.col.materials", "sup.col.expired"],
      sups.map((s) => el("tr", { "data-key": s.key },
        el("td", {}, el("a", { href: `#/suppliers/${enc(s.key)}` }, s.key)), el("td", {}, s.name || ""),
        el("td", { "data-col": "status" }, code("supplierStatus", s.status)),
        el("td", { "data-col": "materials" }, String(s.approvals.length)),
        el("td", { "data-col": "expired" }, String(s.approvals.filter((a) => expired(a.approvedUntil, today)).length)))))));
  status(t("sup.loaded", Math.round(performance.now() - t0)));
}

function period(key, from, to) {
  const f = el("input", { type: "date", id: "sup-from", value: from, "aria-label": t("sup.from") });
  const e = el("input", { type: "date", id: "sup-to", value: to, "aria-label": t("sup.to") });
  return el("form", { id: "sup-form", class: "toolbar", onsubmit: (ev) => {
    ev.preventDefault(); location.hash = `#/suppliers/${enc(key)}/${f.value}/${e.value}`; } },
  el("label", {}, el("span", {}, t("sup.from")), " ", f), el("label", {}, el("span", {}, t("sup.to")), " ", e),
  el("button", { type: "submit" }, t("sup.show")));
}

function card(c) {
  const n = (id, name, list) => el("div", { class: "card kpi", "data-card": id, "data-n": list.length, title: list.join(", ") },
    el("h3", { class: "kpi-name" }, t(name)), el("div", { class: "kpi-value" }, el("b", {}, String(list.length))));
  const rate = (id, name, v) => el("div", { class: "card kpi", "data-card": id, "data-value": v ?? "" },
    el("h3", { class: "kpi-name" }, t(name)), el("div", { class: "kpi-value" }, el("b", {}, pct(v))));
  return el("div", { id: "supplier-scorecard", class: "kpi-grid" },
    n("lotsReceived", "sup.sc.received", c.lotsReceived), n("lotsRejected", "sup.sc.rejected", c.lotsRejected),
    rate("rejectionRate", "sup.sc.rejectionRate", c.rejectionRate),
    n("deviations", "sup.sc.deviations", c.deviations),
    n("scarsOnTime", "sup.sc.onTime", c.scarsOnTime), n("scarsLate", "sup.sc.late", c.scarsLate),
    n("scarsPending", "sup.sc.pending", c.scarsPending), rate("scarOnTimeRate", "sup.sc.onTimeRate", c.scarOnTimeRate));
}

async function one(key, from, to) {
  const out = document.getElementById("suppliers-view");
  const today = iso(Date.now());
  to = to || iso(Date.parse(today) + DAY);
  from = from || iso(Date.parse(to) - 365 * DAY);
  const t0 = performance.now();
  let d;
  try { d = await gql(ONE, { k: key, from, to }); } catch (e) { error(out, e.message); return; }
  const s = d.suppliers.find((x) => x.key === key);
  if (!s || !d.supplierScorecard) { error(out, t("sup.none", key)); return; }
  const mark = (on, cls) => (on ? el("span", { class: `badge ${cls}` }, t(cls === "dev" ? "sup.expired" : "sup.overdue")) : null);
  fill(out, el("div", { class: "card" },
    el("p", {}, el("a", { href: "#/suppliers" }, t("sup.all"))),
    el("h2", {}, `${s.key} — ${s.name || ""}`),
    el("p", {}, `${t("sup.col.status")}: ${code("supplierStatus", s.status)}`),
    el("h3", {}, t("sup.asl")),
    d.approvedSupplierList.length
      ? table("supplier-asl", ["sup.col.material", "sup.col.status", "sup.col.scope", "sup.col.until"],
        d.approvedSupplierList.map((a) => {
          const old = expired(a.approvedUntil, today);
          return el("tr", { "data-key": a.key, "data-expired": String(old), class: old ? "expired" : "" },
            el("td", { "data-col": "material" }, materialKey(a.material)),
            el("td", { "data-col": "status" }, code("aslStatus", a.status)),
            el("td", {}, a.scope || "—"),
            el("td", { "data-col": "until" }, a.approvedUntil || "—", " ", mark(old, "dev")));
        }))
      : el("p", { class: "muted" }, t("sup.noAsl")),
    el("h3", {}, t("sup.scorecard", from, to)), period(key, from, to), card(d.supplierScorecard),
    el("h3", {}, t("sup.scars")),
    d.scars.length
      ? table("supplier-scars", ["sup.col.scar", "sup.col.title", "sup.col.state", "sup.col.due", "sup.col.opened", "sup.col.closed", "sup.col.raisedBy"],
        d.scars.map((x) => {
          const late = overdue(x, today);
          return el("tr", { "data-key": x.key, "data-state": x.state || "", "data-overdue": String(late) },
            el("td", {}, x.key), el("td", {}, x.title || ""),
            el("td", { "data-col": "state" }, code("scarState", x.state)),
            el("td", { "data-col": "due" }, x.dueDate || "—", " ", mark(late, "hold")),
            el("td", {}, x.openedAt ? when(x.openedAt) : "—"), el("td", {}, x.closedAt ? when(x.closedAt) : "—"),
            el("td", {}, x.deviations.map((v) => el("a", { href: `#/deviation/${enc(v)}` }, v, " ")), x.capas.join(", ")));
        }))
      : el("p", { class: "muted" }, t("sup.noScars"))));
  status(t("sup.loaded", Math.round(performance.now() - t0)));
}
