// What-if recall (issue 18 item 3, #/whatif): recall hypotheses side by side — each a name and
// its seeds written KIND:REF[@FROM..TO][+KIND:REF…] (lot, equipment, operator, supplier,
// version) — the counts per class of each scope, the shared core and what each adds (from
// whatIf); and for one hypothesis and a unit, shipment or customer: whether it is exposed (the
// witness path and the exposure fraction) or, for QA, the signed proof of non-exposure.
import { gql, el, fill, status } from "./api.js";
import { cls, lang } from "./i18n.js";
import { t } from "./strings.js";

const WHAT_IF = `query($hs: [HypothesisInput!]!) { whatIf(hypotheses: $hs) {
  watermark scopes { name spec seeds origins { seed node executions walkSeeds } counts { label count } }
  shared { label count } adds { name counts { label count } } union { label count } } }`;
const EXPOSURE = `query($h: HypothesisInput!, $t: String!) { exposure(hypothesis: $h, item: $t) {
  exposed target targetClass targetKey watermark examined witness statement
  shares { seed item quantity fraction unit note } } }`;
const PROVE = `mutation($h: HypothesisInput!, $t: String!, $pw: String!, $r: String!) {
  proveNonExposure(hypothesis: $h, item: $t, password: $pw, reason: $r) {
    ok problems { rule field value message }
    proof { number digest intact document signatures { manifestation valid } }
    finding { exposed witness statement shares { seed item fraction note } } } }`;

const short = (iri) => iri.split("/").slice(-1)[0];
const byLabel = (list) => new Map(list.map((s) => [s.label, s.count]));

function row(name = "", spec = "") {
  return el("div", { class: "toolbar hypothesis" },
    el("input", { class: "h-name", value: name, size: 10, "aria-label": t("wi.name"), placeholder: t("wi.name") }),
    el("input", { class: "h-spec", value: spec, size: 70, "aria-label": t("wi.spec"), placeholder: t("wi.specHint") }),
    el("button", { type: "button", class: "h-remove", title: t("wi.remove"), onclick: (ev) => ev.target.closest(".hypothesis").remove() }, "×"));
}

function hypotheses() {
  return [...document.querySelectorAll("#whatif-view .hypothesis")]
    .map((r) => ({ name: r.querySelector(".h-name").value.trim(), spec: r.querySelector(".h-spec").value.trim() }))
    .filter((h) => h.name && h.spec);
}

let last = null;
let builtIn = null;  // the language the view was built in: a switch rebuilds it, inputs kept

export function init() {}

export function open() {
  if (builtIn === lang) return;
  const kept = builtIn === null ? [] : hypotheses();
  build(kept.length ? kept : [{ name: "A", spec: "" }, { name: "B", spec: "" }]);
  builtIn = lang;
  if (last) render();
}

function build(rows) {
  const out = document.getElementById("whatif-view");
  fill(out,
    el("div", { class: "card" },
      el("h2", {}, t("wi.title")),
      el("p", { class: "muted" }, t("wi.help")),
      el("div", { id: "hypotheses" }, rows.map((h) => row(h.name, h.spec))),
      el("div", { class: "toolbar" },
        el("button", { type: "button", id: "add-hypothesis", onclick: () => document.getElementById("hypotheses").append(row(String.fromCharCode(65 + hypotheses().length), "")) }, t("wi.add")),
        el("button", { type: "button", id: "run-whatif", onclick: compare }, t("wi.compare"))),
      el("p", { id: "whatif-error", class: "error", role: "alert" })),
    el("div", { id: "whatif-result" }),
    el("div", { class: "card", id: "proof-card" },
      el("h3", {}, t("wi.exposure")),
      el("div", { class: "toolbar" },
        el("label", {}, t("wi.hypothesis"), " ", el("select", { id: "proof-hypothesis", "aria-label": t("wi.hypothesis") })),
        el("input", { id: "proof-target", size: 28, placeholder: t("wi.target"), "aria-label": t("wi.target") }),
        el("button", { type: "button", id: "check-exposure", onclick: check }, t("wi.check"))),
      el("div", { class: "toolbar" },
        el("input", { id: "proof-reason", size: 40, placeholder: t("wi.reason"), "aria-label": t("wi.reason") }),
        el("input", { id: "proof-password", type: "password", placeholder: t("wi.password"), "aria-label": t("wi.password"), autocomplete: "current-password" }),
        el("button", { type: "button", id: "prove", onclick: prove }, t("wi.prove"))),
      el("p", { id: "proof-error", class: "error", role: "alert" }),
      el("div", { id: "proof-result" })));
}

async function compare() {
  const err = document.getElementById("whatif-error");
  err.textContent = "";
  const hs = hypotheses();
  if (!hs.length) { err.textContent = t("wi.none"); return; }
  const t0 = performance.now();
  try { last = (await gql(WHAT_IF, { hs })).whatIf; } catch (e) { err.textContent = e.message; return; }
  render();
  status(t("wi.loaded", Math.round(performance.now() - t0)));
}

