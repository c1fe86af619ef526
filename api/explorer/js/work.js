// "My work": the home page after sign-in. What waits for the signed-in user (by role, from the
// myWork query), the plant's open exceptions, and the worklists (deviations, holds, CAPAs,
// actions, change requests, batches awaiting release, excursions, alarms), each filtered,
// sorted and paged by cursor (GraphQL connections). Rows link to the deviation view and traces.
// Routes: #/work, #/work/<list>.
import { gql, el, status } from "./api.js";
import { CODE_LISTS, LABELS, label } from "./codes.js";
import { t } from "./strings.js";
import { fmtTime } from "./format.js";  // issue 15 item 4
import { lang } from "./i18n.js";  // issue 15 item 4: codes in the page's language

const PAGE = 10;
const codesOf = (prop) => Object.keys(LABELS[CODE_LISTS[prop]] || {});
const enc = encodeURIComponent;
const trace = (key, dir) => `#/trace/${enc(key)}/${dir}`;
const devLink = (key) => `#/deviation/${enc(key)}`;
const recLink = (key) => `#/record/${enc(key)}`;  // record.js: audit history, release report, signed actions

// kind: enum (one code of a code list, sent as a one-element list), role, bool (true/false),
// flag (true or null), text, int, date
const LISTS = [
  { id: "deviations", field: "deviations", desc: true,
    sorts: ["openedAt", "key", "grade", "state", "dueDate"],
    filters: [{ arg: "state", kind: "enum", prop: "deviationState", type: "[DeviationState!]" },
      { arg: "grade", kind: "enum", prop: "deviationGrade", type: "[DeviationGrade!]" },
      { arg: "openOnly", kind: "bool", init: true }, { arg: "owner", kind: "text" },
      { arg: "equipment", kind: "text" }, { arg: "product", kind: "text" },
      { arg: "minAgeDays", kind: "int" }],
    cols: ["key", "title", "state", "grade", "ageDays", "owner", "equipment", "products", "dueDate"],
    codes: { state: "deviationState", grade: "deviationGrade" },
    link: (r) => devLink(r.key) },
  { id: "holds", field: "holds", desc: true, sorts: ["openedAt", "key", "state"],
    filters: [{ arg: "state", kind: "enum", prop: "holdState", type: "[HoldState!]" },
      { arg: "activeOnly", kind: "bool", init: true }, { arg: "held", kind: "text" },
      { arg: "since", kind: "date" }],
    cols: ["key", "state", "openedAt", "held", "deviations"], codes: { state: "holdState" },
    link: (r) => (r.deviations[0] ? devLink(r.deviations[0]) : r.held[0] ? trace(r.held[0], "DOWNSTREAM") : null) },
  { id: "capas", field: "capas", desc: false, sorts: ["dueDate", "openedAt", "key", "state"],
    filters: [{ arg: "state", kind: "enum", prop: "capaState", type: "[CAPAState!]" },
      { arg: "openOnly", kind: "bool", init: true }, { arg: "overdue", kind: "flag" }],
    cols: ["key", "title", "state", "dueDate", "openActions"], codes: { state: "capaState" },
    link: (r) => recLink(r.key) },
  { id: "actions", field: "capaActions", desc: false, sorts: ["dueDate", "key", "state"],
    filters: [{ arg: "state", kind: "enum", prop: "actionState", type: "[ActionState!]" },
      { arg: "openOnly", kind: "bool", init: true }, { arg: "owner", kind: "text" },
      { arg: "overdue", kind: "flag" }],
    cols: ["key", "capa", "actionType", "state", "owner", "dueDate"], codes: { state: "actionState", actionType: "actionType" },
    link: (r) => (r.capa ? recLink(r.capa) : null) },
  { id: "changes", field: "changeRequests", desc: true, sorts: ["openedAt", "key", "state"],
    filters: [{ arg: "state", kind: "enum", prop: "changeState", type: "[ChangeState!]" },
      { arg: "awaitingRole", kind: "role", choices: ["engineer", "qa"], type: "RoleName" }],
    cols: ["key", "title", "state", "openedAt", "awaiting"], codes: { state: "changeState" },
    link: (r) => recLink(r.key) },
  { id: "batches", field: "batches", desc: true, sorts: ["manufacturedAt", "key", "status"],
    fixed: { awaitingRelease: [true, "Boolean"] },
    filters: [{ arg: "status", kind: "enum", prop: "batchStatus", type: "[BatchStatus!]" },
      { arg: "product", kind: "text" }],
    cols: ["key", "product", "status", "manufacturedAt", "exceptionCount"], codes: { status: "batchStatus" },
    lazy: ["exceptionCount"], // each reads the batch's release report: filled in after the page shows
    link: (r) => recLink(r.key) },
  { id: "excursions", field: "excursions", desc: true, sorts: ["detectedAt", "key", "level"],
    filters: [{ arg: "level", kind: "enum", prop: "excursionLevel", type: "[ExcursionLevel!]" },
      { arg: "equipment", kind: "text" }, { arg: "since", kind: "date" }],
    cols: ["key", "level", "detectedAt", "peakValue", "equipment", "deviations"], codes: { level: "excursionLevel" },
    link: (r) => (r.deviations[0] ? devLink(r.deviations[0]) : null) },
  { id: "alarms", field: "alarms", desc: true, sorts: ["openedAt", "key", "priority", "state"],
    filters: [{ arg: "state", kind: "enum", prop: "alarmState", type: "[AlarmState!]" },
      { arg: "priority", kind: "enum", prop: "alarmPriority", type: "[AlarmPriority!]" }],
    cols: ["key", "state", "priority", "openedAt"], codes: { state: "alarmState", priority: "alarmPriority" } },
];
const byId = Object.fromEntries(LISTS.map((l) => [l.id, l]));
const TYPES = { bool: "Boolean", flag: "Boolean", text: "String", int: "Int", date: "String" };
const state = {}; // list id → { afters: [cursor of each page shown], current }

