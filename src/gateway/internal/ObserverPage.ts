/**
 * The `/observer` page: one plain HTML document with an inline script (no build step, shipped as this module).
 *
 * The page itself holds no data: it asks for the admin key (kept in `sessionStorage`, or read from the URL fragment
 * `#key=…`, which browsers never send to the server) and every read and action goes to the admin API with it as a
 * bearer credential — `GET /admin/events` (read with `fetch`, since `EventSource` cannot send headers),
 * `POST /admin/supervision/{path}/restart|stop`, `GET|POST /admin/maintenance`. The panels and charts are drawn from
 * each snapshot (see `ObserverHandlers`): services, request queues, budgets, agents and their current step, and the
 * LLM history as inline SVG sparklines (calls, p95, tokens, cost per 10 seconds). Mirrors Erlang's `observer`
 * (the live process tree) and Phoenix LiveDashboard (panels over telemetry).
 *
 * @since 0.1.0
 */

const script = String.raw`
const $ = (s) => document.querySelector(s)
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c])
let key = sessionStorage.getItem("troupe-admin-key") || ""
const m = /key=([^&]+)/.exec(location.hash.slice(1))
if (m) { key = decodeURIComponent(m[1]); sessionStorage.setItem("troupe-admin-key", key); history.replaceState(null, "", location.pathname) }
const auth = () => ({ authorization: "Bearer " + key })
const restarts = new Map()
const flashUntil = new Map()
const events = []
let paused = false

function treeHtml(node, path) {
  const p = path === null ? "" : (path ? path + "/" : "") + node.id
  const prev = restarts.get(p)
  // a restart flashes its node for 1.2 s, across the snapshots that re-render the tree in that time
  if (prev !== undefined && node.restarts > prev) flashUntil.set(p, Date.now() + 1200)
  const flash = (flashUntil.get(p) || 0) > Date.now()
  if (!flash) flashUntil.delete(p)
  restarts.set(p, node.restarts || 0)
  const actions = path === null ? "" :
    '<button data-act="restart" data-path="' + esc(p) + '">restart</button> <button data-act="stop" data-path="' + esc(p) + '">stop</button>'
  const line = '<div class="node ' + esc(node.state) + (flash ? " flash" : "") + '" data-path="' + esc(p) + '" data-state="' + esc(node.state) + '" data-restarts="' + (node.restarts || 0) + '">' +
    '<span class="kind">' + (node.type === "supervisor" ? "▣" : "●") + '</span> <b>' + esc(node.id) + '</b> ' +
    '<span class="pid">' + (node.pid !== undefined && node.pid !== null ? "&lt;" + node.pid + "&gt;" : "") + '</span> ' +
    '<span class="state">' + esc(node.state) + '</span> ' +
    '<span class="restarts">restarts ' + (node.restarts || 0) + '</span> ' +
    (node.lastExit ? '<span class="exit">last exit ' + esc(node.lastExit) + '</span> ' : "") + actions + '</div>'
  const kids = (node.children || []).map((c) => treeHtml(c, p)).join("")
  return line + (kids ? '<div class="kids">' + kids + '</div>' : "")
}

function table(rows) {
  if (!rows.length) return "<i>none</i>"
  const cols = Object.keys(rows[0])
  return "<table><tr>" + cols.map((c) => "<th>" + esc(c) + "</th>").join("") + "</tr>" +
    rows.map((r) => "<tr>" + cols.map((c) => "<td>" + esc(typeof r[c] === "object" ? JSON.stringify(r[c]) : r[c]) + "</td>").join("") + "</tr>").join("") + "</table>"
}

function panels(stats, telemetry, llm) {
  const out = []
  const g = stats.gateway || {}
  $("#maint-state").textContent = g.maintenance ? "on" : "off"
  out.push("<h3>gateway</h3>" + table([g]))
  if (stats.cache) out.push('<h3>cache</h3><div id="p-cache">' + table([stats.cache]) + "</div>")
  if (stats.rateLimiter) out.push('<h3>rate limiter</h3><div id="p-ratelimiter">' + table([stats.rateLimiter]) + "</div>")
  out.push('<h3>breakers</h3><div id="p-breakers">' + table(Object.entries(stats.breakers || {}).map(([provider, state]) => ({ provider, state }))) + "</div>")
  if (stats.queues) out.push('<h3>request queues</h3><div id="p-queues">' + (Array.isArray(stats.queues) ? table(stats.queues) : table([stats.queues])) + "</div>")
  if (stats.budgets) out.push('<h3>budgets</h3><div id="p-budgets">' + (Array.isArray(stats.budgets) ? table(stats.budgets) : table([stats.budgets])) + "</div>")
  for (const k of Object.keys(stats)) if (!["gateway", "cache", "rateLimiter", "breakers", "queues", "budgets", "agents"].includes(k) && stats[k]) out.push("<h3>" + esc(k) + "</h3>" + table([stats[k]]))
  $("#panels").innerHTML = out.join("")
  $("#agents").innerHTML = stats.agents ? table(stats.agents.map((a) => ({ agent: a.id, state: a.state, step: a.step === null || a.step === undefined ? "" : a.step + " (" + a.phase + (a.tools && a.tools.length ? ": " + a.tools.join(", ") : "") + ")", queued: a.queued, turns: a.turns, incarnation: a.incarnation }))) : "<i>no LlmAgents on this gateway</i>"
  $("#components").innerHTML = table((telemetry || []).map((c) => ({ component: c.component, calls: c.totalCalls, failures: c.totalFailures, p50ms: c.p50Ms, p95ms: c.p95Ms })))
  renderLlm(llm || [])
}

// LLM calls per provider and model over the last ten minutes (the server's 10-second buckets), with charts
function spark(points, field, title) {
  const w = 180, h = 28
  const vs = points.map((p) => p[field] === null || p[field] === undefined ? 0 : p[field])
  const max = Math.max(1e-9, ...vs)
  const t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1
  const x = (t) => t1 === t0 ? w / 2 : ((t - t0) / (t1 - t0)) * (w - 4) + 2
  const d = points.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + (h - 2 - (vs[i] / max) * (h - 4)).toFixed(1)).join(" ")
  return '<svg class="spark" data-field="' + field + '" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '"><title>' + esc(title) + " (max " + esc(Math.round(max * 1e6) / 1e6) + ')</title><path d="' + d + '" fill="none" stroke="#6cf" stroke-width="1.5"/></svg>'
}
function renderLlm(series) {
  $("#llm").innerHTML = series.length === 0 ? "<i>none</i>" : "<table><tr><th>provider model</th><th>calls</th><th>errors</th><th>p50ms</th><th>p95ms</th><th>tokens</th><th>costUsd</th><th>calls over time</th><th>p95 over time</th><th>tokens over time</th><th>cost over time</th></tr>" +
    series.map((r) => '<tr class="llm-row" data-series="' + esc(r.provider + " " + r.model) + '"><td>' + esc(r.provider + " " + r.model) + "</td><td>" + r.calls + "</td><td>" + r.errors + "</td><td>" + esc(r.p50Ms) + "</td><td>" + esc(r.p95Ms) + "</td><td>" + r.tokens + "</td><td>" + r.costUsd + "</td><td>" + spark(r.points, "calls", "calls per 10 s") + "</td><td>" + spark(r.points, "p95Ms", "p95 ms") + "</td><td>" + spark(r.points, "tokens", "tokens per 10 s") + "</td><td>" + spark(r.points, "costUsd", "USD per 10 s") + "</td></tr>").join("") + "</table>"
}

function renderEvents() {
  const f = $("#filter").value.trim()
  const shown = events.filter((e) => !f || e.name.startsWith(f)).slice(-200).reverse()
  $("#events").innerHTML = shown.map((e) => '<div class="ev"><code>' + esc(e.name) + '</code> ' + esc(JSON.stringify(e.data)) + '</div>').join("")
}

function onFrame(event, data) {
  if (event === "snapshot") {
    $("#tree").innerHTML = treeHtml(data.tree, null)
    $("#tree").dataset.at = String(data.at)
    panels(data.stats || {}, data.telemetry, data.llm)
  } else {
    const name = event === "lifecycle" ? "lifecycle." + data._tag : data.name
    events.push({ name, data })
    if (events.length > 2000) events.splice(0, events.length - 2000)
    if (!paused) renderEvents()
    if (event === "lifecycle" && data._tag === "ChildRestarted") refreshTree()
  }
}

async function refreshTree() {
  const r = await fetch("/admin/supervision", { headers: auth() })
  if (r.ok) $("#tree").innerHTML = treeHtml(await r.json(), null)
}

async function connect() {
  $("#status").textContent = "connecting"
  try {
    const r = await fetch("/admin/events?interval=500", { headers: auth() })
    if (r.status === 401 || r.status === 403) { $("#status").textContent = "admin key refused"; $("#login").hidden = false; return }
    if (!r.ok) throw new Error("HTTP " + r.status)
    $("#status").textContent = "live"; $("#login").hidden = true
    const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf += dec.decode(value, { stream: true })
      let i
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i); buf = buf.slice(i + 2)
        let ev = "message", data = ""
        for (const l of chunk.split("\n")) { if (l.startsWith("event: ")) ev = l.slice(7); else if (l.startsWith("data: ")) data += l.slice(6) }
        try { onFrame(ev, JSON.parse(data)) } catch (e) { console.error(e) }
      }
    }
  } catch (e) { console.error(e) }
  $("#status").textContent = "reconnecting"
  setTimeout(connect, 1000)
}

document.addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-act]")
  if (!b) return
  const r = await fetch("/admin/supervision/" + encodeURIComponent(b.dataset.path) + "/" + b.dataset.act, { method: "POST", headers: auth() })
  $("#action").textContent = b.dataset.act + " " + b.dataset.path + ": " + (r.ok ? (await r.json()).outcome : "HTTP " + r.status)
})
$("#maint").addEventListener("click", async () => {
  const on = $("#maint-state").textContent !== "on"
  const r = await fetch("/admin/maintenance", { method: "POST", headers: { ...auth(), "content-type": "application/json" }, body: JSON.stringify({ enabled: on }) })
  if (r.ok) $("#maint-state").textContent = (await r.json()).enabled ? "on" : "off"
  $("#action").textContent = "maintenance " + (on ? "on" : "off") + ": " + (r.ok ? "ok" : "HTTP " + r.status)
})
$("#filter").addEventListener("input", renderEvents)
$("#pause").addEventListener("click", () => { paused = !paused; $("#pause").textContent = paused ? "resume" : "pause"; renderEvents() })
$("#login").addEventListener("submit", (e) => { e.preventDefault(); key = $("#key").value; sessionStorage.setItem("troupe-admin-key", key); connect() })
if (key) connect(); else { $("#login").hidden = false; $("#status").textContent = "admin key needed" }
`

