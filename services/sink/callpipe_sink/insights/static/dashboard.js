// callpipe built-in dashboard: plain JS and hand-drawn SVG, no libraries and no network access
// beyond this API. The token comes from the form or the URL fragment (#token=…) and is kept in
// sessionStorage only (gone with the tab; never in localStorage, which any later script on this
// origin could read for good); it is sent as a bearer header only — also for the call's audio,
// which is fetched as a blob and played from a blob: URL (an <audio src> request cannot carry a
// header, and a token in a query string would end up in access logs).
//
// One filter (window, queue, agent, intent, sentiment, risks, category, satisfaction) is applied
// to every panel, the agent table, the categories and scorecards and the call list alike: the API
// computes narrowed aggregates from the calls themselves, so the headline and the list always
// count the same calls. Alerts are about time windows, not calls: they follow the window only.
// With an agent chosen (the agent view) the page shows that agent's QA scorecards.
//
// When every panel is drawn, <body data-rendered> holds the number of points per panel, and
// data-state="ready" (read back by the headless-browser test); the call detail sets
// data-transcript (lines), data-categories (categories matched), data-audio ("ready" / "none:
// reason") and data-speaking (the utterance marked after a seek or while playing).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2862c9", "#e0812f", "#3a9d5d", "#b5472b", "#7b5cc4", "#8c8c8c", "#c9a227", "#2aa3b5"];
const REFRESH_MS = 60000;
const CALL_COLUMNS = [
  ["started", (c) => (c.started_at || "").slice(0, 16).replace("T", " ")],
  ["agent", (c) => c.agent_id], ["queue", (c) => c.queue], ["status", (c) => c.status],
  ["intent", (c) => c.intent], ["sentiment", (c) => c.sentiment], ["sat.", (c) => c.satisfaction_score ?? ""],
  ["escalation", (c) => c.escalation_risk], ["churn", (c) => c.churn_risk],
];
const SEARCH_COLUMNS = [
  ["started", (h) => (h.started_at || "").slice(0, 16).replace("T", " ")], ["call", (h) => h.call_id],
  ["who", (h) => h.role], ["at", (h) => `${Number(h.start_s).toFixed(1)}s`], ["matching line", (h) => h.text],
];
const state = { offset: 0, limit: 25, total: 0, q: "", timer: null, audioUrl: null, selected: null, link: null,
  player: null, mark: null };
// Scores under this are drawn as weak in the scorecard tables (a QA lead's usual pass mark).
const WEAK_PASS_RATE = 0.8;
const rendered = {};

function $(id) { return document.getElementById(id); }

function token() { return $("token").value.trim(); }

// The one filter of every request, from the form.
function filterParams(extra) {
  const p = new URLSearchParams({ days: $("days").value });
  const since = $("since").value, until = $("until").value;
  if (since) p.set("since", `${since}T00:00:00Z`);
  if (until) p.set("until", `${until}T23:59:59Z`);
  for (const [id, name] of [["queue", "queue"], ["agent", "agent_id"], ["intent", "intent"], ["sentiment", "sentiment"],
    ["escalation", "escalation_risk"], ["churn", "churn_risk"], ["category", "category"], ["maxsat", "max_satisfaction"]]) {
    const v = $(id).value.trim();
    if (v) p.set(name, v);
  }
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p;
}

function describeScope() {
  const p = filterParams();
  const parts = [];
  if (p.get("since") || p.get("until")) parts.push(`from ${$("since").value || "…"} to ${$("until").value || "now"}`);
  else parts.push(`last ${p.get("days")} days`);
  for (const [k, v] of p.entries()) if (!["days", "since", "until"].includes(k)) parts.push(`${k.replace("_", " ")} = ${v}`);
  return `Showing ${parts.join(", ")}.`;
}

async function request(path, query) {
  const url = query ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) {
    let reason = response.statusText;
    try { reason = JSON.stringify((await response.json()).detail); } catch (e) { /* keep status text */ }
    const err = new Error(`${path}: ${response.status} ${reason}`);
    err.status = response.status;
    err.reason = reason;
    throw err;
  }
  return response;
}

