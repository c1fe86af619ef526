// The signed workflow actions of the explorer, each one button that opens the e-signature
// dialog (sign.js) and runs the API's mutation: deviation lifecycle (triage, advance), impact
// assessment, root cause (6M, 5-why), CAPA (open, actions, effectiveness check, verify, close),
// disposition of a hold, batch release, change approval. Steps whose mutation takes the
// password sign in the API (the meaning is the step's); the others are written and then signed
// (meaning chosen; the password is checked first, so a wrong one writes nothing).
// Every button calls done() after a successful step (the view reads the record again).
import { gql, el } from "./api.js";
import { CODE_LISTS, LABELS, label } from "./codes.js";
import { lang } from "./i18n.js";
import { t } from "./strings.js";
import { signDialog, reauthenticate, signRecord, asProblems } from "./sign.js";

const RESULT = "ok state record { iri class key } problems { rule message field value focus }";
const codes = (prop) => Object.keys(LABELS[CODE_LISTS[prop]] || {}).map((c) => [c, label(prop, c, lang)]);
const today = (days = 0) => new Date(Date.now() + days * 864e5).toISOString().slice(0, 10);
const first = (data) => Object.values(data)[0];
const AUTHORED = ["authored", "reviewed", "approved", "verified"];

// a mutation with the password: the API signs; vars(values) gives its variables
async function passwordStep(mutation, vars, values) {
  return first(await gql(mutation, vars(values)));
}

// a mutation without the password: re-authenticate, write, then sign what was written
// (target(result) names the record to sign: by default the one the mutation returned)
async function writeThenSign(mutation, vars, values, target = async (r) => r.record?.iri) {
  await reauthenticate(values.password);
  const r = first(await gql(mutation, vars(values)));
  if (!r.ok) return r;
  const iri = await target(r);
  if (!iri) return r;
  try { await signRecord(iri, values.meaning, values.password, values.reason); } catch (e) {
    return { ok: false, written: r.record?.key || iri, problems: asProblems(e) };  // written, not signed
  }
  return r;
}

function button(id, text, open) {
  return el("button", { type: "button", "data-action": id, onclick: open }, text);
}

const whys = (n) => Array.from({ length: n }, (_, i) => ({ name: `why${i + 1}`, label: t("act.why", i + 1), optional: i > 0 }));

// -- deviation ------------------------------------------------------------------------------
// steps: the deviation's nextSteps (API); dev: { iri, key }; impactKeys: its assessments now
export function deviationActions(dev, steps, impactKeys, done) {
  const what = (s) => `${dev.key} — ${s}`;
  const advance = steps.map((s) => button(`advance-${s.target}`,
    s.target === "Triaged" ? t("act.triage") : t("act.advance", label("deviationState", s.target, lang)),
    async () => {
      const triage = s.target === "Triaged";
      const r = await signDialog({ title: triage ? t("act.triage") : t("act.advance", label("deviationState", s.target, lang)),
        what: what(`${label("deviationState", dev.state, lang)} → ${label("deviationState", s.target, lang)}`),
        meaning: s.meaning,
        fields: triage ? [{ name: "grade", label: t("act.grade"), type: "select", options: codes("deviationGrade"), value: dev.grade }] : [],
        run: (v) => passwordStep(`mutation($d: String!, $t: DeviationState!, $p: String!, $r: String!, $g: DeviationGrade) {
          advanceDeviation(deviation: $d, target: $t, password: $p, reason: $r, grade: $g) { ${RESULT} } }`,
        (x) => ({ d: dev.iri, t: s.target, p: x.password, r: x.reason, g: x.grade || null }), v) });
      if (r) done();
    }));
  const impact = button("impact", t("act.impact"), async () => {
    const r = await signDialog({ title: t("act.impact"), what: what(t("act.impact")), meanings: AUTHORED,
      run: (v) => writeThenSign(`mutation($d: String!, $r: String!) { assessImpact(deviation: $d, reason: $r) { ${RESULT} } }`,
        (x) => ({ d: dev.iri, r: x.reason }), v, async () => {
          // the new assessment: the one the deviation did not have before
          const now = (await gql(`query($id: String!) { deviationView(id: $id) { impact { iri key } } }`, { id: dev.iri })).deviationView.impact;
          return now.find((n) => !impactKeys.includes(n.key))?.iri;
        }) });
    if (r) done();
  });
  const rootCause = button("root-cause", t("act.rootCause"), async () => {
    const r = await signDialog({ title: t("act.rootCause"), what: what(t("act.rootCause")), meanings: AUTHORED,
      fields: [{ name: "category", label: t("act.category"), type: "select", options: codes("causeCategory") }, ...whys(5)],
      run: (v) => writeThenSign(`mutation($d: String!, $c: CauseCategory!, $w: [String!]!, $r: String!) {
        recordRootCause(deviation: $d, category: $c, whys: $w, reason: $r) { ${RESULT} } }`,
      (x) => ({ d: dev.iri, c: x.category, r: x.reason,
        w: [1, 2, 3, 4, 5].map((i) => (x[`why${i}`] || "").trim()).filter(Boolean) }), v) });
    if (r) done();
  });
  const capa = button("open-capa", t("act.openCapa"), async () => {
    const r = await signDialog({ title: t("act.openCapa"), what: what(t("act.openCapa")), meanings: AUTHORED,
      fields: [{ name: "title", label: t("act.capaTitle") }, { name: "description", label: t("act.description"), type: "textarea" },
        { name: "due", label: t("act.due"), type: "date", value: today(60) }],
      run: (v) => writeThenSign(`mutation($d: String!, $ti: String!, $de: String!, $du: Date!, $r: String!) {
        openCapa(deviation: $d, title: $ti, description: $de, due: $du, reason: $r) { ${RESULT} } }`,
      (x) => ({ d: dev.iri, ti: x.title, de: x.description, du: x.due, r: x.reason }), v) });
    if (r) done();
  });
  return [...advance, impact, rootCause, capa];
}

