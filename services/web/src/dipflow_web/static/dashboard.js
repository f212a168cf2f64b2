// The measures dashboard: K1–K5 as charts (trend by month, by borough; the K3 time-to-arrest distribution)
// with every chart's numbers in a table, and the tested-positive PPO list with its CSV export.
import { api, date, describe, h, londonDay, say, table, words } from "./common.js";

const PALETTE = ["#1d4e89", "#a4171c", "#00703c", "#6a1b9a", "#8a4b00", "#00695c", "#4c2c92"];
const form = document.getElementById("filters");
const params = new URLSearchParams(window.location.search);

function defaults() {
  const today = londonDay(Date.now());
  const [y, m] = today.split("-").map(Number);
  const start = new Date(Date.UTC(y, m - 1 - 11, 1));
  return { from: start.toISOString().slice(0, 10), to: today, per: "month" };
}

const chosen = { ...defaults() };
for (const key of ["from", "to", "borough", "per"]) if (params.get(key)) chosen[key] = params.get(key);
const boroughs = form.elements.borough.options;
if (!params.has("borough") && form.dataset.national !== "true" && boroughs.length === 2) chosen.borough = boroughs[1].value;
form.elements.from.value = chosen.from;
form.elements.to.value = chosen.to;
form.elements.borough.value = chosen.borough || "";
form.elements.per.value = chosen.per;
chosen.per = form.elements.per.value || "month"; // an unknown period kind falls back to months
const PER_LABEL = { month: "Month", quarter: "Quarter", financial_year: "Financial year" }[chosen.per];
chosen.borough = form.elements.borough.value; // an unknown borough falls back to "all"

/** The boroughs this person may choose: K1 and K2 also answer a row for a force and one for everyone. */
const BOROUGHS = new Set([...form.elements.borough.options].map((o) => o.value).filter(Boolean));
const isBorough = (r) => BOROUGHS.has(r.borough);
const sum = (values) => values.reduce((a, b) => a + (Number(b) || 0), 0);
const pct = (share) => (share === null || share === undefined ? "–" : `${(share * 100).toFixed(1)}%`);
const hours = (value) => (value === null || value === undefined ? "–" : Number(value).toFixed(1));

/** Sums of `fields` grouped by key(row), in key order. */
function groupSum(rows, key, fields) {
  const groups = new Map();
  for (const row of rows) {
    const k = key(row);
    if (!groups.has(k)) groups.set(k, Object.fromEntries(fields.map((f) => [f, 0])));
    const cell = groups.get(k);
    for (const f of fields) cell[f] += Number(row[f]) || 0;
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A chart with its caption and, below it, the same numbers as a table. */
function figure(section, { id, caption, type = "bar", labels, series, stacked = false, percent = false, labelHeader }) {
  const charts = section.querySelector(".charts");
  const canvas = h("canvas", { id, role: "img", "aria-label": `${caption}: a ${type} chart; its numbers are in the table below it.` });
  const points = sum(series.map((s) => s.data.filter((v) => v !== null && v !== undefined).length));
  const columns = [{ key: "label", label: labelHeader, header: true },
    ...series.map((s, i) => ({ key: `s${i}`, label: s.label, num: true }))];
  const rows = labels.map((label, j) => Object.fromEntries([["label", label],
    ...series.map((s, i) => [`s${i}`, s.data[j] === null || s.data[j] === undefined ? "–" : percent ? `${Number(s.data[j]).toFixed(1)}%` : s.data[j]])]));
  charts.append(h("figure", { class: "chart" },
    h("figcaption", { id: `${id}-caption` }, caption),
    h("div", { class: "chart-box" }, canvas),
    h("details", {}, h("summary", {}, `Show the numbers: ${caption}`), table(caption, columns, rows))));
  canvas.dataset.points = String(points);
  if (!window.Chart) {
    canvas.replaceWith(h("p", { class: "panel-state" }, "Charts are unavailable (chart.js is not installed); the numbers are in the table."));
    return;
  }
  // eslint-disable-next-line no-undef
  new window.Chart(canvas, {
    type,
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label, data: s.data, backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length],
        type: s.type, borderDash: s.dashed ? [8, 4] : undefined,
        borderWidth: (s.type || type) === "line" ? 3 : 0, pointRadius: (s.type || type) === "line" ? 4 : undefined, spanGaps: true,
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom", labels: { color: "#0b0c0c" } } },
      scales: {
        x: { stacked, ticks: { color: "#0b0c0c" } },
        y: { stacked, beginAtZero: true, ticks: { color: "#0b0c0c", precision: percent ? undefined : 0,
          callback: percent ? (v) => `${v}%` : undefined }, max: percent ? 100 : undefined },
      },
    },
  });
  canvas.dataset.rendered = "true";
}

