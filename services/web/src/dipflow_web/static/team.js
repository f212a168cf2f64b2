// The referral manager's team page: appointments passed with no attendance recorded (A4, A5), the unassigned
// queue with assignment by hand (A9), the area's workers with
// their coverage, capacity, working days and leave, and the team's webhook with its recent deliveries.
import { api, date, dateTime, describe, h, problem, say, table, words } from "./common.js";

const area = document.getElementById("queue-section").dataset.area;
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
let workers = [];

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
  return message !== null;
}

function assignControl(item) {
  const id = `as-${item.assessment_id}-${item.kind}`;
  const covering = workers.filter((w) => w.active && w.suites.includes(item.suite));
  const select = h("select", { id }, covering.map((w) => h("option", { value: w.worker_id }, `${w.name} (${w.worker_id})`)));
  if (!covering.length) return `No worker covers ${item.suite}: add one below.`;
  const form = h("form", { class: "filters", "aria-label": `Assign the appointment of ${dateTime(item.appointment_at)}` },
    h("div", { class: "field inline" }, h("label", { for: id }, "Worker"), select),
    h("button", { type: "submit", class: "button small" }, "Assign"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => api("referral", `v1/assessments/${encodeURIComponent(item.assessment_id)}/assign`, { method: "POST", body: { kind: item.kind, worker_id: select.value } }),
      `The appointment of ${dateTime(item.appointment_at)} is given to ${select.value}.`, "the assignment");
  });
  return form;
}

function leaveForm(worker) {
  const id = `lv-${worker.worker_id}`;
  const first = h("input", { type: "date", id: `${id}-first`, required: true });
  const last = h("input", { type: "date", id: `${id}-last`, required: true });
  const form = h("form", { class: "filters", "aria-label": `Leave for ${worker.name}` },
    h("div", { class: "field inline" }, h("label", { for: first.id }, "Away from"), first),
    h("div", { class: "field inline" }, h("label", { for: last.id }, "until"), last),
    h("button", { type: "submit", class: "button small secondary" }, "Record leave"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => api("referral", `v1/workers/${encodeURIComponent(worker.worker_id)}/leave`, { method: "POST", body: { first_day: first.value, last_day: last.value } }),
      (moved) => `Leave recorded for ${worker.name}: ${moved.moved} appointment(s) moved to colleagues, ${moved.queued} waiting for a worker.`,
      `leave for ${worker.name}`);
  });
  return form;
}

async function loadQueue() {
  const target = document.getElementById("queue");
  const state = document.getElementById("queue-state");
  try {
    const rows = await api("referral", "v1/unassigned", { params: { area } });
    target.replaceChildren(rows.length ? table(`Appointments waiting for a worker in ${area}: ${rows.length}`, [
      { label: "Appointment", header: true, render: (q) => dateTime(q.appointment_at) },
      { label: "Kind", render: (q) => words(q.kind) },
      { key: "suite", label: "Suite" },
      { label: "Give to", className: "wide", render: assignControl },
    ], rows) : h("p", { class: "empty" }, `No appointment in ${area} waits for a worker.`));
    state.textContent = "";
    return rows.length;
  } catch (error) {
    target.replaceChildren();
    state.textContent = describe(error, "the unassigned appointments");
    return null;
  }
}

async function loadWorkers() {
  const target = document.getElementById("workers");
  const state = document.getElementById("workers-state");
  try {
    workers = await api("referral", "v1/workers", { params: { area } });
    target.replaceChildren(workers.length ? table(`Workers in ${area}: ${workers.length}`, [
      { label: "Worker", header: true, render: (w) => h("span", {}, w.name, h("br"), h("span", { class: "small" }, w.worker_id)) },
      { label: "Suites", render: (w) => w.suites.join(", ") },
      { key: "daily_capacity", label: "A day", num: true },
      { label: "Working days", render: (w) => w.working_weekdays.map((d) => DAYS[d]).join(" ") },
      { label: "Leave", render: (w) => (w.leave.length ? h("ul", {}, w.leave.map((l) => h("li", {}, `${date(l.first_day)} – ${date(l.last_day)}`))) : "–") },
      { label: "Record leave", className: "wide", render: leaveForm },
    ], workers) : h("p", { class: "empty" }, `No worker in ${area} yet.`));
    state.textContent = "";
  } catch (error) {
    workers = [];
    target.replaceChildren();
    state.textContent = describe(error, "the workers");
  }
}

async function loadDeliveries() {
  const target = document.getElementById("deliveries");
  const state = document.getElementById("deliveries-state");
  try {
    const rows = await api("referral", `v1/teams/${encodeURIComponent(area)}/webhook-deliveries`);
    target.replaceChildren(rows.length ? table(`Recent deliveries: ${rows.length}`, [
      { key: "id", label: "Delivery", header: true, num: true },
      { key: "attempts", label: "Attempts", num: true },
      { label: "Delivered", render: (d) => dateTime(d.delivered_at) },
      { label: "Last error", render: (d) => d.last_error || "–" },
    ], rows) : h("p", { class: "empty" }, "No delivery yet."));
    state.textContent = "";
  } catch (error) {
    target.replaceChildren();
    state.textContent = describe(error, "the webhook's deliveries");
  }
}

