// The explorer's shell: sign-in, tabs and hash routes (#/work/<list> — the home page, first
// after sign-in —, #/trace/<id>/<direction>, #/recall, #/deviation/<id>, #/spc/<spec>,
// #/equipment, #/equipment/<tag>, #/kpi/<from>/<to>/<kpi id>, #/whatif, #/documents,
// #/documents/<code>).
import { session, signIn, signOut } from "./api.js";
import { label } from "./codes.js";
import { translate, toggle } from "./i18n.js";
import * as trace from "./trace.js";
import * as recall from "./recall.js";
import * as deviation from "./deviation.js";
import * as spc from "./spc.js";
import * as work from "./work.js";
import * as equipment from "./equipment.js";
import * as kpi from "./kpi.js";
import * as whatif from "./whatif.js";
import * as documents from "./documents.js";  // issue 18 item 1
import * as suppliers from "./suppliers.js";  // issue 18 item 2
import * as events from "./events.js";  // issue 18 item 6: #/events/<after>/<type>
import * as live from "./live.js";  // issue 15 item 9: live QC notifications
import "./phone.js";  // issue 15 item 9: phone layout of tables
import * as record from "./record.js";  // issue 15 item 2: #/record/<key>, signed actions

const views = { work, trace, recall, deviation, spc, equipment, kpi, whatif, documents, suppliers,
  events };
views.record = record;  // issue 15 item 2
const started = new Set();

function show(name) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `${name}-view`;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.view === name);
}

function route() {
  const s = session();
  const who = document.getElementById("who-name");
  who.textContent = s ? `${s.username} (${s.roles.join(", ")})` : "";
  who.title = s ? s.roles.map((r) => `${label("roleName", r)} / ${label("roleName", r, "zh")}`).join(", ") : "";
  document.getElementById("sign-out").hidden = !s;
  document.getElementById("tabs").hidden = !s;
  live.sync();  // issue 15 item 9: subscribed while signed in
  if (!s) { show("signin"); return; }
  const [name = "work", ...args] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const view = views[name] ? name : "work";
  show(view);
  if (!started.has(view)) { views[view].init(); started.add(view); }
  views[view].open(...(views[name] ? args : []));
}

document.getElementById("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const err = document.getElementById("signin-error");
  err.textContent = "";
  try {
    await signIn(f.get("username"), f.get("password"));
    ev.target.reset();
    route();
  } catch (e) {
    err.textContent = e.message;
  }
});

document.getElementById("sign-out").addEventListener("click", () => { signOut(); route(); });
document.getElementById("lang").addEventListener("click", toggle);
window.addEventListener("tracegraph:language", route);  // the open view again, in the language
translate();
window.addEventListener("hashchange", route);
window.addEventListener("tracegraph:signed-out", route);
route();
