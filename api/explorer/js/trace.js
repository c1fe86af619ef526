// Genealogy view: search, a layered left-to-right graph (Cytoscape.js + dagre), expand and
// collapse, status outlines, edge quantities, and a side panel (properties, as-built context,
// audit history, signatures). "As known at" (issue 18 item 4): with a record time set, the trace,
// the properties and the status are those recorded then; the hash keeps it
// (#/trace/<id>/<direction>/<asOf>) so the view can be shared.
import cytoscape from "../vendor/cytoscape.js";
import dagre from "../vendor/cytoscape-dagre.js";
import { gql, el, kvTable, status, fill } from "./api.js";
import { CODE_LISTS, label } from "./codes.js";
import { cls, code, t } from "./i18n.js";
import { t as vt } from "./strings.js";
import { roomConditions } from "./env.js";
import { equipmentImpact } from "./trace_impact.js";
import { COLORS, RING, STYLE, layout as place, classFilter, readability } from "./trace_layout.js";
import { GENEALOGY, NEIGHBOURS, MEMBER_PAGE, addOutline, caption, closeGroup, countsText, groupOf, moreOf, openGroup } from "./trace_group.js";
import { renderList as listNodes, renderTree } from "./trace_table.js";
import { fmtQty, fmtTime } from "./format.js";
import { shownProps } from "./trace_fmt.js";

cytoscape.use(dagre);

const MAX_DRAW = 300;      // nodes (and groups) drawn at first; deeper levels open from the frontier

let cy = null;
const state = { seed: null, seedKey: "", dir: "UPSTREAM", nodes: new Map(), status: new Map(),
                expanded: new Map(), collapsed: new Map(), selected: null, asOf: null,
                groups: new Map(), open: new Map(), keys: new Map(), hidden: new Set(), page: 0,
                total: 0, edgeTotal: 0 };
// the properties holding a record's own status (as the API's status overlay reads them)
const STATUS_PROPS = ["batchStatus", "materialLotStatus", "unitStatus", "status"];

// the trace route of a record in a direction, keeping the record time asked
function traceHash(id, dir) {
  return `#/trace/${encodeURIComponent(id)}/${dir}${state.asOf ? "/" + encodeURIComponent(state.asOf) : ""}`;
}

// the "as known at" control: a UTC date-time (to the millisecond); empty means now
function asOfControl() {
  const input = el("input", { id: "as-of", type: "datetime-local", step: "0.001" });
  const go = () => { if (state.seed) location.hash = traceHash(state.seedKey, state.dir); };
  input.addEventListener("change", () => {
    const v = input.value;
    state.asOf = v ? (v.length === 16 ? `${v}:00Z` : `${v}Z`) : null;
    go();
  });
  const clear = el("button", { type: "button", id: "as-of-clear", onclick: () => {
    state.asOf = null; input.value = ""; go(); } });
  return el("span", { id: "as-of-box" }, el("label", { for: "as-of", id: "as-of-label" }), " ", input, " ", clear);
}

function showAsOf() {
  const input = document.getElementById("as-of");
  document.getElementById("as-of-label").textContent = vt("asof.label");
  document.getElementById("as-of-clear").textContent = vt("asof.now");
  document.getElementById("as-of-clear").hidden = !state.asOf;
  const v = state.asOf ? state.asOf.replace(/Z$/, "").replace(/(\.\d{3})\d*$/, "$1") : "";
  if (input.value !== v && !(state.asOf && input.value && `${input.value}Z`.startsWith(state.asOf))) input.value = v;
  asOfNote(state.loadedAsOf === state.asOf ? state.lastAnswer : null);  // again, in the language
}

function asOfNote(g) {
  state.lastAnswer = g;
  const note = document.getElementById("as-of-note");
  note.hidden = !g?.asOf;
  note.textContent = g?.asOf ? vt("asof.note", g.asOf, g.watermark) : "";
  if (g?.asOf) { note.dataset.asOf = g.asOf; note.dataset.watermark = String(g.watermark); }
}