async function api(path, query) { return (await request(path, query)).json(); }

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function cell(tr, value, tag) {
  const td = document.createElement(tag || "td");
  td.textContent = value === null || value === undefined ? "" : String(value);
  tr.appendChild(td);
  return td;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function box(svg) {
  const r = svg.getBoundingClientRect();
  return { w: Math.max(r.width, 320), h: Math.max(r.height, 180), l: 40, r: 10, t: 10, b: 24 };
}

function parseTime(t) { return Date.parse(t + (t.endsWith("Z") || t.includes("+") ? "" : "Z")); }

// Line chart: series = [{name, points: [[t(ms), y], …]}]; every point is also drawn as a dot, so
// a series with a single bucket (an intent whose calls all fell in one hour) is still visible.
// Returns the number of points drawn.
function lineChart(svg, series, { yMin, yMax, fmt, xfmt } = {}) {
  clear(svg);
  const b = box(svg);
  svg.setAttribute("viewBox", `0 0 ${b.w} ${b.h}`);
  const all = series.flatMap((s) => s.points);
  if (!all.length) { el("text", { x: b.l, y: b.h / 2 }, svg).textContent = "no calls match the filter"; return 0; }
  const ts = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  let t0 = Math.min(...ts), t1 = Math.max(...ts);
  if (t1 === t0) { const pad = xfmt ? 1000 : 3600000; t0 -= pad; t1 += pad; }  // one bucket: centre it, not a zero-width axis
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
    el("text", { x: x(t) - (t === t1 ? 60 : 0), y: b.h - 6 }, svg).textContent = xfmt ? xfmt(t) : new Date(t).toISOString().slice(5, 16).replace("T", " ");
  }
  let drawn = 0;
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.slice().sort((a, c) => a[0] - c[0]);
    drawn += pts.length;
    const g = el("g", {}, svg);
    el("title", {}, g).textContent = s.name;
    if (pts.length > 1) {
      el("polyline", {
        points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "),
        fill: "none", stroke: color, "stroke-width": 1.6,
      }, g);
    }
    const radius = pts.length > 60 ? 1.2 : 2.5;
    for (const p of pts) el("circle", { cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: radius, fill: color }, g);
  });
  return drawn;
}

// Horizontal bars: items = [{label, value}]; returns the number of bars drawn. With onClick, a
// click on a bar or its label calls onClick(item).
function barChart(svg, items, { fmt, onClick, left = 110 } = {}) {
  clear(svg);
  const b = box(svg);
  svg.setAttribute("viewBox", `0 0 ${b.w} ${b.h}`);
  if (!items.length) { el("text", { x: 10, y: b.h / 2 }, svg).textContent = "none in the calls shown"; return 0; }
  const max = Math.max(...items.map((d) => Math.abs(d.value)), 1e-9);
  const row = (b.h - 10) / items.length;
  items.forEach((d, i) => {
    const w = (Math.abs(d.value) / max) * (b.w - left - 60);
    const yy = 5 + i * row;
    const label = el("text", { x: 4, y: yy + row * 0.6 }, svg);
    label.textContent = d.label;
    const bar = el("rect", { x: left, y: yy + 2, width: Math.max(w, 1), height: Math.max(row - 4, 2),
      fill: d.value < 0 ? "#b5472b" : COLORS[i % COLORS.length] }, svg);
    if (onClick) {
      for (const node of [label, bar]) {
        node.classList.add("clickable");
        node.dataset.label = d.label;
        node.addEventListener("click", () => onClick(d));
      }
    }
    el("text", { x: left + w + 4, y: yy + row * 0.6 }, svg).textContent = fmt ? fmt(d.value) : String(d.value);
  });
  return items.length;
}

function legend(id, names) {
  const box = $(id);
  clear(box);
  names.forEach((name, i) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLORS[i % COLORS.length];  // CSSOM, allowed by the CSP (no inline style=)
    span.appendChild(swatch);
    span.appendChild(document.createTextNode(name));
    box.appendChild(span);
  });
}

function byIntentSeries(points, value) {
  const series = new Map();
  for (const p of points) {
    if (!series.has(p.intent)) series.set(p.intent, []);
    series.get(p.intent).push([parseTime(p.t), value(p)]);
  }
  return [...series.entries()].map(([name, pts]) => ({ name: name || "(no analysis)", points: pts }));
}

function perBucket(points, fn) {
  const buckets = new Map();
  for (const p of points) {
    const t = parseTime(p.t);
    if (!buckets.has(t)) buckets.set(t, []);
    buckets.get(t).push(p);
  }
  return [...buckets.entries()].map(([t, ps]) => [t, fn(ps)]).filter((p) => p[1] !== null);
}

function pct(v) { return `${(v * 100).toFixed(1)}%`; }

function kpi(label, value, cls) {
  const d = document.createElement("div");
  d.className = cls ? `kpi ${cls}` : "kpi";
  d.appendChild(document.createElement("b")).textContent = value;
  d.appendChild(document.createTextNode(label));
  $("kpis").appendChild(d);
}

