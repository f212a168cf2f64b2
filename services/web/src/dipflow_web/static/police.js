// Police enforcement: the area's arrest requests by urgency (premium first, then the deadline), with the legal
// basis; acknowledging one acknowledges its alert (recorded and audited by breach).
import { api, dateTime, describe, h, problem, say, table, words } from "./common.js";

const area = document.getElementById("open-section").dataset.area;
const OPEN_STATES = ["open", "acknowledged", "escalated"];

const isOpen = (r) => !r.arrested_at && !r.cancelled_at;
const urgency = (a, b) => Number(b.premium) - Number(a.premium) || Date.parse(a.deadline_at) - Date.parse(b.deadline_at);

function badges(r) {
  const out = [];
  if (r.premium) out.push(h("span", { class: "badge bad" }, "Premium"));
  if (r.ppo) out.push(h("span", { class: "badge" }, "PPO"));
  return out.length ? out : "Standard";
}

function deadline(r) {
  const passed = Date.parse(r.deadline_at) < Date.now();
  return passed ? h("span", {}, `${dateTime(r.deadline_at)} `, h("span", { class: "overdue-text" }, "Passed")) : dateTime(r.deadline_at);
}

function alertControl(r, alert) {
  if (!alert) return "–";
  if (alert.state === "acknowledged") return `Acknowledged by ${alert.acknowledged_by || "–"} ${dateTime(alert.acknowledged_at)}`;
  const label = alert.state === "escalated" ? "Escalated: acknowledge" : "Acknowledge";
  return h("button", {
    type: "button",
    class: "button small",
    "aria-label": `Acknowledge the request to arrest ${r.person_id}`,
    onclick: async () => {
      let message = null;
      try {
        await api("breach", `v1/alerts/${encodeURIComponent(alert.alert_id)}/acknowledge`, { method: "POST" });
        message = `You acknowledged the request to arrest ${r.person_id}.`;
        problem(null);
      } catch (error) {
        problem(describe(error, "the acknowledgement"));
      }
      await load();
      if (message) say(message);
    },
  }, label);
}

async function load() {
  const [openTarget, closedTarget] = [document.getElementById("open"), document.getElementById("closed")];
  try {
    const [rows, feed] = await Promise.all([
      api("breach", "v1/arrest-requests", { params: { area } }),
      api("breach", `v1/alerts?area=${encodeURIComponent(area)}&${OPEN_STATES.map((s) => `state=${s}`).join("&")}&limit=500`),
    ]);
    const alerts = new Map(feed.items.filter((a) => a.kind === "arrest-requested").map((a) => [a.case_id, a]));
    const open = rows.filter(isOpen).sort(urgency);
    const closed = rows.filter((r) => !isOpen(r));
    openTarget.replaceChildren(open.length ? table(`Open arrest requests in ${area}: ${open.length}, ${open.filter((r) => r.premium).length} premium`, [
      { key: "person_id", label: "Person", header: true },
      { label: "Urgency", render: badges },
      { label: "Legal basis", className: "wide", render: (r) => `${r.basis} (${r.rule_ids.join(", ")})` },
      { label: "Source", render: (r) => words(r.source) },
      { label: "Requested", render: (r) => dateTime(r.requested_at) },
      { label: "Arrest by", render: deadline },
      { label: "Acting on it", render: (r) => alertControl(r, alerts.get(r.request_id)) },
    ], open, (r) => (Date.parse(r.deadline_at) < Date.now() ? "overdue" : null)) : h("p", { class: "empty" }, `No open arrest request in ${area}.`));
    closedTarget.replaceChildren(closed.length ? table(`Arrested or cancelled in ${area}: ${closed.length}`, [
      { key: "person_id", label: "Person", header: true },
      { label: "Legal basis", className: "wide", render: (r) => `${r.basis} (${r.rule_ids.join(", ")})` },
      { label: "Outcome", render: (r) => (r.arrested_at ? `Arrested ${dateTime(r.arrested_at)}` : `Cancelled ${dateTime(r.cancelled_at)}: ${r.cancel_reason || ""}`) },
    ], closed) : h("p", { class: "empty" }, "None yet."));
    document.getElementById("open-state").textContent = "";
    document.getElementById("closed-state").textContent = "";
  } catch (error) {
    openTarget.replaceChildren();
    closedTarget.replaceChildren();
    document.getElementById("open-state").textContent = describe(error, "the arrest requests");
  } finally {
    document.body.dataset.policeLoaded = "true";
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
else load();
