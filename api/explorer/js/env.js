// Room conditions per operation of a batch (issue 17 item 5), shown under the genealogy graph
// when a batch is selected: for each operation, the room (and its cleanroom class) and, per
// room parameter during the operation, min / max / mean in the unit as people write it,
// samples beyond the limits and any room excursion, linked to its deviation. The numbers are
// the API's (batchEnvironment: the same as the eDHR's).
import { gql, el, when } from "./api.js";
import { LABELS } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";

const QUERY = `query($batch: String!) { batchEnvironment(batch: $batch) {
  execution room cleanroomClass startedAt endedAt parameter unit unitShown samples min max mean
  lsl usl beyondSpec withinSpec excursions deviations } }`;

export const num = (v) => (v === null || v === undefined ? "—" : String(+(+v).toPrecision(4)));
const paramLabel = (p) => { const l = LABELS.EnvironmentParameter?.[p]; return l ? (lang === "zh" && l[1]) || l[0] : p; };

function limits(r) {
  const u = r.unitShown ? ` ${r.unitShown}` : "";
  if (r.lsl !== null && r.usl !== null) return `${num(r.lsl)} – ${num(r.usl)}${u}`;
  if (r.usl !== null) return `≤ ${num(r.usl)}${u}`;
  if (r.lsl !== null) return `≥ ${num(r.lsl)}${u}`;
  return "—";
}

function excursionCell(r) {
  if (!r.excursions.length) return "";
  return [...r.excursions.map((x) => el("span", { class: "badge dev", "data-excursion": x }, x)),
    ...r.deviations.map((d) => el("a", { href: `#/deviation/${encodeURIComponent(d)}`, "data-deviation": d,
      title: t("env.deviationOf", d) }, `→ ${d}`))];
}

export function roomConditions(batch) {
  const box = el("div", { id: "batch-env", class: "card", "data-batch": batch },
    el("h3", {}, `${t("env.title")}: ${batch}`), el("p", { class: "muted" }, "…"));
  fillConditions(box, batch);
  return box;
}

async function fillConditions(box, batch) {
  let rows;
  try { rows = (await gql(QUERY, { batch })).batchEnvironment; }
  catch (e) { box.lastChild.replaceWith(el("p", { class: "error" }, e.message)); return; }
  if (!rows || !rows.some((r) => r.room)) { box.lastChild.replaceWith(el("p", { class: "muted" }, t("env.none"))); return; }
  const ops = new Map();
  for (const r of rows) ops.set(r.execution, [...(ops.get(r.execution) || []), r]);
  const head = ["parameter", "samples", "min", "max", "mean", "limits", "beyond", "excursions"];
  const tables = [...ops].map(([ex, rs]) => {
    const r0 = rs[0];
    const caption = r0.room
      ? `${ex} · ${r0.room}${r0.cleanroomClass ? ` (${r0.cleanroomClass})` : ""} · ${when(r0.startedAt || "")} – ${when(r0.endedAt || "")}`
      : `${ex} · ${t("env.unmonitored")}`;
    return el("div", { class: "env-op", "data-execution": ex, "data-room": r0.room || "" },
      el("h4", {}, caption),
      r0.parameter ? el("div", { class: "scroll" }, el("table", { class: "table env" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, t(`env.${h}`))))),
        el("tbody", {}, rs.map((r) => el("tr", { "data-parameter": r.parameter, class: r.withinSpec ? "" : "bad" },
          el("td", { title: r.parameter }, paramLabel(r.parameter)),
          el("td", { "data-col": "samples" }, String(r.samples)),
          ...["min", "max", "mean"].map((k) => el("td", { "data-col": k, "data-value": r[k] ?? "" },
            r[k] === null ? "—" : `${num(r[k])} ${r.unitShown || ""}`)),
          el("td", { "data-col": "limits" }, limits(r)),
          el("td", { "data-col": "beyond", title: r.withinSpec ? t("env.ok") : t("env.bad") },
            r.beyondSpec ? el("span", { class: "badge dev" }, String(r.beyondSpec)) : "0"),
          el("td", { "data-col": "excursions" }, excursionCell(r))))))) : null);
  });
  box.lastChild.replaceWith(el("div", {}, tables));
}