// Offer every value seen so far in a filter's select (a narrower filter never removes one).
function fillChoices(id, values) {
  const select = $(id);
  const chosen = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const value of values) {
    if (value && !known.has(value)) {
      const option = document.createElement("option");
      option.textContent = value;
      select.appendChild(option);
      known.add(value);
    }
  }
  select.value = chosen;
}

// Choosing a value from a panel (an agent row, a category bar) narrows the one filter.
function narrowTo(id, value) { $(id).value = value; state.offset = 0; loadAll(); }

async function loadCharts() {
  const days = Number($("days").value);
  const ranged = $("since").value && $("until").value
    ? (Date.parse($("until").value) - Date.parse($("since").value)) / 86400000 : days;
  const bucket = ranged > 14 ? "day" : "hour";
  const agent = $("agent").value.trim();
  const [insights, series, breakdown, trends, categories, scores, alerts, daily] = await Promise.all([
    api("insights", filterParams({ top: 10 })),
    api("timeseries", filterParams({ bucket })),
    api("breakdown", filterParams({ agents: 50 })),
    api("trends", new URLSearchParams({ recent_hours: 24, baseline_days: 28, ...($("queue").value.trim() ? { queue: $("queue").value.trim() } : {}) })),
    api("categories", filterParams({ series: "false" })),
    // Per-question pass rates only for the agent view; the agent table needs the scores.
    api("scorecards/agents", filterParams({ period: "all", questions: agent ? "true" : "false" })),
    api("alerts", new URLSearchParams({ days: $("days").value, limit: 20 })),
    // The agent view: that agent's score per day (the trend), under the same filter.
    agent ? api("scorecards/agents", filterParams({ period: ranged > 60 ? "week" : "day", questions: "false" })) : Promise.resolve(null),
  ]);
  fillChoices("intent", insights.intents.map((i) => i.intent));
  fillChoices("category", categories.categories.map((c) => c.category));
  clear($("kpis"));
  const total = insights.total_calls;
  const escalations = insights.intents.reduce((s, i) => s + i.escalations, 0);
  const churnRisks = insights.intents.reduce((s, i) => s + i.churn_risks, 0);
  const rated = insights.intents.filter((i) => i.avg_satisfaction !== null);
  const ratedCalls = rated.reduce((s, i) => s + i.calls, 0);
  const sat = rated.reduce((s, i) => s + i.avg_satisfaction * i.calls, 0) / Math.max(ratedCalls, 1);
  kpi("calls", total);
  kpi("avg satisfaction", ratedCalls ? sat.toFixed(2) : "–");
  kpi("escalation rate", pct(escalations / Math.max(total, 1)));
  kpi("churn risk rate", pct(churnRisks / Math.max(total, 1)));
  kpi("rising labels", trends.rising.length);
  kpi("alerts", alerts.items.length, alerts.items.some((a) => a.severity === "critical") ? "failed" : "");
  const volume = byIntentSeries(series.points, (p) => p.calls);
  rendered.volume = lineChart($("chart-volume"), volume, { yMin: 0, fmt: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)) });
  legend("legend-volume", volume.map((s) => s.name));
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
  legend("legend-escalation", ["escalation rate", "churn risk rate"]);
  rendered.topics = barChart($("chart-topics"), insights.topics.map((t) => ({ label: t.topic, value: t.calls })));
  rendered.competitors = barChart($("chart-competitors"), insights.competitors.map((c) => ({ label: c.competitor, value: c.mentions })));
  const r = breakdown.roles || {};
  rendered.roles = barChart($("chart-roles"), [
    ["caller sentiment", r.caller_sentiment], ["agent sentiment", r.agent_sentiment],
    ["caller talk share", r.caller_talk_share], ["agent talk share", r.agent_talk_share], ["silence share", r.silence_share],
  ].filter((d) => d[1] !== null && d[1] !== undefined).map(([label, value]) => ({ label, value })), { fmt: (v) => v.toFixed(2) });
  rendered.categories = barChart($("chart-categories"), categories.categories.map((c) => ({ label: c.category, value: c.share })),
    { fmt: pct, left: 170, onClick: (d) => narrowTo("category", d.label) });
  rendered.agents = renderAgents(breakdown.agents || [], scores.items);
  rendered.scorecard = renderScorecard(agent, scores.items, daily ? daily.items : []);
  rendered.alerts = renderAlerts(alerts);
  renderTrends(trends);
}

