// Shared by every page: calling the services through the same-origin proxy, building DOM safely (text only,
// never HTML from data), dates in Europe/London, tables, and the print button.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export async function api(service, path, { method = "GET", body, params, raw, contentType } = {}) {
  const url = new URL(`/api/${service}/${path}`, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-Dipflow-Web"] = "1";
    headers["Content-Type"] = raw === undefined ? "application/json" : contentType || "text/plain";
  }
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (response.status === 401) {
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    window.location.assign(`/sign-in?expired=1&next=${next}`);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  // A change anywhere may raise, acknowledge or resolve an alert: the alerts panel reloads (alerts.js).
  if (method !== "GET") document.dispatchEvent(new Event("dipflow:alerts-changed"));
  return data;
}

/** ``text`` as a sentence: a capital first letter and a full stop (or its own ! or ?) at the end. */
export function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** Whole sentences a person can act on, for a failed call. */
export function describe(error, what = "this") {
  if (!(error instanceof ApiError)) return `Could not load ${what}. ${sentence(error.message || String(error))}`;
  const detail = sentence(error.problem.detail || error.problem.title || "");
  const rule = error.problem.rule_id ? `, rule ${error.problem.rule_id}` : "";
  if (error.status === 403) return `Your role may not see ${what}. ${detail} (403)`.replace(".  (", ". (");
  if (error.status === 401) return "Your session has ended. Sign in again. (401)";
  if (error.status === 409) return `Not recorded. ${detail} (409${rule})`;
  if (error.status === 422) {
    const fields = (error.problem.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ");
    return `Not accepted. ${detail}${fields ? ` ${sentence(fields)}` : ""} (422)`;
  }
  return `Could not load ${what}. ${detail || "The service did not answer."} (${error.status})`;
}

/** h("p", {class: "x"}, "text", child) — strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const LONDON = "Europe/London";
const dayKeyFormat = new Intl.DateTimeFormat("en-CA", { timeZone: LONDON, year: "numeric", month: "2-digit", day: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: LONDON, weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});
const dateFormat = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" });

/** YYYY-MM-DD of an instant in London. */
export function londonDay(instant) { return dayKeyFormat.format(new Date(instant)); }
export function dateTime(iso) { return iso ? dateTimeFormat.format(new Date(iso)) : "–"; }
/** A calendar date (YYYY-MM-DD) as written in England. */
export function date(isoDate) { return isoDate ? dateFormat.format(new Date(`${isoDate.slice(0, 10)}T00:00:00Z`)) : "–"; }
export function words(value) { return value ? String(value).replaceAll("_", " ") : "–"; }

/** A table with a caption; columns are {key, label, num?, className?, render?(row) -> Node|string}. */
export function table(caption, columns, rows, rowClass) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label))));
  const body = h("tbody", {}, rows.map((row) => h("tr", { class: rowClass ? rowClass(row) : null },
    columns.map((c, i) => {
      const value = c.render ? c.render(row) : row[c.key];
      const cell = i === 0 && c.header ? "th" : "td";
      return h(cell, { class: c.className || (c.num ? "num" : null), scope: cell === "th" ? "row" : null }, value ?? "–");
    }))));
  return h("table", {}, h("caption", {}, caption), head, body);
}

/** Fill #<id> with draw(await load()) and clear #<id>-state; a list that could not load is never shown as
 * empty: the target is emptied and the state says why in words. */
export async function showList(id, what, load, draw) {
  const target = document.getElementById(id);
  const state = document.getElementById(`${id}-state`);
  try {
    target.replaceChildren(draw(await load()));
    state.textContent = "";
  } catch (error) {
    target.replaceChildren();
    state.textContent = describe(error, what);
  }
}

/** Show ``message`` in the page's #problem alert, or hide it when there is none. */
export function problem(message) {
  const box = document.getElementById("problem");
  if (!box) return;
  box.hidden = !message;
  box.textContent = message || "";
}

export function say(message) {
  const announcer = document.getElementById("announcer");
  if (!announcer) return;
  announcer.textContent = "";
  // A fresh text node after a tick makes screen readers announce the same words again.
  window.setTimeout(() => { announcer.textContent = message; }, 50);
}

function installPrint() {
  for (const button of document.querySelectorAll("[data-print]")) button.addEventListener("click", () => window.print());
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", installPrint);
else installPrint();
