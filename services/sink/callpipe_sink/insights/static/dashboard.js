// callpipe built-in dashboard: plain JS and hand-drawn SVG, no libraries and no network access
// beyond this API. The token comes from the form or the URL fragment (#token=…) and is kept in
// sessionStorage only (gone with the tab; never in localStorage, which any later script on this
// origin could read for good); it is sent as a bearer header only. When every chart is drawn, <body data-rendered> holds the
// number of points per chart (read back by the headless-browser test).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2862c9", "#e0812f", "#3a9d5d", "#b5472b", "#7b5cc4", "#8c8c8c", "#c9a227", "#2aa3b5"];
const state = { offset: 0, limit: 25, total: 0, q: "" };
const rendered = {};

function $(id) { return document.getElementById(id); }

function token() { return $("token").value.trim(); }

function params(extra) {
  const p = new URLSearchParams({ days: $("days").value });
  const queue = $("queue").value.trim();
  if (queue) p.set("queue", queue);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p;
}

async function api(path, query) {
  const url = query ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) {
    let reason = response.statusText;
    try { reason = JSON.stringify((await response.json()).detail); } catch (e) { /* keep status text */ }
    throw new Error(`${path}: ${response.status} ${reason}`);
  }
  return response.json();
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }

function box(svg) {
  const r = svg.getBoundingClientRect();
  return { w: Math.max(r.width, 320), h: Math.max(r.height, 180), l: 40, r: 10, t: 10, b: 24 };
}

// Line chart: series = [{name, points: [[t(ms), y], …]}]; returns the number of points drawn.
function lineChart(svg, series, { yMin, yMax, fmt } = {}) {
  clear(svg);
  const b = box(svg);
  svg.setAttribute("viewBox", `0 0 ${b.w} ${b.h}`);
  const all = series.flatMap((s) => s.points);
  if (!all.length) { el("text", { x: b.l, y: b.h / 2 }, svg).textContent = "no data"; return 0; }
  const ts = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const t0 = Math.min(...ts), t1 = Math.max(...ts) || t0 + 1;
  const lo = yMin ?? Math.min(0, ...ys), hi = yMax ?? (Math.max(...ys) || 1);
  const x = (t) => b.l + ((t - t0) / Math.max(t1 - t0, 1)) * (b.w - b.l - b.r);
  const y = (v) => b.h - b.b - ((v - lo) / Math.max(hi - lo, 1e-9)) * (b.h - b.t - b.b);
  el("line", { x1: b.l, y1: b.h - b.b, x2: b.w - b.r, y2: b.h - b.b, stroke: "#99a" }, svg);
  for (const frac of [0, 0.5, 1]) {
    const v = lo + (hi - lo) * frac;
    el("text", { x: 2, y: y(v) + 3 }, svg).textContent = fmt ? fmt(v) : v.toFixed(1);
    el("line", { x1: b.l, y1: y(v), x2: b.w - b.r, y2: y(v), stroke: "#eef" }, svg);
  }
  for (const t of [t0, t1]) {
    el("text", { x: x(t) - (t === t1 ? 60 : 0), y: b.h - 6 }, svg).textContent = new Date(t).toISOString().slice(5, 16).replace("T", " ");
  }
  let drawn = 0;
  series.forEach((s, i) => {
    const pts = s.points.slice().sort((a, c) => a[0] - c[0]);
    drawn += pts.length;
    el("polyline", {
      points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "),
      fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 1.6,
    }, svg).appendChild(el("title")).textContent = s.name;
  });
  return drawn;
}

// Horizontal bars: items = [{label, value}]; returns the number of bars drawn.
function barChart(svg, items, { fmt } = {}) {
  clear(svg);
  const b = box(svg);
  svg.setAttribute("viewBox", `0 0 ${b.w} ${b.h}`);
  if (!items.length) { el("text", { x: 10, y: b.h / 2 }, svg).textContent = "no data"; return 0; }
  const max = Math.max(...items.map((d) => Math.abs(d.value)), 1e-9);
  const row = (b.h - 10) / items.length, left = 110;
  items.forEach((d, i) => {
    const w = (Math.abs(d.value) / max) * (b.w - left - 60);
    const yy = 5 + i * row;
    el("text", { x: 4, y: yy + row * 0.6 }, svg).textContent = d.label;
    el("rect", { x: left, y: yy + 2, width: Math.max(w, 1), height: Math.max(row - 4, 2),
      fill: d.value < 0 ? "#b5472b" : COLORS[i % COLORS.length] }, svg);
    el("text", { x: left + w + 4, y: yy + row * 0.6 }, svg).textContent = fmt ? fmt(d.value) : String(d.value);
  });
  return items.length;
}