// Each agent's average QA score over the filter (per form when there are several).
function qaScores(items) {
  const forms = new Set(items.map((s) => s.form));
  const byAgent = new Map();
  for (const s of items) {
    const text = s.avg_score === null ? "–" : (forms.size > 1 ? `${s.form} ${s.avg_score}` : String(s.avg_score));
    byAgent.set(s.agent_id, byAgent.has(s.agent_id) ? `${byAgent.get(s.agent_id)}; ${text}` : text);
  }
  return byAgent;
}

// The agent view: per form, the average score with its trend per day and each question's pass rate.
function renderScorecard(agent, totals, daily) {
  const section = $("scorecard"), body = $("scorecard-body");
  clear(body);
  section.hidden = !agent;
  if (!agent) return 0;
  $("scorecard-title").textContent = `QA scorecard of ${agent}`;
  const mine = totals.filter((s) => s.agent_id === agent);
  if (!mine.length) {
    body.appendChild(document.createElement("p")).textContent = "No scored calls of this agent match the filter.";
    return 0;
  }
  let questions = 0;
  for (const s of mine) {
    const figure = document.createElement("figure");
    figure.className = "scorecard";
    figure.dataset.form = s.form;
    body.appendChild(figure);
    figure.appendChild(document.createElement("figcaption")).textContent =
      `${s.form}: average ${s.avg_score ?? "–"} / 100 over ${s.scored} scored calls (lowest ${s.min_score ?? "–"})`;
    const svg = el("svg", { class: "chart small" }, figure);
    const points = daily.filter((d) => d.agent_id === agent && d.form === s.form && d.avg_score !== null)
      .map((d) => [parseTime(d.period), Number(d.avg_score)]);
    lineChart(svg, [{ name: `${s.form} average score`, points }], { yMin: 0, yMax: 100, fmt: (v) => v.toFixed(0),
      xfmt: (t) => new Date(t).toISOString().slice(5, 10) });
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const h of ["question", "pass rate", "passed / applicable", "most frequent reasons for failing"]) cell(head, h, "th");
    const tbody = table.createTBody();
    for (const q of s.questions) {
      const tr = tbody.insertRow();
      if (q.applicable && q.pass_rate < WEAK_PASS_RATE) tr.className = "weak";
      for (const v of [q.question_id, q.applicable ? pct(q.pass_rate) : "n/a", `${q.passed} / ${q.applicable}`, (q.failing_reasons || []).join("; ")]) cell(tr, v);
      questions += 1;
    }
    figure.appendChild(table);
  }
  return questions;
}

// Recent alerts of the alerts job (newest window first); a sample call opens in the call panel.
function renderAlerts(alerts) {
  const tbody = $("alerts").querySelector("tbody");
  clear(tbody);
  const days = $("days").value;
  $("alerts-note").textContent = alerts.items.length
    ? `Alerts of the last ${days} days, newest first (they follow the Days window only). Click a sample call to open it.`
    : `No alerts in the last ${days} days.`;
  for (const a of alerts.items) {
    const tr = document.createElement("tr");
    tr.className = a.severity;
    tr.dataset.alertId = a.alert_id;
    const span = `${a.window_start.slice(0, 16).replace("T", " ")}–${a.window_end.slice(11, 16)}`;
    for (const v of [span, a.severity, a.rule, a.subject, a.message]) cell(tr, v);
    const samples = cell(tr, "");
    for (const id of a.sample_call_ids || []) {
      const link = document.createElement("button");
      link.type = "button";
      link.className = "link sample-call";
      link.textContent = id;
      link.addEventListener("click", () => {
        showCall(id).then(() => $("detail").scrollIntoView()).catch((err) => { $("status").textContent = err.message; });
      });
      samples.appendChild(link);
    }
    tbody.appendChild(tr);
  }
  return alerts.items.length;
}

function renderAgents(agents, scores) {
  const qa = qaScores(scores);
  const tbody = $("agents").querySelector("tbody");
  clear(tbody);
  for (const a of agents) {
    const tr = document.createElement("tr");
    tr.className = "call";
    const n = Math.max(a.calls, 1);
    for (const v of [a.agent_id || "(unknown)", a.calls, a.hours, a.avg_satisfaction ?? "–", pct(a.escalations / n),
      pct(a.churn_risks / n), a.negative, a.avg_caller_sentiment ?? "–", a.avg_agent_talk_share ?? "–", qa.get(a.agent_id) ?? "–"]) cell(tr, v);
    tr.addEventListener("click", () => narrowTo("agent", a.agent_id));
    tbody.appendChild(tr);
  }
  return agents.length;
}

