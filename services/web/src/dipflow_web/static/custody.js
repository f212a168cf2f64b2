// The custody officer's suite board: everyone in custody at the suite, what each needs next (with its rules and
// reasons), the time left to take a sample, and every step as a button or a short form. Polls every 5 seconds so
// another officer's action shows without a reload.
import { api, dateTime, describe, h, problem, say, table, words } from "./common.js";
import { chooseSuite } from "./suites.js";

const POLL_MS = 5000;
const DRUGS = ["cocaine", "crack", "opiates", "heroin", "morphine"];
const RELEASES = ["no_further_action", "police_bail", "charged_and_bailed", "remanded"];
let suite = null;
let rows = [];
let busy = false;

function left(until) {
  const ms = Date.parse(until) - Date.now();
  if (ms <= 0) return "time limit passed";
  const minutes = Math.floor(ms / 60000);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min left`;
}

async function act(row, action, body, done) {
  busy = true;
  let message = null;
  try {
    await api("custody", `v1/detentions/${encodeURIComponent(row.detention.detention_id)}/${action}`, { method: "POST", body });
    message = `${done} for ${row.name}.`;
    problem(null);
  } catch (error) {
    problem(describe(error, `${words(action)} for ${row.name}`));
  } finally {
    busy = false;
    await load();
  }
  if (message) say(message); // once the board shows it
}

async function serveRa1(row, assessmentId) {
  busy = true;
  let message = null;
  try {
    await api("referral", `v1/assessments/${encodeURIComponent(assessmentId)}/impose`, { method: "POST", body: {} });
    message = `RA1 served to ${row.name}: the required assessment is imposed.`;
    problem(null);
  } catch (error) {
    problem(describe(error, `RA1 for ${row.name}`));
  } finally {
    busy = false;
    await load();
  }
  if (message) say(message);
}

function stepControl(row, step) {
  const label = `${step.text} (${step.rule_ids.join(", ")})`;
  if (["warning", "sample", "appropriate-adult"].includes(step.action)) {
    const names = { warning: "Warning given", sample: "Sample taken", "appropriate-adult": "Appropriate adult present" };
    return h("li", {}, label, " ",
      h("button", { type: "button", class: "button small", onclick: () => act(row, step.action, {}, names[step.action]) }, `${names[step.action]}`));
  }
  if (step.action === "results") {
    const id = `r-${row.detention.detention_id}`;
    const drug = h("select", { id: `${id}-drug`, name: "drug" }, DRUGS.map((d) => h("option", { value: d }, d)));
    const result = h("select", { id: `${id}-result`, name: "result" }, ["positive", "negative"].map((r) => h("option", { value: r }, r)));
    const form = h("form", { class: "filters", "aria-label": `Result for ${row.name}` },
      h("div", { class: "field inline" }, h("label", { for: drug.id }, "Drug"), drug),
      h("div", { class: "field inline" }, h("label", { for: result.id }, "Result"), result),
      h("button", { type: "submit", class: "button small" }, "Record result"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(row, "results", { drug: drug.value, result: result.value }, `Result ${result.value} for ${drug.value} recorded`);
    });
    return h("li", {}, label, form);
  }
  if (step.action === "ra1") {
    return h("li", {}, h("strong", {}, "RA1 to serve"), ` – ${step.text} (${step.rule_ids.join(", ")}) `,
      row.detention.ra1_to_serve.map((a) => h("button", { type: "button", class: "button small", onclick: () => serveRa1(row, a) }, "Serve RA1")));
  }
  return h("li", {}, label);
}

function releaseForm(row) {
  const id = `rel-${row.detention.detention_id}`;
  const kind = h("select", { id: `${id}-kind` }, RELEASES.map((r) => h("option", { value: r }, words(r))));
  const unserved = row.detention.ra1_to_serve.length > 0;
  const confirm = unserved ? h("input", { type: "checkbox", id: `${id}-lapse` }) : null;
  const form = h("form", { class: "filters", "aria-label": `Release ${row.name}` },
    h("div", { class: "field inline" }, h("label", { for: kind.id }, "Release"), kind),
    unserved ? h("div", { class: "field inline check" }, confirm,
      h("label", { for: confirm.id }, "I confirm the required assessment lapses (A1)")) : null,
    h("button", { type: "submit", class: "button small secondary" }, "Release"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(row, "release", { release: kind.value, lapse_confirmed: Boolean(confirm && confirm.checked) }, "Released");
  });
  return form;
}

/** Where the test stands: taken or refused (and when), else the decision with its reason and rules. */
function testState(row) {
  const d = row.detention;
  if (d.sample_taken_at) return `Sample taken ${dateTime(d.sample_taken_at)}`;
  if (d.refused_at) return `Refused ${dateTime(d.refused_at)}`;
  return `${words(d.decision.outcome)}: ${d.decision.reason} (${d.decision.rule_ids.join(", ")})`;
}

function render() {
  const board = document.getElementById("board");
  board.replaceChildren(table(`In custody at ${suite}: ${rows.length}`, [
    { label: "Person", header: true, render: (r) => h("span", {}, r.name, h("br"), h("span", { class: "small" }, r.detention.person_id), h("br"),
      h("a", { class: "small", href: `/custody/detentions/${encodeURIComponent(r.detention.detention_id)}/test-record`, "aria-label": `Test record for ${r.name}` }, "Test record")) },
    { label: "Booked in", render: (r) => dateTime(r.detention.booked_in_at) },
    { label: "Offences", render: (r) => h("ul", {}, r.detention.offences.map((o) => h("li", {}, `${o.title} (${o.code})`))) },
    { label: "Test", className: "wide", render: testState },
    { label: "Time to take a sample", render: (r) => (r.detention.time_limit
      ? h("span", { "data-until": r.detention.time_limit.until }, left(r.detention.time_limit.until))
      : "–") },
    { label: "Next", className: "wide", render: (r) => (r.next_steps.length ? h("ul", {}, r.next_steps.map((s) => stepControl(r, s))) : "Nothing owed") },
    { label: "Release", render: releaseForm },
  ], rows, (r) => (r.detention.ra1_to_serve.length ? "overdue" : null)));
}

async function load() {
  if (!suite) return;
  const board = document.getElementById("board");
  try {
    rows = await api("custody", `v1/suites/${encodeURIComponent(suite)}/board`);
    document.getElementById("board-state").textContent = `Updated ${dateTime(new Date().toISOString())}`;
    render();
  } catch (error) {
    board.replaceChildren();
    document.getElementById("board-state").textContent = describe(error, `the board of ${suite}`);
  } finally {
    board.setAttribute("aria-busy", "false");
    document.body.dataset.boardLoaded = "true";
  }
}

async function bookIn(event) {
  event.preventDefault();
  const form = event.target;
  const value = (name) => form.elements[name].value.trim();
  const now = new Date().toISOString();
  try {
    const booked = await api("custody", "v1/detentions", {
      method: "POST",
      body: {
        person_id: value("person_id"), name: value("name"), date_of_birth: value("date_of_birth"),
        home_area: value("home_area"), suite, arrested_at: now,
        offences: [{ code: value("offence"), offence_date: now.slice(0, 10) }],
      },
    });
    say(`${value("name")} booked in: ${words(booked.decision.outcome)} (${booked.decision.rule_ids.join(", ")}).`);
    problem(null);
    form.reset();
    await load();
  } catch (error) {
    problem(describe(error, "the booking"));
  }
}

function tick() {
  for (const cell of document.querySelectorAll("[data-until]")) cell.textContent = left(cell.dataset.until);
}

async function start() {
  suite = await chooseSuite(problem);
  document.getElementById("book-in").addEventListener("submit", bookIn);
  await load();
  window.setInterval(() => { if (!busy && !document.activeElement?.closest("form")) load(); }, POLL_MS);
  window.setInterval(tick, 1000);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
