// The genealogy graph's look and layout. Small traces: dagre, left to right. Large ones (a rank
// with many nodes, e.g. the batches of a busy resin lot): top to bottom, each rank (depth) a
// band of rows as wide as the box holds with the captions readable (zoom ≥ MIN_ZOOM), the graph
// taller when it must; so expanding a group or a frontier node adds rows, never a hairline.
export const COLORS = {
  MaterialLot: "#8d6e63", Batch: "#1f77b4", Sublot: "#17becf", SerializedUnit: "#2ca02c",
  PackagingAggregation: "#bcbd22", Shipment: "#9467bd", Customer: "#e377c2", group: "#e8f3e8",
};
export const OTHER = "#7f7f7f";
export const RING = { recalled: "#6a1b9a", deviation: "#c62828", hold: "#ef6c00", released: "#2e7d32" };

const NODE_W = 150, NODE_H = 78, GAP_X = 20, GAP_Y = 14, RANK_GAP = 46, PAD = 14;
const MIN_ZOOM = 0.85;     // 12 px captions stay ≥ 10 px on screen
const DAGRE_MAX_RANK = 12; // more nodes than this in one rank (or dagre too small): wrapped
const MAX_HEIGHT = 9000;   // px: the graph grows at most to this (a phone scrolls)

export const STYLE = [
  { selector: "node", style: {
      shape: "round-rectangle", width: NODE_W, height: NODE_H,
      "background-color": "#fff", "background-opacity": 1,
      label: "data(label)", "font-size": 12, "text-wrap": "wrap", "text-max-width": NODE_W - 14,
      "text-valign": "center", "text-halign": "center", color: "#1d2329",
      "border-width": "data(ringWidth)", "border-color": "data(ring)", "border-style": "data(ringStyle)" } },
  { selector: "node[color]", style: { "underlay-color": "data(color)", "underlay-opacity": 1,
      "underlay-padding": 3, "underlay-shape": "round-rectangle" } },
  { selector: "node.group", style: { "background-color": COLORS.group, "font-size": 11.5 } },
  { selector: "node.seed", style: { "font-weight": "bold", "border-width": 3, "border-color": "#1d2329" } },
  { selector: "node.frontier", style: { "border-style": "dashed", "border-width": 2, "border-color": "#1d2329" } },
  { selector: "node:selected", style: { "overlay-color": "#1f6feb", "overlay-opacity": 0.25 } },
  { selector: ".filtered", style: { display: "none" } },
  { selector: "edge", style: {
      width: 1.2, "line-color": "#9aa5b1", "target-arrow-color": "#9aa5b1",
      "target-arrow-shape": "triangle", "curve-style": "bezier", label: "data(label)",
      "font-size": 10, color: "#56606b", "text-background-color": "#fff",
      "text-background-opacity": 0.85, "text-rotation": "autorotate" } },
];

// the ranks of the drawn nodes by depth, the seed's side first in the flow
function ranks(cy, dir) {
  const by = new Map();
  for (const n of cy.nodes(":visible")) {
    const d = n.data("depth") ?? 0;
    by.set(d, [...(by.get(d) || []), n]);
  }
  const order = [...by.keys()].sort((a, b) => a - b);
  if (dir === "UPSTREAM") order.reverse();  // material flows from sources to products
  return order.map((d) => by.get(d));
}

// top to bottom, each rank a band of rows as wide as the box holds at MIN_ZOOM
function wrapped(cy, dir, box) {
  const cellW = NODE_W + GAP_X, cellH = NODE_H + GAP_Y;
  const perRow = Math.max(1, Math.floor((box.clientWidth - 2 * PAD) / (cellW * MIN_ZOOM)));
  const pos = {};
  const xs = new Map();
  let y = 0;
  for (const band of ranks(cy, dir)) {
    // order by the mean place of the neighbours already placed (fewer crossings), then key
    const score = (n) => {
      const v = n.neighborhood("node").map((m) => xs.get(m.id())).filter((x) => x !== undefined);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Infinity;
    };
    const sorted = band.map((n) => [score(n), String(n.data("sort") || n.id()), n])
      .sort((a, b) => (a[0] - b[0]) || a[1].localeCompare(b[1])).map((x) => x[2]);
    sorted.forEach((n, i) => {
      const r = Math.floor(i / perRow), c = i % perRow;
      const inRow = Math.min(perRow, sorted.length - r * perRow);
      const x = (c - (inRow - 1) / 2) * cellW;
      pos[n.id()] = { x, y: y + r * cellH };
      xs.set(n.id(), i);
    });
    y += Math.ceil(sorted.length / perRow) * cellH + RANK_GAP;
  }
  return { pos, height: (y - RANK_GAP - GAP_Y) * MIN_ZOOM + 2 * PAD + 4 };
}

// lay out what is drawn; grows the graph box when the wrapped layout needs the height
export function layout(cy, dir) {
  const box = cy.container();
  const biggest = Math.max(0, ...ranks(cy, dir).map((c) => c.length));
  box.style.height = "";
  if (biggest <= DAGRE_MAX_RANK) {
    box.parentElement.classList.remove("tall");
    cy.resize();
    cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 14, rankSep: 70, edgeSep: 6,
                animate: false, fit: true, padding: 30 }).run();
    if (cy.zoom() >= MIN_ZOOM || cy.nodes(":visible").length < 2) return;
  }
  const { pos, height } = wrapped(cy, dir, box);
  box.parentElement.classList.add("tall");  // the legend above the graph, not over it
  if (height > box.clientHeight) box.style.height = `${Math.min(height, MAX_HEIGHT)}px`;
  cy.resize();
  cy.layout({ name: "preset", positions: (n) => pos[n.id()] || { x: 0, y: 0 },
              animate: false, fit: true, padding: PAD }).run();
  if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
}

// how readable the drawing is: the zoom, and how many drawn nodes lie (partly) outside the box
export function readability(cy) {
  const w = cy.width(), h = cy.height();
  const out = cy.nodes(":visible").filter((n) => {
    const b = n.renderedBoundingBox({ includeLabels: false, includeUnderlays: false });
    return b.x1 < -1 || b.y1 < -1 || b.x2 > w + 1 || b.y2 > h + 1;
  });
  return { zoom: cy.zoom(), outside: out.length };
}

// the class filter: one checkbox per class drawn; unchecked classes are hidden in the graph and
// the lists (the seed always shows)
export function classFilter(box, classes, hidden, onChange, label) {
  box.replaceChildren(...[...classes].sort().map((c) => {
    const input = document.createElement("input");
    input.type = "checkbox"; input.checked = !hidden.has(c); input.dataset.class = c;
    input.addEventListener("change", () => {
      if (input.checked) hidden.delete(c); else hidden.add(c);
      onChange();
    });
    const l = document.createElement("label");
    l.append(input, " ", label(c));
    return l;
  }));
}