function renderTrends(trends) {
  const tbody = $("trends").querySelector("tbody");
  clear(tbody);
  // Say why the table is empty instead of leaving a blank table.
  let note = `Last 24 h (${trends.recent_calls} calls) against the 28 days before (${trends.baseline_calls} calls); `
    + "bold rows rose significantly (one-sided z-test, Bonferroni-corrected). Trends follow the queue filter only.";
  if (!trends.recent_calls || !trends.baseline_calls) {
    note = `No trend test: it needs calls in the last 24 h and in the 28 days before (now ${trends.recent_calls} and ${trends.baseline_calls}).`;
  } else if (!trends.rising.length) {
    note = `${note} Nothing rose significantly.`;
  }
  $("trends-note").textContent = note;
  for (const t of trends.tested.slice(0, 10)) {
    const tr = document.createElement("tr");
    for (const v of [t.kind, t.label, pct(t.recent_share), pct(t.baseline_share), t.z.toFixed(2), t.p_value.toExponential(1)]) cell(tr, v);
    if (t.significant) tr.className = "significant";
    tbody.appendChild(tr);
  }
  rendered.trends = trends.tested.length;
}

function callHeader(columns) {
  const head = $("calls").querySelector("thead tr");
  clear(head);
  for (const [label] of columns) cell(head, label, "th");
}

async function loadCalls() {
  const tbody = $("calls").querySelector("tbody");
  let rows, columns;
  if (state.q) {
    const found = await api("search", new URLSearchParams({ q: state.q, limit: 50, days: $("days").value }));
    rows = found.hits;
    columns = SEARCH_COLUMNS;
    state.total = rows.length;
  } else {
    const page = await api("calls", filterParams({ limit: state.limit, offset: state.offset }));
    rows = page.items;
    columns = CALL_COLUMNS;
    state.total = page.total;
  }
  callHeader(columns);
  clear(tbody);
  for (const c of rows) {
    const tr = document.createElement("tr");
    tr.className = "call";
    if (c.status && c.status !== "ok") tr.classList.add("not-ok");
    tr.dataset.callId = c.call_id;
    for (const [label, value] of columns) {
      const td = cell(tr, value(c));
      if (label === "status" && c.status === "no_speech") td.title = "no speech was found in the recording: nothing to analyze";
    }
    tr.addEventListener("click", () => showCall(c.call_id, c.start_s));
    tbody.appendChild(tr);
  }
  $("page").textContent = state.q ? `${rows.length} matching lines` : (state.total ? `${state.offset + 1}–${state.offset + rows.length} of ${state.total}` : "no calls match the filter");
  rendered.calls = rows.length;
  return rows;
}

function definition(dl, term, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return;
  dl.appendChild(document.createElement("dt")).textContent = term;
  dl.appendChild(document.createElement("dd")).textContent = Array.isArray(value) ? value.join(", ") : String(value);
}

function fixed(v, digits) { return v === null || v === undefined ? null : Number(v).toFixed(digits); }

// The call's analysis in full: what a supervisor reads before listening.
function analysisList(c) {
  const dl = document.createElement("dl");
  definition(dl, "status", c.status);
  definition(dl, "flags", c.flags);
  definition(dl, "summary", c.summary);
  definition(dl, "intent", c.intent);
  definition(dl, "sentiment", c.sentiment && `${c.sentiment} (caller ${c.caller_sentiment || "–"} ${fixed(c.caller_sentiment_score, 2) ?? ""}, agent ${c.agent_sentiment || "–"} ${fixed(c.agent_sentiment_score, 2) ?? ""})`);
  definition(dl, "caller sentiment start → end", c.caller_sentiment_start === null ? null : `${fixed(c.caller_sentiment_start, 2)} → ${fixed(c.caller_sentiment_end, 2)}`);
  definition(dl, "satisfaction", c.satisfaction_score);
  definition(dl, "escalation risk", c.escalation_risk);
  definition(dl, "churn risk", c.churn_risk);
  definition(dl, "topics", c.key_topics);
  definition(dl, "action items", (c.action_items || []).map((t, i) => `${t} (${(c.action_item_owners || [])[i] || "?"})`));
  definition(dl, "competitors", (c.competitors || []).map((n, i) => `${n} ×${(c.competitor_counts || [])[i] ?? 1}`));
  definition(dl, "answers", (c.custom_question_ids || []).map((q, i) => `${q}: ${(c.custom_answers || [])[i]}`));
  definition(dl, "duration", c.duration_s === undefined ? null : `${fixed(c.duration_s, 0)} s, silence ${pct(c.silence_share || 0)}, ${c.turn_count} turns, longest monologue ${fixed(c.longest_monologue_s, 0)} s`);
  definition(dl, "talk share", c.caller_talk_share === null ? null : `caller ${pct(c.caller_talk_share)}, agent ${pct(c.agent_talk_share || 0)}`);
  definition(dl, "interruptions", c.caller_interruptions === null ? null : `caller ${c.caller_interruptions}, agent ${c.agent_interruptions}`);
  definition(dl, "words per minute", c.caller_words_per_minute === null ? null : `caller ${fixed(c.caller_words_per_minute, 0)}, agent ${fixed(c.agent_words_per_minute, 0)}`);
  const redactions = Object.entries(c.redaction_counts || {}).map(([k, v]) => `${k} ${v}`);
  definition(dl, "redacted", c.redaction_enabled ? (redactions.length ? redactions : ["nothing found"]) : ["redaction off"]);
  definition(dl, "agent / queue", `${c.agent_id || "–"} / ${c.queue || "–"}`);
  definition(dl, "engines", `${c.stt_engine || "–"} ${c.stt_model || ""} · ${c.analyzer || "–"} ${c.model || ""} ${c.prompt_version || ""}`);
  return dl;
}

