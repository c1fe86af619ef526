// Recall workbench: paste or upload seeds, counts of affected batches / units / shipments /
// customers, the affected customer table, and downloads (customers CSV, answer JSON, full zip).
import { gql, recallZip, seedFile, download, el, status } from "./api.js";

const RECALL = `query($seeds: [String!]!) { recall(seeds: $seeds, unitLimit: 0) {
  watermark seeds unknownSeeds unitsTotal counts { label count }
  batches { key class } packages { key } shipments { key }
  customers { key name address country shipments firstShipped lastShipped } } }`;
let last = null;

export function init() {
  document.getElementById("run-recall").addEventListener("click", run);
  document.getElementById("seed-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    // read by the server as the CLI reads it: the seed column of a CSV by its header
    try { document.getElementById("seeds").value = (await seedFile(await f.text())).join("\n"); }
    catch (e) { document.getElementById("recall-error").textContent = e.message; }
  });
  document.getElementById("dl-csv").addEventListener("click", () => {
    download(`recall-customers-w${last.watermark}.csv`, new Blob([customersCsv(last)], { type: "text/csv" }));
  });
  document.getElementById("dl-json").addEventListener("click", () => {
    download(`recall-w${last.watermark}.json`, new Blob([JSON.stringify(last, null, 2)], { type: "application/json" }));
  });
  document.getElementById("dl-zip").addEventListener("click", async () => {
    try { const z = await recallZip(last.seeds); download(z.name, z.blob); }
    catch (e) { document.getElementById("recall-error").textContent = e.message; }
  });
}

export function open() {
  const handed = sessionStorage.getItem("tracegraph.seeds");
  if (handed) { document.getElementById("seeds").value = handed; sessionStorage.removeItem("tracegraph.seeds"); }
}

export function seedsOf(text) {
  return [...new Set(text.split(/[\n,;\t]+/).map((s) => s.trim()).filter(Boolean))];
}

async function run() {
  const seeds = seedsOf(document.getElementById("seeds").value);
  const err = document.getElementById("recall-error");
  err.textContent = "";
  if (!seeds.length) { err.textContent = "enter at least one seed"; return; }
  const t0 = performance.now();
  let r;
  try { r = (await gql(RECALL, { seeds })).recall; } catch (e) { err.textContent = e.message; return; }
  last = r;
  if (r.unknownSeeds.length) err.textContent = `not found: ${r.unknownSeeds.join(", ")}`;
  const counts = new Map(r.counts.map((c) => [c.label, c.count]));
  const tiles = [["batches", r.batches.length], ["units", r.unitsTotal], ["packages", r.packages.length],
                 ["shipments", r.shipments.length], ["customers", r.customers.length]];
  document.getElementById("recall-counts").replaceChildren(
    ...tiles.map(([k, v]) => el("div", { class: "count", "data-count": k }, el("b", {}, v), k)),
    ...[...counts].filter(([k]) => !["SerializedUnit", "Shipment", "Customer"].includes(k))
      .map(([k, v]) => el("div", { class: "count muted" }, el("b", {}, v), k)));
  document.querySelector("#customers tbody").replaceChildren(...r.customers.map((c) => el("tr", { "data-key": c.key },
    el("td", {}, c.key), el("td", {}, c.name), el("td", {}, c.country), el("td", {}, c.address),
    el("td", {}, c.shipments.join(" ")), el("td", {}, c.firstShipped || ""), el("td", {}, c.lastShipped || ""))));
  for (const id of ["dl-csv", "dl-json", "dl-zip"]) document.getElementById(id).disabled = false;
  status(`recall of ${r.seeds.length} seed(s) in ${Math.round(performance.now() - t0)} ms`);
}

function cell(v) {
  const s = String(v ?? "");
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function customersCsv(r) {
  const head = ["customer", "name", "country", "address", "shipments", "first_shipped", "last_shipped"];
  const rows = r.customers.map((c) => [c.key, c.name, c.country, c.address, c.shipments.join(" "), c.firstShipped, c.lastShipped]);
  return [head, ...rows].map((row) => row.map(cell).join(",")).join("\n") + "\n";
}