/** The observer document. */
export const observerHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>troupe observer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#101418;color:#dde}
header{padding:8px 16px;background:#1b2128;display:flex;gap:16px;align-items:center}
main{display:grid;grid-template-columns:1.2fr 1fr;gap:12px;padding:12px}
section{background:#161b21;border-radius:6px;padding:8px 12px;overflow:auto;max-height:70vh}
h2{font-size:15px;margin:4px 0 8px}h3{font-size:13px;margin:8px 0 4px;color:#9ab}
.kids{margin-left:18px;border-left:1px dashed #345;padding-left:8px}
.node{padding:2px 0}.node.running .state{color:#6c6}.node.restarting .state{color:#fc3}.node.stopped .state{color:#f66}
.pid,.restarts,.exit{color:#889}.spark{vertical-align:middle}.flash{animation:flash 1.2s}
@keyframes flash{from{background:#a33}to{background:transparent}}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #2a3440;padding:2px 6px;text-align:left}
button{background:#2a3440;color:#dde;border:1px solid #456;border-radius:3px;cursor:pointer;font-size:12px}
#events{font-size:12px;max-height:40vh;overflow:auto}.ev{border-bottom:1px solid #222;padding:1px 0}
</style></head>
<body>
<header><b>troupe observer</b> <span id="status">loading</span>
<span>maintenance: <b id="maint-state">?</b> <button id="maint">toggle maintenance</button></span>
<span id="action"></span>
<form id="login" hidden><input id="key" type="password" placeholder="admin key" autocomplete="off"> <button>connect</button></form></header>
<main>
<section><h2>supervision tree</h2><div id="tree"></div></section>
<section><h2>services</h2><div id="panels"></div><h2>agents</h2><div id="agents"></div><h2>LLM calls per provider and model (last ten minutes)</h2><div id="llm"></div><h2>components (reporter window)</h2><div id="components"></div></section>
<section style="grid-column:1/3"><h2>events <input id="filter" placeholder="filter: name prefix, e.g. troupe.llm"> <button id="pause">pause</button></h2><div id="events"></div></section>
</main>
<script type="module">${script}</script>
</body></html>
`