// a record's status as recorded then: its own status property (holds on it and deviations
// concerning it are the overlay of now, left out)
function statusThen(iri) {
  const p = state.nodes.get(iri)?.properties || {};
  const own = STATUS_PROPS.map((k) => p[k]).find((v) => v !== undefined && v !== null) ?? null;
  return { iri, status: own, onHold: own === "OnHold", openDeviations: [], released: own === "Released",
           recalled: own === "Recalled", recalls: [] };
}

export function init() {
  document.getElementById("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search(document.getElementById("search-text").value.trim());
  });
  for (const b of document.querySelectorAll("#search .seg button")) {
    b.addEventListener("click", () => {
      if (state.seed) location.hash = traceHash(state.seedKey, b.dataset.dir);
      else { state.dir = b.dataset.dir; pressDir(); }
    });
  }
  document.getElementById("fit").addEventListener("click", () => cy?.fit(undefined, 30));
  document.getElementById("search").append(asOfControl());
  document.getElementById("trace-summary").after(el("p", { id: "as-of-note", class: "summary", hidden: true }));
  document.getElementById("legend").append(
    ...Object.entries(COLORS).filter(([k]) => k !== "group").map(([k, c]) => el("span", {}, el("i", { style: `background:${c}` }), cls(k))),
    el("span", {}, el("i", { style: `background:${COLORS.group};border:1px solid #999` }), t("group")),
    ...Object.entries({ "on hold": RING.hold, "deviation open": RING.deviation,
                        released: RING.released, recalled: RING.recalled })
      .map(([k, c]) => el("span", {}, el("i", { class: "ring", style: `border-color:${c}` }), t(k))));
  document.getElementById("node-list-box").before(el("div", { id: "class-filter", class: "toolbar", "aria-label": "class filter" }));
  document.getElementById("node-list").after(el("div", { id: "node-pager", class: "toolbar" }));
  document.getElementById("node-list-box").before(el("details", { id: "trace-tree-box", open: true },
    el("summary", {}, t("Traceability report")),
    el("table", { id: "trace-tree", class: "table" }, el("thead", {}, el("tr", {},
      ...["item", "class", "quantity", "count", "status"].map((h) => el("th", {}, t(h))))), el("tbody"))));
  cy = cytoscape({ container: document.getElementById("graph"), maxZoom: 2, minZoom: 0.05, style: STYLE });
  cy.on("tap", "node", (ev) => select(ev.target.id()));
}

export function open(id, dir, asOf) {
  if (dir === "UPSTREAM" || dir === "DOWNSTREAM") state.dir = dir;
  state.asOf = asOf || null;
  pressDir();
  showAsOf();
  if (id && (id !== state.seedKey || state.loadedDir !== state.dir || state.loadedAsOf !== state.asOf)) load(id);
}

function pressDir() {
  for (const b of document.querySelectorAll("#search .seg button"))
    b.setAttribute("aria-pressed", String(b.dataset.dir === state.dir));
}

async function search(text) {
  const matches = document.getElementById("matches");
  matches.replaceChildren();
  if (!text) return;
  let found;
  try {
    found = (await gql(`query($t: String!) { identify(text: $t) { iri class key } }`, { t: text })).identify;
  } catch (e) {
    summary(e.code === "NOT_FOUND" ? `Nothing matches “${text}”: ${e.message}` : e.message);
    return;
  }
  const go = (n) => {
    if (n.class === "Deviation") location.hash = `#/deviation/${encodeURIComponent(n.key)}`;
    else if (n.class === "ParameterSpec") location.hash = `#/spc/${encodeURIComponent(n.key)}`;
    else location.hash = traceHash(found.length > 1 ? n.iri : n.key, state.dir);
  };
  if (found.length === 1) { go(found[0]); return; }
  matches.append(...found.map((n) => el("li", {}, el("button", { type: "button", onclick: () => go(n) }, `${cls(n.class)} ${n.key}`))));
  summary(`${found.length} records match “${text}”: choose one`);
}

function summary(text) { document.getElementById("trace-summary").textContent = text; }

