// What the genealogy view draws: the API's outline of a trace (genealogy { outline }, grouped in
// graph/trace_outline.py) as Cytoscape elements. A batch's units and the packages made only of
// them are one group node with its counts; each node's caption names its product or material
// (a lot's supplier, a shipment's customer) and its status. A group opens into its members and
// closes again.
import { cls, code, lang, t } from "./i18n.js";
import { CODE_LISTS } from "./codes.js";
import { fmtQty } from "./format.js";
import { COLORS, OTHER } from "./trace_layout.js";

const NODE = "depth caption madeIn node { iri class key properties }";
const outline = (n, g, e) => `outline { nodeCount groupCount memberCount edgeCount
  nodes(first: ${n}) { ${NODE} }
  groups(first: ${g}) { id batch batchKey depth count caption counts { label count } }
  edges(first: ${e}) { source target count quantity unitCode kinds } }`;
export const GENEALOGY = `query($of: String!, $dir: Direction!, $depth: Int!, $asOf: String) {
  genealogy(of: $of, direction: $dir, maxDepth: $depth, first: 0, asOf: $asOf) {
    seed nodeCount edgeCount watermark asOf ${outline(800, 300, 2000)} } }`;
export const NEIGHBOURS = `query($of: String!, $asOf: String) {
  up: genealogy(of: $of, direction: UPSTREAM, maxDepth: 1, first: 0, asOf: $asOf) { ${outline(200, 50, 600)} }
  down: genealogy(of: $of, direction: DOWNSTREAM, maxDepth: 1, first: 0, asOf: $asOf) { ${outline(200, 50, 600)} } }`;
const MEMBERS = `query($of: String!, $dir: Direction!, $depth: Int!, $asOf: String, $at: Int!, $first: Int!, $offset: Int!) {
  genealogy(of: $of, direction: $dir, maxDepth: $depth, first: 0, asOf: $asOf) { outline {
    groups(first: 1, offset: $at) { id count members(first: $first, offset: $offset) { ${NODE} }
      memberEdges(first: $first, offset: $offset) { source target type edgeId properties } } } } }`;
// members drawn per page when a group opens (a phone's graph stays a few screens tall)
export const MEMBER_PAGE = 100;

// the words of a group's counts (the ontology's class labels are too long for a caption)
const WORDS = { en: { SerializedUnit: "units", PackagingAggregation: "packages" },
                zh: { SerializedUnit: "件产品", PackagingAggregation: "个包装" } };
export function countsText(g) {
  const w = WORDS[lang] || WORDS.en;
  const units = (c) => (c.label === "SerializedUnit" ? 0 : 1);  // units first
  return [...g.counts].sort((a, b) => units(a) - units(b))
    .map((c) => `${c.count} ${w[c.label] || cls(c.label)}`).join(lang === "zh" ? "，" : ", ");
}

const clip = (s, n) => (s && s.length > n ? `${s.slice(0, n - 1)}…` : s || "");

// the status words of a record (its own, or its batch's for a unit or package made in it)
export function statusText(state, iri) {
  const s = state.status.get(iri);
  const own = s && (s.recalled ? t("recalled") : s.openDeviations.length ? t("deviation open")
    : s.onHold ? t("on hold") : s.released ? t("released") : null);
  if (own) return own;
  const n = state.nodes.get(iri);
  const batch = n?.madeIn && state.status.get(n.madeIn);
  if (batch?.onHold) return `${t("on hold")} (${state.keys.get(n.madeIn) || ""})`;
  if (s?.status) {
    const prop = Object.keys(CODE_LISTS).find((p) => n?.properties?.[p] === s.status);
    return prop ? code(prop, s.status) : s.status;
  }
  return "";
}

export function caption(state, id) {
  const g = state.groups.get(id);
  if (g) return [`▣ ${g.batchKey}`, countsText(g), clip(g.caption, 34), statusText(state, g.batch)]
    .filter(Boolean).join("\n");
  const n = state.nodes.get(id);
  return [n.key, clip(n.caption, 44), statusText(state, id)].filter(Boolean).join("\n");
}