function queryOf(L, lazy = false) {
  const vars = ["$first: Int!", "$after: String", "$sortBy: String", "$descending: Boolean"];
  const args = ["first: $first", "after: $after", "sortBy: $sortBy", "descending: $descending"];
  for (const f of L.filters) { vars.push(`$${f.arg}: ${f.type || TYPES[f.kind]}`); args.push(`${f.arg}: $${f.arg}`); }
  for (const [a, [, type]] of Object.entries(L.fixed || {})) { vars.push(`$${a}: ${type}`); args.push(`${a}: $${a}`); }
  // the columns, the IRI, and what the row's link and overdue badge need
  const fields = lazy ? ["key", ...L.lazy] : [...new Set([...L.cols, "iri", ...(L.cols.includes("dueDate") ? ["overdue"] : []),
    ...(L.id === "holds" ? ["deviations", "held"] : [])])].filter((f) => !(L.lazy || []).includes(f));
  return `query(${vars.join(", ")}) { ${L.field}(${args.join(", ")}) { totalCount
    pageInfo { hasNextPage endCursor } edges { cursor node { ${fields.join(" ")} } } } }`;
}

function filterInput(L, f) {
  const name = `${L.id}-${f.arg}`;
  const caption = t(`filter.${f.arg}`);
  if (f.kind === "enum" || f.kind === "role") {
    const choices = f.kind === "enum" ? codesOf(f.prop) : f.choices;
    return el("label", {}, caption, el("select", { name: f.arg, id: name },
      el("option", { value: "" }, t("filter.any")),
      choices.map((c) => el("option", { value: c, title: f.prop ? label(f.prop, c, "zh") : null },
        f.prop ? label(f.prop, c, lang) : label("roleName", c, lang)))));
  }
  if (f.kind === "bool" || f.kind === "flag") {
    return el("label", {}, el("input", { type: "checkbox", name: f.arg, id: name, checked: !!f.init }), caption);
  }
  return el("label", {}, caption, el("input", { name: f.arg, id: name, type: f.kind === "int" ? "number" : f.kind === "date" ? "date" : "text",
    min: f.kind === "int" ? "0" : null, size: 12 }));
}