// Sentiment over the call: each utterance's score (-1 … 1) at its start time, caller and agent apart.
function sentimentChart(transcript) {
  const svg = el("svg", { class: "chart small" });
  const series = ["caller", "agent"].map((role) => ({ name: role, points: transcript
    .filter((u) => u.role === role && u.sentiment !== null && u.sentiment !== undefined)
    .map((u) => [u.start_s * 1000, Number(u.sentiment)]) }));
  return { svg, draw: () => lineChart(svg, series, { yMin: -1, yMax: 1, fmt: (v) => v.toFixed(1),
    xfmt: (ms) => `${Math.round(ms / 1000)} s` }) };
}

function releaseAudio() {
  if (state.audioUrl) { URL.revokeObjectURL(state.audioUrl); state.audioUrl = null; }
}

// Marks the transcript line spoken at second t (and scrolls the call panel to it): after a seek,
// while playing, or on a click on a category's evidence when the call has no audio.
function transcriptMarker(lines) {
  let current = null;
  return (t) => {
    const line = lines.find((l) => t >= l.start && t < l.end) || null;
    if (line === current) return;
    if (current) current.node.classList.remove("speaking");
    if (line) {
      line.node.classList.add("speaking");
      // Scroll the transcript panel only, never the page under the supervisor's reading.
      const panel = $("detail");
      const top = line.node.offsetTop;  // the panel is the offset parent (position: relative)
      if (top < panel.scrollTop || top > panel.scrollTop + panel.clientHeight - 40) panel.scrollTop = Math.max(0, top - 60);
    }
    current = line;
    document.body.dataset.speaking = line ? String(line.idx) : "";
  };
}

// Go to second t of the open call, as a click on its transcript line does: seek the audio and
// play when there is audio, else mark the line.
function seekCall(t) {
  if (state.player) {
    state.player.seekTo(t + 0.01);
    state.player.play().catch(() => {});
  } else if (state.mark) {
    state.mark(t + 0.01);
  }
}

// Audio playback synced to the transcript: click a line to seek there; while playing, the line
// being spoken is highlighted (and scrolled into view).
async function attachAudio(aside, callId, highlightAt) {
  const holder = document.createElement("div");
  holder.className = "player";
  aside.insertBefore(holder, aside.children[1] || null);
  releaseAudio();
  let blob;
  try {
    blob = await (await request(`calls/${encodeURIComponent(callId)}/audio`)).blob();
  } catch (err) {
    holder.textContent = err.status === 404 ? `No audio: ${String(err.reason).replace(/^"|"$/g, "")}` : `Audio failed: ${err.message}`;
    document.body.dataset.audio = `none: ${err.status}`;
    return null;
  }
  if (state.selected !== callId) return null;  // another call was opened meanwhile
  state.audioUrl = URL.createObjectURL(blob);
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "auto";
  audio.src = state.audioUrl;
  holder.appendChild(audio);
  // While playing, and after any seek (the player's own slider included).
  for (const event of ["timeupdate", "seeked"]) audio.addEventListener(event, () => highlightAt(audio.currentTime));
  audio.seekTo = (t) => {
    highlightAt(t);  // at once: the line jumped to is marked even before the media has seeked
    const seek = () => { audio.currentTime = t; };
    if (audio.readyState >= 1) seek(); else audio.addEventListener("loadedmetadata", seek, { once: true });
  };
  state.player = audio;
  document.body.dataset.audio = "ready";
  return audio;
}

