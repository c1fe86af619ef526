// One record (#/record/<key>): its properties, the signatures on it and its audit history; for
// a batch its release report (the exceptions, rule by rule) and the signed release; for a hold
// its held records and the signed disposition; for a CAPA its actions, effectiveness checks and
// their signed steps; for a change request the signed approval. recordLinks(node) gives the
// links every view shows beside a record: genealogy, this record view (audit history, release
// report) and the eDHR (batches and units, HTML or PDF, fetched with the bearer token).
import { gql, el, fill, kvTable, session, status, when, ApiError } from "./api.js";
import { label } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";
import { problemList } from "./sign.js";
import { capaActions, disposeAction, releaseAction, approveChangeAction } from "./actions.js";

const enc = encodeURIComponent;
const NODE = "iri class key properties";
const EDHR = new Set(["Batch", "SerializedUnit"]);

// the eDHR as a document in a new tab (the route needs the bearer token: fetched, then shown)
async function openEdhr(key, format) {
  const tab = window.open("", "_blank");
  const r = await fetch(`/api/edhr/${enc(key)}?format=${format}`, { headers: { Authorization: `Bearer ${session().access_token}` } });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    tab?.close();
    status(body.detail?.message || `eDHR ${key}: ${r.status}`);
    return;
  }
  const url = URL.createObjectURL(await r.blob());
  if (tab) tab.location.href = url; else location.href = url;
}

export function recordLinks(n) {
  return el("span", { class: "record-links", "data-record": n.key },
    el("a", { href: `#/trace/${enc(n.key)}/${n.class === "Batch" ? "UPSTREAM" : "DOWNSTREAM"}`, "data-link": "trace" }, t("rec.trace")),
    el("a", { href: `#/record/${enc(n.key)}`, "data-link": "audit" }, t("rec.audit")),
    n.class === "Batch" ? el("a", { href: `#/record/${enc(n.key)}`, "data-link": "report" }, t("rec.report")) : null,
    EDHR.has(n.class) ? [
      el("a", { href: "#", "data-link": "edhr", onclick: (ev) => { ev.preventDefault(); openEdhr(n.key, "html"); } }, t("rec.edhr")),
      el("a", { href: "#", "data-link": "edhr-pdf", onclick: (ev) => { ev.preventDefault(); openEdhr(n.key, "pdf"); } }, `${t("rec.edhr")} ${t("rec.pdf")}`)] : null);
}

// a CAPA's actions and checks with their signed steps (also on the deviation view)
export async function capaBlock(capa, done) {
  const n = (await gql(`query($id: String!) { node(id: $id) { links(direction: DOWNSTREAM) { type sourceNode { ${NODE} } } } }`, { id: capa.iri })).node;
  const linked = (type) => (n?.links || []).filter((e) => e.type === type && e.sourceNode).map((e) => e.sourceNode)
    .sort((a, b) => a.key.localeCompare(b.key));
  const actions = linked("ACTION_OF"), checks = linked("CHECK_OF");
  const state = (prop, v) => el("span", { class: "badge", title: v }, label(prop, v, lang));
  return el("div", { class: "capa", "data-capa": capa.key },
    el("h4", {}, `${capa.key} `, state("capaState", capa.properties.capaState), ` ${capa.properties.title || ""}`, " ", recordLinks(capa)),
    el("p", { class: "muted" }, t("act.actions")),
    actions.length ? el("ul", {}, actions.map((a) => el("li", { "data-action-key": a.key, "data-state": a.properties.actionState },
      `${a.key} [`, label("actionType", a.properties.actionType, lang), "] ", state("actionState", a.properties.actionState),
      ` ${a.properties.description || ""} (${t("act.due")} ${a.properties.dueDate || "?"})`))) : el("p", { class: "muted" }, t("act.noActions")),
    checks.length ? [el("p", { class: "muted" }, t("act.checks")), el("ul", {}, checks.map((c) => el("li", { "data-check": c.key },
      `${c.key}: `, label("effectivenessCriterion", c.properties.effectivenessCriterion, lang), ` — ${c.properties.description || ""}`,
      c.properties.effectivenessResult ? [" ", state("effectivenessResult", c.properties.effectivenessResult)] : null)))] : null,
    el("div", { class: "actions" }, capaActions(capa, actions, checks, done)));
}

function signatureList(sigs) {
  return [el("h4", {}, t("rec.signatures", sigs.length)),
    sigs.length ? el("ul", { class: "signatures" }, sigs.map((s) => el("li", { "data-meaning": s.meaning, "data-valid": String(s.valid) },
      `${s.manifestation}${s.valid ? "" : ` — ${t("rec.invalid")}`}`))) : el("p", { class: "muted" }, t("rec.noSignature"))];
}

