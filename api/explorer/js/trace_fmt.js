// A record's properties for the genealogy view's side panel: absent values left out (never the
// word "null"), times in the plant's time zone and units as people write them (format.js).
import { fmtTime, fmtUnit } from "./format.js";

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z$/;

export function shownProps(props) {
  const out = {};
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined) continue;
    out[k] = k === "unitCode" ? fmtUnit(v) : typeof v === "string" && TIME.test(v) ? fmtTime(v) : v;
  }
  return out;
}