function variablesOf(L, form) {
  const v = { first: PAGE };
  for (const f of L.filters) {
    const input = form.elements[f.arg];
    if (f.kind === "bool") v[f.arg] = input.checked;
    else if (f.kind === "flag") v[f.arg] = input.checked ? true : null;
    else if (f.kind === "enum") v[f.arg] = input.value ? [input.value] : null;
    else if (f.kind === "int") v[f.arg] = input.value === "" ? null : Number(input.value);
    else v[f.arg] = input.value.trim() || null;
  }
  for (const [a, [value]] of Object.entries(L.fixed || {})) v[a] = value;
  v.sortBy = form.elements.sortBy.value;
  v.descending = form.elements.descending.checked;
  return v;
}

function cell(L, r, c) {
  const v = r[c];
  if (Array.isArray(v)) return v.join(", ");
  if (v === null || v === undefined) return "";
  if (L.codes?.[c]) return el("span", { title: `${label(L.codes[c], v)} / ${label(L.codes[c], v, "zh")}`, "data-code": v }, label(L.codes[c], v, lang));
  if (c === "dueDate" && r.overdue) return el("span", { class: "badge dev", title: t("overdue") }, v);
  if (/At$/.test(c)) return el("span", { title: String(v) }, fmtTime(v));
  return String(v);
}

async function load(L, after) {
  const box = document.getElementById(`worklist-${L.id}`);
  const form = box.querySelector("form");
  const s = state[L.id];
  const out = box.querySelector(".rows");
  const mine = s.seq = (s.seq || 0) + 1;  // the newest request wins: an older answer is dropped
  let data;
  try {
    data = (await gql(queryOf(L), { ...variablesOf(L, form), after }))[L.field];
  } catch (e) {
    if (mine === s.seq) out.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  if (mine !== s.seq) return;
  s.after = after;
  const start = s.afters.length * PAGE;
  const rows = data.edges.map((e) => e.node);
  const table = el("table", { class: "table", "data-total": String(data.totalCount) },
    el("thead", {}, el("tr", {}, L.cols.map((c) => el("th", {}, t(`col.${c}`))))),
    el("tbody", {}, rows.map((r) => {
      const href = L.link ? L.link(r) : null;
      return el("tr", { "data-key": r.key, onclick: href ? () => { location.hash = href; } : null },
        L.cols.map((c, i) => el("td", { "data-col": c }, i === 0 && href ? el("a", { href }, r.key)
          : (L.lazy || []).includes(c) ? "…" : cell(L, r, c))));
    })));
  const pager = el("div", { class: "toolbar pager" },
    el("button", { type: "button", disabled: !s.afters.length, onclick: () => { s.afters = []; load(L, null); } }, t("page.first")),
    el("button", { type: "button", disabled: !s.afters.length, onclick: () => { const prev = s.afters.pop(); load(L, prev); } }, t("page.prev")),
    el("button", { type: "button", class: "next", disabled: !data.pageInfo.hasNextPage,
      onclick: () => { s.afters.push(after); load(L, data.pageInfo.endCursor); } }, t("page.next")),
    el("span", { class: "muted" }, data.totalCount ? t("page.rows", start + 1, start + rows.length, data.totalCount) : t("page.empty")));
  out.replaceChildren(table, pager);
  if (L.lazy && rows.length) fillLazy(L, form, after, table);
}

// the expensive columns of the page just shown, by a second request for the same page
async function fillLazy(L, form, after, table) {
  let data;
  try { data = (await gql(queryOf(L, true), { ...variablesOf(L, form), after }))[L.field]; } catch (e) { return; }
  for (const { node } of data.edges) {
    const row = [...table.querySelectorAll("tbody tr")].find((tr) => tr.dataset.key === node.key);
    for (const c of L.lazy) {
      const td = row?.querySelector(`td[data-col="${c}"]`);
      if (td) { td.textContent = node[c] ?? ""; td.dataset.loaded = "true"; }
    }
  }
}

function listBox(L) {
  const form = el("form", { class: "toolbar filters" },
    L.filters.map((f) => filterInput(L, f)),
    el("label", {}, t("sort.by"), el("select", { name: "sortBy" }, L.sorts.map((s) => el("option", { value: s }, t(`col.${s}`))))),
    el("label", {}, el("input", { type: "checkbox", name: "descending", checked: L.desc }), t("sort.descending")),
    el("button", { type: "submit" }, t("page.apply")));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); state[L.id].afters = []; load(L, null); });
  return el("div", { id: `worklist-${L.id}`, class: "card worklist", hidden: true }, el("h3", {}, t(`list.${L.id}`)), form, el("div", { class: "rows" }));
}