function byIntentSeries(points, value) {
  const series = new Map();
  for (const p of points) {
    if (!series.has(p.intent)) series.set(p.intent, []);
    series.get(p.intent).push([Date.parse(p.t + (p.t.endsWith("Z") || p.t.includes("+") ? "" : "Z")), value(p)]);
  }
  return [...series.entries()].map(([name, pts]) => ({ name: name || "(none)", points: pts }));
}

function perBucket(points, fn) {
  const buckets = new Map();
  for (const p of points) {
    const t = Date.parse(p.t + (p.t.endsWith("Z") || p.t.includes("+") ? "" : "Z"));
    if (!buckets.has(t)) buckets.set(t, []);
    buckets.get(t).push(p);
  }
  return [...buckets.entries()].map(([t, ps]) => [t, fn(ps)]).filter((p) => p[1] !== null);
}

function pct(v) { return `${(v * 100).toFixed(1)}%`; }

async function loadCharts() {
  const days = Number($("days").value);
  const bucket = days > 14 ? "day" : "hour";
  const [insights, series, breakdown, trends] = await Promise.all([
    api("insights", params({ top: 10 })),
    api("timeseries", params({ bucket })),
    api("breakdown", params({ agents: 20 })),
    api("trends", params({ recent_hours: 24, baseline_days: 28 })),
  ]);
  const kpis = $("kpis");
  kpis.innerHTML = "";
  const total = insights.total_calls;
  const escalations = insights.intents.reduce((s, i) => s + i.escalations, 0);
  const churnRisks = insights.intents.reduce((s, i) => s + i.churn_risks, 0);
  const sat = insights.intents.reduce((s, i) => s + (i.avg_satisfaction || 0) * i.calls, 0) / Math.max(total, 1);
  for (const [label, value] of [["calls", total], ["avg satisfaction", sat.toFixed(2)],
    ["escalation rate", pct(escalations / Math.max(total, 1))], ["churn risk rate", pct(churnRisks / Math.max(total, 1))],
    ["rising labels", trends.rising.length]]) {
    const d = document.createElement("div");
    d.className = "kpi";
    d.innerHTML = `<b></b>${label}`;
    d.querySelector("b").textContent = value;
    kpis.appendChild(d);
  }
  const volume = byIntentSeries(series.points, (p) => p.calls);
  rendered.volume = lineChart($("chart-volume"), volume, { yMin: 0, fmt: (v) => v.toFixed(0) });
  $("legend-volume").innerHTML = "";
  volume.forEach((s, i) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLORS[i % COLORS.length];  // CSSOM, allowed by the CSP (no inline style=)
    span.appendChild(swatch);
    span.appendChild(document.createTextNode(s.name));
    $("legend-volume").appendChild(span);
  });
  rendered.satisfaction = lineChart($("chart-satisfaction"), [{ name: "satisfaction", points: perBucket(series.points, (ps) => {
    const n = ps.reduce((s, p) => s + (p.avg_satisfaction === null ? 0 : p.calls), 0);
    return n ? ps.reduce((s, p) => s + (p.avg_satisfaction || 0) * p.calls, 0) / n : null;
  }) }], { yMin: 1, yMax: 10 });
  const rateOf = (key) => perBucket(series.points, (ps) => {
    const n = ps.reduce((s, p) => s + p.calls, 0);
    return n ? ps.reduce((s, p) => s + p[key], 0) / n : null;
  });
  rendered.escalation = lineChart($("chart-escalation"), [
    { name: "escalation rate", points: rateOf("escalations") },
    { name: "churn risk rate", points: rateOf("churn_risks") },
  ], { yMin: 0, fmt: pct });
  rendered.topics = barChart($("chart-topics"), insights.topics.map((t) => ({ label: t.topic, value: t.calls })));
  rendered.competitors = barChart($("chart-competitors"), insights.competitors.map((c) => ({ label: c.competitor, value: c.mentions })));
  const r = breakdown.roles || {};
  rendered.roles = barChart($("chart-roles"), [
    ["caller sentiment", r.caller_sentiment], ["agent sentiment", r.agent_sentiment],
    ["caller talk share", r.caller_talk_share], ["agent talk share", r.agent_talk_share], ["silence share", r.silence_share],
  ].filter((d) => d[1] !== null && d[1] !== undefined).map(([label, value]) => ({ label, value })), { fmt: (v) => v.toFixed(2) });
  const tbody = $("trends").querySelector("tbody");
  tbody.innerHTML = "";
  for (const t of trends.tested.slice(0, 10)) {
    const tr = document.createElement("tr");
    for (const v of [t.kind, t.label, pct(t.recent_share), pct(t.baseline_share), t.z.toFixed(2), t.p_value.toExponential(1)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    if (t.significant) tr.style.fontWeight = "600";
    tbody.appendChild(tr);
  }
  rendered.trends = trends.tested.length;
}

async function loadCalls() {
  const tbody = $("calls").querySelector("tbody");
  let rows;
  if (state.q) {
    const found = await api("search", new URLSearchParams({ q: state.q, limit: 50 }));
    rows = found.hits.map((h) => ({ call_id: h.call_id, started_at: h.started_at, agent_id: "", queue: "", intent: h.text, sentiment: "", satisfaction_score: "", escalation_risk: "", churn_risk: "" }));
    state.total = rows.length;
  } else {
    const page = await api("calls", new URLSearchParams({ limit: state.limit, offset: state.offset }));
    rows = page.items;
    state.total = page.total;
  }
  tbody.innerHTML = "";
  for (const c of rows) {
    const tr = document.createElement("tr");
    tr.className = "call";
    for (const v of [c.started_at.slice(0, 16).replace("T", " "), c.agent_id, c.queue, c.intent, c.sentiment, c.satisfaction_score ?? "", c.escalation_risk, c.churn_risk]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    tr.addEventListener("click", () => showCall(c.call_id));
    tbody.appendChild(tr);
  }
  $("page").textContent = state.q ? `${rows.length} hits` : `${state.offset + 1}–${state.offset + rows.length} of ${state.total}`;
  rendered.calls = rows.length;
  return rows;
}

async function showCall(callId) {
  const detail = await api(`calls/${encodeURIComponent(callId)}`);
  const aside = $("detail");
  aside.innerHTML = "<h2>Transcript</h2>";
  const c = detail.call;
  const head = document.createElement("p");
  head.textContent = `${c.call_id} · ${c.intent} · satisfaction ${c.satisfaction_score ?? "–"} · ${c.summary}`;
  aside.appendChild(head);
  for (const u of detail.transcript) {
    const p = document.createElement("p");
    p.className = `turn ${u.role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = `${u.role} ${u.start_s.toFixed(1)}s`;
    p.appendChild(who);
    p.appendChild(document.createTextNode(u.text));
    aside.appendChild(p);
  }
  document.body.dataset.transcript = String(detail.transcript.length);
}

// Calls dead-lettered in the window (their latest event in call_events), with stage and reason:
// these never reach the calls table, so the page lists them apart and counts them as a KPI.
async function loadFailures() {
  const failed = await api("failures", new URLSearchParams({ days: $("days").value, limit: 50 }));
  const kpi = document.createElement("div");
  kpi.className = "kpi failed";
  kpi.innerHTML = "<b></b>failed calls";
  kpi.querySelector("b").textContent = failed.total;
  $("kpis").appendChild(kpi);
  const tbody = $("failures").querySelector("tbody");
  tbody.innerHTML = "";
  for (const f of failed.items) {
    const tr = document.createElement("tr");
    tr.className = "failed";
    for (const v of [f.dead_lettered_at.slice(0, 19).replace("T", " "), f.call_id, f.stage, f.error_class, f.attempts, f.reason]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
  rendered.failures = failed.items.length;
}

async function loadAll() {
  document.body.dataset.state = "loading";
  $("status").textContent = "loading…";
  try {
    await loadCharts();
    await loadFailures();
    const rows = await loadCalls();
    if (rows.length) await showCall(rows[0].call_id);
    document.body.dataset.rendered = JSON.stringify(rendered);
    document.body.dataset.state = "ready";
    $("status").textContent = "";
  } catch (err) {
    document.body.dataset.state = "error";
    $("status").textContent = String(err.message || err);
  }
}

function init() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem("callpipe-token", fragment.get("token"));
    history.replaceState(null, "", location.pathname);  // do not leave the token in the address bar
  }
  localStorage.removeItem("callpipe-token");  // a token an older version left there
  if (fragment.get("days")) $("days").value = fragment.get("days");
  $("token").value = sessionStorage.getItem("callpipe-token") || "";
  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("callpipe-token", token());
    state.offset = 0;
    loadAll();
  });
  $("search").addEventListener("submit", (e) => { e.preventDefault(); state.q = $("q").value.trim(); state.offset = 0; loadCalls().catch((err) => { $("status").textContent = err.message; }); });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadCalls(); });
  $("next").addEventListener("click", () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; loadCalls(); } });
  if (token()) loadAll(); else { $("status").textContent = "enter the insights token"; document.body.dataset.state = "needs-token"; }
}

init();
