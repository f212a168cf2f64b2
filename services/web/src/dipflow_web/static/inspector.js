// The inspector's page: decisions awaited at a suite (T3, T4) with the facts, decided with grounds, oral or
// written; oral decisions confirmed in writing with one click.
import { api, date, dateTime, describe, h, problem, say } from "./common.js";
import { chooseSuite } from "./suites.js";

const RANKS = ["inspector", "chief_inspector", "superintendent", "chief_superintendent"];
let suite = null;

async function post(item, action, body, done) {
  try {
    await api("custody", `v1/detentions/${encodeURIComponent(item.detention_id)}/${action}`, { method: "POST", body });
    problem(null);
  } catch (error) {
    problem(describe(error, `the decision for ${item.person_id}`));
    await load();
    return;
  }
  await load();
  say(done); // once the page shows it
}

function decisionForm(item) {
  const id = `d-${item.detention_id}`;
  const decision = h("fieldset", { class: "choice" }, h("legend", {}, "Decision"),
    ...["authorised", "declined"].map((value, i) => h("div", { class: "check" },
      h("input", { type: "radio", name: `${id}-decision`, id: `${id}-${value}`, value, checked: i === 0 }),
      h("label", { for: `${id}-${value}` }, value === "authorised" ? "Authorise the test" : "Decline the test"))));
  const rank = h("select", { id: `${id}-rank` }, RANKS.map((r) => h("option", { value: r }, r.replaceAll("_", " "))));
  const grounds = h("textarea", { id: `${id}-grounds`, rows: 3, required: true, minlength: 5 });
  const oral = h("input", { type: "checkbox", id: `${id}-oral` });
  const form = h("form", { "aria-label": `Decision for ${item.person_id}` }, decision,
    h("div", { class: "field" }, h("label", { for: rank.id }, "Your rank"), rank),
    h("div", { class: "field" }, h("label", { for: grounds.id }, "Grounds"), grounds),
    h("div", { class: "field check" }, oral, h("label", { for: oral.id }, "Given orally (to be confirmed in writing)")),
    h("button", { type: "submit", class: "button" }, "Record the decision"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = form.querySelector(`input[name="${id}-decision"]:checked`).value;
    post(item, "inspector-decision", { decision: chosen, rank: rank.value, grounds: grounds.value.trim(), oral: oral.checked },
      `Test ${chosen} for ${item.person_id}.`);
  });
  return form;
}

/** The facts an inspector decides on (T3, T4): every offence in full, the times, the appropriate adult. */
function facts(d) {
  if (!d) return h("p", { class: "small" }, "The detention's facts could not be loaded; open it on the suite board.");
  const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
  return h("dl", { class: "facts" },
    fact("Offences", h("ul", {}, d.offences.map((o) => h("li", {},
      `${o.title}${o.attempt ? " (attempt)" : ""}: ${o.statute} ${o.section}${o.drug ? `, ${o.drug}${o.drug_class ? ` (class ${o.drug_class})` : ""}` : ""}, on ${date(o.offence_date)}`)))),
    fact("Arrested", dateTime(d.arrested_at)),
    fact("Booked in", dateTime(d.booked_in_at)),
    fact("Charged", d.charged_at ? dateTime(d.charged_at) : "Not charged"),
    fact("Appropriate adult", d.decision.appropriate_adult_required ? (d.appropriate_adult_arrived_at ? `Arrived ${dateTime(d.appropriate_adult_arrived_at)}` : "Needed, not yet arrived") : "Not needed"),
    d.time_limit ? fact("Time to take a sample", `Until ${dateTime(d.time_limit.until)} (${d.time_limit.rule_ids.join(", ")})`) : null);
}

function card(item, control, detention) {
  return h("li", { class: "card" },
    h("h3", {}, item.person_id),
    h("p", {}, `${item.detail} (${item.rule_ids.join(", ")})`),
    h("p", { class: "small" }, `Since ${dateTime(item.since)}`),
    detention === undefined ? null : facts(detention),
    control);
}

function fill(listId, stateId, items, control, empty, details = []) {
  document.getElementById(listId).replaceChildren(...items.map((item, i) => card(item, control(item), details[i])));
  document.getElementById(stateId).textContent = items.length ? `${items.length} at ${suite}` : empty;
}

async function load() {
  if (!suite) return;
  try {
    const items = await api("custody", "v1/open-items", { params: { suite } });
    const waiting = items.filter((i) => i.kind === "inspector_decision_requested");
    const details = await Promise.all(waiting.map((i) => api("custody", `v1/detentions/${encodeURIComponent(i.detention_id)}`).catch(() => null)));
    fill("waiting", "waiting-state", waiting, decisionForm, `Nobody at ${suite} is waiting for a decision.`, details);
    fill("oral", "oral-state", items.filter((i) => i.kind === "written_confirmation_pending"),
      (item) => h("button", { type: "button", class: "button small", onclick: () => post(item, "written-confirmation", {}, `Confirmed in writing for ${item.person_id}.`) }, "Confirm in writing"),
      `No oral decision at ${suite} awaits its written confirmation.`);
  } catch (error) {
    for (const id of ["waiting", "oral"]) document.getElementById(id).replaceChildren();
    const text = describe(error, `the decisions awaited at ${suite}`);
    document.getElementById("waiting-state").textContent = text;
    document.getElementById("oral-state").textContent = text;
  } finally {
    document.body.dataset.inspectorLoaded = "true";
  }
}

async function start() {
  suite = await chooseSuite(problem);
  await load();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
