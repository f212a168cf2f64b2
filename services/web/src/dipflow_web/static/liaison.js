// Liaison views: probation liaison's breach cases and arrest requests (due dates, escalations), and court
// liaison's restriction-on-bail notices (whether it applies, and why).
import { api, date, dateTime, describe, h, londonDay, say, table, words } from "./common.js";

const today = londonDay(Date.now());
const now = Date.now();

function list(values) {
  return values && values.length ? h("ul", {}, values.map((v) => h("li", {}, words(v)))) : "–";
}

function due(isoDate, done, closed) {
  if (done) return h("span", {}, `${date(isoDate)} – done`);
  if (!closed && isoDate < today) return h("span", {}, `${date(isoDate)} `, h("span", { class: "overdue-text" }, "Overdue"));
  return date(isoDate);
}

function flags(row) {
  const out = [];
  if (row.ppo) out.push(h("span", { class: "badge" }, "PPO"));
  if (row.high_risk) out.push(h("span", { class: "badge bad" }, "High risk"));
  if (row.premium) out.push(h("span", { class: "badge bad" }, "Premium"));
  return out.length ? out : "–";
}

const ESCALATIONS = {
  enforcement: "Escalated: enforcement due date passed",
  hearing: "Escalated: first hearing due date passed",
};

const caseOverdue = (c) => !c.closed_at && ((!c.enforcement && c.enforcement_due < today) || (!c.hearing_on && c.hearing_due < today));
const arrestOpen = (r) => !r.arrested_at && !r.cancelled_at;
const arrestOverdue = (r) => arrestOpen(r) && Date.parse(r.deadline_at) < now;

const VIEWS = {
  "breach-cases": {
    what: "breach cases",
    title: "Breach cases",
    load: (area) => api("breach", "v1/breach-cases", { params: { area } }),
    render: (rows, area) => table(`DRR breach cases in ${area}: ${rows.length}, ${rows.filter(caseOverdue).length} overdue`, [
      { key: "person_id", label: "Person", header: true },
      { key: "order_id", label: "Order" },
      { label: "Failure on", render: (c) => date(c.failure_on) },
      { label: "Enforcement due", render: (c) => due(c.enforcement_due, c.enforcement ? `${words(c.enforcement)}` : null, c.closed_at) },
      { label: "First hearing due", render: (c) => due(c.hearing_due, c.hearing_on, c.closed_at) },
      { label: "Escalations", render: (c) => list((c.escalations || []).map((e) => ESCALATIONS[e] || e)) },
      { label: "Flags", render: flags },
      { label: "Reason and rules", render: (c) => `${c.reason} (${(c.rule_ids || []).join(", ")})` },
      { label: "State", render: (c) => (c.closed_at ? `Closed ${dateTime(c.closed_at)}` : "Open") },
      { label: "Record (D4)", className: "wide", render: stepForms },
    ], rows, (c) => (caseOverdue(c) ? "overdue" : null)),
  },
  "arrest-requests": {
    what: "arrest requests",
    title: "Arrest requests",
    load: (area) => api("breach", "v1/arrest-requests", { params: { area } }),
    render: (rows, area) => table(`Arrest requests in ${area}: ${rows.filter(arrestOpen).length} open, ${rows.filter(arrestOverdue).length} past the deadline`, [
      { key: "person_id", label: "Person", header: true },
      { label: "Source", render: (r) => words(r.source) },
      { label: "Legal basis", render: (r) => `${r.basis} (${(r.rule_ids || []).join(", ")})` },
      { label: "Requested", render: (r) => dateTime(r.requested_at) },
      { label: "Deadline", render: (r) => (arrestOverdue(r) ? h("span", {}, `${dateTime(r.deadline_at)} `, h("span", { class: "overdue-text" }, "Passed")) : dateTime(r.deadline_at)) },
      { label: "Escalated", render: (r) => (r.escalated_at ? dateTime(r.escalated_at) : "–") },
      { label: "Flags", render: flags },
      { label: "State", render: (r) => (r.arrested_at ? `Arrested ${dateTime(r.arrested_at)}` : r.cancelled_at ? `Cancelled ${dateTime(r.cancelled_at)}` : "Open") },
    ], rows, (r) => (arrestOverdue(r) ? "overdue" : null)),
  },
  "bail-cases": {
    what: "restriction-on-bail notices",
    title: "Restriction-on-bail notices",
    load: (area) => api("referral", "v1/bail-cases", { params: { area } }),
    render: (rows, area) => table(`Restriction-on-bail notices in ${area}: ${rows.length}`, [
      { key: "person_id", label: "Person", header: true },
      { key: "detention_id", label: "Detention", className: "id" },
      { label: "Restriction", render: (b) => (b.restriction === "applies" ? h("strong", {}, "Applies")
        : b.restriction ? words(b.restriction) : "Waiting for agreement and grounds") },
      { label: "Reasons", className: "wide", render: (b) => list(b.reasons) },
      { label: "Rules", render: (b) => (b.rule_ids || []).join(", ") || "–" },
      { label: "Agreed to assessment", render: (b) => (b.agreed === null ? "Not recorded" : b.agreed ? "Yes" : "No") },
      { label: "Notified", render: (b) => dateTime(b.notified_at) },
      { label: "Court decision", className: "wide", render: (b) => (b.outcome ? `${words(b.outcome)}${b.court ? `, ${b.court}` : ""}${b.decided_on ? `, ${date(b.decided_on)}` : ""}` : outcomeForm(b)) },
      { label: "Condition (B3)", render: condition },
      { label: "Breach (B4)", className: "wide", render: (b) => (b.breached_at ? `${dateTime(b.breached_at)}: ${b.breach_what || ""}` : b.outcome === "bail_with_assessment_condition" ? breachForm(b) : "–") },
      { label: "Before a justice by", render: (b) => (b.before_justice_by ? dateTime(b.before_justice_by) : "–") },
    ], rows),
  },
};

