// The PPO coordinator's register page: the borough's register today (history, taking someone off), adding or
// moving someone, a partnership's CSV list with every bad row's line, field and reason, the tested-positive list
// and the panel's flags with their evidence and the panel's decision.
import { api, ApiError, date, describe, h, problem, say, showList, table, words } from "./common.js";

const borough = document.getElementById("register-section").dataset.area;

async function attempt(call, done, what) {
  let message = null;
  try {
    const answer = await call();
    message = typeof done === "function" ? done(answer) : done;
    problem(null);
  } catch (error) {
    problem(describe(error, what));
  }
  await loadAll();
  if (message) say(message); // once the page shows it
}

function endForm(period) {
  const id = `end-${period.person_id.replace(/[^A-Za-z0-9-]/g, "-")}`;
  const on = h("input", { type: "date", id: `${id}-on`, required: true });
  const reason = h("input", { id: `${id}-reason`, required: true, autocomplete: "off" });
  const form = h("form", { "aria-label": `Take ${period.person_id} off the register` },
    h("div", { class: "field" }, h("label", { for: on.id }, "Off the register from"), on),
    h("div", { class: "field" }, h("label", { for: reason.id }, "Why"), reason),
    h("button", { type: "submit", class: "button small secondary" }, "Take off"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => api("ppo-register", `v1/register/${encodeURIComponent(period.person_id)}/end`, { method: "POST", body: { end_date: on.value, reason: reason.value.trim() } }),
      `${period.person_id} is off the register from ${date(on.value)}.`, `taking ${period.person_id} off`);
  });
  return form;
}

function historyControl(period) {
  const details = h("details", {}, h("summary", {}, "History"));
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "true";
    try {
      const periods = await api("ppo-register", `v1/register/${encodeURIComponent(period.person_id)}/history`);
      details.append(h("ul", {}, periods.map((p) => h("li", {}, `${p.borough}, ${words(p.strand)}: ${date(p.start_date)} – ${p.end_date ? date(p.end_date) : "now"} (${p.reason}${p.end_reason ? `; ended: ${p.end_reason}` : ""})`))));
    } catch (error) {
      details.append(h("p", {}, describe(error, "the history")));
    }
  });
  return details;
}

async function loadAll() {
  await Promise.all([
    showList("register", "the register", () => api("ppo-register", "v1/register", { params: { borough } }), (rows) => (rows.length
      ? table(`On the register in ${borough}: ${rows.length}`, [
        { key: "person_id", label: "Person", header: true },
        { label: "Strand", render: (p) => words(p.strand) },
        { label: "Since", render: (p) => date(p.start_date) },
        { key: "reason", label: "Reason" },
        { label: "History", render: historyControl },
        { label: "Take off", className: "wide", render: endForm },
      ], rows)
      : h("p", { class: "empty" }, `Nobody is on the register in ${borough}.`))),
    showList("positive", "the tested-positive list", () => api("ppo-register", "v1/tested-positive", { params: { borough } }), (rows) => (rows.length
      ? table(`PPOs who have tested positive in ${borough}: ${rows.length}`, [
        { key: "person_id", label: "Person", header: true },
        { label: "Last positive", render: (r) => date(r.last_positive_on) },
        { label: "Drugs", render: (r) => r.last_drugs.join(", ") },
        { key: "positives_in_12_months", label: "Positives in 12 months", num: true },
      ], rows)
      : h("p", { class: "empty" }, "No PPO on the register has tested positive."))),
    showList("flags", "the panel's flags", () => api("ppo-register", "v1/panel-flags", { params: { borough } }), (rows) => (rows.length
      ? table(`Flagged for the panel in ${borough}: ${rows.length}`, [
        { key: "person_id", label: "Person", header: true },
        { label: "Raised", render: (f) => date(f.raised_on) },
        { label: "Why", className: "wide", render: (f) => `${f.reason} (${f.rule_ids.join(", ")})` },
        { label: "Evidence", className: "wide", render: evidence },
        { label: "Panel's decision", render: reviewForm },
      ], rows)
      : h("p", { class: "empty" }, "Nobody is waiting for the panel."))),
  ]);
  document.body.dataset.registerLoaded = "true";
}

/** P3's evidence in words: each positive test (when, which drugs, which detention) and each failed assessment. */
function evidence(flag) {
  const tests = flag.evidence.positive_tests || [];
  const failures = flag.evidence.failed_assessments || [];
  return h("div", {},
    h("p", {}, `${tests.length} positive test${tests.length === 1 ? "" : "s"}:`),
    h("ul", {}, tests.map((t) => h("li", {}, `${date(t.sampled_on)}: ${t.drugs.join(", ")} (detention ${t.detention_id})`))),
    h("p", {}, `${failures.length} assessment${failures.length === 1 ? "" : "s"} not complied with:`),
    h("ul", {}, failures.map((f) => h("li", {}, `${date(f.occurred_on)}: ${words(f.outcome || "failed")}${f.assessment_id ? ` (assessment ${f.assessment_id})` : ""}`))));
}

function reviewForm(flag) {
  const id = `rv-${flag.id}`;
  const outcome = h("select", { id: `${id}-outcome` }, ["added_to_register", "not_selected"].map((o) => h("option", { value: o }, words(o))));
  const note = h("input", { id: `${id}-note`, autocomplete: "off" });
  const form = h("form", { "aria-label": `The panel's decision on ${flag.person_id}` },
    h("div", { class: "field" }, h("label", { for: outcome.id }, "Decision"), outcome),
    h("div", { class: "field" }, h("label", { for: note.id }, "Note"), note),
    h("button", { type: "submit", class: "button small" }, "Record"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => api("ppo-register", `v1/panel-flags/${flag.id}/review`, { method: "POST", body: { outcome: outcome.value, note: note.value.trim() || null } }),
      `The panel's decision on ${flag.person_id} is recorded.`, "the panel's decision");
  });
  return form;
}

function addPerson(event) {
  event.preventDefault();
  const form = event.target;
  const value = (name) => form.elements[name].value.trim();
  attempt(() => api("ppo-register", "v1/register", {
    method: "POST",
    body: { person_id: value("person_id"), borough, strand: value("strand"), start_date: value("start_date"), reason: value("reason") },
  }), `${value("person_id")} is on the register in ${borough}.`, "the register");
}

async function importList(goodRows) {
  const errors = document.getElementById("import-errors");
  const again = document.getElementById("import-good");
  try {
    const result = await api("ppo-register", "v1/register/import", {
      method: "POST", raw: document.getElementById("csv").value, contentType: "text/csv",
      params: goodRows ? { import_good_rows: "true" } : {},
    });
    errors.replaceChildren();
    again.hidden = true;
    say(`Imported: ${result.added} added, ${result.ended} ended, ${result.unchanged} unchanged, ${result.skipped.length} bad row(s) left out.`);
    problem(null);
  } catch (error) {
    const rows = error instanceof ApiError ? error.problem.errors || [] : [];
    errors.replaceChildren(rows.length ? table(`Problems in the list: ${rows.length}`, [
      { key: "line", label: "Line", header: true, num: true },
      { key: "field", label: "Field" },
      { key: "reason", label: "Problem" },
    ], rows) : "");
    again.hidden = !rows.length || error.status !== 422;
    problem(describe(error, "the list"));
  }
  await loadAll();
}

document.getElementById("add-form").addEventListener("submit", addPerson);
document.getElementById("import-form").addEventListener("submit", (event) => { event.preventDefault(); importList(false); });
document.getElementById("import-good").addEventListener("click", () => importList(true));
loadAll();
