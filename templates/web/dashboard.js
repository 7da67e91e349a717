/* The dashboard page's panels, filled from its JSON endpoints (velollm/app/dashboard.py).
   Values are always set as text, never as HTML. */
"use strict";

(function () {
  const refreshMs = Number(document.body.dataset.refreshMs) || 5000;
  const counts = {now: 0, configuration: 0, gains: 0};
  let gains = null;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function row(cells, cls) {
    const tr = el("tr", null, cls);
    for (const cell of cells) {
      tr.appendChild(cell instanceof Node ? cell : el("td", cell === null ? "-" : cell));
    }
    return tr;
  }

  function fill(tableId, rows) {
    const body = document.querySelector("#" + tableId + " tbody");
    body.replaceChildren(...rows);
  }

  function bytes(n) {
    if (n === null || n === undefined) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = n, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return value.toFixed(unit ? 1 : 0) + " " + units[unit];
  }

  function statusCell(status) {
    return el("td", status || "-", "status-" + String(status || "").replace(/ /g, "-"));
  }

  function problem(text) {
    const p = document.getElementById("problem");
    p.hidden = !text;
    p.textContent = text || "";
  }

  async function get(path) {
    const response = await fetch(path, {cache: "no-store"});
    if (!response.ok) throw new Error(path + ": HTTP " + response.status + " " +
                                      (await response.text()));
    return response.json();
  }

  function mark(name) {
    counts[name] += 1;
    document.body.setAttribute("data-" + name + "-updates", String(counts[name]));
    document.getElementById("updated").textContent = "updated " +
      new Date().toLocaleTimeString();
  }

  function chartOn(canvas, make) {
    const old = Chart.getChart(canvas);
    if (old) old.destroy();
    return make();
  }

  /* ---- Now ---------------------------------------------------------------------------- */
  function renderNow(now) {
    const box = document.getElementById("servers");
    box.replaceChildren();
    for (const s of now.servers) {
      const card = el("div", null, "card");
      const head = el("p");
      head.appendChild(el("strong", s.backend + " " + (s.version || "")));
      head.appendChild(document.createTextNode(" at " + s.url + " · "));
      head.appendChild(el("span", s.up ? "up" : "down", s.up ? "status-up" : "status-down"));
      if (s.error) head.appendChild(document.createTextNode(" · " + s.error));
      card.appendChild(head);
      const table = el("table");
      table.appendChild(row(["model", "size", "on GPU", "on CPU", "context", "expires"]
        .map((h) => el("th", h))));
      for (const m of s.models) {
        table.appendChild(row([m.name, bytes(m.size), bytes(m.size_vram), bytes(m.size_cpu),
                               m.context_length === null ? "-" : m.context_length,
                               m.expires_at]));
      }
      if (!s.models.length) table.appendChild(row([s.up ? "no model loaded" : "-", "", "", "",
                                                   "", ""]));
      card.appendChild(table);
      card.appendChild(el("p", "Slots: " + (s.slots === null ? s.slots_why : s.slots),
                          "muted"));
      box.appendChild(card);
      renderMemory(s.models, now.capacity);
    }
    const t = now.throughput;
    const live = now.live ? "Live: " + velollmRound(now.live.tokens_per_s) +
      " tokens/s generated over the last " + velollmRound(now.live.window_s) + " s (the " +
      "server's own counters). " : "";
    document.getElementById("throughput").textContent = live + (t && t.summary ?
      "Throughput: " + velollmRound(t.summary.average_tokens_per_s) + " tokens/s decode, " +
      "TTFT " + velollmRound((t.summary.average_ttft_s || 0) * 1000) + " ms (" + t.model +
      ", " + t.started_at + "). " + now.throughput_why + "." :
      "Throughput: no benchmark kept yet (run `velollm benchmark`). " + now.throughput_why + ".");
    problem(now.state_error);
    mark("now");
  }

  /* The memory model's estimate for each loaded model, against what the server reports and
     the device's capacity: one horizontal stacked bar chart per model. */
  function renderMemory(models, capacity) {
    const box = document.getElementById("memory");
    box.querySelectorAll("canvas").forEach((c) => { const ch = Chart.getChart(c); if (ch) ch.destroy(); });
    box.replaceChildren();
    for (const m of models) {
      if (!m.estimate) continue;
      const card = el("div", null, "card");
      card.appendChild(el("p", m.name + ": the memory model estimates " +
        bytes(m.estimate.total) + " (num_ctx " + m.assumed.num_ctx + ", " +
        m.assumed.num_parallel + " parallel, KV " + m.assumed.kv_cache_type + "); the server " +
        "reports " + bytes(m.size) + (capacity ? " of " + bytes(capacity.bytes) + " " +
        capacity.kind : "")));
      const holder = el("div", null, "chart small");
      const canvas = el("canvas");
      canvas.id = "memory-" + m.name;
      holder.appendChild(canvas);
      card.appendChild(holder);
      box.appendChild(card);
      const parts = ["weights", "kv_cache", "graph", "buffer_layer", "reserve", "gpu_overhead"]
        .filter((k) => m.estimate[k]);
      const labels = ["estimate", "reported"].concat(capacity ? [capacity.kind] : []);
      const gib = (n) => n / 1073741824;
      const datasets = parts.map((k, i) => ({
        label: k.replace("_", " "), backgroundColor: velollmColor(i),
        data: [gib(m.estimate[k]), null, null].slice(0, labels.length)}));
      datasets.push({label: "reported by the server", backgroundColor: "#6b7280",
                     data: [null, gib(m.size), null].slice(0, labels.length)});
      if (capacity) datasets.push({label: capacity.kind, backgroundColor: "#d1d5db",
                                   data: [null, null, gib(capacity.bytes)]});
      velollmChart(canvas, "bar", labels, datasets, "GiB", {
        indexAxis: "y",
        scales: {x: {stacked: true, beginAtZero: true, title: {display: true, text: "GiB"}},
                 y: {stacked: true}},
      });
    }
  }

  /* ---- Configuration ------------------------------------------------------------------ */
  function renderConfiguration(c) {
    const w = c.wants;
    const status = c.status;
    document.getElementById("config-source").textContent =
      (w.error ? "velollm.yaml: " + w.error + ". " :
       w.path ? "velollm.yaml: " + w.path + ". " : "No velollm.yaml here (-f FILE names one). ") +
      (status.applied ? "Applied " + status.applied_at + " (plan " + status.plan_id + ")" +
                        (status.target ? " to " + status.target : "") + "." :
                        status.msg + " " + status.hint) +
      (c.drift ? " Drift: the highlighted rows differ." : "");
    fill("settings-table", c.rows.map((r) => {
      const tr = row([r.env, r.yaml, r.applied, r.observed], r.drift ? "drift" : "");
      tr.appendChild(statusCell(r.drift ? "drift" : r.status));
      tr.appendChild(el("td", r.drift || r.why || ""));
      return tr;
    }));
    fill("files-table", (status.files || []).map((f) => {
      const tr = row([f.path, f.target, f.written_at], f.drift !== "none" ? "drift" : "");
      tr.appendChild(statusCell(f.drift === "none" ? "ok" : f.drift));
      return tr;
    }));
    problem(c.state_error);
    mark("configuration");
  }

  /* ---- Gains -------------------------------------------------------------------------- */
  function renderTimeline(t) {
    const metrics = {decode_tps: ["Decode", "tokens/s", 1], prefill_tps: ["Prefill", "tokens/s", 1],
                     ttft_s: ["Time to first token", "ms", 1000]};
    const applied = new Set(t.applies.map((a) => a.run));
    const labels = t.runs.map((r) => (applied.has(r.run) ? "◆ " : "") +
                              String(r.at || "").slice(5, 19).replace("T", " "));
    for (const [metric, [title, unit, scale]] of Object.entries(metrics)) {
      const benches = [...new Set(t.points.filter((p) => p.metric === metric)
                                          .map((p) => p.benchmark))];
      const datasets = benches.map((b, i) => {
        const rows = t.runs.map((r) => t.points.find(
          (p) => p.run === r.run && p.metric === metric && p.benchmark === b));
        return {label: b, borderColor: velollmColor(i), backgroundColor: velollmColor(i),
                data: rows.map((p) => (p ? p.median * scale : null)), spanGaps: true,
                ci: rows.map((p) => (p && p.ci_low !== null ?
                                     [p.ci_low * scale, p.ci_high * scale] : null))};
      });
      const canvas = document.getElementById("time-" + metric);
      chartOn(canvas, () => velollmChart(canvas, "line", labels, datasets,
                                         title + " (" + unit + ")"));
    }
  }

  function renderApply(index) {
    const a = gains.applies[index];
    const table = [];
    for (const metric of ["decode_tps", "prefill_tps", "ttft_s"]) {
      const canvas = document.getElementById("apply-" + metric);
      const old = Chart.getChart(canvas);
      if (old) old.destroy();
      if (!a) continue;
      const info = a.comparison.metrics.find((m) => m.name === metric);
      velollmMetricChart(canvas, a.comparison, info);
    }
    document.getElementById("apply-summary").textContent = a ?
      a.model + ": " + a.before + " (before) against " + a.after + " (after plan " +
      a.plan_id + ", applied " + a.applied_at + ")" + (a.source === "verify" ?
      "; after: verify's rerun against the baseline (its medians; the verdicts below carry " +
      "the intervals)" : "") :
      "No apply with a benchmark before and after it yet: `velollm apply --baseline`, then " +
      "`velollm verify` or `velollm benchmark`.";
    for (const c of a ? a.comparison.comparisons : []) {
      const tr = row([c.benchmark, c.metric, velollmRound(c.before), velollmRound(c.after),
                      velollmRound(c.ratio), velollmRound(c.ci_low) + " – " +
                      velollmRound(c.ci_high)]);
      tr.appendChild(statusCell(c.status));
      table.push(tr);
    }
    fill("apply-table", table);
  }

  function renderGains(g) {
    gains = g;
    document.getElementById("gains-summary").textContent = g.count + " run(s) kept; " +
      g.applies.length + " apply(s) with a benchmark before and after.";
    renderTimeline(g.timeline);
    const choice = document.getElementById("apply-choice");
    choice.replaceChildren(...g.applies.map((a, i) => {
      const option = el("option", a.applied_at || a.plan_id);
      option.value = String(i);
      return option;
    }));
    renderApply(0);
    fill("verify-table", g.verify.map((v) => {
      const run = g.verify_runs.find((r) => r.id === v.run) || {};
      const tr = row([run.source || v.run, run.started_at || run.saved_at]);
      tr.appendChild(statusCell(v.status));
      tr.appendChild(statusCell(v.benchmark_status));
      return tr;
    }));
    document.body.setAttribute("data-charts-rendered",
      String(document.querySelectorAll("canvas[data-rendered]").length));
    mark("gains");
  }

  function poll(name, path, render, every) {
    const once = () => get(path).then(render).catch((error) => problem(String(error)));
    once();
    setInterval(once, every);
  }

  document.getElementById("apply-choice").addEventListener("change", (event) => {
    renderApply(Number(event.target.value));
  });
  poll("now", "/api/now", renderNow, refreshMs);
  poll("configuration", "/api/configuration", renderConfiguration, Math.max(refreshMs, 30000));
  poll("gains", "/api/gains", renderGains, Math.max(refreshMs, 60000));
})();