/** A4/A5: appointments (initial, or follow-up) whose time has passed with no attendance recorded. */
function passedAppointments(imposed, followUps, now) {
  const passed = [
    ...imposed.filter((a) => a.initial && Date.parse(a.initial.at) < now).map((a) => ({ a, kind: "initial", appointment: a.initial })),
    ...followUps.filter((a) => a.follow_up && Date.parse(a.follow_up.at) < now).map((a) => ({ a, kind: "follow_up", appointment: a.follow_up })),
  ];
  return passed.sort((x, y) => Date.parse(x.appointment.at) - Date.parse(y.appointment.at));
}

function attendanceForm({ a, kind }) {
  if (a.needs_new_notice) return "Failed with good cause: not a failure to comply, but a new appointment needs a new notice (A4).";
  const id = `at-${a.assessment_id}-${kind}`;
  const outcome = h("select", { id: `${id}-outcome` }, ["attended", "failed_to_attend", "failed_to_remain"].map((o) => h("option", { value: o }, words(o))));
  const cause = h("input", { type: "checkbox", id: `${id}-cause` });
  const form = h("form", { "aria-label": `Attendance of ${a.person_id}` },
    h("div", { class: "field" }, h("label", { for: outcome.id }, "What happened"), outcome),
    h("div", { class: "check" }, cause, h("label", { for: cause.id }, "With good cause")),
    h("button", { type: "submit", class: "button small" }, "Record attendance"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => api("referral", `v1/assessments/${encodeURIComponent(a.assessment_id)}/attendance`, { method: "POST", body: { kind, outcome: outcome.value, good_cause: cause.checked } }),
      `Attendance recorded for ${a.person_id}: ${words(outcome.value)}${cause.checked ? ", with good cause" : ""}.`, `the attendance of ${a.person_id}`);
  });
  return form;
}

async function loadOverdue() {
  const target = document.getElementById("overdue");
  const state = document.getElementById("overdue-state");
  try {
    const [imposed, followUps] = await Promise.all(["imposed", "follow_up_set"].map((status) => api("referral", "v1/assessments", { params: { area, status } })));
    const rows = passedAppointments(imposed, followUps, Date.now());
    const named = new Map(workers.map((w) => [w.worker_id, w.name]));
    target.replaceChildren(rows.length ? table(`Appointments passed with no attendance recorded in ${area}: ${rows.length}`, [
      { label: "Person", header: true, render: (r) => r.a.person_id },
      { label: "Appointment", render: (r) => `${words(r.kind)}, ${dateTime(r.appointment.at)}, ${r.appointment.place}` },
      { label: "Worker", render: (r) => (r.appointment.worker_id ? `${named.get(r.appointment.worker_id) || ""} (${r.appointment.worker_id})` : "Nobody") },
      { label: "Record", className: "wide", render: attendanceForm },
    ], rows) : h("p", { class: "empty" }, `No appointment in ${area} has passed without its attendance recorded.`));
    state.textContent = "";
  } catch (error) {
    target.replaceChildren();
    state.textContent = describe(error, "the passed appointments");
  }
}

async function loadAll() {
  await loadWorkers(); // the queue's "give to" lists the workers covering each suite
  await loadOverdue();
  const queued = await loadQueue();
  await loadDeliveries();
  document.body.dataset.teamLoaded = "true";
  return queued;
}

function saveWorker(event) {
  event.preventDefault();
  const form = event.target;
  const value = (name) => form.elements[name].value.trim();
  const days = [...form.querySelectorAll('input[name="day"]:checked')].map((box) => Number(box.value));
  attempt(() => api("referral", "v1/workers", {
    method: "POST",
    body: {
      worker_id: value("worker_id"), name: value("name"), area,
      suites: value("suites").split(",").map((s) => s.trim()).filter(Boolean),
      daily_capacity: Number(value("daily_capacity")), working_weekdays: days,
    },
  }), `${value("name")} is saved as a worker in ${area}.`, "the worker");
}

function saveHook(event) {
  event.preventDefault();
  const form = event.target;
  attempt(() => api("referral", `v1/teams/${encodeURIComponent(area)}/webhook`, {
    method: "PUT", body: { url: form.elements.url.value.trim(), secret: form.elements.secret.value },
  }), `The team's webhook in ${area} is saved.`, "the webhook").then((ok) => { if (ok) form.reset(); });
}

async function start() {
  document.getElementById("worker-form").addEventListener("submit", saveWorker);
  document.getElementById("hook-form").addEventListener("submit", saveHook);
  await loadAll();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
