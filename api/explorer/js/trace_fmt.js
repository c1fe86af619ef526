// A stop-gap formatter for the genealogy view until the explorer's shared one (format.js, issue 15
// item 4) lands: the same names (fmtTime, fmtUnit, fmtQty), so the trace modules switch by
// changing one import. Times in UTC without the stored microseconds; UCUM codes as people write.
const UNITS = { Cel: "°C", "{pc}": "pcs", "{pcs}": "pcs", "{unit}": "pcs", "[degF]": "°F",
                "%": "%", "g/cm3": "g/cm³", "mJ/cm2": "mJ/cm²", "mm2": "mm²", "m3": "m³" };

// 2026-01-05T15:07:00.000000Z → 2026-01-05 15:07 UTC (seconds kept when not zero)
export function fmtTime(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?(?:\.\d+)?Z$/.exec(iso || "");
  if (!m) return iso;
  return `${m[1]} ${m[2]}${m[3] && m[3] !== ":00" ? m[3] : ""} UTC`;
}

export function fmtUnit(code) {
  if (!code) return "";
  return UNITS[code] ?? code.replace(/^\{(.*)\}$/, "$1");
}

export function fmtNum(v) { return String(+Number(v).toPrecision(6)); }

export function fmtQty(value, code) {
  if (value === null || value === undefined) return "";
  const u = fmtUnit(code);
  return `${fmtNum(value)}${u ? " " + u : ""}`;
}

// a record's properties for the side panel: absent values left out (never the word "null"),
// times and units as people read them
export function shownProps(props) {
  const out = {};
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined) continue;
    out[k] = k === "unitCode" ? fmtUnit(v) : typeof v === "string" ? fmtTime(v) : v;
  }
  return out;
}
