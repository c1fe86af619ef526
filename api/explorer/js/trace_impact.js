// The genealogy view's equipment-window impact form (moved out of trace.js): the executions on
// a suspect equipment or fixture during a window, their batches and the recall they imply.
import { gql, el } from "./api.js";

// equipment or fixture suspect during a window (out of calibration, excursion): the executions
// on it, their batches and the recall they imply
export function equipmentImpact(n, asOf) {
  const out = el("div", { id: "impact-result" });
  const form = el("form", { id: "impact-form", class: "stack" },
    el("h4", {}, "Equipment-window impact (UTC)"),
    el("label", {}, "from", el("input", { name: "from", type: "datetime-local", required: true })),
    el("label", {}, "to", el("input", { name: "to", type: "datetime-local", required: true })),
    el("button", { type: "submit" }, "Find affected batches"), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const utc = (v) => (v.length === 16 ? `${v}:00Z` : `${v}Z`);
    let r;
    try {
      r = (await gql(`query($e: String!, $f: String!, $t: String!, $asOf: String) {
        equipmentImpact(equipment: $e, from: $f, to: $t, unitLimit: 0, asOf: $asOf) {
          executions { execution { key } batches }
          results { result { key } inspected }
          recall { unitsTotal shipments { key } customers { key } } } }`,
        { e: n.iri, f: utc(f.get("from")), t: utc(f.get("to")), asOf })).equipmentImpact;
    } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); return; }
    const batches = [...new Set([...r.executions.flatMap((x) => x.batches),
      ...r.results.flatMap((m) => m.inspected)])];
    const keys = batches.map((b) => decodeURIComponent(b.split("/").pop()));
    out.replaceChildren(
      el("p", { "data-executions": r.executions.length },
        `${r.executions.length} execution(s), ${r.results.length} inspection result(s), ` +
        `${batches.length} batch(es) or lot(s), ${r.recall.unitsTotal} unit(s), ` +
        `${r.recall.shipments.length} shipment(s), ${r.recall.customers.length} customer(s)`),
      el("ul", { id: "impact-executions" }, r.executions.map((x) => el("li", {}, x.execution.key))),
      r.results.length ? el("ul", { id: "impact-results" }, r.results.map((m) => el("li", {},
        `${m.result.key} (${m.inspected.map((i) => decodeURIComponent(i.split("/").pop())).join(", ")})`))) : null,
      keys.length ? el("button", { type: "button", onclick: () => {
        sessionStorage.setItem("tracegraph.seeds", keys.join("\n")); location.hash = "#/recall"; } },
        "Recall these batches…") : null);
  });
  return form;
}