function edgeLabel(e) {
  if (e.quantity !== null && e.quantity !== undefined) return fmtQty(e.quantity, e.unitCode);
  return e.count > 1 ? `${e.count}×` : (e.kinds || [])[0] || "";
}

// add an outline (or part of one) to the graph; `depthOf` maps the answer's depth to the view's.
// Returns the ids added.
export function addOutline(cy, state, o, depthOf, src) {
  const added = [];
  for (const x of o.nodes) {
    const n = x.node;
    state.keys.set(n.iri, n.key);
    if (cy.$id(n.iri).nonempty()) continue;
    state.nodes.set(n.iri, { ...n, depth: depthOf(x.depth), caption: x.caption, madeIn: x.madeIn });
    added.push({ group: "nodes", data: { id: n.iri, label: "", depth: depthOf(x.depth), cls: n.class,
      sort: `${n.class} ${n.key}`, color: COLORS[n.class] || OTHER, ring: "#ffffff", ringWidth: 0, ringStyle: "solid" } });
  }
  (o.groups || []).forEach((g, i) => {
    state.keys.set(g.batch, g.batchKey);
    if (cy.$id(g.id).nonempty() || state.open.has(g.id)) return;
    state.groups.set(g.id, { ...g, depth: depthOf(g.depth), src: { ...src, at: i } });
    added.push({ group: "nodes", classes: "group", data: { id: g.id, label: "", depth: depthOf(g.depth),
      cls: "group", sort: `~ ${g.batchKey}`, color: COLORS.SerializedUnit, ring: "#ffffff", ringWidth: 0, ringStyle: "solid" } });
  });
  cy.add(added);
  addEdges(cy, o.edges.map((e) => ({ ...e, id: `${e.target}>${e.source}` })));
  return added.map((a) => a.data.id);
}

// derivation edges drawn input → output, so material flows left to right
function addEdges(cy, edges) {
  const els = [];
  for (const e of edges) {
    if (cy.$id(e.id).nonempty() || cy.$id(e.source).empty() || cy.$id(e.target).empty()) continue;
    els.push({ group: "edges", data: { id: e.id, source: e.target, target: e.source, label: edgeLabel(e) } });
  }
  cy.add(els);
}

// open a group: its members, a page (MEMBER_PAGE) at a time, in place of the group node
export async function openGroup(cy, state, gql, id) {
  const g = state.groups.get(id);
  const s = g.src;
  const offset = state.open.get(id)?.members.length || 0;
  const d = await gql(MEMBERS, { of: s.of, dir: s.dir, depth: s.depth, asOf: state.asOf, at: s.at,
                                 first: MEMBER_PAGE, offset });
  const found = d.genealogy.outline.groups[0];
  if (!found || found.id !== id) throw new Error(`group ${g.batchKey} is no longer in the trace`);
  if (!state.open.has(id)) {
    const node = cy.$id(id);
    state.open.set(id, { removed: cy.remove(node.union(node.connectedEdges())), members: [] });
  }
  const added = addOutline(cy, state, { nodes: found.members, groups: [], edges: [] }, s.depthOf, s);
  state.open.get(id).members.push(...added);
  addEdges(cy, found.memberEdges.map((e) => ({ ...e, id: `${e.target}>${e.source}>${e.type}>${e.edgeId}`,
    quantity: e.properties?.quantity, unitCode: e.properties?.unitCode, count: 1,
    kinds: [e.properties?.derivationKind].filter(Boolean) })));
  return { added, drawn: state.open.get(id).members.length, total: found.count };
}

// members of an open group not drawn yet
export function moreOf(state, id) {
  const o = state.open.get(id);
  return o ? state.groups.get(id).count - o.members.length : 0;
}

// close an open group again: its members go, the group node comes back
export function closeGroup(cy, state, id) {
  const o = state.open.get(id);
  if (!o) return false;
  cy.remove(cy.collection(o.members.map((m) => cy.$id(m))));
  for (const m of o.members) state.nodes.delete(m);
  o.removed.restore();
  state.open.delete(id);
  return true;
}

// the group a drawn member node came from
export function groupOf(state, iri) {
  for (const [id, o] of state.open) if (o.members.includes(iri)) return id;
  return null;
}