async function load(id) {
  const t0 = performance.now();
  document.getElementById("search-text").value = id;
  summary("loading …");
  let g;
  try {
    g = (await gql(GENEALOGY, { of: id, dir: state.dir, depth: 20, asOf: state.asOf })).genealogy;
  } catch (e) { summary(e.message); asOfNote(null); return; }
  state.seed = g.seed; state.seedKey = id; state.loadedDir = state.dir; state.loadedAsOf = state.asOf;
  asOfNote(g);
  state.nodes = new Map(); state.expanded = new Map(); state.collapsed = new Map();
  state.groups = new Map(); state.open = new Map(); state.status = new Map(); state.page = 0;
  state.total = g.nodeCount; state.edgeTotal = g.edgeCount;
  const o = g.outline;
  // draw whole levels while they fit; deeper levels open from the frontier
  let maxDepth = Infinity;
  if (o.nodes.length + o.groups.length > MAX_DRAW) {
    const perDepth = new Map();
    for (const x of [...o.nodes, ...o.groups]) perDepth.set(x.depth, (perDepth.get(x.depth) || 0) + 1);
    let n = 0;
    for (const d of [...perDepth.keys()].sort((a, b) => a - b)) {
      if (n + perDepth.get(d) > MAX_DRAW && d > 0) break;
      n += perDepth.get(d); maxDepth = d;
    }
  }
  const part = { nodes: o.nodes.filter((x) => x.depth <= maxDepth), groups: o.groups.filter((x) => x.depth <= maxDepth), edges: o.edges };
  cy.elements().remove();
  const src = { of: id, dir: state.dir, depth: 20, depthOf: (d) => d };
  addOutline(cy, state, part, src.depthOf, src);
  const shown = new Set(cy.nodes().map((n) => n.id()));
  for (const e of o.edges) {
    const [a, b] = state.dir === "UPSTREAM" ? [e.source, e.target] : [e.target, e.source];
    if (shown.has(a) && !shown.has(b)) cy.$id(a).addClass("frontier");
  }
  cy.$id(g.seed).addClass("seed");
  await refreshStatus();
  redraw();
  const ms = Math.round(performance.now() - t0);
  document.getElementById("graph").dataset.renderMs = String(ms);
  status(`genealogy loaded in ${ms} ms`);
  select(g.seed);
}

// the summary line, from what is drawn now (after every expand, collapse, filter)
function summarise() {
  const what = state.dir === "UPSTREAM" ? "upstream of" : "downstream of";
  const drawn = cy.nodes().length;
  const inView = inViewCount();
  const groups = cy.nodes(".group").length;
  const cut = inView < state.total ? ` — in view ${inView} of ${state.total}` : "";
  const grouped = groups ? ` (${drawn} drawn, ${groups} batch group${groups > 1 ? "s" : ""})` : "";
  const ms = document.getElementById("graph").dataset.renderMs;
  summary(`${state.total} nodes, ${state.edgeTotal} edges ${what} ${state.seedKey}${cut}${grouped}${cut ? "; expand dashed frontier nodes to go deeper" : ""}${ms ? ` (${ms} ms)` : ""}`);
}

// records in view: drawn nodes, and the members of the groups drawn closed
// (a group open in part counts the members not drawn yet: its note says how many)
function inViewCount() {
  const drawn = cy.nodes().reduce((n, x) => n + (state.groups.has(x.id()) ? state.groups.get(x.id()).count : 1), 0);
  return drawn + [...state.open.keys()].reduce((n, id) => n + moreOf(state, id), 0);
}

async function refreshStatus() {
  const iris = [...new Set([...state.nodes.keys(), ...[...state.groups.values()].map((g) => g.batch),
    ...[...state.nodes.values()].map((n) => n.madeIn).filter(Boolean)])].filter((i) => !state.status.has(i));
  if (iris.length) {
    const { recordStatus } = state.asOf ? { recordStatus: iris.map(statusThen) }
      : await gql(`query($r: [String!]!) { recordStatus(records: $r) {
        iri status onHold openDeviations released recalled recalls } }`, { r: iris });
    for (const s of recordStatus) state.status.set(s.iri, s);
  }
  for (const n of cy.nodes()) {
    const g = state.groups.get(n.id());
    const s = state.status.get(g ? g.batch : n.id());
    const ring = !s ? null : s.recalled ? RING.recalled : s.openDeviations.length ? RING.deviation
      : s.onHold ? RING.hold : s.released ? RING.released : null;
    n.data({ ring: ring || "#ffffff", ringWidth: ring ? 4 : 0,
             ringStyle: s?.onHold && s.openDeviations.length ? "double" : "solid", label: caption(state, n.id()) });
  }
}

