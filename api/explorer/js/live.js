// Live QC notifications (issue 15 item 9): the qcNotifications subscription over a websocket
// (graphql-transport-ws, written here: no library), reconnecting with back-off when the socket
// drops. Every delivery is announced to the page (event "tracegraph:qc"), so an open worklist
// refreshes. A notification addressed to one of the user's roles (QC: the exception loop's
// addressee) is shown once per id — the loop delivers at least once, and the ids shown are kept
// in localStorage across reconnects and reloads — as a banner, a count, and, when the user
// turned "notify me" on (asked on that click, a user gesture) and the browser allows it, a
// browser notification. The server lets every signed-in role subscribe (api/auth.py RULES).
import { session, el, fill, when } from "./api.js";
import { code } from "./i18n.js";
import { t } from "./strings.js";

const QUERY = `subscription { qcNotifications { id kind role equipment parameter batch level peak
  detectedAt deviation hold grade held } }`;
const PREF = "tracegraph.notify";  // "on" | "off": the user's choice, kept in this browser
const SEEN = "tracegraph.qc.seen.";  // + username: the ids already shown, newest last
const KEEP = 500;
export const FIRST_DELAY = 1000, MAX_DELAY = 30000;  // back-off of reconnects, ms

let ws = null, token = null, timer = null, delay = FIRST_DELAY, state = "off", why = "";
const unread = [];

const keyOf = (iri) => decodeURIComponent(String(iri).split("/").pop());  // the minted IRI's key
const linkOf = (n) => (n.deviation ? `#/deviation/${encodeURIComponent(keyOf(n.deviation))}` : "#/work/excursions");
const supported = () => "Notification" in window;
const wanted = () => localStorage.getItem(PREF) === "on";

// true the first time this user's page sees the id (an empty id is always new)
function firstTime(username, id) {
  if (!id) return true;
  let ids;
  try { ids = JSON.parse(localStorage.getItem(SEEN + username) || "[]"); } catch { ids = []; }
  if (ids.includes(id)) return false;
  ids.push(id);
  localStorage.setItem(SEEN + username, JSON.stringify(ids.slice(-KEEP)));
  return true;
}

export function title(n) {
  const where = [n.equipment, n.parameter].filter(Boolean).join(" ");
  if (n.kind === "deviation") return t("qc.deviation", keyOf(n.deviation), code("deviationGrade", n.grade), where);
  return t(`qc.${n.kind}`, where, n.peak);
}

export function body(n) {
  return [n.batch ? t("qc.batch", n.batch) : null, n.held?.length ? t("qc.held", n.held.length) : null,
    when(n.detectedAt)].filter(Boolean).join(" · ");
}

function setState(s, reason = "") {
  state = s;
  why = reason;
  render();
}

// connect (or keep the connection) for the signed-in user; disconnect when signed out
export function sync() {
  const tok = session()?.access_token || null;
  if (tok !== token || !(ws || timer || state === "refused")) {  // refused: until signed in again
    stop();
    if (tok !== token) unread.length = 0;  // another sign-in: not their notifications
    token = tok;
    if (token) connect();
  }
  render();
}

function stop() {
  clearTimeout(timer);
  timer = null;
  const sock = ws;
  ws = null;
  if (sock) sock.close(1000);
  delay = FIRST_DELAY;
  setState("off");
}

