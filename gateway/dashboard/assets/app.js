// The dashboard page: one EventSource (/events) feeds every view; the editor talks to /api/*.
// Served with a CSP that forbids inline script, so all behaviour lives in this file.
'use strict';

const $ = (id) => document.getElementById(id);
const S = {
  metrics: null, rules: [], history: [], results: {}, alerts: new Map(), transitions: [],
  late: [], dead: [], loadErrors: [], selectedRule: '', ruleSeries: {}, ruleFields: {}, checkpointSeen: null,
  cpuPrev: null,
};
const MAX_RECENT = 200;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'dataset') Object.assign(e.dataset, v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}
function fmt(n) {
  if (n == null || Number.isNaN(n)) return '–';
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(2) + ' G';
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + ' M';
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + ' k';
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
function fmtBytes(n) { return n == null ? '–' : (n / 1048576).toFixed(1) + ' MiB'; }
function fmtDuration(s) {
  if (s == null) return '–';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}
function fmtTime(ms) { return new Date(ms).toLocaleTimeString(); }
function short(v) { const t = typeof v === 'string' ? v : JSON.stringify(v); return t.length > 300 ? t.slice(0, 300) + '…' : t; }
function fill(tbody, rows) { tbody.replaceChildren(...rows); }

// ---- metrics helpers -------------------------------------------------------------------------
function metric(name) { return S.metrics ? S.metrics[name] : undefined; }
function labelled(name, label, value) {
  const m = metric(name);
  if (!Array.isArray(m)) return undefined;
  const p = m.find((x) => x[label] === value);
  return p ? p.value : undefined;
}
function ruleMetric(name, rule) { return labelled(name, 'rule', rule); }

// ---- overview --------------------------------------------------------------------------------
let rateChart = null;
function rateData() {
  const t = [], rin = [], rout = [];
  for (let i = 1; i < S.history.length; i++) {
    const [t0, r0, p0] = S.history[i - 1], [t1, r1, p1] = S.history[i];
    const dt = (t1 - t0) / 1000;
    if (dt <= 0) continue;
    t.push(t1 / 1000); rin.push(Math.max(0, (r1 - r0) / dt)); rout.push(Math.max(0, (p1 - p0) / dt));
  }
  return [t, rin, rout];
}
function drawRateChart() {
  const host = $('rate-chart');
  if (!window.uPlot || host.offsetParent === null) return;
  const data = rateData();
  const width = Math.max(300, host.clientWidth - 12);
  if (!rateChart) {
    rateChart = new uPlot({
      width, height: 220,
      series: [{}, { label: 'in / s', stroke: '#2563eb', width: 2 }, { label: 'out / s', stroke: '#16a34a', width: 2 }],
      axes: [{}, { size: 60 }],
    }, data, host);
  } else {
    if (Math.abs(rateChart.width - width) > 20) rateChart.setSize({ width, height: 220 });
    rateChart.setData(data);
  }
}
function renderOverview() {
  const g = (n) => metric(n);
  $('c-received').textContent = fmt(g('streamgate_messages_received_total'));
  $('c-published').textContent = fmt(g('streamgate_messages_published_total'));
  $('c-processed').textContent = fmt(g('streamgate_messages_processed_total'));
  const d = rateData();
  const last = (a) => (a.length ? a[a.length - 1] : undefined);
  $('c-rate-in').textContent = d[1].length ? fmt(last(d[1])) + ' / s' : '';
  $('c-rate-out').textContent = d[2].length ? fmt(last(d[2])) + ' / s' : '';
  const ring = (r) => `${fmt(labelled('streamgate_ring_occupancy', 'ring', r))} / ${fmt(labelled('streamgate_ring_capacity', 'ring', r))}`;
  $('c-ring-in').textContent = ring('ingress');
  $('c-ring-out').textContent = ring('egress');
  const outbox = g('streamgate_outbox_depth');
  $('c-outbox').textContent = outbox == null || outbox < 0 ? 'none' : fmt(outbox);
  const cps = g('streamgate_checkpoints_total');
  if (cps != null && (!S.checkpointSeen || S.checkpointSeen.n !== cps)) S.checkpointSeen = { n: cps, at: Date.now() };
  $('c-checkpoint').textContent = cps == null ? 'none' : cps === 0 ? 'none yet' : fmtDuration((Date.now() - S.checkpointSeen.at) / 1000) + ' ago';
  const conns = metric('streamgate_mqtt_connected');
  $('c-broker').textContent = Array.isArray(conns) ? conns.map((c) => `${c.connection}: ${c.value ? 'up' : 'down'}`).join(', ') : '–';
  $('c-rss').textContent = fmtBytes(g('streamgate_resident_memory_bytes'));
  $('c-uptime').textContent = fmtDuration(g('streamgate_uptime_seconds'));
  $('c-rules').textContent = fmt(S.rules.length);
  const topics = (name, tbody) => {
    const m = metric(name);
    const rows = Array.isArray(m) ? [...m].sort((a, b) => b.value - a.value).slice(0, 10) : [];
    fill(tbody, rows.map((r) => el('tr', {}, el('td', {}, r.topic), el('td', { class: 'num' }, fmt(r.value)))));
  };
  topics('streamgate_topic_messages_in_total', $('topics-in').tBodies[0]);
  topics('streamgate_topic_messages_out_total', $('topics-out').tBodies[0]);
  const rej = [];
  for (const [name, what] of [['streamgate_messages_rejected_total', 'rejected'], ['streamgate_drops_total', 'dropped']]) {
    const m = metric(name);
    if (Array.isArray(m)) for (const p of m) if (p.value > 0) rej.push([`${what}: ${p.reason}`, p.value]);
  }
  const dl = g('streamgate_dead_letters_total');
  if (dl) rej.push(['dead letters published', dl]);
  fill($('rejects').tBodies[0], rej.length ? rej.map(([r, v]) => el('tr', {}, el('td', {}, r), el('td', { class: 'num' }, fmt(v))))
    : [el('tr', {}, el('td', { class: 'muted' }, 'none'), el('td', {}, ''))]);
  drawRateChart();
}

// ---- rules -----------------------------------------------------------------------------------
async function post(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  const token = $('ed-token').value || sessionStorage.getItem('sg-token') || '';
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  let data = {};
  try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
  return { status: res.status, data };
}
function renderRules() {
  const rows = S.rules.map((r) => {
    const paused = ruleMetric('streamgate_rule_paused', r.name) === 1;
    const ein = ruleMetric('streamgate_rule_events_in_total', r.name) || 0;
    const ev = ruleMetric('streamgate_rule_eval_seconds_total', r.name) || 0;
    let drops = 0;
    const dm = metric('streamgate_rule_drops_total');
    if (Array.isArray(dm)) for (const p of dm) if (p.rule === r.name) drops += p.value;
    const btn = el('button', { class: 'small', type: 'button' }, paused ? 'resume' : 'pause');
    btn.addEventListener('click', async (e) => {
      e.stopPropagation();
      const { status, data } = await post(paused ? '/api/resume' : '/api/pause', { rule: r.name });
      btn.textContent = status === 200 ? 'ok' : (data.error || status);
    });
    const tr = el('tr', { class: 'clickable' + (r.name === S.selectedRule ? ' selected' : ''), dataset: { rule: r.name } },
      el('td', { class: 'rule-name' }, r.name),
      el('td', { class: paused ? 'state-paused' : 'state-running' }, paused ? 'paused' : 'running'),
      el('td', {}, r.from), el('td', {}, r.topic),
      el('td', { class: 'num rule-in' }, fmt(ein)),
      el('td', { class: 'num rule-out' }, fmt(ruleMetric('streamgate_rule_results_out_total', r.name))),
      el('td', { class: 'num' }, fmt(ruleMetric('streamgate_rule_events_filtered_total', r.name))),
      el('td', { class: 'num' }, fmt(ruleMetric('streamgate_rule_late_events_total', r.name))),
      el('td', { class: 'num' }, fmt(drops)),
      el('td', { class: 'num' }, fmt(ruleMetric('streamgate_rule_eval_errors_total', r.name))),
      el('td', { class: 'num' }, ein ? (ev / ein * 1e6).toFixed(2) : '–'),
      el('td', {}, btn));
    tr.addEventListener('click', () => { S.selectedRule = r.name; renderRules(); renderRuleDetail(); });
    return tr;
  });
  // Rule files on disk that fail to load: their rules are not running (the previous set is).
  for (const f of S.loadErrors) {
    rows.push(el('tr', { class: 'failed', dataset: { file: f.file } },
      el('td', { class: 'rule-name' }, f.file.split('/').pop() || '(rules)'),
      el('td', { class: 'state-failed' }, 'failed to load'),
      el('td', { class: 'json', colspan: '10' }, f.errors.join('\n'))));
  }
  fill($('rules-table').tBodies[0], rows);
}
function numericFields(rule) {
  const f = new Set();
  for (const r of S.results[rule] || []) {
    if (r.p && typeof r.p === 'object') for (const [k, v] of Object.entries(r.p)) if (typeof v === 'number') f.add(k);
  }
  return [...f];
}
let ruleChart = null, ruleChartKey = '';
function renderRuleDetail() {
  const name = S.selectedRule;
  const r = S.rules.find((x) => x.name === name);
  $('rule-detail').hidden = !r;
  if (!r) return;
  $('rd-name').textContent = name;
  $('rd-sql').textContent = r.sql;
  const fields = numericFields(name);
  const chosen = S.ruleFields[name] || (S.ruleFields[name] = new Set(fields.slice(0, 2)));
  fill($('rd-fields'), fields.map((f) => {
    const cb = el('input', { type: 'checkbox' });
    cb.checked = chosen.has(f);
    cb.addEventListener('change', () => { if (cb.checked) chosen.add(f); else chosen.delete(f); renderRuleDetail(); });
    return el('label', {}, cb, ' ' + f);
  }));
  const results = S.results[name] || [];
  const cols = [...new Set(results.flatMap((x) => (x.p && typeof x.p === 'object' ? Object.keys(x.p) : [])))].slice(0, 12);
  $('rd-results').tHead.replaceChildren(el('tr', {}, el('th', {}, 'time'), ...cols.map((c) => el('th', {}, c))));
  fill($('rd-results').tBodies[0], results.slice().reverse().map((x) => el('tr', {}, el('td', {}, fmtTime(x.t)),
    ...cols.map((c) => el('td', {}, x.p && x.p[c] !== undefined ? short(x.p[c]) : '')))));
  const keys = [...chosen].filter((f) => fields.includes(f));
  const host = $('rd-chart');
  if (!window.uPlot || !keys.length) { host.replaceChildren(); ruleChart = null; ruleChartKey = ''; return; }
  const data = [results.map((x) => x.t / 1000), ...keys.map((k) => results.map((x) => (x.p && typeof x.p[k] === 'number' ? x.p[k] : null)))];
  const key = name + '|' + keys.join(',');
  if (!ruleChart || ruleChartKey !== key) {
    host.replaceChildren();
    const colors = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c'];
    ruleChart = new uPlot({ width: Math.max(300, host.clientWidth - 12), height: 200,
      series: [{}, ...keys.map((k, i) => ({ label: k, stroke: colors[i % colors.length], width: 2 }))] }, data, host);
    ruleChartKey = key;
  } else {
    ruleChart.setData(data);
  }
}

// ---- alerts ----------------------------------------------------------------------------------
function alertKey(a) { return a.rule + '\u0000' + JSON.stringify(a.p && a.p.key); }
function onAlert(a) {
  if (!a.p || typeof a.p !== 'object') return;
  const last = S.transitions[S.transitions.length - 1];
  if (last && JSON.stringify(last.p) === JSON.stringify(a.p)) return;  // same alert on its second topic
  if (a.p.state === 'cleared') S.alerts.delete(alertKey(a)); else S.alerts.set(alertKey(a), a);
  S.transitions.push(a);
  if (S.transitions.length > MAX_RECENT) S.transitions.shift();
}
function options(select, values) {
  const cur = select.value;
  const want = ['', ...values];
  if ([...select.options].map((o) => o.value).join('|') === want.join('|')) return;
  select.replaceChildren(...want.map((v) => el('option', { value: v }, v || 'all')));
  select.value = want.includes(cur) ? cur : '';
}
function renderAlerts() {
  const all = [...S.alerts.values(), ...S.transitions];
  options($('af-rule'), [...new Set(all.map((a) => a.rule))].sort());
  options($('af-severity'), [...new Set(all.map((a) => a.p.severity).filter(Boolean))].sort());
  const fr = $('af-rule').value, fs = $('af-severity').value;
  const keep = (a) => (!fr || a.rule === fr) && (!fs || a.p.severity === fs);
  const active = [...S.alerts.values()].filter(keep);
  fill($('alerts-active').tBodies[0], active.map((a) => el('tr', { dataset: { rule: a.rule, key: String(a.p.key) } },
    el('td', {}, a.rule), el('td', {}, short(a.p.key)), el('td', { class: 'sev-' + a.p.severity }, a.p.severity || ''),
    el('td', {}, a.p.first_seen || fmtTime(a.t)), el('td', { class: 'json' }, short(a.p.values || '')))));
  $('alerts-none').hidden = active.length > 0;
  fill($('alerts-transitions').tBodies[0], S.transitions.filter(keep).slice().reverse().map((a) => el('tr', {},
    el('td', {}, fmtTime(a.t)), el('td', {}, a.rule), el('td', {}, short(a.p.key)),
    el('td', { class: 'sev-' + a.p.severity }, a.p.severity || ''), el('td', { class: 'st-' + a.p.state }, a.p.state),
    el('td', { class: 'json' }, short(a.p.values || '')))));
}

// ---- late data and dead letters --------------------------------------------------------------
function renderLate() {
  fill($('late-table').tBodies[0], S.late.slice().reverse().map((x) => el('tr', {},
    el('td', {}, fmtTime(x.t)), el('td', {}, x.rule), el('td', {}, x.topic), el('td', { class: 'json' }, short(x.p)))));
  fill($('dead-table').tBodies[0], S.dead.slice().reverse().map((x) => el('tr', {},
    el('td', {}, fmtTime(x.t)), el('td', {}, x.p && x.p.reason), el('td', {}, x.p && x.p.topic), el('td', { class: 'json' }, short(x.p && x.p.payload)))));
}

// ---- editor ----------------------------------------------------------------------------------
let checkTimer = null;
function gutter() {
  const n = $('ed-sql').value.split('\n').length;
  $('ed-gutter').textContent = Array.from({ length: n }, (_, i) => i + 1).join('\n');
}
function showErrors(errors) {
  const ul = $('ed-errors');
  ul.className = 'errors' + (errors.length ? '' : ' ok');
  fill(ul, errors.length ? errors.map((e) => el('li', { dataset: { line: e.line, column: e.column } }, `line ${e.line}:${e.column}: ${e.message}`))
    : [el('li', {}, 'no errors')]);
}
async function check() {
  const { status, data } = await post('/api/check', { sql: $('ed-sql').value });
  if (status === 200) showErrors(data.errors);
}
async function trial() {
  $('ed-status').textContent = 'running…';
  $('ed-status').className = 'status';
  const { status, data } = await post('/api/try', { sql: $('ed-sql').value, events: Number($('ed-events').value) || 500 });
  if (status !== 200) { $('ed-status').textContent = data.error || status; $('ed-status').className = 'status bad'; return; }
  showErrors(data.errors);
  const rows = data.rows || [];
  const cols = [...new Set(rows.flatMap((r) => (r.row && typeof r.row === 'object' ? Object.keys(r.row) : [])))];
  $('ed-rows').tHead.replaceChildren(el('tr', {}, el('th', {}, 'rule'), ...cols.map((c) => el('th', {}, c))));
  fill($('ed-rows').tBodies[0], rows.map((r) => el('tr', {}, el('td', {}, r.rule), ...cols.map((c) => el('td', {}, r.row && r.row[c] !== undefined ? short(r.row[c]) : '')))));
  $('ed-status').textContent = `${rows.length} rows from the last ${data.events} events${data.truncated ? ' (stopped at a bound)' : ''}`;
  $('ed-status').className = 'status good';
}
async function deploy() {
  if ($('ed-token').value) sessionStorage.setItem('sg-token', $('ed-token').value);
  const { status, data } = await post('/api/deploy', { sql: $('ed-sql').value });
  if (data.errors && data.errors.length && typeof data.errors[0] === 'object') showErrors(data.errors);
  $('ed-status').textContent = status === 200 ? `deployed (${data.file})` : `refused: ${data.error || status}`;
  $('ed-status').className = 'status ' + (status === 200 ? 'good' : 'bad');
}
function editorRules() {
  options($('ed-load'), S.rules.map((r) => r.name));
}

// ---- live updates ----------------------------------------------------------------------------
function onMetrics(m) {
  if (!m) return;
  S.metrics = m.metrics;
  S.rules = m.rules || [];
  S.loadErrors = m.load_errors || [];
  const t = Date.parse(m.metrics.timestamp);
  S.history.push([t, m.metrics.streamgate_messages_received_total || 0, m.metrics.streamgate_messages_published_total || 0]);
  if (S.history.length > 901) S.history.shift();
  if (m.dashboard) {
    const cpu = m.dashboard.cpu_seconds;
    if (S.cpuPrev) {
      const dt = (t - S.cpuPrev.t) / 1000;
      if (dt > 0) $('c-cpu').textContent = ((cpu - S.cpuPrev.cpu) / dt * 100).toFixed(1) + ' %';
    }
    S.cpuPrev = { t, cpu };
  }
}
function onTap(items) {
  for (const x of items) {
    if (x.k === 'result') {
      const a = S.results[x.rule] || (S.results[x.rule] = []);
      a.push(x);
      if (a.length > 100) a.shift();
    } else if (x.k === 'alert') onAlert(x);
    else if (x.k === 'late') { S.late.push(x); if (S.late.length > MAX_RECENT) S.late.shift(); }
    else if (x.k === 'dead') { S.dead.push(x); if (S.dead.length > MAX_RECENT) S.dead.shift(); }
  }
}
function render() {
  const v = currentView();
  if (v === 'overview') renderOverview();
  else if (v === 'rules') { renderRules(); renderRuleDetail(); }
  else if (v === 'alerts') renderAlerts();
  else if (v === 'late') renderLate();
  else if (v === 'editor') editorRules();
}
let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; render(); }, 250);
}
function connect() {
  const es = new EventSource('/events');
  es.addEventListener('open', () => { $('conn').textContent = 'live'; $('conn').className = 'conn live'; });
  es.addEventListener('error', () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn'; });
  es.addEventListener('state', (e) => {
    const st = JSON.parse(e.data);
    S.history = (st.history || []).map((p) => [p[0], p[1], p[2]]);
    S.results = {};
    onTap(Object.values(st.results || {}).flat());
    S.alerts = new Map();
    for (const a of st.alerts || []) S.alerts.set(alertKey(a), a);
    S.transitions = st.transitions || [];
    S.late = st.late || [];
    S.dead = st.dead || [];
    if (st.metrics) { onMetrics(st.metrics); S.history.pop(); }
    scheduleRender();
  });
  es.addEventListener('metrics', (e) => { onMetrics(JSON.parse(e.data)); scheduleRender(); });
  es.addEventListener('tap', (e) => { onTap(JSON.parse(e.data)); scheduleRender(); });
}

// ---- navigation ------------------------------------------------------------------------------
function currentView() { return (location.hash || '#overview').slice(1); }
function showView() {
  const v = currentView();
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + v;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === v);
  if (v !== 'overview' && rateChart) { rateChart.destroy(); rateChart = null; }
  render();
}

window.addEventListener('DOMContentLoaded', () => {
  window.addEventListener('hashchange', showView);
  $('af-rule').addEventListener('change', renderAlerts);
  $('af-severity').addEventListener('change', renderAlerts);
  $('ed-token').value = sessionStorage.getItem('sg-token') || '';
  $('ed-sql').addEventListener('input', () => { gutter(); clearTimeout(checkTimer); checkTimer = setTimeout(check, 300); });
  $('ed-load').addEventListener('change', () => {
    const r = S.rules.find((x) => x.name === $('ed-load').value);
    if (r) { $('ed-sql').value = r.sql; gutter(); check(); }
  });
  $('ed-try').addEventListener('click', trial);
  $('ed-deploy').addEventListener('click', deploy);
  gutter();
  showView();
  connect();
});