function dataTable(section, caption, columns, rows) {
  section.querySelector(".charts").after(h("details", {}, h("summary", {}, `All rows: ${caption}`),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption }, table(caption, columns, rows))));
}

function empty(section, what) {
  section.querySelector(".charts").replaceChildren(h("p", { class: "empty" }, `No ${what} in this period.`));
}

const MEASURES = {
  k1: {
    what: "K1",
    source: ["ppo-register", "v1/measures/k1", () => ({ from: chosen.from, to: chosen.to, borough: chosen.borough, per: chosen.per })],
    load: () => api("ppo-register", "v1/measures/k1", { params: { from: chosen.from, to: chosen.to, borough: chosen.borough, per: chosen.per } }),
    draw(section, all) {
      const rows = all.filter(isBorough); // not the force's or everyone's rows, which would count twice
      if (!rows.length) return empty(section, "PPO arrests for non-trigger offences");
      const fields = ["ppo_non_trigger_arrests", "inspector_decisions", "ppos_considered", "target_ppos_considered", "baseline_ppos_considered"];
      const share = (c) => (c.ppo_non_trigger_arrests ? (100 * c.inspector_decisions) / c.ppo_non_trigger_arrests : null);
      const targeted = rows.some((r) => r.target_ppos_considered !== null);
      const byPeriod = groupSum(rows, (r) => r.period, fields);
      figure(section, { id: "k1-month", caption: `PPOs considered through an inspector, by ${PER_LABEL.toLowerCase()}, against the baseline and target`, labelHeader: PER_LABEL,
        labels: [...byPeriod.keys()], series: [
          { label: "PPOs considered", data: [...byPeriod.values()].map((c) => c.ppos_considered) },
          ...(targeted ? [
            { label: "Baseline (pro rata)", type: "line", dashed: true, data: [...byPeriod.values()].map((c) => c.baseline_ppos_considered) },
            { label: "Target", type: "line", data: [...byPeriod.values()].map((c) => c.target_ppos_considered) },
          ] : []),
        ] });
      const byBorough = groupSum(rows, (r) => r.borough, fields);
      figure(section, { id: "k1-borough", caption: "Share of PPO non-trigger arrests put to an inspector, by borough", labelHeader: "Borough", percent: true,
        labels: [...byBorough.keys()], series: [{ label: "Share put to an inspector", data: [...byBorough.values()].map(share) }] });
      dataTable(section, `K1 by ${PER_LABEL.toLowerCase()} and borough`, [
        { key: "period", label: PER_LABEL, header: true }, { key: "borough", label: "Borough" },
        { key: "ppos_considered", label: "PPOs considered", num: true },
        { key: "inspector_decisions", label: "Inspector decisions", num: true },
        { key: "ppo_non_trigger_arrests", label: "PPO non-trigger arrests", num: true },
        { label: "Share", num: true, render: (r) => pct(r.share) },
        { label: "Baseline", render: (r) => (r.baseline_period ? `${r.baseline_period}: ${Number(r.baseline_ppos_considered ?? 0).toFixed(1)}` : "–") },
        { label: "Target met", render: (r) => (r.target_met === null ? "–" : `${r.target_met ? "Yes" : "No"} (${Number(r.target_ppos_considered).toFixed(1)})`) },
      ], all);
    },
  },
  k2: {
    what: "K2",
    source: ["ppo-register", "v1/measures/k2", () => ({ from: chosen.from, to: chosen.to, borough: chosen.borough, per: chosen.per })],
    load: () => api("ppo-register", "v1/measures/k2", { params: { from: chosen.from, to: chosen.to, borough: chosen.borough, per: chosen.per } }),
    draw(section, all) {
      const rows = all.filter(isBorough);
      if (!rows.length) return empty(section, "K2 events");
      const fields = ["prosecuted_for_failing_to_attend", "arrested_for_breaking_bail_condition"];
      const labels = ["Prosecuted for failing to attend", "Arrested for breaking a bail condition"];
      for (const [id, key, header] of [["k2-month", (r) => r.period, PER_LABEL], ["k2-borough", (r) => r.borough, "Borough"]]) {
        const groups = groupSum(rows, key, fields);
        figure(section, { id, stacked: true, caption: `K2 by ${header.toLowerCase()}`, labelHeader: header, labels: [...groups.keys()],
          series: fields.map((f, i) => ({ label: labels[i], data: [...groups.values()].map((c) => c[f]) })) });
      }
    },
  },
  k3: {
    what: "K3",
    source: ["breach", "v1/measures/k3", () => ({ from: chosen.from, to: chosen.to })],
    load: () => api("breach", "v1/measures/k3", { params: { from: chosen.from, to: chosen.to } }),
    draw(section, all) {
      const rows = all.filter((r) => !chosen.borough || r.borough === chosen.borough);
      if (!rows.length) return empty(section, "arrest requests");
      const buckets = Object.keys(rows[0].buckets);
      figure(section, { id: "k3-distribution", caption: "Time from request to arrest (distribution)", labelHeader: "Time to arrest",
        labels: buckets, series: [{ label: "Arrests", data: buckets.map((b) => sum(rows.map((r) => r.buckets[b]))) }] });
      const bySource = groupSum(rows, (r) => words(r.source), ["within_target", "count", "still_open"]);
      figure(section, { id: "k3-source", stacked: true, caption: "Arrests within target, late, and still open, by source", labelHeader: "Source",
        labels: [...bySource.keys()], series: [
          { label: "Within target", data: [...bySource.values()].map((c) => c.within_target) },
          { label: "Late", data: [...bySource.values()].map((c) => c.count - c.within_target) },
          { label: "Still open", data: [...bySource.values()].map((c) => c.still_open) },
        ] });
      dataTable(section, "K3 by source, borough and PPO status", [
        { label: "Source", header: true, render: (r) => words(r.source) }, { key: "borough", label: "Borough" },
        { label: "PPO", render: (r) => (r.ppo ? "Yes" : "No") }, { key: "count", label: "Arrests", num: true },
        { label: "Mean hours", num: true, render: (r) => hours(r.mean_hours) }, { label: "Median hours", num: true, render: (r) => hours(r.p50_hours) },
        { label: "90th percentile hours", num: true, render: (r) => hours(r.p90_hours) }, { label: "Longest hours", num: true, render: (r) => hours(r.max_hours) },
        { key: "within_target", label: "Within target", num: true }, { key: "still_open", label: "Still open", num: true },
      ], rows);
    },
  },
  k4: {
    what: "K4",
    source: ["referral", "v1/measures/k4", () => ({ from: chosen.from, to: chosen.to, borough: chosen.borough, per: chosen.per })],
    load: () => api("referral", "v1/measures/k4", { params: { from: chosen.from, to: chosen.to, borough: chosen.borough, per: chosen.per } }),
    draw(section, rows) {
      if (!rows.length) return empty(section, "tests or assessments");
      const fields = ["tests", "positives", "requirements_imposed", "requirements_lapsed", "initial_attended", "follow_up_attended", "failures", "entered_treatment"];
      for (const [id, key, header] of [["k4-month", (r) => r.period, PER_LABEL], ["k4-borough", (r) => r.borough, "Borough"]]) {
        const groups = groupSum(rows, key, fields);
        figure(section, { id, caption: `K4 by ${header.toLowerCase()}`, labelHeader: header, labels: [...groups.keys()],
          series: fields.map((f) => ({ label: words(f), data: [...groups.values()].map((c) => c[f]) })) });
      }
      dataTable(section, `K4 by ${PER_LABEL.toLowerCase()}, borough and custody suite`, [
        { key: "period", label: PER_LABEL, header: true }, { key: "borough", label: "Borough" }, { key: "suite", label: "Suite" },
        ...fields.map((f) => ({ key: f, label: words(f), num: true })),
      ], rows);
    },
  },
  k5: {
    what: "K5",
    source: ["custody", "v1/measures/k5", () => ({ from: chosen.from, to: chosen.to, per: chosen.per })],
    load: () => api("custody", "v1/measures/k5", { params: { from: chosen.from, to: chosen.to, per: chosen.per } }),
    draw(section, rows) {
      if (!rows.length) return empty(section, "tests");
      const byMonth = groupSum(rows, (r) => r.period, ["tests", "kit_cost_gbp"]);
      figure(section, { id: "k5-month", caption: `Tests performed by ${PER_LABEL.toLowerCase()}`, labelHeader: PER_LABEL, labels: [...byMonth.keys()],
        series: [{ label: "Tests", data: [...byMonth.values()].map((c) => c.tests) }] });
      const bySuite = groupSum(rows, (r) => r.suite, ["tests", "kit_cost_gbp"]);
      figure(section, { id: "k5-suite", caption: "Tests performed by custody suite", labelHeader: "Custody suite", labels: [...bySuite.keys()],
        series: [{ label: "Tests", data: [...bySuite.values()].map((c) => c.tests) }] });
      dataTable(section, `K5 by ${PER_LABEL.toLowerCase()} and custody suite (kit cost in £)`, [
        { key: "period", label: PER_LABEL, header: true }, { key: "suite", label: "Custody suite" },
        { key: "tests", label: "Tests", num: true }, { label: "Kit cost", num: true, render: (r) => `£${Number(r.kit_cost_gbp).toFixed(2)}` },
      ], rows);
      const note = h("p", { class: "hint" }, `Total: ${sum(rows.map((r) => r.tests))} tests, kit cost £${sum(rows.map((r) => r.kit_cost_gbp)).toFixed(2)}. K5 is counted by custody suite, whatever borough is chosen.`);
      section.querySelector(".charts").before(note);
    },
  },
  "tested-positive": {
    what: "the tested-positive list",
    load: () => {
      if (!chosen.borough && form.dataset.national !== "true") {
        return Promise.reject(new Error("choose a borough to see its list"));
      }
      return api("ppo-register", "v1/tested-positive", { params: { borough: chosen.borough } });
    },
    draw(section, rows) {
      const link = document.getElementById("csv-link");
      const csv = new URLSearchParams({ format: "csv" });
      if (chosen.borough) csv.set("borough", chosen.borough);
      link.href = `/api/ppo-register/v1/tested-positive?${csv}`;
      link.hidden = false;
      const target = document.getElementById("tp-table");
      if (!rows.length) { target.replaceChildren(h("p", { class: "empty" }, "No PPO on the register has tested positive.")); return; }
      target.replaceChildren(table(`PPOs who have tested positive${chosen.borough ? ` in ${chosen.borough}` : ""}: ${rows.length}`, [
        { key: "person_id", label: "Person", header: true }, { key: "borough", label: "Borough" },
        { label: "Strand", render: (r) => words(r.strand) }, { label: "On the register since", render: (r) => date(r.on_register_since) },
        { label: "Last positive", render: (r) => date(r.last_positive_on) }, { label: "Drugs", render: (r) => r.last_drugs.join(", ") },
        { key: "positives_in_12_months", label: "Positives in 12 months", num: true },
      ], rows));
    },
  },
};