/** D4: probation liaison records the enforcement action and the first hearing from the page. */
function stepForms(c) {
  if (c.closed_at || (c.enforcement && c.hearing_on)) return "–";
  const id = `st-${c.case_id}`;
  const forms = [];
  if (!c.enforcement) {
    const action = h("select", { id: `${id}-action` }, ["summons", "warrant", "other"].map((a) => h("option", { value: a }, a)));
    const form = h("form", { "aria-label": `Enforcement for ${c.person_id}` },
      h("div", { class: "field" }, h("label", { for: action.id }, "Enforcement action"), action),
      h("button", { type: "submit", class: "button small" }, "Record enforcement"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      record(`v1/breach-cases/${encodeURIComponent(c.case_id)}/enforcement`, { action: action.value },
        `Enforcement (${action.value}) recorded for ${c.person_id}.`, `the enforcement for ${c.person_id}`);
    });
    forms.push(form);
  }
  if (!c.hearing_on) {
    const on = h("input", { type: "date", id: `${id}-on`, required: true, value: today });
    const form = h("form", { "aria-label": `First hearing for ${c.person_id}` },
      h("div", { class: "field" }, h("label", { for: on.id }, "First hearing held on"), on),
      h("button", { type: "submit", class: "button small" }, "Record the hearing"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      record(`v1/breach-cases/${encodeURIComponent(c.case_id)}/hearing`, { on: on.value },
        `The first hearing on ${date(on.value)} is recorded for ${c.person_id}.`, `the hearing for ${c.person_id}`);
    });
    forms.push(form);
  }
  return h("div", {}, forms);
}

/** The page is shown as it now is before the outcome is announced: whoever acts on the announcement (a person,
 * or a test) meets the new forms, not ones about to be replaced. */
async function record(path, body, done, what) {
  let message = done;
  try {
    await api("breach", path, { method: "POST", body });
  } catch (error) {
    message = describe(error, what);
  }
  await showAll();
  say(message);
  document.dispatchEvent(new Event("dipflow:cases-changed"));
}