function render() {
  const names = last.scopes.map((s) => s.name);
  const scope = new Map(last.scopes.map((s) => [s.name, byLabel(s.counts)]));
  const adds = new Map(last.adds.map((a) => [a.name, byLabel(a.counts)]));
  const shared = byLabel(last.shared);
  const many = names.length > 1;
  const head = [t("wi.class"), ...names, ...(many ? [t("wi.shared"), ...names.map((n) => t("wi.only", n))] : [])];
  const cell = (v, col, n) => el("td", { "data-col": col, "data-name": n ?? null }, String(v ?? 0));
  fill(document.getElementById("whatif-result"),
    el("div", { class: "card" },
      el("h3", {}, t("wi.scopes", last.watermark)),
      el("ul", { id: "whatif-seeds" }, last.scopes.flatMap((s) => s.origins.map((o) =>
        el("li", { "data-name": s.name }, `${s.name}: ${o.seed} → ${t("wi.resolved", o.walkSeeds.length, o.executions.length)}`)))),
      el("div", { class: "scroll" }, el("table", { class: "table", id: "whatif-table" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
        el("tbody", {}, last.union.map((u) => el("tr", { "data-class": u.label },
          el("td", { title: u.label }, cls(u.label)),
          names.map((n) => cell(scope.get(n).get(u.label), "scope", n)),
          many ? cell(shared.get(u.label), "shared") : null,
          many ? names.map((n) => cell(adds.get(n).get(u.label), "adds", n)) : null)))))));
  const sel = document.getElementById("proof-hypothesis");
  fill(sel, names.map((n) => el("option", { value: n }, n)));
}

function chosen() {
  const name = document.getElementById("proof-hypothesis").value;
  const h = hypotheses().find((x) => x.name === name);
  return h || null;
}

function witness(f) {
  return el("div", { id: "exposure-witness" },
    el("p", {}, t("wi.witness")),
    el("ol", { class: "witness" }, f.witness.map((w) => el("li", { "data-iri": w }, short(w)))),
    el("table", { class: "table", id: "exposure-shares" },
      el("thead", {}, el("tr", {}, [t("wi.seed"), t("wi.item"), t("wi.fraction"), t("wi.note")].map((h) => el("th", {}, h)))),
      el("tbody", {}, f.shares.map((s) => el("tr", { "data-seed": s.seed },
        el("td", {}, short(s.seed)), el("td", {}, short(s.item)),
        el("td", { "data-col": "fraction", "data-value": s.fraction ?? "" }, s.fraction === null ? t("wi.unknown") : s.fraction.toPrecision(6)),
        el("td", {}, s.note || ""))))));
}

async function check() {
  const err = document.getElementById("proof-error");
  const out = document.getElementById("proof-result");
  err.textContent = "";
  const h = chosen();
  const target = document.getElementById("proof-target").value.trim();
  if (!h || !target) { err.textContent = t("wi.pick"); return; }
  let f;
  try { f = (await gql(EXPOSURE, { h, t: target })).exposure; } catch (e) { err.textContent = e.message; return; }
  fill(out, el("div", { id: "exposure", "data-exposed": String(f.exposed) },
    el("p", { class: f.exposed ? "bad" : "" }, f.statement),
    f.exposed ? witness(f) : el("p", { class: "muted" }, t("wi.examined", JSON.stringify(f.examined)))));
}

async function prove() {
  const err = document.getElementById("proof-error");
  const out = document.getElementById("proof-result");
  err.textContent = "";
  const h = chosen();
  const target = document.getElementById("proof-target").value.trim();
  if (!h || !target) { err.textContent = t("wi.pick"); return; }
  let r;
  try {
    r = (await gql(PROVE, { h, t: target, pw: document.getElementById("proof-password").value,
      r: document.getElementById("proof-reason").value })).proveNonExposure;
  } catch (e) { err.textContent = e.message; return; }
  document.getElementById("proof-password").value = "";
  if (!r.ok) {
    err.textContent = r.problems.map((p) => p.message).join("; ");
    fill(out, r.finding ? el("div", { id: "exposure", "data-exposed": "true" },
      el("p", { class: "bad" }, r.finding.statement), witness(r.finding)) : null);
    return;
  }
  const p = r.proof;
  fill(out, el("div", { id: "proof", "data-number": p.number, "data-intact": String(p.intact) },
    el("h4", {}, t("wi.proof", p.number)),
    el("p", {}, p.document.statement),
    el("ul", {}, p.signatures.map((s) => el("li", { class: s.valid ? "" : "bad" }, s.manifestation))),
    el("p", { class: "muted" }, t("wi.digest", p.digest))));
}
