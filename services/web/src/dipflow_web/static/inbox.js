// The worker inbox: today's and upcoming assignments, live updates over server-sent events, and attendance
// and the follow-up decision in two clicks each (choose, then confirm).
import { api, dateTime, describe, h, londonDay, say, words } from "./common.js";

const fresh = new Set(); // "assessment:kind" of assignments that arrived while the page was open
let loading = null;
let queued = null;

const STATE_TEXT = {
  proposed: "Proposed – custody has not imposed it yet (RA1)",
  imposed: "Imposed – RA1 served, waiting for the initial assessment",
  initial_attended: "Initial assessment attended – decide the follow-up",
  follow_up_set: "Follow-up set (RA4)",
};

function keyOf(item) { return `${item.assessment_id}:${item.kind}`; }
function domId(item) { return `item-${item.assessment_id}-${item.kind}`; }
function kindText(kind) { return kind === "follow_up" ? "Follow-up assessment" : "Initial assessment"; }

function showProblem(message) {
  const box = document.getElementById("problem");
  box.hidden = !message;
  box.textContent = message || "";
}

/** Load the inbox; a call made while a load runs waits for it and loads again (an assignment may have been
 * committed after the running load read the list). */
function load(options = {}) {
  if (loading) {
    if (!queued) queued = loading.then(() => { queued = null; return loadNow(options); });
    return queued;
  }
  return loadNow(options);
}

function loadNow({ focusKey } = {}) {
  const inbox = document.getElementById("inbox");
  inbox.setAttribute("aria-busy", "true");
  loading = (async () => {
    try {
      const items = await api("referral", "v1/inbox");
      render(items);
      showProblem(null);
      if (focusKey) {
        const heading = document.querySelector(`[data-key="${CSS.escape(focusKey)}"] h3`);
        (heading || document.getElementById("h-today")).focus();
      }
    } catch (error) {
      showProblem(describe(error, "your inbox"));
    } finally {
      inbox.setAttribute("aria-busy", "false");
      document.body.dataset.inboxLoaded = "true";
      loading = null;
    }
  })();
  return loading;
}

function render(items) {
  const today = londonDay(Date.now());
  const groups = { earlier: [], today: [], upcoming: [] };
  for (const item of items) {
    const day = londonDay(item.appointment_at);
    groups[day < today ? "earlier" : day === today ? "today" : "upcoming"].push(item);
  }
  for (const [name, list] of Object.entries(groups)) {
    document.getElementById(`list-${name}`).replaceChildren(...list.map(card));
    const empty = document.getElementById(`empty-${name}`);
    if (empty) empty.hidden = list.length > 0;
  }
  document.getElementById("sec-earlier").hidden = groups.earlier.length === 0;
  document.body.dataset.items = String(items.length);
}

function card(item) {
  const key = keyOf(item);
  const titleId = `${domId(item)}-title`;
  const isNew = fresh.has(key);
  return h("li", { class: isNew ? "card new" : "card", id: domId(item), dataset: { key, status: item.status, kind: item.kind } },
    h("article", { "aria-labelledby": titleId },
      h("h3", { id: titleId, tabindex: "-1" },
        isNew ? h("span", { class: "badge" }, "New") : null,
        `${kindText(item.kind)} · ${dateTime(item.appointment_at)}`),
      h("dl", { class: "facts" },
        fact("Place", item.place || "–"),
        fact("Custody suite", item.suite),
        fact("Person", item.person_id),
        fact("State", STATE_TEXT[item.status] || words(item.status))),
      actions(item),
      h("p", {}, h("a", { href: `/assessments/${encodeURIComponent(item.assessment_id)}/notices` }, "Notices RA1–RA5 (printable)"))));
}

function fact(label, value) { return h("div", {}, h("dt", {}, label), h("dd", {}, value)); }

function actions(item) {
  const waiting = (item.kind === "initial" && item.status === "imposed") || (item.kind === "follow_up" && item.status === "follow_up_set");
  if (waiting) return attendanceChoice(item);
  if (item.kind === "initial" && item.status === "initial_attended") return followUpChoice(item);
  if (item.status === "proposed") return h("p", { class: "hint" }, "Attendance can be recorded once custody has imposed the requirement.");
  return h("p", { class: "hint" }, "Nothing to record on this appointment now.");
}

const OUTCOMES = [
  ["attended", "Attended"],
  ["failed_to_attend", "Failed to attend"],
  ["failed_to_remain", "Failed to remain"],
];

function attendanceChoice(item) {
  const base = domId(item);
  const goodCause = h("input", { type: "checkbox", id: `${base}-good-cause` });
  const box = h("div", { class: "step" });
  const fieldset = h("fieldset", { class: "choice" },
    h("legend", {}, `Record attendance at the ${kindText(item.kind).toLowerCase()} (RA3)`),
    h("div", { class: "buttons" }, OUTCOMES.map(([outcome, label]) => h("button", {
      type: "button", class: outcome === "attended" ? "button" : "button secondary", dataset: { outcome },
      onclick: (event) => confirmStep(box, event.currentTarget,
        `Record “${label}” for the ${kindText(item.kind).toLowerCase()}${outcome !== "attended" && goodCause.checked ? ", with good cause" : ""}?`,
        `Confirm: ${label.toLowerCase()}`,
        outcome === "attended" ? "button" : "button warning",
        () => recordAttendance(item, outcome, outcome !== "attended" && goodCause.checked, label)),
    }, label))),
    h("div", { class: "check" }, goodCause, h("label", { for: goodCause.id }, "Good cause shown (for a failure)")));
  box.append(fieldset);
  return box;
}

