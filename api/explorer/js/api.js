// Talking to the tracegraph API: the OAuth2 password flow, GraphQL and the recall export.
// The bearer token lives in sessionStorage (gone when the tab closes).
import { code, prop } from "./i18n.js";
import { fmtTime, fmtUnit } from "./format.js";  // issue 15 item 4

const KEY = "tracegraph.token";

export function session() {
  const raw = sessionStorage.getItem(KEY);
  return raw ? JSON.parse(raw) : null;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password });
  const r = await fetch("/auth/token", { method: "POST", body });
  const data = await r.json();
  if (!r.ok) throw new Error(data.detail?.message || "sign-in refused");
  sessionStorage.setItem(KEY, JSON.stringify(data));
  return data;
}

export class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

function authHeaders() {
  const s = session();
  return s ? { Authorization: `Bearer ${s.access_token}` } : {};
}

export async function gql(query, variables = {}) {
  const r = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors?.length) {
    const e = body.errors[0];
    const code = e.extensions?.code;
    if (code === "UNAUTHENTICATED") signOut();
    throw Object.assign(new ApiError(e.message, code), { extensions: e.extensions || {} });  // issue 15 item 2: rule lists
  }
  return body.data;
}

export async function seedFile(text) {
  const r = await fetch("/api/recall/seeds", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ text }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(body.detail?.message || `seed file refused (${r.status})`, body.detail?.code);
  return body.seeds;
}

export async function recallZip(seeds) {
  const r = await fetch("/api/recall", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ seeds }),
  });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    throw new ApiError(body.detail?.message || `export failed (${r.status})`, body.detail?.code);
  }
  return { blob: await r.blob(), name: (r.headers.get("content-disposition") || "").match(/filename="([^"]+)"/)?.[1] || "recall.zip" };
}

export function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

// a stored UTC time (2026-01-05T15:07:31.000000Z) as people read it: in the plant's time zone
// and the reader's locale (format.js); any other text as given
export const when = fmtTime;

// replace the children of `parent`, leaving out absent parts (null, undefined, false): the DOM's
// replaceChildren would show them as the words "null" and "false"
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

// a record's properties: named by their ontology label in the page's language (the stored name
// in the title), codes shown by their label (the stored code in the title)
export function kvTable(obj) {
  return el("table", { class: "kv" }, el("tbody", {},
    Object.entries(obj || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => {
      const shown = typeof v === "object" ? JSON.stringify(v) : String(v);
      const coded = typeof v !== "string" ? shown : k === "unitCode" ? fmtUnit(v) : when(code(k, v));
      return el("tr", { "data-prop": k }, el("td", { title: k }, prop(k)),
        el("td", { title: coded !== shown ? shown : null }, coded));
    })));
}

export function status(text) {
  document.getElementById("status").textContent = text;
}