function auditTable(n, entries) {
  return el("details", { id: "record-audit", open: true },
    el("summary", {}, t("rec.auditTitle", n.key, entries.length)),
    el("table", { class: "table" }, el("tbody", {}, entries.map((a) => el("tr", { "data-seq": a.seq },
      el("td", {}, when(a.at)), el("td", {}, a.actor), el("td", {}, a.action),
      el("td", {}, a.field ? `${a.field} = ${JSON.stringify(a.new)}` : ""), el("td", {}, a.reason || ""))))));
}

// the batch's release decisions (earlier releases too) with their signatures
async function decisionList(n) {
  const links = (await gql(`query($id: String!) { node(id: $id) { links(direction: DOWNSTREAM) { type sourceNode { iri key properties } } } }`,
    { id: n.iri })).node.links.filter((e) => e.type === "RELEASE_OF" && e.sourceNode).map((e) => e.sourceNode);
  const sigs = await Promise.all(links.map((x) => gql(`query($r: String!) { signatures(record: $r) { meaning valid manifestation } }`, { r: x.iri })));
  return links.length ? el("ul", { id: "release-decisions" }, links.map((x, i) => el("li", { "data-key": x.key },
    `${x.key}: `, label("releaseOutcome", x.properties.releaseOutcome, lang), ` ${when(x.properties.decidedAt || "")} — `,
    sigs[i].signatures.map((s) => el("span", { "data-meaning": s.meaning, "data-valid": String(s.valid) },
      `${s.manifestation}${s.valid ? "" : ` — ${t("rec.invalid")}`}`))))) : null;
}

// the release report of a batch: the exceptions, rule by rule, and the signed release
async function releaseCard(n, done) {
  const r = (await gql(`query($b: String!) { releaseReport(batch: $b) { releasable status exceptions { rule message field value focus } } }`, { b: n.iri })).releaseReport;
  return el("div", { class: "card", id: "release-report", "data-releasable": String(r.releasable), "data-exceptions": String(r.exceptions.length) },
    el("h3", {}, t("rec.reportTitle", n.key, r.releasable ? t("rec.releasable") : t("rec.exceptions", r.exceptions.length))),
    r.exceptions.length ? problemList(r.exceptions, "release-exceptions") : null,
    await decisionList(n),
    el("div", { class: "actions" }, releaseAction(n, done)));
}

async function typeCards(n, done) {
  if (n.class === "Batch") return [await releaseCard(n, done)];
  if (n.class === "Hold") {
    const held = (await gql(`query($id: String!) { node(id: $id) { links { type targetNode { ${NODE} } } } }`, { id: n.iri })).node.links
      .filter((e) => e.type === "HOLDS" && e.targetNode).map((e) => e.targetNode);
    return [el("div", { class: "card" }, el("ul", {}, held.map((h) => el("li", {}, `${h.class} ${h.key} `, recordLinks(h)))),
      n.properties.holdState === "Active" ? el("div", { class: "actions" }, disposeAction(n, held.map((h) => h.key), done)) : null)];
  }
  if (n.class === "CAPA") return [el("div", { class: "card" }, await capaBlock(n, done))];
  if (n.class === "ChangeRequest") {
    const roles = session().roles.filter((r) => ["engineer", "qa"].includes(r));
    return [el("div", { class: "card actions" }, approveChangeAction(n, roles.length ? roles : ["qa"], done))];
  }
  return [];
}

export function init() {}

export async function open(key) {
  const out = document.getElementById("record-view");
  if (!key) { out.replaceChildren(el("p", { class: "muted" }, t("rec.search"))); return; }
  const t0 = performance.now();
  const again = () => open(key);
  let d;
  try {
    const n = (await gql(`query($id: String!) { node(id: $id) { ${NODE} } }`, { id: key })).node;
    if (!n) { out.replaceChildren(el("p", { class: "error" }, t("rec.notFound", key))); return; }
    d = await gql(`query($iri: String!) { auditTrail(record: $iri, first: 200) { seq at actor action field new reason }
      signatures(record: $iri) { meaning valid manifestation } }`, { iri: n.iri });
    fill(out, el("div", { class: "card", id: "record", "data-class": n.class, "data-key": n.key },
      el("h2", {}, `${n.class} ${n.key}`), recordLinks(n), kvTable(n.properties), signatureList(d.signatures)),
    await typeCards(n, again), el("div", { class: "card" }, auditTable(n, d.auditTrail)));
  } catch (e) {
    out.replaceChildren(el("p", { class: "error", role: "alert" }, e instanceof ApiError ? e.message : String(e)));
    return;
  }
  status(t("rec.loaded", Math.round(performance.now() - t0)));
}