// after any change: filter, layout, lists, counts, summary
function redraw() {
  const classes = new Set(cy.nodes().map((n) => n.data("cls")));
  classFilter(document.getElementById("class-filter"), classes, state.hidden, () => redraw(), (c) => c === "group" ? t("group") : cls(c));
  cy.nodes().forEach((n) => n.toggleClass("filtered", state.hidden.has(n.data("cls")) && n.id() !== state.seed));
  place(cy, state.dir);
  renderList();
  summarise();
}

function renderList() {
  listNodes(cy, state, select, statusCell);
  renderTree(cy, state, select, statusCell);
  const g = document.getElementById("graph");
  g.dataset.nodeCount = String(inViewCount());
  g.dataset.drawnCount = String(cy.nodes().length);
  g.dataset.groupCount = String(cy.nodes(".group").length);
  g.dataset.edgeCount = String(cy.edges().length);
  g.dataset.recalledCount = String(cy.nodes().filter((n) => state.status.get(n.id())?.recalled).length);
  const r = readability(cy);
  g.dataset.zoom = r.zoom.toFixed(3);
  g.dataset.outside = String(r.outside);
}

// the status badges of a drawn node: a group shows its batch's; a unit or package made in a held
// batch says so
function statusCell(id) {
  const g = state.groups.get(id);
  if (g && cy.$id(id).nonempty()) return badges(state.status.get(g.batch), { properties: {} });
  const n = state.nodes.get(id);
  const s = state.status.get(id);
  const held = !s?.onHold && n?.madeIn && state.status.get(n.madeIn)?.onHold;
  return el("span", {}, badges(s, n), held ? el("span", { class: "badge hold", title: state.keys.get(n.madeIn) },
    `${t("on hold")} (${t("batch")})`) : null);
}

// the record's own status code, titled with its English and Chinese label: the code list is the
// one of the property of the node that holds the code
function statusCode(s, n) {
  const prop = Object.keys(CODE_LISTS).find((p) => n?.properties?.[p] === s.status);
  return el("span", { class: "muted", title: prop ? `${s.status}: ${label(prop, s.status)} / ${label(prop, s.status, "zh")}` : null },
    prop ? code(prop, s.status) : s.status);
}

function badges(s, n) {
  if (!s) return "";
  return el("span", {}, s.onHold ? el("span", { class: "badge hold" }, t("on hold")) : null,
    s.openDeviations.length ? el("span", { class: "badge dev" }, t("deviation open")) : null,
    s.released ? el("span", { class: "badge rel" }, t("released")) : null,
    s.recalled ? el("span", { class: "badge rec", title: (s.recalls || []).join(", ") }, t("recalled")) : null,
    s.status && !s.released && !s.onHold ? statusCode(s, n) : null);
}

async function expand(iri) {
  const hidden = state.collapsed.get(iri);
  if (hidden) {
    hidden.restore(); state.collapsed.delete(iri); cy.$id(iri).removeClass("collapsed");
    redraw(); return;
  }
  if (state.groups.has(iri)) {
    const { added, drawn, total } = await openGroup(cy, state, gql, iri);
    await refreshStatus(); redraw();
    status(`opened ${state.groups.get(iri).batchKey}: ${drawn} of ${total} member(s) drawn`);
    select(added[0] || state.seed);
    return;
  }
  const n = state.nodes.get(iri);
  const { up, down } = await gql(NEIGHBOURS, { of: iri, asOf: state.asOf });
  const base = n?.depth ?? 0;
  const added = [];
  for (const [part, dir] of [[up, "UPSTREAM"], [down, "DOWNSTREAM"]]) {
    const sign = dir === state.dir ? 1 : -1;
    const depthOf = (d) => base + sign * d;
    added.push(...addOutline(cy, state, part.outline, depthOf, { of: iri, dir, depth: 1, depthOf }));
  }
  cy.$id(iri).removeClass("frontier");
  state.expanded.set(iri, [...(state.expanded.get(iri) || []), ...added]);
  await refreshStatus(); redraw();
  status(`expanded ${n?.key}: ${added.length} node(s) added`);
  select(iri);
}