function itemLink(i) {
  if (i.className === "Deviation") return devLink(i.key);
  if (i.className === "Batch" || i.className === "ChangeRequest" || i.className === "CAPA") return recLink(i.key);
  if (i.className === "MaterialLot") return trace(i.key, "DOWNSTREAM");
  if (i.className === "Hold" && i.detail) return trace(i.detail.split(", ")[0], "DOWNSTREAM");
  return null;
}

function sectionCard(s) {
  return el("div", { class: "card section", "data-section": s.kind, "data-total": String(s.total) },
    el("h3", {}, `${t(`section.${s.kind}`)} (${s.total})`),
    el("ul", {}, s.items.map((i) => {
      const href = itemLink(i);
      const text = [i.title, i.state, i.detail].filter(Boolean).join(" · ");
      return el("li", { "data-key": i.key }, href ? el("a", { href }, i.key) : i.key, ` ${text}`,
        i.dueDate ? el("span", { class: i.overdue ? "badge dev" : "badge" }, `${t("col.dueDate")} ${i.dueDate}`) : null);
    })),
    s.total > s.items.length ? el("p", { class: "muted" }, t("work.more", s.total - s.items.length)) : null);
}

async function loadMyWork() {
  const t0 = performance.now();
  const box = document.getElementById("my-work");
  let w;
  try {
    w = (await gql(`{ myWork(first: 5) { username roles sections { kind total items(first: 5) { iri key className title state dueDate overdue detail } }
      plant { openDeviations criticalDeviations activeHolds openCapas overdueActions changesAwaitingApproval batchesAwaitingRelease activeAlarms } } }`)).myWork;
  } catch (e) { box.replaceChildren(el("p", { class: "error", role: "alert" }, e.message)); return; }
  const counts = el("div", { class: "counts", id: "plant-counts" }, Object.entries(w.plant).map(([k, n]) =>
    el("div", { class: "count", "data-count": k }, el("b", {}, n), t(`count.${k}`))));
  box.replaceChildren(
    el("h2", {}, t("work.waiting")),
    w.sections.some((s) => s.total) ? el("div", { class: "sections" }, w.sections.filter((s) => s.total).map(sectionCard))
      : el("p", { class: "muted", id: "nothing-waits" }, t("work.nothing")),
    el("h2", {}, t("work.plant")), counts,
    el("p", {}, el("a", { id: "home-equipment", href: "#/equipment" }, `${t("eq.list")} ›`)));
  status(t("work.loaded", Math.round(performance.now() - t0)));
}

export function init() {
  const view = document.getElementById("work-view");
  const tabs = el("nav", { class: "seg list-tabs", "aria-label": t("work.lists") },
    LISTS.map((L) => el("button", { type: "button", "data-list": L.id, onclick: () => { location.hash = `#/work/${L.id}`; } }, t(`list.${L.id}`))));
  view.replaceChildren(el("div", { id: "my-work" }), el("h2", {}, t("work.lists")), tabs, ...LISTS.map(listBox));
  for (const L of LISTS) state[L.id] = { afters: [], after: null };
  window.addEventListener("tracegraph:qc", () => { if (!view.hidden) refresh(); });  // live.js
}

// issue 15 item 9: a committed exception (live.js) refreshes the home page and the open list
function refresh() {
  loadMyWork();
  const L = LISTS.find((x) => !document.getElementById(`worklist-${x.id}`).hidden);
  if (L) load(L, state[L.id].after);
}

export function open(list = "deviations") {
  const L = byId[list] || byId.deviations;
  loadMyWork();
  for (const b of document.querySelectorAll(".list-tabs button")) b.setAttribute("aria-pressed", String(b.dataset.list === L.id));
  for (const x of LISTS) document.getElementById(`worklist-${x.id}`).hidden = x.id !== L.id;
  state[L.id].afters = [];
  load(L, null);
}