// The call's categories, each with its evidence (the utterance and its time: a click seeks the
// call there like a transcript line), and its scorecards with the reason of every answer.
function qualitySections(aside, detail) {
  if (detail.categories.length) {
    aside.appendChild(document.createElement("h3")).textContent = "Categories";
    const list = aside.appendChild(document.createElement("ul"));
    list.className = "categories";
    for (const category of detail.categories) {
      const item = list.appendChild(document.createElement("li"));
      item.dataset.category = category.name;
      item.appendChild(document.createElement("b")).textContent = category.name;
      for (const e of category.evidence) {
        const timed = e.start_s !== null && e.start_s !== undefined;
        const node = item.appendChild(document.createElement(timed ? "button" : "span"));
        node.className = "evidence";
        node.title = `rule: ${e.rule}`;
        node.textContent = `${timed ? `${Number(e.start_s).toFixed(1)} s ` : ""}“${e.text || e.rule}”`;
        if (timed) {
          node.type = "button";
          node.dataset.start = String(e.start_s);
          node.addEventListener("click", () => seekCall(Number(e.start_s)));
        }
      }
    }
  }
  for (const card of detail.scorecards) {
    aside.appendChild(document.createElement("h3")).textContent =
      `Scorecard ${card.form}: ${card.score === null ? "not scored" : `${Number(card.score).toFixed(1)} / 100`}`;
    const table = aside.appendChild(document.createElement("table"));
    table.className = "answers";
    table.dataset.form = card.form;
    const head = table.createTHead().insertRow();
    for (const h of ["question", "weight", "result", "points", "reason"]) cell(head, h, "th");
    const tbody = table.createTBody();
    for (const a of card.answers) {
      const tr = tbody.insertRow();
      tr.className = a.passed === null ? "na" : (a.passed ? "pass" : "fail");
      for (const v of [a.question_id, a.weight, a.passed === null ? "n/a" : (a.passed ? "pass" : "fail"), fixed(a.points, 1), a.reason]) cell(tr, v);
    }
  }
  document.body.dataset.categories = String(detail.categories.length);
}

async function showCall(callId, atSecond) {
  state.selected = callId;
  const detail = await api(`calls/${encodeURIComponent(callId)}`);
  const aside = $("detail");
  clear(aside);
  state.player = null;
  const c = detail.call;
  aside.appendChild(document.createElement("h2")).textContent = `Call ${c.call_id}`;
  aside.appendChild(document.createElement("p")).textContent = `${(c.started_at || "").slice(0, 19).replace("T", " ")} · ${c.direction || ""} · ${c.from_number ? "from " + c.from_number : ""}`;
  aside.appendChild(analysisList(c));
  qualitySections(aside, detail);
  if (detail.transcript.some((u) => u.sentiment !== null && u.sentiment !== undefined)) {
    aside.appendChild(document.createElement("h3")).textContent = "Sentiment over the call (caller, agent)";
    const chart = sentimentChart(detail.transcript);
    aside.appendChild(chart.svg);
    chart.draw();
  }
  aside.appendChild(document.createElement("h3")).textContent = "Transcript";
  if (!detail.transcript.length) aside.appendChild(document.createElement("p")).textContent = c.status === "no_speech" ? "No speech in this recording." : "No transcript stored.";
  const lines = [];
  for (const u of detail.transcript) {
    const p = document.createElement("p");
    p.className = `turn ${u.role}`;
    p.dataset.idx = String(u.idx);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = `${u.role} ${u.start_s.toFixed(1)}s`;
    p.appendChild(who);
    p.appendChild(document.createTextNode(u.text));
    aside.appendChild(p);
    lines.push({ idx: u.idx, start: u.start_s, end: Math.max(u.end_s, u.start_s + 0.2), node: p });
  }
  document.body.dataset.transcript = String(detail.transcript.length);
  state.mark = transcriptMarker(lines);
  document.body.dataset.speaking = "";
  for (const l of lines) l.node.addEventListener("click", () => seekCall(l.start));
  const audio = await attachAudio(aside, callId, state.mark);
  if (audio && atSecond !== undefined && atSecond !== null) audio.seekTo(Number(atSecond));
}

// Calls dead-lettered in the window (their latest event in call_events), with stage and reason:
// these never reach the calls table, so the page lists them apart and counts them as a KPI.
function loadFailures() { return api("failures", new URLSearchParams({ days: $("days").value, limit: 50 })); }

