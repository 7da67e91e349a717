/* velollm's charts, on the vendored Chart.js (vendor/chart.umd.min.js). Shared by the report
   (report.html.j2) and the dashboard (dashboard.html.j2); no network, no other library. */
"use strict";

const VELOLLM_COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                        "#ca8a04", "#db2777", "#4b5563", "#65a30d"];

/* Confidence intervals as whiskers: each dataset may carry `ci`, one [low, high] (or null) per
   point, drawn over its bar or point. */
const velollmWhiskers = {
  id: "velollmWhiskers",
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    chart.data.datasets.forEach((ds, i) => {
      const meta = chart.getDatasetMeta(i);
      if (!ds.ci || !chart.isDatasetVisible(i)) return;
      const scale = chart.scales[meta.yAxisID];
      meta.data.forEach((element, j) => {
        const ci = ds.ci[j];
        if (!ci || ci[0] === null || ci[1] === null) return;
        const top = scale.getPixelForValue(ci[1]);
        const bottom = scale.getPixelForValue(ci[0]);
        const half = Math.max(3, (element.width || 12) / 4);
        ctx.save();
        ctx.strokeStyle = "#111827";
        ctx.lineWidth = 1.2;
        ctx.beginPath();
        ctx.moveTo(element.x, top); ctx.lineTo(element.x, bottom);
        ctx.moveTo(element.x - half, top); ctx.lineTo(element.x + half, top);
        ctx.moveTo(element.x - half, bottom); ctx.lineTo(element.x + half, bottom);
        ctx.stroke();
        ctx.restore();
      });
    });
  },
};

/* A white background, so an exported PNG is readable on a dark chat or issue page. */
const velollmBackground = {
  id: "velollmBackground",
  beforeDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

function velollmColor(i) {
  return VELOLLM_COLORS[i % VELOLLM_COLORS.length];
}

function velollmRound(value) {
  if (value === null || value === undefined) return "-";
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 1 : 3;
  return value.toFixed(digits);
}

/* Every chart velollm draws: no animation (a report is a document; a browser test reads it
   at once), whiskers, a white background, the CI in the tooltip. */
function velollmChart(canvas, type, labels, datasets, yTitle, extra) {
  const chart = new Chart(canvas, {
    type: type,
    data: {labels: labels, datasets: datasets},
    plugins: [velollmWhiskers, velollmBackground],
    options: Object.assign({
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {y: {beginAtZero: true, title: {display: true, text: yTitle}}},
      plugins: {
        legend: {position: "bottom"},
        tooltip: {callbacks: {afterLabel(item) {
          const ci = item.dataset.ci && item.dataset.ci[item.dataIndex];
          return ci && ci[0] !== null ? "95% CI " + velollmRound(ci[0]) + " – " +
            velollmRound(ci[1]) : "";
        }}},
      },
    }, extra || {}),
  });
  canvas.dataset.rendered = "true";
  /* How many bars or points Chart.js laid out at a real position: what a test can check. */
  canvas.dataset.drawn = String(chart.data.datasets.reduce((sum, ds, i) => sum +
    chart.getDatasetMeta(i).data.filter((el, j) => ds.data[j] !== null &&
      Number.isFinite(el.x) && Number.isFinite(el.y)).length, 0));
  return chart;
}

/* One grouped bar chart per metric: x the benchmarks, one bar per run (its median), the
   whisker its 95% confidence interval. */
function velollmMetricChart(canvas, data, metric) {
  const scale = metric.unit === "s" ? 1000 : 1;
  const unit = metric.unit === "s" ? "ms" : metric.unit;
  const runs = data.runs.filter((r) => data.figures.some((f) => f.run === r.id));
  const names = data.benchmarks.filter((b) => data.figures.some(
    (f) => f.benchmark === b && f.metric === metric.name));
  const datasets = runs.map((run, i) => {
    const rows = names.map((b) => data.figures.find(
      (f) => f.run === run.id && f.benchmark === b && f.metric === metric.name));
    return {
      label: run.label,
      backgroundColor: velollmColor(i),
      data: rows.map((f) => (f ? f.median * scale : null)),
      ci: rows.map((f) => (f && f.ci_low !== null ? [f.ci_low * scale, f.ci_high * scale]
                                                 : null)),
    };
  });
  return velollmChart(canvas, "bar", names, datasets,
                      metric.title + " (" + unit + ", median)");
}

/* Save a chart as a PNG file (for an issue or a chat). */
function velollmDownload(chart, name) {
  const link = document.createElement("a");
  link.href = chart.toBase64Image("image/png", 1);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
}