// -- CAPA -----------------------------------------------------------------------------------
// capa: { iri, key }; actions, checks: its CAPAAction and EffectivenessCheck nodes
export function capaActions(capa, actions, checks, done) {
  const what = (s) => `${capa.key} — ${s}`;
  const out = [button(`add-action-${capa.key}`, t("act.addAction"), async () => {
    const r = await signDialog({ title: t("act.addAction"), what: what(t("act.addAction")), meanings: AUTHORED,
      fields: [{ name: "actionType", label: t("act.actionType"), type: "select", options: codes("actionType") },
        { name: "owner", label: t("act.owner") }, { name: "due", label: t("act.due"), type: "date", value: today(30) },
        { name: "description", label: t("act.description"), type: "textarea" }],
      run: (v) => writeThenSign(`mutation($c: String!, $a: CAPAActionType!, $o: String!, $du: Date!, $de: String!, $r: String!) {
        addCapaAction(capa: $c, actionType: $a, owner: $o, due: $du, description: $de, reason: $r) { ${RESULT} } }`,
      (x) => ({ c: capa.iri, a: x.actionType, o: x.owner, du: x.due, de: x.description, r: x.reason }), v) });
    if (r) done();
  })];
  for (const a of actions.filter((n) => !["Completed", "Verified", "Cancelled"].includes(n.properties.actionState))) {
    out.push(button(`complete-${a.key}`, `${t("act.complete")} ${a.key}`, async () => {
      const r = await signDialog({ title: t("act.complete"), what: `${a.key} — ${a.properties.description || ""}`, meanings: AUTHORED,
        run: (v) => writeThenSign(`mutation($a: String!, $r: String!) { completeCapaAction(action: $a, reason: $r) { ${RESULT} } }`,
          (x) => ({ a: a.iri, r: x.reason }), v, async () => a.iri) });
      if (r) done();
    }));
  }
  out.push(button(`define-check-${capa.key}`, t("act.defineCheck"), async () => {
    const r = await signDialog({ title: t("act.defineCheck"), what: what(t("act.defineCheck")), meanings: AUTHORED,
      fields: [{ name: "criterion", label: t("act.criterion"), type: "select", options: codes("effectivenessCriterion") },
        { name: "scope", label: t("act.scope") }, { name: "batches", label: t("act.batches"), type: "number", value: 3 },
        { name: "threshold", label: t("act.threshold"), type: "number", optional: true },
        { name: "description", label: t("act.description"), type: "textarea" }],
      run: (v) => writeThenSign(`mutation($c: String!, $cr: EffectivenessCriterion!, $s: String!, $b: Int!, $de: String!, $r: String!, $th: Float) {
        defineEffectivenessCheck(capa: $c, criterion: $cr, scope: $s, batches: $b, description: $de, reason: $r, threshold: $th) { ${RESULT} } }`,
      (x) => ({ c: capa.iri, cr: x.criterion, s: x.scope, b: Number(x.batches), de: x.description, r: x.reason,
        th: x.threshold === "" || x.threshold === undefined ? null : Number(x.threshold) }), v) });
    if (r) done();
  }));
  for (const c of checks) {
    out.push(button(`verify-${c.key}`, `${t("act.verify")} ${c.key}`, async () => {
      const r = await signDialog({ title: t("act.verify"), what: `${c.key} — ${c.properties.description || ""}`, meaning: "verified",
        run: (v) => passwordStep(`mutation($c: String!, $p: String!, $r: String!) {
          verifyEffectivenessCheck(check: $c, password: $p, reason: $r) { ${RESULT} } }`,
        (x) => ({ c: c.iri, p: x.password, r: x.reason }), v) });
      if (r) done();
    }));
  }
  out.push(button(`close-${capa.key}`, t("act.closeCapa"), async () => {
    const r = await signDialog({ title: t("act.closeCapa"), what: what(t("act.closeCapa")), meaning: "approved",
      run: (v) => passwordStep(`mutation($c: String!, $p: String!, $r: String!) { closeCapa(capa: $c, password: $p, reason: $r) { ${RESULT} } }`,
        (x) => ({ c: capa.iri, p: x.password, r: x.reason }), v) });
    if (r) done();
  }));
  return out;
}