function renderFailures(failed) {
  kpi("failed calls", failed.total, "failed");
  const tbody = $("failures").querySelector("tbody");
  clear(tbody);
  for (const f of failed.items) {
    const tr = document.createElement("tr");
    tr.className = "failed";
    for (const v of [f.dead_lettered_at.slice(0, 19).replace("T", " "), f.call_id, f.stage, f.error_class, f.attempts, f.reason]) cell(tr, v);
    tbody.appendChild(tr);
  }
  rendered.failures = failed.items.length;
}

async function exportCsv() {
  try {
    const response = await request("calls.csv", filterParams());
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = "calls.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    const cut = response.headers.get("X-Truncated") === "true";
    $("status").textContent = cut ? `exported the newest rows of ${response.headers.get("X-Total-Count")} calls (export limit)` : "";
  } catch (err) {
    $("status").textContent = String(err.message || err);
  }
}

async function loadAll() {
  document.body.dataset.state = "loading";
  $("status").textContent = "loading…";
  $("scope").textContent = describeScope();
  try {
    // Every request at once (the API answers them side by side); the failures' KPI is added
    // once the charts have drawn theirs.
    const [, failed, rows] = await Promise.all([loadCharts(), loadFailures(), loadCalls()]);
    renderFailures(failed);
    if (state.link) {  // #call=ID&at=SECONDS: a link to a moment in a call
      const { call, at } = state.link;
      state.link = null;
      await showCall(call, at === null ? undefined : Number(at));
      $("detail").parentElement.scrollIntoView();  // a link to a call opens on the call
    } else if (rows.length && !state.q) {
      await showCall(state.selected && rows.some((r) => r.call_id === state.selected) ? state.selected : rows[0].call_id);
    }
    document.body.dataset.rendered = JSON.stringify(rendered);
    // Milliseconds from navigation to every panel drawn (read back by `./dev bench page`).
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.state = "ready";
    $("status").textContent = "";
  } catch (err) {
    document.body.dataset.state = "error";
    $("status").textContent = String(err.message || err);
  }
}

function setAutoRefresh(on) {
  if (state.timer) { clearInterval(state.timer); state.timer = null; }
  // Refresh the panels and the list, but never while audio is playing.
  if (on) state.timer = setInterval(() => { const a = document.querySelector("audio"); if (!a || a.paused) loadAll(); }, REFRESH_MS);
}

function init() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem("callpipe-token", fragment.get("token"));
  }
  localStorage.removeItem("callpipe-token");  // a token an older version left there
  for (const [key, id] of [["days", "days"], ["queue", "queue"], ["agent", "agent"], ["intent", "intent"], ["sentiment", "sentiment"],
    ["escalation", "escalation"], ["churn", "churn"], ["category", "category"], ["since", "since"], ["until", "until"], ["maxsat", "maxsat"]]) {
    const v = fragment.get(key);
    if (v === null) continue;
    if ($(id).tagName === "SELECT" && ![...$(id).options].some((o) => (o.value || o.textContent) === v)) {
      const option = document.createElement("option");
      option.textContent = v;
      $(id).appendChild(option);
    }
    $(id).value = v;
  }
  if (fragment.get("call")) state.link = { call: fragment.get("call"), at: fragment.get("at") };
  if (fragment.get("token")) history.replaceState(null, "", location.pathname);  // do not leave the token in the address bar
  $("token").value = sessionStorage.getItem("callpipe-token") || "";
  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("callpipe-token", token());
    state.offset = 0;
    loadAll();
  });
  $("reset").addEventListener("click", () => {
    for (const id of ["since", "until", "queue", "agent", "intent", "sentiment", "escalation", "churn", "category", "maxsat"]) $(id).value = "";
    state.offset = 0;
    loadAll();
  });
  $("autorefresh").addEventListener("change", (e) => setAutoRefresh(e.target.checked));
  $("search").addEventListener("submit", (e) => { e.preventDefault(); state.q = $("q").value.trim(); state.offset = 0; loadCalls().catch((err) => { $("status").textContent = err.message; }); });
  $("clear-search").addEventListener("click", () => { state.q = ""; $("q").value = ""; loadCalls().catch((err) => { $("status").textContent = err.message; }); });
  $("export").addEventListener("click", exportCsv);
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadCalls(); });
  $("next").addEventListener("click", () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; loadCalls(); } });
  window.addEventListener("beforeunload", releaseAudio);
  if (token()) loadAll(); else { $("status").textContent = "enter the insights token"; document.body.dataset.state = "needs-token"; }
}

init();
