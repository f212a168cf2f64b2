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
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api(service, `v1/alerts/${alert.alert_id}/acknowledge`, { method: "POST" });
          say("Alert acknowledged.");
          await load();
        } catch (error) {
          event.target.disabled = false;
          say(describe(error, "the alert"));
        }
      },
    }, "Acknowledge")
    : null;
  return h("li", { class: `alert-item state-${alert.state}` },
    h("p", {}, h("strong", {}, TITLES[alert.kind] || words(alert.kind)), ` – ${alert.summary}`),
    h("p", { class: "meta" }, `Due ${dateTime(alert.due_at)} · ${words(alert.state)} · rules ${alert.rule_ids.join(", ") || "–"}`),
    acknowledge);
}

async function load() {
  const service = panel.dataset.service;
  const count = panel.querySelector("[data-count]");
  const list = panel.querySelector(".alerts-list");
  try {
    const page = await api(service, "v1/alerts");
    const waiting = Object.values(page.counts).reduce((a, b) => a + b, 0);
    count.textContent = String(waiting);
    list.replaceChildren(page.items.length
      ? h("ul", {}, page.items.map((a) => item(a, service)))
      : h("p", {}, "Nothing needs you now."));
  } catch (error) {
    count.textContent = "?";
    list.replaceChildren(h("p", { class: "panel-state" }, describe(error, "your alerts")));
  }
  panel.dataset.loaded = "true";
}

if (panel) load();