function collapse(iri) {
  const group = state.groups.has(iri) ? null : groupOf(state, iri);
  if (group) { closeGroup(cy, state, group); redraw(); select(group); return; }
  const mine = state.expanded.get(iri);
  if (mine?.length) {
    const keep = new Set(reachable(null, mine));
    cy.remove(cy.collection(mine.filter((x) => !keep.has(x)).map((x) => cy.$id(x))));
    state.expanded.delete(iri);
  } else {
    // hide what lies beyond this node in the traversal direction, unless reachable another way
    const node = cy.$id(iri);
    const beyond = state.dir === "UPSTREAM" ? node.predecessors("node") : node.successors("node");
    const keep = new Set(reachable(iri, []));
    const gone = beyond.filter((x) => !keep.has(x.id()));
    if (!gone.length) { status("nothing to collapse"); return; }
    state.collapsed.set(iri, cy.remove(gone.union(gone.connectedEdges())));
    node.addClass("collapsed");
  }
  redraw(); select(iri);
}

// nodes reachable from the seed (either way along drawn edges), avoiding `blocked` and `skip`
function reachable(blocked, skip) {
  const skipSet = new Set(skip);
  const seen = new Set([state.seed]);
  const queue = [state.seed];
  while (queue.length) {
    const cur = cy.$id(queue.shift());
    if (cur.id() === blocked) continue;
    for (const nb of cur.neighborhood("node")) {
      const id = nb.id();
      if (!seen.has(id) && !skipSet.has(id)) { seen.add(id); queue.push(id); }
    }
  }
  return seen;
}

async function select(iri) {
  state.selected = iri;
  cy.$(":selected").unselect();
  cy.$id(iri).select();
  for (const tr of document.querySelectorAll("#node-list tbody tr")) tr.classList.toggle("selected", tr.dataset.iri === iri);
  for (const tr of document.querySelectorAll("#trace-tree tbody tr")) tr.classList.toggle("selected", tr.dataset.id === iri);
  const n = state.nodes.get(iri);
  const panel = document.getElementById("panel");
  if (state.groups.has(iri) && cy.$id(iri).nonempty()) { groupPanel(panel, state.groups.get(iri)); return; }
  if (!n) return;
  const s = state.status.get(iri);
  const dir = state.dir;
  fill(document.getElementById("batch-env-box"), n.class === "Batch" ? roomConditions(n.key) : null);
  fill(panel,
    el("h3", {}, `${cls(n.class)} ${n.key}`), badges(s, n),
    n.caption ? el("p", { id: "panel-caption" }, n.caption) : null,
    !s?.onHold && n.madeIn && state.status.get(n.madeIn)?.onHold
      ? el("p", { id: "panel-made-in" }, el("span", { class: "badge hold" }, t("on hold")),
           ` ${t("batch")} ${state.keys.get(n.madeIn) || ""}`) : null,
    groupOf(state, iri) ? groupNote(groupOf(state, iri)) : null,
    el("div", { class: "actions" },
      el("button", { type: "button", id: "expand", onclick: () => expand(iri) }, "Expand"),
      el("button", { type: "button", id: "collapse", onclick: () => collapse(iri) }, "Collapse"),
      el("button", { type: "button", onclick: () => { location.hash = traceHash(n.key, dir === "UPSTREAM" ? "DOWNSTREAM" : "UPSTREAM"); } },
        dir === "UPSTREAM" ? "Where used" : "Where from"),
      el("button", { type: "button", onclick: () => { sessionStorage.setItem("tracegraph.seeds", n.key); location.hash = "#/recall"; } }, "Recall…")),
    ...(s?.openDeviations || []).map((d) => el("p", {}, "Open deviation: ", el("a", { href: `#/deviation/${encodeURIComponent(d)}` }, d))),
    n.class === "Equipment" ? el("p", {}, el("a", { id: "equipment-health-link", href: `#/equipment/${encodeURIComponent(n.key)}` }, vt("eq.open"))) : null,
    ["Equipment", "Fixture"].includes(n.class) ? equipmentImpact(n, state.asOf) : null,
    el("h4", {}, t("Properties")),
    state.asOf ? el("p", { class: "muted", id: "panel-as-of", title: vt("asof.status") }, vt("asof.panel", state.asOf)) : null,
    kvTable({ iri: n.iri, ...shownProps(n.properties) }),
    el("div", { id: "panel-more" }, el("p", { class: "muted" }, "loading context …")));
  const more = await details(n);
  if (state.selected === iri) document.getElementById("panel-more")?.replaceWith(more);
}

