// How the explorer writes times, dates, numbers and units (issue 15 item 4) — the one formatter
// every view uses:
//   fmtTime(iso)            a stored UTC time in the plant's time zone and the reader's locale
//   fmtDate(iso)            its calendar date there (a plain date "2026-01-05" stays that date)
//   fmtNum(value)           a number in the reader's locale
//   fmtQty(value, ucumCode) a quantity as people write it: "21.5 °C", "144 pcs"
//   fmtUnit(ucumCode)       a unit as people write it: Cel → °C, {pc} → pcs, um → µm
//   plantIso(ms), plantOffset(ms)  the plant's wall clock of an instant (chart axes)
// The plant's time zone (TRACEGRAPH_PLANT_TIMEZONE) and the unit table come from the API
// (GET /api/formatting, from ontology/units.py), loaded once when the page starts; the reader's
// locale follows the page's language (zh → zh-CN, else the browser's English locale).
// Anything that is not a time or a number is returned as given, so a formatter never hides data.
import { lang } from "./i18n.js";

const conf = await fetch("/api/formatting")
  .then((r) => (r.ok ? r.json() : null))
  .catch(() => null) || { plantTimeZone: "UTC", units: {} };

// a zone the browser's time-zone data does not know falls back to UTC (and says so in each time)
const known = (zone) => { try { new Intl.DateTimeFormat("en", { timeZone: zone }); return true; } catch { return false; } };
export const plantTimeZone = known(conf.plantTimeZone) ? conf.plantTimeZone : "UTC";
const UNITS = conf.units;

const TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const DATE = /^\d{4}-\d\d-\d\d$/;

// the reader's locale in the page's language
export function locale() {
  if (lang === "zh") return "zh-CN";
  return (navigator.languages || [navigator.language]).find((l) => /^en\b/i.test(l)) || "en-GB";
}

const cache = new Map();
function formatter(kind, options) {
  const k = `${kind}|${locale()}`;
  if (!cache.has(k)) cache.set(k, new Intl.DateTimeFormat(locale(), { timeZone: plantTimeZone, ...options }));
  return cache.get(k);
}

// an ISO time (stored: 2026-01-05T15:07:31.000000Z) as a Date; null if it is not one
export function parseTime(iso) {
  const m = TIME.exec(String(iso ?? ""));
  return m ? new Date(`${m[1]}${(m[2] || "").slice(0, 4)}${m[3]}`) : null;
}

// date in the locale's order, then 24-hour time, then the zone: "01/05/2026 23:07:31 GMT+8",
// "2026/01/05 23:07:31 GMT+8"
export function fmtTime(iso) {
  const d = parseTime(iso);
  if (!d) return iso ?? "";
  const zone = formatter("zone", { timeZoneName: "short" }).formatToParts(d)
    .find((p) => p.type === "timeZoneName")?.value || plantTimeZone;
  const time = formatter("clock", { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(d);
  return `${fmtDate(iso)} ${time} ${zone}`;
}

export function fmtDate(iso) {
  if (DATE.test(String(iso ?? ""))) {
    const [y, m, d] = iso.split("-").map(Number);
    return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC" })
      .format(new Date(Date.UTC(y, m - 1, d)));
  }
  const d = parseTime(iso);
  if (!d) return iso ?? "";
  return formatter("date", { year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

// the plant's wall-clock time of an instant (epoch ms) as "YYYY-MM-DDTHH:MM:SS" (chart axes)
export function plantIso(ms) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: plantTimeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

// the plant's offset from UTC at an instant, ms (wall clock − UTC)
export function plantOffset(ms) {
  const t = Math.floor(ms / 1000) * 1000;
  return Date.parse(`${plantIso(t)}Z`) - t;
}

export function fmtNum(value) {
  const v = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof v !== "number" || !Number.isFinite(v)) return value ?? "";
  return new Intl.NumberFormat(locale(), Number.isInteger(v) ? {} : { maximumSignificantDigits: 6 }).format(v);
}

export function fmtUnit(ucumCode) {
  if (ucumCode === null || ucumCode === undefined) return "";
  const c = String(ucumCode);
  return c in UNITS ? UNITS[c] : c.replace(/^\{(.*)\}$/, "$1");  // an unknown annotation {x} → x
}

export function fmtQty(value, ucumCode) {
  const n = fmtNum(value);
  const u = fmtUnit(ucumCode);
  return u ? `${n} ${u}` : `${n}`;
}
