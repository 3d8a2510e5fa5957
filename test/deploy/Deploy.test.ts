/**
 * deploy/: the five Grafana dashboards and the Prometheus alert rules reference only metric names troupe exports.
 * `promtool check rules` runs when promtool is installed (.ci/run installs it best effort).
 */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultMetrics } from "../../src/telemetry/DefaultMetrics.ts"
import type { Running } from "../gateway/support.ts"
import { startGateway } from "../gateway/support.ts"

const deploy = fileURLToPath(new URL("../../deploy/", import.meta.url))
const dashboards = readdirSync(`${deploy}grafana/dashboards`).filter((f) => f.endsWith(".json"))
const rules = readFileSync(`${deploy}prometheus/alerts.yml`, "utf8")

const metricNames = (expr: string): Array<string> =>
  [...expr.matchAll(/\b((?:troupe|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) =>
    (m[1] as string).replace(/_(bucket|sum|count)$/, "")
  )

const exprs = (): Array<{ where: string; expr: string }> => {
  const out: Array<{ where: string; expr: string }> = []
  for (const file of dashboards) {
    const d = JSON.parse(readFileSync(`${deploy}grafana/dashboards/${file}`, "utf8"))
    for (const p of d.panels) for (const t of p.targets) out.push({ where: `${file}: ${p.title}`, expr: t.expr })
  }
  for (const m of rules.matchAll(/^\s*expr: (.*)$/gm)) out.push({ where: "alerts.yml", expr: m[1] as string })
  return out
}

let gw: Running
let scraped: Set<string>
beforeAll(async () => {
  // budgets and a request queue on every route, so their series are in the scrape too
  gw = await startGateway({
    config: { defaults: { gateway: { auth: { adminKey: "deploy-admin" } } } },
    budgets: true,
    queues: { default: { capacity: 100 } }
  })
  const admin = { "content-type": "application/json", authorization: "Bearer deploy-admin" }
  // traffic so that the LLM, HTTP, breaker, queue and supervisor series exist in the scrape
  await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] })
  })
  await fetch(`${gw.url}/costs/budget`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ scope: "tenant:deploy", limit: 10, period: "month" })
  })
  await fetch(`${gw.url}/costs/budget/${encodeURIComponent("tenant:deploy")}`, { headers: admin })
  await fetch(`${gw.url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {
    method: "POST",
    headers: { authorization: "Bearer deploy-admin" }
  })
  await new Promise((r) => {
    setTimeout(r, 200)
  })
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  scraped = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string))
})
afterAll(async () => {
  await gw?.stop()
})

describe("deploy: Grafana dashboards and Prometheus rules", () => {
  it("has the five dashboards, each with a uid, a title and panels with queries", () => {
    expect(dashboards.sort()).toEqual([
      "agent-performance.json",
      "cost-analysis.json",
      "quality.json",
      "system-overview.json",
      "tool-execution.json"
    ])
    for (const f of dashboards) {
      const d = JSON.parse(readFileSync(`${deploy}grafana/dashboards/${f}`, "utf8"))
      expect(d.uid).toMatch(/^troupe-/)
      expect(d.panels.length).toBeGreaterThan(3)
    }
  })

  it("every metric a dashboard or rule references is in a scrape of a running gateway, or declared by the hub (recorded on its first event)", () => {
    const declared = new Set(defaultMetrics.map((m) => m.name))
    const missing: Array<string> = []
    const declaredOnly = new Set<string>()
    for (const { where, expr } of exprs()) {
      for (const name of metricNames(expr)) {
        if (scraped.has(name)) continue
        if (declared.has(name)) declaredOnly.add(name)
        else missing.push(`${where}: ${name}`)
      }
    }
    expect(missing).toEqual([])
    // the LLM, HTTP, supervisor, cache and process series come from the scrape itself
    for (
      const name of [
        "troupe_llm_calls_total",
        "troupe_llm_cost_usd_total",
        "troupe_gateway_http_requests_total",
        "troupe_supervisor_child_restarts_total",
        "troupe_cache_hit_ratio",
        "process_resident_memory_bytes",
        "troupe_budget_used_ratio",
        "troupe_breaker_open",
        "troupe_queue_shed_total"
      ]
    ) {
      expect(scraped.has(name), name).toBe(true)
    }
    console.info(
      `deploy: referenced but only declared (no event in this scrape): ${[...declaredOnly].sort().join(", ")}`
    )
  })

  it("promtool check rules accepts the alert rules", (ctx) => {
    let promtool = ""
    try {
      promtool = execFileSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).trim()
    } catch {
      // not installed
    }
    if (promtool === "") {
      console.warn("skipping promtool check rules: promtool is not installed")
      ctx.skip()
      return
    }
    const out = execFileSync(promtool, ["check", "rules", `${deploy}prometheus/alerts.yml`], { encoding: "utf8" })
    expect(out).toContain("SUCCESS")
  })
})
