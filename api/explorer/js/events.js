// Integration events (issue 18 item 6; #/events/<after>/<type>): the workflow events QMS/MES/ERP
// systems receive (GraphQL integrationEvents — the same events as GET /api/integration/events,
// the webhooks and `tracegraph events replay`), oldest first from a cursor, a page at a time,
// filtered by type; each type named by its label in the ontology (codes.js). Read-only.
import { gql, el, status, when, fill } from "./api.js";
import { LABELS, classLabel } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";

const PAGE = 25;
const QUERY = `query($after: Int!, $first: Int!, $types: [String!]) {
  integrationEvents(after: $after, first: $first, types: $types) {
    next types events { id cursor type at actor reason key class field from to } } }`;
const enc = encodeURIComponent;

export const typeLabel = (type) => {
  const l = LABELS.IntegrationEventType?.[type];
  return l ? (lang === "zh" && l[1]) || l[0] : type;
};

const value = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

const link = (e) => {
  if (!e.key) return "—";
  if (e.class === "Deviation") return el("a", { href: `#/deviation/${enc(e.key)}` }, e.key);
  if (e.class === "Batch") return el("a", { href: `#/trace/${enc(e.key)}/UPSTREAM` }, e.key);
  return e.key;
};

const route = (after, type) => `#/events/${after}${type ? `/${enc(type)}` : ""}`;

export function init() {}

// `back`: the cursors of the pages before this one (kept for "previous" within a visit)
let back = [];

export async function open(after = "0", type = "") {
  const out = document.getElementById("events-view");
  const from = Math.max(0, parseInt(after, 10) || 0);
  if (from === 0) back = [];
  const t0 = performance.now();
  let page;
  try {
    page = (await gql(QUERY, { after: from, first: PAGE, types: type ? [type] : null })).integrationEvents;
  } catch (err) { fill(out, el("h2", {}, t("ev.title")), el("p", { class: "error", role: "alert" }, err.message)); return; }
  const select = el("select", { id: "ev-type", "aria-label": t("ev.type"),
    onchange: (ev) => { back = []; location.hash = route(0, ev.target.value); } },
  el("option", { value: "" }, t("ev.allTypes")),
  page.types.map((x) => el("option", { value: x, selected: x === type ? "" : null }, typeLabel(x))));
  const prev = el("button", { type: "button", id: "ev-prev", disabled: from === 0 ? "" : null,
    onclick: () => { location.hash = route(back.pop() ?? 0, type); } }, t("ev.prev"));
  const more = page.events.length === PAGE;
  const next = el("button", { type: "button", id: "ev-next", disabled: more ? null : "",
    onclick: () => { back.push(from); location.hash = route(page.next, type); } }, t("ev.next"));
  const rows = page.events.map((e) => el("tr", { "data-cursor": e.cursor, "data-type": e.type, "data-key": e.key ?? "" },
    el("td", {}, String(e.cursor)), el("td", { "data-col": "type" }, typeLabel(e.type)),
    el("td", { "data-col": "key" }, link(e)), el("td", {}, classLabel(e.class, lang)),
    el("td", { "data-col": "from" }, value(e.from)), el("td", { "data-col": "to" }, e.field ? value(e.to) : t("ev.created")),
    el("td", {}, when(e.at)), el("td", {}, e.actor), el("td", {}, e.reason ?? "")));
  fill(out, el("h2", {}, t("ev.title")),
    el("div", { class: "toolbar" }, el("label", {}, el("span", {}, t("ev.type")), " ", select), " ", prev, " ", next),
    el("p", { class: "muted", id: "ev-range", "data-after": from, "data-next": page.next }, t("ev.range", from, page.next)),
    page.events.length
      ? el("div", { class: "scroll" }, el("table", { class: "table", id: "ev-table", "data-rows": page.events.length },
        el("thead", {}, el("tr", {}, ["ev.col.cursor", "ev.col.type", "ev.col.record", "ev.col.class", "ev.col.from",
          "ev.col.to", "ev.col.at", "ev.col.user", "ev.col.reason"].map((c) => el("th", {}, t(c))))),
        el("tbody", {}, rows)))
      : el("p", { class: "muted", id: "ev-empty" }, t("ev.empty")));
  status(t("ev.loaded", Math.round(performance.now() - t0)));
}
