// Dashboard charts (Chart.js) and the world map of referrals by country (d3-geo + world-atlas).
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Colors,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { geoNaturalEarth1, geoPath } from "d3-geo";
import { alpha2ToNumeric } from "i18n-iso-countries";
import { feature } from "topojson-client";
import world from "world-atlas/countries-110m.json";

// Colors: the default palette; without it a tree-shaken Chart.js draws every series grey.
Chart.register(
  ArcElement, BarController, BarElement, CategoryScale, Colors, DoughnutController, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip,
);

const SVG = "http://www.w3.org/2000/svg";

function chart(id, config) {
  const canvas = document.getElementById(id);
  if (canvas) new Chart(canvas, config);
}

function charts(stats) {
  const status = Object.entries(stats.referrals_by_status);
  chart("chart-status", {
    type: "bar",
    data: { labels: status.map(([k]) => k), datasets: [{ label: "referrals", data: status.map(([, v]) => v) }] },
  });
  chart("chart-months", {
    type: "line",
    data: {
      labels: stats.by_month.map((m) => m.month),
      datasets: [
        { label: "accounts first seen", data: stats.by_month.map((m) => m.accounts_first_seen) },
        { label: "referrals", data: stats.by_month.map((m) => m.referrals) },
        { label: "arrests", data: stats.by_month.map((m) => m.arrests) },
      ],
    },
  });
  const tiers = Object.entries(stats.priority_tiers);
  chart("chart-tiers", {
    type: "doughnut",
    data: { labels: tiers.map(([k]) => k), datasets: [{ data: tiers.map(([, v]) => v) }] },
  });
}

function map(stats) {
  const host = document.getElementById("world-map");
  if (!host) return;
  const byNumeric = new Map();
  for (const row of stats.by_country) {
    const numeric = alpha2ToNumeric(row.country);
    if (numeric) byNumeric.set(String(Number(numeric)), row);
  }
  const most = Math.max(1, ...stats.by_country.map((r) => r.referred || r.subjects));
  const width = 960;
  const height = 500;
  const countries = feature(world, world.objects.countries);
  const projection = geoNaturalEarth1().fitSize([width, height], countries);
  const path = geoPath(projection);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "referred subjects by country");
  svg.setAttribute("data-testid", "world-map-svg");
  for (const country of countries.features) {
    const shape = document.createElementNS(SVG, "path");
    shape.setAttribute("d", path(country) || "");
    const row = byNumeric.get(String(Number(country.id)));
    const value = row ? row.referred || row.subjects : 0;
    // Presentation attributes, not style="": the CSP allows no inline styles.
    shape.setAttribute("fill", value ? `rgba(20, 80, 140, ${0.2 + (0.8 * value) / most})` : "#e4e7eb");
    shape.setAttribute("stroke", "#fff");
    shape.setAttribute("stroke-width", "0.5");
    if (row) {
      shape.setAttribute("data-country", row.country);
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${row.country}: ${row.subjects} subjects, ${row.referred} referred, ${row.arrests} arrests`;
      shape.append(title);
    }
    svg.append(shape);
  }
  host.replaceChildren(svg);
}

document.addEventListener("DOMContentLoaded", async () => {
  const response = await fetch("/api/stats", { credentials: "same-origin" });
  if (!response.ok) return;
  const stats = await response.json();
  charts(stats);
  map(stats);
});
