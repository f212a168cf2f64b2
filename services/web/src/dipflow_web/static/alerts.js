// The alerts panel on every page of a role that is alerted: how many are waiting, and each one with what to do,
// by when and under which rules; acknowledging one is recorded by the service that raised it.
import { api, dateTime, describe, h, say, words } from "./common.js";

const panel = document.getElementById("alerts");
const TITLES = {
  "attendance-overdue": "Appointment passed, attendance not recorded",
  "appointment-unassigned": "Appointment nobody can take",
  "before-a-justice": "Before a justice",
  "written-confirmation-overdue": "Written confirmation overdue",
  "confirmation-overdue": "Confirmatory result overdue",
  "arrest-requested": "Arrest request",
  "breach-step-overdue": "Breach case step overdue",
};

function item(alert, service) {
  const acknowledge = alert.state === "open"
    ? h("button", {
      type: "button",
      class: "button secondary small",
      "aria-label": `Acknowledge: ${TITLES[alert.kind] || words(alert.kind)}${alert.person_id ? ` for ${alert.person_id}` : ""}`,
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api(service, `v1/alerts/${alert.alert_id}/acknowledge`, { method: "POST" });
          await load();
          say("Alert acknowledged.");
        } catch (error) {
          event.target.disabled = false;
          say(describe(error, "the alert"));
        }
      },
    }, "Acknowledge")
    : null;
  return h("li", { class: `alert-item state-${alert.state}` },
    h("p", {}, h("strong", {}, TITLES[alert.kind] || words(alert.kind)), ` – ${alert.summary}`),
    h("p", { class: "meta" }, `${alert.person_id ? `${alert.person_id} · ` : ""}Due ${dateTime(alert.due_at)} · ${words(alert.state)} · rules ${alert.rule_ids.join(", ") || "–"}`),
    acknowledge);
}

const WAITING = ["open", "escalated"];
const REFRESH_MS = 10_000;
let shown = null;
let known = null; // the alert ids shown so far; null before the first load

/** The panel and the count in the header, from the service's feed; the list is redrawn only when it changed, so
 * a screen reader is not read the same alerts again on every refresh. */
async function load() {
  const service = panel.dataset.service;
  const count = panel.querySelector("[data-count]");
  const header = document.querySelector("[data-header-count]");
  const acknowledged = panel.querySelector("[data-acknowledged]");
  const list = panel.querySelector(".alerts-list");
  try {
    const page = await api(service, "v1/alerts");
    const waiting = WAITING.reduce((n, state) => n + (page.counts[state] || 0), 0);
    const seen = page.counts.acknowledged || 0;
    count.textContent = String(waiting);
    header.querySelector("span").textContent = String(waiting);
    header.dataset.state = waiting ? "waiting" : "none";
    acknowledged.hidden = !seen;
    acknowledged.textContent = seen ? `${seen} acknowledged, not yet resolved.` : "";
    const signature = JSON.stringify(page.items.map((a) => [a.alert_id, a.state, a.due_at]));
    if (signature !== shown) {
      const before = known;
      known = new Set(page.items.map((a) => a.alert_id));
      const arrived = before ? page.items.filter((a) => !before.has(a.alert_id) && WAITING.includes(a.state)) : [];
      // in the panel's own live region: the page's announcer keeps what the person's last action said
      if (arrived.length) panel.querySelector("[data-alerts-news]").textContent = `New alert${arrived.length > 1 ? "s" : ""}: ${arrived.map((a) => TITLES[a.kind] || words(a.kind)).join("; ")}.`;
      shown = signature;
      list.replaceChildren(page.items.length
        ? h("ul", {}, page.items.map((a) => item(a, service)))
        : h("p", {}, "Nothing needs you now."));
    }
  } catch (error) {
    count.textContent = "?";
    header.querySelector("span").textContent = "?";
    shown = null;
    list.replaceChildren(h("p", { class: "panel-state" }, describe(error, "your alerts")));
  }
  panel.dataset.loaded = "true";
}

if (panel) {
  load();
  // Live: every few seconds while the page is in view, at once when it comes back into view or when something
  // on the page may have changed an alert (the page's own actions send "dipflow:alerts-changed").
  window.setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });
  document.addEventListener("dipflow:alerts-changed", () => load());
}
