// A scrolling data table: column headers are string keys (translated), rows are <tr> elements.
import { el } from "./api.js";
import { t } from "./strings.js";

export function table(id, cols, rows) {
  return el("div", { class: "scroll" }, el("table", { class: "table", id },
    el("thead", {}, el("tr", {}, cols.map((c) => el("th", {}, t(c))))),
    el("tbody", {}, rows)));
}