const OUTCOMES = ["bail_with_assessment_condition", "bail_without_condition", "bail_refused"];

/** B2/B3: court liaison records the court's decision once; bail with the condition sets its appointment. */
function outcomeForm(b) {
  const id = `oc-${b.detention_id}`;
  const outcome = h("select", { id: `${id}-outcome` }, OUTCOMES.map((o) => h("option", { value: o }, words(o))));
  const court = h("input", { id: `${id}-court`, required: true, autocomplete: "off" });
  const on = h("input", { id: `${id}-on`, type: "date", required: true, value: today });
  const form = h("form", { "aria-label": `The court's decision for ${b.person_id}` },
    h("div", { class: "field" }, h("label", { for: outcome.id }, "Decision"), outcome),
    h("div", { class: "field" }, h("label", { for: court.id }, "Court"), court),
    h("div", { class: "field" }, h("label", { for: on.id }, "Decided on"), on),
    h("button", { type: "submit", class: "button small" }, "Record the decision"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let message = `The court's decision for ${b.person_id} is recorded: ${words(outcome.value)}.`;
    try {
      await api("referral", `v1/bail-cases/${encodeURIComponent(b.detention_id)}/outcome`, {
        method: "POST", body: { outcome: outcome.value, court: court.value.trim(), decided_on: on.value },
      });
    } catch (error) {
      message = describe(error, `the court's decision for ${b.person_id}`);
    }
    await showAll();
    say(message);
  });
  return form;
}

/** B4: court liaison records that the assessment condition was broken; the person may be arrested (BA76 s.7(3)). */
function breachForm(b) {
  const what = h("input", { id: `br-${b.detention_id}`, required: true, autocomplete: "off", minlength: 3, maxlength: 500 });
  const form = h("form", { "aria-label": `A breach of ${b.person_id}'s condition` },
    h("div", { class: "field" }, h("label", { for: what.id }, "What was broken, and how"), what),
    h("button", { type: "submit", class: "button small secondary" }, "Record the breach"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let message = `The breach of ${b.person_id}'s condition is recorded (B4): they may be arrested without warrant, and once arrested must be before a justice within 24 hours.`;
    try {
      await api("referral", `v1/bail-cases/${encodeURIComponent(b.detention_id)}/breach`, { method: "POST", body: { what: what.value.trim() } });
    } catch (error) {
      message = describe(error, `the breach for ${b.person_id}`);
    }
    await showAll();
    say(message);
  });
  return form;
}

function condition(b) {
  if (!b.condition_appointment_at) return "–";
  const kept = b.condition_complied === true ? "attended" : b.condition_complied === false ? "failed: a breach" : b.condition_attendance ? `${words(b.condition_attendance)} (good cause)` : "not yet recorded";
  return `Assessment ${dateTime(b.condition_appointment_at)}${b.condition_place ? `, ${b.condition_place}` : ""}: ${kept}`;
}

async function show(section) {
  const view = VIEWS[section.dataset.view];
  const area = section.dataset.area;
  const state = section.querySelector(".panel-state");
  const target = section.querySelector(".table-wrap");
  try {
    const rows = await view.load(area);
    target.replaceChildren(rows.length ? view.render(rows, area) : h("p", { class: "empty" }, `No ${view.what} in ${area}.`));
    state.textContent = "";
    return rows.length;
  } catch (error) {
    target.replaceChildren(); // a list that could not load is never shown as empty, nor as 0
    state.textContent = describe(error, view.what);
    return null;
  } finally {
    section.dataset.loaded = "true";
  }
}

const sections = [...document.querySelectorAll("[data-view]")];

function showAll() {
  return Promise.all(sections.map(show));
}

document.addEventListener("dipflow:orders-changed", () => showAll());

showAll().then((counts) => {
  say(sections.map((s, i) => `${VIEWS[s.dataset.view].title}: ${counts[i] === null ? "could not be loaded" : counts[i]}.`).join(" "));
});
