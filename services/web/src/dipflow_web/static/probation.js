// Probation liaison's orders: record an order the court made, flag or unflag a high-risk offender (D5), record
// compliance and read the outcome the rules give with the warning as given (D1-D3), and the feed of notices.
// The breach-case and arrest-request tables (liaison.js) reload after each record, as a record can open a case.
import { api, date, dateTime, describe, h, problem, say, sentence, showList, table, words } from "./common.js";

const area = document.getElementById("orders-section").dataset.area;
const KINDS = ["appointment_kept", "acceptable_absence", "unacceptable_absence", "sample_refused", "test_result"];
const DECISIONS = {
  recorded: "Recorded; not a failure (D1).",
  warning: "A formal warning is given (D2).",
  breach: "Breach: the case goes to enforcement (D3).",
  added_to_breach: "Added to the open breach case.",
};

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
  document.dispatchEvent(new Event("dipflow:orders-changed"));
}

function showOutcome(order, outcome) {
  const box = document.getElementById("outcome");
  const warning = document.getElementById("outcome-warning");
  document.getElementById("outcome-text").textContent = `${order.person_id}, order ${order.order_id}: ${DECISIONS[outcome.decision] || words(outcome.decision)} ${sentence(`${outcome.reason} (${outcome.rule_ids.join(", ")})`)}`
    + (outcome.enforcement_due ? ` Enforcement is due by ${date(outcome.enforcement_due)} and the first hearing by ${date(outcome.hearing_due)}.` : "");
  warning.hidden = !outcome.warning_text;
  warning.textContent = outcome.warning_text || "";
  box.hidden = false;
  return `${DECISIONS[outcome.decision] || words(outcome.decision)} Recorded for ${order.person_id}.`;
}

function complianceForm(order) {
  if (order.ended_on) return `Ended ${date(order.ended_on)}${order.end_reason ? `: ${order.end_reason}` : ""}`;
  const id = `c-${order.order_id.replace(/[^A-Za-z0-9-]/g, "-")}`;
  const kind = h("select", { id: `${id}-kind` }, KINDS.map((k) => h("option", { value: k }, words(k))));
  const on = h("input", { type: "date", id: `${id}-on`, required: true });
  const result = h("select", { id: `${id}-result` }, h("option", { value: "" }, "not a test"), h("option", { value: "positive" }, "positive"), h("option", { value: "negative" }, "negative"));
  const reason = h("input", { id: `${id}-reason`, autocomplete: "off", maxlength: 500 });
  const straight = h("input", { type: "checkbox", id: `${id}-straight` });
  const form = h("form", { "aria-label": `Compliance on ${order.order_id}` },
    h("div", { class: "field" }, h("label", { for: kind.id }, "What happened"), kind),
    h("div", { class: "field" }, h("label", { for: on.id }, "On"), on),
    h("div", { class: "field" }, h("label", { for: result.id }, "Test result"), result),
    h("div", { class: "field" }, h("label", { for: reason.id }, "Reason given"), reason),
    h("div", { class: "check" }, straight, h("label", { for: straight.id }, "Serious enough to go straight to breach (D2)")),
    h("button", { type: "submit", class: "button small" }, "Record compliance"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { kind: kind.value, on: on.value, reason: reason.value.trim() || null, result: result.value || null, straight_to_breach: straight.checked };
    attempt(() => api("breach", `v1/orders/${encodeURIComponent(order.order_id)}/compliance`, { method: "POST", body }),
      (outcome) => showOutcome(order, outcome), `the compliance record for ${order.person_id}`);
  });
  return form;
}

function riskButton(order) {
  if (order.ended_on) return order.high_risk ? "High risk" : "–";
  const flag = !order.high_risk;
  return h("button", {
    type: "button", class: `button small${flag ? "" : " secondary"}`,
    onclick: () => attempt(() => api("breach", `v1/orders/${encodeURIComponent(order.order_id)}/high-risk`, { method: "POST", body: { high_risk: flag } }),
      flag ? `${order.person_id} is flagged high-risk: a breach goes straight to a premium arrest request (D5).` : `${order.person_id} is no longer flagged high-risk.`,
      `the high-risk flag for ${order.person_id}`),
    "aria-label": flag ? `Flag high-risk: ${order.person_id}` : `Remove the flag: ${order.person_id}`,
  }, flag ? "Flag high-risk" : "Remove the flag");
}

const ordersTable = (rows) => (rows.length
  ? table(`DRR orders in ${area}: ${rows.filter((o) => !o.ended_on).length} running`, [
    { key: "person_id", label: "Person", header: true },
    { key: "order_id", label: "Order" },
    { label: "Court and start", render: (o) => `${o.court}, ${date(o.start_date)}` },
    { label: "Treatment", render: (o) => `${o.treatment_months} months` },
    { key: "responsible_officer", label: "Responsible officer" },
    { label: "High risk (D5)", render: (o) => h("div", {}, o.high_risk ? h("p", {}, h("span", { class: "badge bad" }, "High risk")) : null, riskButton(o)) },
    { label: "Record compliance", className: "wide", render: complianceForm },
  ], rows)
  : h("p", { class: "empty" }, `No DRR order in ${area}.`));

async function wholeFeed() {
  const items = [];
  let after = 0;
  for (let page = 0; page < 20; page += 1) { // the newest 10,000 notices at most
    const found = await api("breach", "v1/notifications", { params: { area, after, limit: 500 } });
    items.push(...found.items);
    if (found.next_after === null) break;
    after = found.next_after;
  }
  return items.reverse().slice(0, 100);
}

function delivery(n) {
  if (n.delivered_at) return `Delivered ${dateTime(n.delivered_at)}`;
  if (n.dead_lettered_at) return `Not delivered (${n.last_error || "gave up"}); read it here`;
  if (n.attempts) return `Retrying (${n.attempts} tries so far${n.last_error ? `: ${n.last_error}` : ""})`;
  return "Not sent: no webhook, or waiting";
}

const feedTable = (rows) => (rows.length
  ? table(`The ${rows.length} newest notices in ${area}`, [
    { label: "Person", header: true, render: (n) => n.body.person_id || "–" },
    { label: "Notice", render: (n) => words(n.kind) },
    { label: "About", render: (n) => n.body.order_id || n.body.case_id || n.body.request_id || "–" },
    { label: "Sent", render: (n) => dateTime(n.created_at) },
    { label: "Your webhook", render: delivery },
  ], rows)
  : h("p", { class: "empty" }, `No notice has been sent in ${area} yet.`));

function loadAll() {
  return Promise.all([
    showList("orders", "the orders", () => api("breach", "v1/orders", { params: { area } }), ordersTable),
    showList("feed", "the notices", wholeFeed, feedTable),
  ]);
}

document.getElementById("order-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = (id) => document.getElementById(id).value.trim();
  const body = {
    order_id: value("o-id"), person_id: value("o-person"), area, court: value("o-court"), start_date: value("o-start"),
    treatment_months: Number(value("o-months")), responsible_officer: value("o-officer"), high_risk: document.getElementById("o-risk").checked,
  };
  attempt(() => api("breach", "v1/orders", { method: "POST", body }),
    (made) => (made.created ? `Order ${body.order_id} for ${body.person_id} is recorded.` : `Order ${body.order_id} was recorded already; nothing changed.`),
    "the order");
});

document.addEventListener("dipflow:cases-changed", () => loadAll());

loadAll().then(() => { document.body.dataset.probationLoaded = "true"; });