function connect() {
  timer = null;
  const sock = ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`,
    "graphql-transport-ws");
  const send = (m) => sock.send(JSON.stringify(m));
  setState("connecting");
  sock.onopen = () => send({ type: "connection_init", payload: { Authorization: `Bearer ${token}` } });
  sock.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "connection_ack") {
      delay = FIRST_DELAY;
      setState("live");
      send({ id: "qc", type: "subscribe", payload: { query: QUERY } });
    } else if (m.type === "ping") send({ type: "pong" });
    else if (m.type === "next" && m.payload?.data?.qcNotifications) receive(m.payload.data.qcNotifications);
    else if (m.type === "error" || m.payload?.errors) refuse(sock, (m.payload?.errors || m.payload || [])[0]?.message);
    else if (m.type === "complete") sock.close(1000);  // ended by the server: connect again
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;  // stopped, or replaced by a newer connection
    ws = null;
    if (ev.code === 4403 || ev.code === 4401) { setState("refused", t("qc.signIn")); return; }
    if (state === "refused") return;
    setState("reconnecting");
    timer = setTimeout(connect, delay * (0.75 + Math.random() / 2));  // jitter: not all at once
    delay = Math.min(delay * 2, MAX_DELAY);
  };
}

// back on the network (a phone out of a dead spot): try now rather than after the back-off
window.addEventListener("online", () => {
  if (timer) { clearTimeout(timer); connect(); }
});

// the server refused the subscription (a rule, not a dropped line): no retrying
function refuse(sock, message) {
  setState("refused", message || "");
  sock.close(1000);
}

function receive(n) {
  window.dispatchEvent(new CustomEvent("tracegraph:qc", { detail: n }));  // lists refresh
  const s = session();
  if (!s || !s.roles.includes(n.role) || !firstTime(s.username, n.id)) return;
  unread.unshift(n);
  render();
  if (wanted() && supported() && Notification.permission === "granted") {
    const note = new Notification(title(n), { body: body(n), tag: n.id || undefined });
    note.onclick = () => { window.focus(); location.hash = linkOf(n); read(n); note.close(); };
  }
}

// opened (its banner link or its browser notification): no longer unread
function read(n) {
  const i = unread.indexOf(n);
  if (i >= 0) unread.splice(i, 1);
  render();
}

// "notify me": asks the browser on this click (a user gesture), remembers the choice
async function toggle() {
  if (wanted()) localStorage.setItem(PREF, "off");
  else if (supported()) {
    const p = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
    localStorage.setItem(PREF, p === "granted" ? "on" : "off");
  }
  render();
}

// the header's controls (state, count, "notify me") and the banner of unread notifications
function render() {
  const who = document.getElementById("who");
  if (!who) return;
  let ctl = document.getElementById("qc-ctl");
  if (!ctl) { ctl = el("span", { id: "qc-ctl" }); who.prepend(ctl); }
  ctl.hidden = !session();
  const blocked = !supported() || Notification.permission === "denied";
  const on = wanted() && !blocked;
  fill(ctl,
    el("span", { id: "qc-state", class: `qc-state ${state}`, "data-state": state, title: why || null }, t(`qc.state.${state}`)),
    unread.length ? el("a", { id: "qc-badge", class: "badge dev", href: "#/work" }, t("qc.new", unread.length)) : null,
    el("button", { type: "button", id: "qc-notify", "aria-pressed": String(on), disabled: blocked && !wanted(),
      title: blocked ? t(supported() ? "qc.blocked" : "qc.unsupported") : null, onclick: toggle },
    t(on ? "qc.notifyOn" : "qc.notify")));
  let banner = document.getElementById("qc-live");
  if (!banner) {
    banner = el("section", { id: "qc-live", class: "qc-live", role: "status", "aria-live": "polite" });
    document.querySelector("header")?.after(banner);
  }
  banner.hidden = !unread.length || !session();
  fill(banner, el("ul", {}, unread.slice(0, 5).map((n) => el("li", { "data-id": n.id, "data-kind": n.kind },
    el("a", { href: linkOf(n), onclick: () => read(n) }, title(n)), el("span", { class: "muted" }, ` ${body(n)}`)))),
  unread.length > 5 ? el("p", { class: "muted" }, t("qc.more", unread.length - 5)) : null,
  el("button", { type: "button", id: "qc-dismiss", onclick: () => { unread.length = 0; render(); } }, t("qc.dismiss")));
}