// -- hold, batch, change ----------------------------------------------------------------------
export function disposeAction(hold, heldKeys, done) {
  return button(`dispose-${hold.key}`, t("act.dispose"), async () => {
    const r = await signDialog({ title: t("act.dispose"), what: t("act.holdOf", hold.key, heldKeys.join(", ")), meaning: "approved",
      fields: [{ name: "kind", label: t("act.kind"), type: "select", options: codes("dispositionType") }],
      run: (v) => passwordStep(`mutation($h: String!, $k: DispositionType!, $p: String!, $j: String!) {
        dispose(hold: $h, kind: $k, password: $p, justification: $j) { ${RESULT} } }`,
      (x) => ({ h: hold.iri, k: x.kind, p: x.password, j: x.reason }), v) });
    if (r) done();
  });
}

export function releaseAction(batch, done) {
  return button(`release-${batch.key}`, t("act.release"), async () => {
    const r = await signDialog({ title: t("act.release"), what: batch.key, meaning: "released",
      run: (v) => passwordStep(`mutation($b: String!, $p: String!, $r: String!) { releaseBatch(batch: $b, password: $p, reason: $r) { ${RESULT} } }`,
        (x) => ({ b: batch.iri, p: x.password, r: x.reason }), v) });
    if (r) done();
  });
}

export function approveChangeAction(change, roles, done) {
  return button(`approve-${change.key}`, t("act.approve"), async () => {
    const r = await signDialog({ title: t("act.approve"), what: `${change.key} — ${change.properties.title || ""}`, meaning: "approved",
      fields: [{ name: "role", label: t("act.role"), type: "select", options: roles.map((x) => [x, label("roleName", x, lang)]) },
        { name: "decision", label: t("act.decision"), type: "select", options: codes("approvalDecision") }],
      run: async (v) => {
        const c = first(await gql(`mutation($n: String!, $ro: RoleName!, $p: String!, $r: String!, $d: ApprovalDecision!) {
          approveChange(number: $n, role: $ro, password: $p, reason: $r, decision: $d) { request { key } effectivityProblems { rule message field value } } }`,
        { n: change.key, ro: v.role, p: v.password, r: v.reason, d: v.decision }));
        return { ok: !!c, problems: [] };
      } });
    if (r) done();
  });
}