/** Every measure's numbers as files (the service's own CSV and XLSX of the same rows), once it has loaded. */
function offerFiles(section, measure) {
  if (!measure.source) return;
  const [service, path, params] = measure.source;
  const href = (format) => {
    const url = new URL(`/api/${service}/${path}`, window.location.origin);
    for (const [k, v] of Object.entries({ ...params(), format })) if (v) url.searchParams.set(k, v);
    return url.pathname + url.search;
  };
  section.querySelector(".files")?.remove();
  section.append(h("p", { class: "files" }, `Download ${measure.what}: `,
    h("a", { href: href("csv"), download: "" }, `${measure.what} as CSV`), " · ",
    h("a", { href: href("xlsx"), download: "" }, `${measure.what} as XLSX`)));
}

async function show(id) {
  const section = document.getElementById(id);
  const measure = MEASURES[id];
  const state = section.querySelector(".panel-state");
  try {
    const rows = await measure.load();
    measure.draw(section, rows);
    offerFiles(section, measure);
    state.textContent = "";
    return true;
  } catch (error) {
    state.textContent = describe(error, measure.what);
    // nothing from a list that could not load: no chart, no table, no download
    section.querySelector(".charts")?.replaceChildren();
    for (const wrap of section.querySelectorAll(".table-wrap, #tp-table")) wrap.replaceChildren();
    const link = section.querySelector("#csv-link");
    if (link) link.hidden = true;
    return false;
  } finally {
    section.dataset.loaded = "true";
  }
}

Promise.all(Object.keys(MEASURES).map(show)).then((shown) => {
  const ok = shown.filter(Boolean).length;
  document.body.dataset.dashboardLoaded = "true";
  say(`Measures from ${date(chosen.from)} to ${date(chosen.to)}${chosen.borough ? ` for ${chosen.borough}` : ""}: ${ok} of ${shown.length} shown.`);
});