// a member of an open group: how much of it is drawn, the next page, and closing it again
function groupNote(id) {
  const g = state.groups.get(id);
  const more = moreOf(state, id);
  return el("p", { id: "group-note", "data-group": g.batchKey },
    `${t("group")} ${g.batchKey}: ${g.count - more} / ${g.count} `,
    more ? el("button", { type: "button", id: "group-more", onclick: () => expand(id) },
              `+${Math.min(more, MEMBER_PAGE)}`) : null);
}

// a batch's group: its counts, its batch's status, and the button that opens it
function groupPanel(panel, g) {
  fill(document.getElementById("batch-env-box"), null);
  const s = state.status.get(g.batch);
  fill(panel,
    el("h3", {}, `${t("group")} ${g.batchKey}`), badges(s, { properties: {} }),
    g.caption ? el("p", { id: "panel-caption" }, g.caption) : null,
    el("p", { id: "group-counts", "data-count": g.count }, countsText(g)),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "expand", onclick: () => expand(g.id) },
         g.count > MEMBER_PAGE ? `${t("Open")} (${MEMBER_PAGE} / ${g.count})` : t("Open")),
      el("button", { type: "button", onclick: () => select(g.batch) }, `${cls("Batch")} ${g.batchKey}`)));
}

async function details(n) {
  const q = `query($iri: String!, $asOf: String) {
    genealogy(of: $iri, direction: UPSTREAM, maxDepth: 1, first: 1, asOf: $asOf) { asBuilt(first: 300) { nodeCount nodes { class key properties } } }
    auditTrail(record: $iri, until: $asOf, first: 50) { seq at actor action field new reason }
    signatures(record: $iri) { printedName meaning signedAt valid manifestation } }`;
  let d;
  try { d = await gql(q, { iri: n.iri, asOf: state.asOf }); } catch (e) { return el("p", { class: "error" }, e.message); }
  if (state.asOf) d.signatures = d.signatures.filter((s) => !s.signedAt || s.signedAt <= state.asOf);
  const byClass = new Map();
  for (const x of d.genealogy.asBuilt.nodes) byClass.set(x.class, [...(byClass.get(x.class) || []), x]);
  const asBuilt = byClass.size ? [...byClass].map(([cls, xs]) => el("details", {},
      el("summary", {}, `${cls} (${xs.length})`),
      el("ul", {}, xs.map((x) => el("li", {}, cls === "ParameterObservation"
        ? el("a", { href: `#/spc/${encodeURIComponent(x.key)}`, title: "SPC chart of this parameter" },
             `${x.key}: mean ${fmtQty(x.properties.meanValue, x.properties.unitCode)}`)
        : `${x.key}${x.properties.name ? " — " + x.properties.name : ""}`)))))
    : [el("p", { class: "muted" }, "no batch in scope")];
  return el("div", {},
    el("h4", {}, `As-built context (${d.genealogy.asBuilt.nodeCount})`), ...asBuilt,
    el("h4", {}, `Signatures (${d.signatures.length})`),
    d.signatures.length ? el("ul", {}, d.signatures.map((s) => el("li", {}, `${s.manifestation}${s.valid ? "" : " — INVALID (record changed)"}`)))
      : el("p", { class: "muted" }, "none"),
    el("h4", {}, `Audit history (${d.auditTrail.length})`),
    el("table", { class: "kv" }, el("tbody", {}, d.auditTrail.map((a) => el("tr", {},
      el("td", {}, `${fmtTime(a.at)} ${a.actor}`),
      el("td", {}, `${a.action}${a.field ? " " + a.field : ""}${a.new !== null && a.field ? " = " + JSON.stringify(a.new) : ""}${a.reason ? " — " + a.reason : ""}`))))));
}