function nextWorkingDayAt10(days) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  while (d.getDay() === 0 || d.getDay() === 6) d.setDate(d.getDate() + 1);
  d.setHours(10, 0, 0, 0);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T10:00`;
}

function followUpChoice(item) {
  const base = domId(item);
  const at = h("input", { type: "datetime-local", id: `${base}-fu-at`, value: nextWorkingDayAt10(7), required: true });
  const place = h("input", { type: "text", id: `${base}-fu-place`, value: item.place || "", autocomplete: "off" });
  const box = h("div", { class: "step" });
  box.append(h("fieldset", { class: "choice" },
    h("legend", {}, "Follow-up assessment: end it (RA5) or set it (RA4)"),
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "button secondary", dataset: { followUp: "none" },
        onclick: (event) => confirmStep(box, event.currentTarget, "End the follow-up: no follow-up assessment is needed (RA5)?",
          "Confirm: no follow-up", "button", () => decideFollowUp(item, { needed: false }, "No follow-up needed; RA5 served.")) },
        "No follow-up needed (RA5)"),
      h("button", { type: "button", class: "button", dataset: { followUp: "set" },
        onclick: (event) => {
          if (!at.value) { at.setAttribute("aria-invalid", "true"); at.focus(); return; }
          const when = new Date(at.value);
          confirmStep(box, event.currentTarget, `Set the follow-up for ${dateTime(when.toISOString())}${place.value ? ` at ${place.value}` : ""} (RA4)?`,
            "Confirm: set follow-up", "button",
            () => decideFollowUp(item, { needed: true, appointment_at: when.toISOString(), place: place.value || null },
              `Follow-up set for ${dateTime(when.toISOString())}; RA4 served.`));
        } }, "Set a follow-up (RA4)")),
    h("div", { class: "fields" },
      h("div", {}, h("label", { for: at.id }, "Follow-up time (your time zone)"), at),
      h("div", {}, h("label", { for: place.id }, "Follow-up place"), place))));
  return box;
}

/** The second click: a confirm panel; focus moves to its confirm button, Cancel (or Escape) goes back. */
function confirmStep(box, chosenButton, question, confirmLabel, confirmClass, run) {
  box.querySelector(".confirm")?.remove();
  const cancel = () => { panel.remove(); chosenButton.focus(); };
  const confirmButton = h("button", { type: "button", class: confirmClass, dataset: { confirm: "" } }, confirmLabel);
  const panel = h("div", { class: "confirm", role: "group", "aria-label": "Confirm", onkeydown: (e) => { if (e.key === "Escape") cancel(); } },
    h("p", {}, question), confirmButton, h("button", { type: "button", class: "button secondary", onclick: cancel }, "Cancel"));
  confirmButton.addEventListener("click", async () => {
    for (const b of box.querySelectorAll("button")) b.disabled = true;
    try {
      await run();
    } catch (error) {
      for (const b of box.querySelectorAll("button")) b.disabled = false;
      showProblem(describe(error));
      confirmButton.focus();
    }
  });
  box.append(panel);
  confirmButton.focus();
}

async function recordAttendance(item, outcome, goodCause, label) {
  const path = `v1/assessments/${encodeURIComponent(item.assessment_id)}/attendance`;
  const answer = await api("referral", path, { method: "POST", body: { kind: item.kind, outcome, good_cause: goodCause } });
  showProblem(null);
  say(`Attendance recorded: ${label.toLowerCase()} at the ${kindText(item.kind).toLowerCase()}. RA3 served. The requirement is now ${words(answer.status)}.`);
  await load({ focusKey: keyOf(item) });
}

async function decideFollowUp(item, body, message) {
  const path = `v1/assessments/${encodeURIComponent(item.assessment_id)}/follow-up`;
  await api("referral", path, { method: "POST", body });
  showProblem(null);
  say(message);
  await load({ focusKey: keyOf(item) });
}

function setLive(state, text) {
  const box = document.getElementById("live-state");
  box.dataset.state = state;
  document.getElementById("live-text").textContent = text;
}

function listen() {
  if (!("EventSource" in window)) { setLive("off", "Live updates are not available in this browser: use Refresh list."); return; }
  const stream = new EventSource("/api/referral/v1/inbox/stream");
  stream.addEventListener("open", () => {
    setLive("on", "Live updates on");
    load(); // catches anything assigned between the first load and the stream opening
  });
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CLOSED) setLive("off", "Live updates are off (your role or session may not allow them). Use Refresh list.");
    else setLive("connecting", "Live updates: reconnecting…");
  });
  stream.addEventListener("assignment", async (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    fresh.add(`${message.assessment_id}:${message.kind}`);
    await load();
    say(`New assignment: ${kindText(message.kind).toLowerCase()} on ${dateTime(message.at)}.`);
  });
}

document.getElementById("refresh").addEventListener("click", () => load());
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") load(); });
load().then(listen);
