// Documents (issue 18 item 1): controlled documents with their revisions and statuses
// (#/documents, from GraphQL documents), and one document's revision in force with who must
// train on it — trained, pending within the grace period, overdue (#/documents/<code>, from
// document(key:)). Read-only: the lifecycle and training commands are signed mutations.
import { gql, el, status, when, fill } from "./api.js";
import { label } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";
import { table } from "./table.js";

const REV = "key revision status effectiveFrom effectiveTo trainingDueBy";
// pages sized for the query-cost limit: a document's revisions, a revision's review rounds,
// an approval's signers; a longer list ends in "…" (revisionCount says how many there are)
const LIST = `{ documents { code title operations revisionCount revisions(first: 50) { ${REV} }
  inForce { key } } }`;
const ONE = `query($k: String!) { document(key: $k) { code title operations revisionCount
  revisions(first: 50) { ${REV} approvals(first: 10) { signatures(first: 10) { username meaning valid signedAt } } }
  inForce { ${REV} training { person name dueBy trainedAt state } } } }`;

const enc = encodeURIComponent;
const at = (v) => (v ? when(v) : "—");
const STATE_CLASS = { trained: "rel", pending: "hold", overdue: "dev" };
const badge = (s) => el("span", { class: `badge ${STATE_CLASS[s] || ""}`, "data-state": s }, t(`doc.state.${s}`));
const statusOf = (s) => label("versionStatus", s, lang) || s;
const more = (d) => (d.revisionCount > d.revisions.length ? ", …" : "");

export function init() {}

export function open(code) {
  return code ? one(code) : list();
}

async function list() {
  const out = document.getElementById("documents-view");
  const t0 = performance.now();
  let docs;
  try { docs = (await gql(LIST)).documents; }
  catch (e) { fill(out, el("p", { class: "error", role: "alert" }, e.message)); return; }
  fill(out, el("div", { class: "card" }, el("h2", {}, t("doc.list")),
    table("document-list", ["doc.col.document", "doc.col.title", "doc.col.revisions", "doc.col.inForce", "doc.col.operations"],
      docs.map((d) => el("tr", { "data-key": d.code },
        el("td", {}, el("a", { href: `#/documents/${enc(d.code)}` }, d.code)), el("td", {}, d.title || ""),
        el("td", {}, d.revisions.map((r) => `${r.key} (${statusOf(r.status)})`).join(", ") + more(d)),
        el("td", { "data-col": "inForce" }, d.inForce?.key || "—"),
        el("td", {}, String(d.operations.length)))))));
  status(t("doc.loaded", Math.round(performance.now() - t0)));
}

async function one(code) {
  const out = document.getElementById("documents-view");
  let d;
  try { d = (await gql(ONE, { k: code })).document; }
  catch (e) { fill(out, el("p", { class: "error", role: "alert" }, e.message)); return; }
  if (!d) { fill(out, el("p", { class: "error", role: "alert" }, t("doc.none", code))); return; }
  const cur = d.inForce;
  fill(out, el("div", { class: "card" },
    el("p", {}, el("a", { href: "#/documents" }, t("doc.all"))),
    el("h2", {}, `${d.code} — ${d.title || ""}`),
    el("p", {}, `${t("doc.col.operations")}: ${d.operations.join(", ") || t("none")}`),
    table("document-revisions", ["doc.col.revision", "doc.col.status", "doc.col.from", "doc.col.to", "doc.col.dueBy", "doc.col.approvals"],
      d.revisions.map((r) => el("tr", { "data-key": r.key },
        el("td", {}, r.key), el("td", { "data-col": "status" }, statusOf(r.status)),
        el("td", {}, at(r.effectiveFrom)), el("td", {}, at(r.effectiveTo)), el("td", {}, at(r.trainingDueBy)),
        el("td", {}, r.approvals.flatMap((a) => a.signatures).map((s) =>
          `${s.username} (${s.meaning}${s.valid ? "" : ", invalid"}) ${when(s.signedAt)}`).join("; ") || "—")))
        .concat(more(d) ? [el("tr", {}, el("td", { colspan: 6 }, "…"))] : [])),
    el("h3", {}, t("doc.training", cur ? cur.key : "—")),
    cur && cur.training.length
      ? table("document-training", ["doc.col.person", "doc.col.name", "doc.col.dueBy", "doc.col.trainedAt", "doc.col.state"],
        cur.training.map((r) => el("tr", { "data-key": r.person, "data-state": r.state },
          el("td", {}, r.person), el("td", {}, r.name), el("td", {}, at(r.dueBy)), el("td", {}, at(r.trainedAt)),
          el("td", { "data-col": "state" }, badge(r.state)))))
      : el("p", { class: "muted" }, t("doc.noTraining"))));
}
