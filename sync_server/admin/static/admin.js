// Draws the dashboard's charts with uPlot from /v1/admin/sites/{site}/dashboard.
"use strict";

const COLORS = { personalized: "#2563eb", holdout: "#9ca3af", uplift: "#059669", epsilon: "#dc2626", devices: "#93c5fd" };

function chart(element, title, series, data, options = {}) {
  element.replaceChildren();
  const width = element.clientWidth || 600;
  const config = { title, width, height: 240, series: [{}, ...series], legend: { live: false }, ...options };
  element.plot = new uPlot(config, data, element);
}

function percent(values) {
  return values.map((v) => (v === null ? null : 100 * v));
}

function drawHistory(element, dashboard) {
  const rounds = dashboard.rounds;
  const budget = dashboard.epsilon_budget;
  const series = [
    { label: "devices", stroke: COLORS.devices, fill: COLORS.devices, paths: uPlot.paths.bars({ size: [0.6, 40] }), scale: "devices" },
    { label: "ε spent", stroke: COLORS.epsilon, width: 2, scale: "epsilon" },
  ];
  const data = [rounds.map((r) => r.version), rounds.map((r) => r.devices), rounds.map((r) => r.epsilon)];
  if (budget !== null) {
    series.push({ label: "ε budget", stroke: COLORS.epsilon, dash: [6, 4], scale: "epsilon" });
    data.push(rounds.map(() => budget));
  }
  const versions = data[0];
  const options = {
    // Versions are counts, not times; half a version of room on each side keeps the end bars whole.
    scales: { x: { time: false, range: [versions[0] - 0.5, versions[versions.length - 1] + 0.5] } },
    axes: [
      { label: "model version", incrs: [1, 2, 5, 10, 20, 50, 100] },
      { label: "devices", scale: "devices" },
      { label: "ε", scale: "epsilon", side: 1, grid: { show: false } },
    ],
  };
  chart(element, "Devices per round and privacy spent", series, data, options);
}

function drawCtr(element, effect) {
  const s = effect.series;
  chart(element, "CTR by arm (%)", [
    { label: "personalized", stroke: COLORS.personalized, width: 2 },
    { label: "holdout", stroke: COLORS.holdout, width: 2 },
  ], [s.time, percent(s.personalized), percent(s.holdout)]);
}

function drawUplift(element, effect) {
  const s = effect.series;
  const bound = { stroke: COLORS.uplift, dash: [4, 4], width: 1 };
  chart(element, "Uplift over holdout (points, 95% CI)", [
    { label: "uplift", stroke: COLORS.uplift, width: 2 },
    { label: "low", ...bound },
    { label: "high", ...bound },
  ], [s.time, percent(s.uplift), percent(s.low), percent(s.high)], {
    bands: [{ series: [3, 2], fill: "rgba(5, 150, 105, 0.12)" }], // the confidence interval, shaded
  });
}

async function drawAll() {
  const history = document.querySelector('[data-chart="history"]');
  if (!history) return; // no page with charts, or no rounds to chart yet
  const answer = await fetch(`/v1/admin/sites/${encodeURIComponent(history.dataset.site)}/dashboard`, { credentials: "same-origin" });
  if (!answer.ok) {
    history.textContent = `Could not load the charts (${answer.status}).`;
    return;
  }
  const dashboard = await answer.json();
  drawHistory(history, dashboard);
  for (const element of document.querySelectorAll("[data-chart][data-slot]")) {
    const effect = dashboard.slots[element.dataset.slot];
    (element.dataset.chart === "ctr" ? drawCtr : drawUplift)(element, effect);
  }
  document.body.dataset.charts = "drawn"; // for tests and screenshots
}

drawAll().catch((error) => console.error("[p13n admin] charts failed:", error));
