// The genealogy view's two lists. The tree-table: what is drawn, indented from the seed in the
// traversal direction like an ERP traceability report (each record once, under the first record
// that reaches it), with the quantity on the way and each group's counts. "Nodes in view":
// everything drawn, a page at a time.
import { el } from "./api.js";
import { cls, t } from "./i18n.js";
import { countsText } from "./trace_group.js";

export const PAGE = 50;

function who(state, id) {
  const g = state.groups.get(id);
  if (g) return { cls: t("group"), key: g.batchKey, caption: countsText(g), count: g.count, klass: "group" };
  const n = state.nodes.get(id);
  return { cls: cls(n.class), key: n.key, caption: n.caption || "", count: 1, klass: n.class };
}

// the tree from the seed along drawn, visible edges away from it
function tree(cy, state) {
  const rows = [];
  const seen = new Set([state.seed]);
  const walk = (id, level, via) => {
    rows.push({ id, level, via });
    const node = cy.$id(id);
    const next = (state.dir === "DOWNSTREAM" ? node.outgoers("edge") : node.incomers("edge"))
      .filter((e) => e.visible());
    const kids = next.map((e) => [state.dir === "DOWNSTREAM" ? e.target() : e.source(), e])
      .filter(([n]) => !seen.has(n.id()))
      .sort(([a], [b]) => String(a.data("sort")).localeCompare(String(b.data("sort"))));
    for (const [n] of kids) seen.add(n.id());
    for (const [n, e] of kids) walk(n.id(), level + 1, e.data("label"));
  };
  if (cy.$id(state.seed).nonempty()) walk(state.seed, 0, "");
  return rows;
}

export function renderTree(cy, state, select, cell) {
  const body = document.querySelector("#trace-tree tbody");
  if (!body) return;
  body.replaceChildren(...tree(cy, state).map(({ id, level, via }) => {
    const w = who(state, id);
    return el("tr", { "data-id": id, "data-key": state.groups.has(id) ? null : w.key,
                      "data-group": state.groups.has(id) ? w.key : null, "data-count": w.count,
                      "data-level": level, class: id === state.selected ? "selected" : "",
                      onclick: () => select(id) },
      el("td", { style: `padding-left:${0.3 + level * 1.1}em` }, level ? "└ " : "",
        el("b", {}, w.key), w.caption ? el("span", { class: "muted" }, ` ${w.caption}`) : null),
      el("td", { "data-class": w.klass }, w.cls),
      el("td", { class: "num" }, via || ""),
      el("td", { class: "num" }, String(w.count)),
      el("td", {}, cell(id)));
  }));
}

// "nodes in view", paged
export function renderList(cy, state, select, cell) {
  const body = document.querySelector("#node-list tbody");
  const ids = cy.nodes(":visible").map((n) => n.id());
  const rows = ids.map((id) => ({ id, w: who(state, id), depth: cy.$id(id).data("depth") ?? 0 }))
    .sort((a, b) => (a.depth - b.depth) || a.w.klass.localeCompare(b.w.klass) || a.w.key.localeCompare(b.w.key));
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  state.page = Math.min(state.page || 0, pages - 1);
  const shown = rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
  body.replaceChildren(...shown.map(({ id, w, depth }) => el("tr", {
      "data-iri": id, "data-key": state.groups.has(id) ? null : w.key,
      "data-group": state.groups.has(id) ? w.key : null,
      class: id === state.selected ? "selected" : "", onclick: () => select(id) },
    el("td", { title: w.klass, "data-class": w.klass }, w.cls),
    el("td", {}, w.key, w.caption ? el("span", { class: "muted" }, ` ${w.caption}`) : null),
    el("td", {}, depth), el("td", {}, cell(id)))));
  const pager = document.getElementById("node-pager");
  const from = rows.length ? state.page * PAGE + 1 : 0;
  pager.replaceChildren(
    el("button", { type: "button", id: "node-prev", disabled: state.page === 0,
                   onclick: () => { state.page -= 1; renderList(cy, state, select, cell); } }, "‹"),
    el("span", { id: "node-range", "data-total": rows.length }, ` ${from}–${from + shown.length - (rows.length ? 1 : 0)} / ${rows.length} `),
    el("button", { type: "button", id: "node-next", disabled: state.page >= pages - 1,
                   onclick: () => { state.page += 1; renderList(cy, state, select, cell); } }, "›"));
}
