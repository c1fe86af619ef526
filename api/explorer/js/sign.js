// The e-signature dialog every signed action of the explorer uses (21 CFR 11.50, 11.200): it
// shows who signs (printed name, user name, roles) and what (the record and the step), asks for
// the step's own fields, the meaning (fixed by the step, or chosen), the reason and the password
// again, and runs the step. A refusal keeps the dialog open with the exact problems the API
// returned (rule, field, value, message) — nothing was written; success closes it.
//
//   const result = await signDialog({ title, what, meaning | meanings, fields, run })
//   run(values) → { ok, problems, state, record } (a QualityResult); ApiError = refusal too;
//   { written: key } with problems: the step was written but its signature refused.
import { gql, el, session, status, ApiError } from "./api.js";
import { label } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";
import "./act-strings.js";

let me = null; // { username, printedName, roles } of the signed-in account

async function signer() {
  const s = session();
  if (!me || me.username !== s?.username) me = (await gql("{ me { username printedName roles } }")).me;
  return me;
}

const meaningLabel = (m) => label("signatureMeaning", m, lang);

// one input of a step: { name, label, type: text|textarea|select|date|number, options, value,
// required, optional }; options: [value, shown] pairs
function input(f) {
  const attrs = { name: f.name, required: f.optional ? null : true, "data-field": f.name };
  const control = f.type === "select"
    ? el("select", attrs, f.options.map(([v, shown]) => el("option", { value: v, selected: v === f.value ? true : null }, shown)))
    : f.type === "textarea" ? el("textarea", { ...attrs, rows: 2 }, f.value || "")
      : el("input", { ...attrs, type: f.type || "text", value: f.value ?? null, step: f.type === "number" ? "any" : null });
  return el("label", {}, el("span", {}, f.label), control);
}

// the problems of a refusal, as the API gave them
export function problemList(problems, id = "sign-problems") {
  return el("ul", { class: "problems", id },
    problems.map((p) => el("li", { "data-rule": p.rule, "data-field": p.field || null },
      el("code", {}, p.rule), " ", p.message,
      p.field ? el("span", { class: "muted" }, ` (${p.field}${p.value !== undefined && p.value !== null ? ` = ${JSON.stringify(p.value)}` : ""})`) : null)));
}

// an API error (FORBIDDEN, BAD_INPUT …) as a problem list entry
export const asProblems = (e) => (e.extensions?.problems?.length ? e.extensions.problems
  : [{ rule: e.code || "error", message: e.message, field: e.extensions?.field || e.extensions?.operation || null, value: e.extensions?.value }]);

export async function signDialog({ title, what, meaning = null, meanings = null, fields = [], run }) {
  const who = await signer();
  return new Promise((resolve) => {
    const out = el("div", { class: "sign-result", role: "alert" });
    const meaningInput = meanings
      ? el("label", {}, el("span", {}, t("sign.meaning")), el("select", { name: "meaning", "data-field": "meaning" },
        meanings.map((m) => el("option", { value: m }, meaningLabel(m)))))
      : el("p", {}, `${t("sign.meaning")}: `, el("b", { id: "sign-meaning", "data-meaning": meaning || "" }, meaning ? meaningLabel(meaning) : "—"));
    const submit = el("button", { type: "submit", id: "sign-submit" }, t("sign.submit"));
    const form = el("form", { method: "dialog", class: "stack sign-form" },
      el("h3", {}, `${t("sign.title")}: ${title}`),
      el("p", { id: "sign-signer" }, `${t("sign.signer")}: `, el("b", {}, who.printedName),
        ` (${who.username}; ${who.roles.map((r) => label("roleName", r, lang)).join(", ")})`),
      el("p", { id: "sign-what" }, `${t("sign.what")}: `, el("b", {}, what)),
      fields.map(input), meaningInput,
      el("label", {}, el("span", {}, t("sign.reason")), el("textarea", { name: "reason", rows: 2, required: true, "data-field": "reason" })),
      el("label", {}, el("span", {}, t("sign.password")), el("input", { name: "password", type: "password", required: true, autocomplete: "current-password", "data-field": "password" })),
      el("p", { class: "muted" }, t("sign.notice")), out,
      el("div", { class: "toolbar" }, submit,
        el("button", { type: "button", id: "sign-cancel", onclick: () => { dlg.close(); } }, t("sign.cancel"))));
    const dlg = el("dialog", { id: "sign-dialog", class: "sign-dialog" }, form);
    let result = null;
    dlg.addEventListener("close", () => { dlg.remove(); resolve(result); });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      values.meaning = values.meaning || meaning;
      submit.disabled = true;
      out.replaceChildren(el("p", { class: "muted" }, t("sign.busy")));
      let r;
      try { r = await run(values); } catch (e) {
        if (!(e instanceof ApiError)) console.warn(e);
        r = { ok: false, problems: asProblems(e) };
      }
      submit.disabled = false;
      form.elements.password.value = "";
      if (r.ok) {
        result = r;
        status(t("sign.done", title, values.meaning ? meaningLabel(values.meaning) : ""));
        dlg.close();
      } else {
        out.replaceChildren(el("p", { class: "error" }, r.written ? t("sign.unsigned", r.written) : t("sign.refused")), problemList(r.problems));
        if (r.written) { result = r; submit.disabled = true; }  // not again: the view reads it anew on close
      }
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// re-authenticate (the password proves who signs before anything is written)
export async function reauthenticate(password) {
  const r = await fetch("/auth/token", { method: "POST", body: new URLSearchParams({ username: session().username, password }) });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    throw new ApiError(body.detail?.message || t("sign.badPassword"), body.detail?.code || "authentication");
  }
}

// sign an existing record with a meaning (the API's sign mutation)
export async function signRecord(iri, meaning, password, reason) {
  return (await gql(`mutation($r: String!, $m: SignatureMeaning!, $p: String!, $why: String!) {
    sign(record: $r, meaning: $m, password: $p, reason: $why) { iri manifestation valid } }`,
  { r: iri, m: meaning, p: password, why: reason })).sign;
}
