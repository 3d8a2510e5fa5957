/**
 * deploy/: the five Grafana dashboards and the Prometheus alert rules reference only series troupe exports, checked
 * against a scrape of a running gateway process (test/deploy/fixtures/gateway.ts) after traffic that records every
 * one of them: exact sample names (a `_bucket` only where the metric is a histogram) and the label names each query
 * groups, filters or formats by. alerts.yml has the alerts issue 17 asks for, prometheus.yml scrapes the gateway's
 * `/metrics` on its documented port, and `troupe serve` starts on the compose file's config. `promtool check rules`
 * and `promtool check config` run when promtool is installed (.ci/run fetches it); under `CI=true` a missing
 * promtool fails them instead of skipping.
 */
import { execFileSync, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse } from "yaml"

const deploy = fileURLToPath(new URL("../../deploy/", import.meta.url))
const fixture = fileURLToPath(new URL("./fixtures/gateway.ts", import.meta.url))
const bin = fileURLToPath(new URL("../../bin/troupe.js", import.meta.url))
const dashboards = readdirSync(`${deploy}grafana/dashboards`).filter((f) => f.endsWith(".json"))
const ci = process.env.CI === "true"

interface Target {
  readonly expr: string
  readonly legendFormat?: string
}
interface Dashboard {
  readonly uid: string
  readonly title: string
  readonly panels: ReadonlyArray<{ readonly title: string; readonly targets: ReadonlyArray<Target> }>
}
interface Rule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}

const dashboard = (file: string): Dashboard =>
  JSON.parse(readFileSync(`${deploy}grafana/dashboards/${file}`, "utf8")) as Dashboard
const rules = (): ReadonlyArray<Rule> =>
  (parse(readFileSync(`${deploy}prometheus/alerts.yml`, "utf8")) as {
    groups: ReadonlyArray<{ rules: ReadonlyArray<Rule> }>
  }).groups.flatMap((g) => g.rules)

/** The series names an expression reads (exact: `…_bucket` stays `…_bucket`). */
const seriesNames = (
  expr: string
): Array<string> => [
  ...new Set([...expr.matchAll(/\b((?:troupe|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1] as string))
]

/** The label names an expression groups (`by (…)`) or filters (`{l="…"}`) by, plus `{{l}}` / `$labels.l` of `text`. */
const labelNames = (expr: string, text: string): Array<string> => {
  const out = new Set<string>()
  for (const m of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
    for (const l of (m[1] as string).split(",")) if (l.trim() !== "") out.add(l.trim())
  }
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const l of (m[1] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) out.add(l[1] as string)
  }
  for (const m of text.matchAll(/\{\{\s*(?:\$labels\.)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) out.add(m[1] as string)
  return [...out]
}

/** Every query of the dashboards and rules: where it is, the expression, and its legend or annotations. */
const queries = (): Array<{ where: string; expr: string; text: string }> => [
  ...dashboards.flatMap((file) =>
    dashboard(file).panels.flatMap((p) =>
      p.targets.map((t) => ({ where: `${file}: ${p.title}`, expr: t.expr, text: t.legendFormat ?? "" }))
    )
  ),
  ...rules().map((r) => ({
    where: `alerts.yml: ${r.alert}`,
    expr: r.expr,
    text: Object.values(r.annotations ?? {}).join(" ")
  }))
]

/** The sample names of a Prometheus text exposition, each with the label names seen on its samples. */
const parseScrape = (text: string): Map<string, Set<string>> => {
  const out = new Map<string, Set<string>>()
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+\S+/.exec(line)
    if (m === null) continue
    const labels = out.get(m[1] as string) ?? new Set<string>()
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1] as string)
    out.set(m[1] as string, labels)
  }
  return out
}

/** Resolves with the first line of `child`'s stdout matching `pattern` (its first group). */
const waitForLine = (child: ChildProcess, pattern: RegExp, what: string): Promise<string> =>
  new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no "${pattern}" within 20 s`)), 20_000)
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = pattern.exec(line)
      if (m?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited ${code}`))
    })
  })

/** Waits `millis` ms of real time. */
const pause = (millis: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, millis)
  })

/** Stops a child process (SIGTERM) and waits for its exit. */
const stop = async (child: ChildProcess | undefined): Promise<void> => {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
  })
  child.kill("SIGTERM")
  await exited
}

/** The test's environment without provider keys, Redis or a config file (the fixture is offline and in memory). */
const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env }
  for (const k of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TROUPE_CONFIG", "REDIS_URL", "TROUPE_ADMIN_KEY"]) delete e[k]
  return e
}

/**
 * `promtool check <check> deploy/prometheus/<file>` succeeds. Without promtool: fails under `CI=true` (.ci/run
 * provides it), else skips with a message.
 */
const promtoolCheck = (check: "rules" | "config", file: string, ctx: { skip: () => void }): void => {
  let promtool = ""
  try {
    promtool = execFileSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).trim()
  } catch {
    // not installed
  }
  if (promtool === "") {
    if (ci) throw new Error("promtool is not installed: .ci/run provides it (Debian package prometheus)")
    console.warn(`skipping promtool check ${check}: promtool is not installed (under CI=true this fails)`)
    ctx.skip()
    return
  }
  const out = execFileSync(promtool, ["check", check, `${deploy}prometheus/${file}`], { encoding: "utf8" })
  expect(out).toContain("SUCCESS")
}

const json = { "content-type": "application/json" }
const admin = { ...json, authorization: "Bearer deploy-admin" }

let gateway: ChildProcess | undefined
let url = ""
/** Status of each kind of traffic sent before the scrape. */
const statuses: Record<string, number> = {}
let scraped = new Map<string, Set<string>>()

beforeAll(async () => {
  gateway = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"], env: env() })
  url = await waitForLine(gateway, /^LISTENING (http:\/\/\S+)/, "the deploy gateway fixture")
  const post = async (name: string, path: string, body: unknown, headers: Record<string, string> = json) => {
    const r = await fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) })
    statuses[name] = r.status
    await r.text()
  }
  // the OpenAI route: LLM calls, tokens, cost, cache and HTTP series
  await post("chat", "/v1/chat/completions", { model: "fast", messages: [{ role: "user", content: "hi" }] })
  // an agent turn with a tool call (tool, agent-action, algorithm and turn series; the buggy handler fails on it)
  await post("turn with a tool call", "/v1/agents/helper:tools/turns", { input: "where is order o-7" })
  // a tool that fails
  await post("turn with a failing tool", "/v1/agents/helper:broken/turns", { input: "break something" })
  // an LLM call that fails, so the turn fails too
  await post("failing turn", "/v1/agents/helper:failing/turns", { input: "fail now" })
  // `tiny` allows one request per ten minutes: the second is refused by troupe's limiter
  for (const n of [1, 2]) {
    await post(`tiny ${n}`, "/v1/chat/completions", {
      model: "tiny:small",
      messages: [{ role: "user", content: `question ${n}` }]
    })
  }
  // a budget, read back: troupe_budget_used_ratio
  await post("budget", "/costs/budget", { scope: "tenant:deploy", limit: 10, period: "month" }, admin)
  statuses["budget status"] = (await fetch(`${url}/costs/budget/${encodeURIComponent("tenant:deploy")}`, {
    headers: admin
  })).status
  // the rate limiter's supervisor allows 3 restarts in 5 s: the 4th kill of its sweeper makes it give up (the root
  // restarts it)
  for (let kill = 1; kill <= 4; kill++) {
    await post(`kill ${kill}`, `/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {}, admin)
    await pause(50)
  }
  // the supervisor events reach the hub asynchronously: scrape until the last one is in
  for (let attempt = 0; attempt < 40; attempt++) {
    scraped = parseScrape(await (await fetch(`${url}/metrics`)).text())
    if (scraped.has("troupe_supervisor_restart_intensity_reached_total")) break
    await pause(50)
  }
})
afterAll(async () => {
  await stop(gateway)
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
      const d = dashboard(f)
      expect(d.uid).toMatch(/^troupe-/)
      expect(d.title).not.toBe("")
      expect(d.panels.length).toBeGreaterThan(3)
      for (const p of d.panels) expect(p.targets.length, `${f}: ${p.title}`).toBeGreaterThan(0)
    }
  })

  it("the scraped gateway got the traffic: a tool call, a failing tool and LLM call, a 429 and a supervisor kill", () => {
    expect(statuses).toMatchObject({
      chat: 200,
      "turn with a tool call": 200,
      "turn with a failing tool": 200,
      "tiny 1": 200,
      "tiny 2": 429,
      budget: 200,
      "budget status": 200,
      "kill 1": 200,
      "kill 4": 200
    })
    expect(statuses["failing turn"]).toBeGreaterThanOrEqual(500)
  })

  it("every series a dashboard or rule references is in a scrape of a running gateway process", () => {
    const missing: Array<string> = []
    for (const { where, expr } of queries()) {
      for (const name of seriesNames(expr)) if (!scraped.has(name)) missing.push(`${where}: ${name}`)
    }
    expect(missing).toEqual([])
    // the series the traffic above exists for
    for (
      const name of [
        "troupe_agent_turn_tool_calls_total",
        "troupe_tool_execution_exceptions_total",
        "troupe_llm_call_exceptions_total",
        "troupe_agent_turn_exceptions_total",
        "troupe_rate_limited_total",
        "troupe_supervisor_restart_intensity_reached_total",
        "troupe_telemetry_handler_failures_total",
        "troupe_budget_used_ratio",
        "troupe_breaker_open",
        "troupe_queue_shed_total"
      ]
    ) {
      expect(scraped.has(name), name).toBe(true)
    }
  })

  it("every label a query groups, filters or formats by is on the series it reads", () => {
    const missing: Array<string> = []
    for (const { expr, text, where } of queries()) {
      for (const name of seriesNames(expr)) {
        const labels = scraped.get(name) ?? new Set<string>()
        for (const label of labelNames(expr, text)) if (!labels.has(label)) missing.push(`${where}: ${name} ${label}`)
      }
    }
    expect(missing).toEqual([])
  })

  it("alerts.yml has the required alerts: error rate, p95 latency, budget threshold, breaker open, queue shedding, supervisor giving up", () => {
    const byName = new Map(rules().map((r) => [r.alert, r]))
    const required: ReadonlyArray<readonly [string, RegExp]> = [
      [
        "TroupeHighErrorRate",
        /troupe_gateway_http_requests_total\{status=~"5\.\."\}.*\/.*troupe_gateway_http_requests_total/
      ],
      ["TroupeLlmErrorRate", /troupe_llm_call_exceptions_total.*\/.*troupe_llm_calls_total/],
      ["TroupeHighP95Latency", /histogram_quantile\(0\.95,.*troupe_gateway_http_request_duration_seconds_bucket/],
      ["TroupeLlmHighP95Latency", /histogram_quantile\(0\.95,.*troupe_llm_call_duration_seconds_bucket/],
      ["TroupeBudgetThreshold", /troupe_budget_used_ratio\s*>\s*0\.\d+/],
      ["TroupeBreakerOpen", /troupe_breaker_open\)?\s*==\s*1/],
      ["TroupeQueueShedding", /rate\(troupe_queue_shed_total\[\w+\]\)\)?\s*>\s*0/],
      ["TroupeSupervisorGaveUp", /increase\(troupe_supervisor_restart_intensity_reached_total\[\w+\]\)\s*>\s*0/]
    ]
    for (const [name, expr] of required) {
      const rule = byName.get(name)
      expect(rule, name).toBeDefined()
      expect(rule?.expr, name).toMatch(expr)
      expect(rule?.labels?.severity, name).toMatch(/^(page|warn)$/)
      expect(rule?.annotations?.summary, name).toBeTypeOf("string")
    }
  })

  it("prometheus.yml parses, loads alerts.yml and scrapes the gateway's /metrics on its documented port (7400)", () => {
    const config = parse(readFileSync(`${deploy}prometheus/prometheus.yml`, "utf8")) as {
      global: { scrape_interval: string }
      rule_files: ReadonlyArray<string>
      scrape_configs: ReadonlyArray<{
        job_name: string
        metrics_path?: string
        static_configs: ReadonlyArray<{ targets: ReadonlyArray<string> }>
      }>
    }
    expect(config.global.scrape_interval).toMatch(/^\d+[smh]$/)
    expect(config.rule_files).toEqual(["alerts.yml"])
    const troupe = config.scrape_configs.find((s) => s.job_name === "troupe")
    expect(troupe?.metrics_path ?? "/metrics").toBe("/metrics")
    expect(troupe?.static_configs.flatMap((s) => s.targets)).toEqual(["gateway:7400"])
    // the port is the gateway's default and the one docker-compose.yml publishes
    expect(readFileSync(`${deploy}docker-compose.yml`, "utf8")).toContain("\"7400:7400\"")
    // and the path is where a running gateway serves the exposition
    expect(scraped.has("troupe_gateway_http_requests_total")).toBe(true)
  })

  it("docker-compose.yml parses and runs the gateway from this repository on Redis and PostgreSQL, with Prometheus and Grafana", () => {
    const compose = parse(readFileSync(`${deploy}docker-compose.yml`, "utf8")) as {
      services: Record<string, { build?: { context: string; dockerfile: string }; environment?: object }>
    }
    expect(Object.keys(compose.services).sort()).toEqual(["gateway", "grafana", "postgres", "prometheus", "redis"])
    const gw = compose.services.gateway
    expect(gw?.build).toEqual({ context: "..", dockerfile: "deploy/Dockerfile" })
    expect(gw?.environment).toMatchObject({
      REDIS_URL: "redis://redis:6379",
      DATABASE_URL: "postgres://troupe:$" + "{POSTGRES_PASSWORD:-troupe}@postgres:5432/troupe" // compose interpolates it
    })
    const dockerfile = readFileSync(`${deploy}Dockerfile`, "utf8")
    expect(dockerfile).toContain("npm ci")
    expect(dockerfile).toMatch(/"bin\/troupe\.js", "serve", "--config", "\/config\/troupe\.json"/)
  })

  it("troupe serve starts on deploy/troupe.json (the compose gateway's config) and serves /metrics", async () => {
    const child = spawn(process.execPath, [
      bin,
      "serve",
      "--config",
      `${deploy}troupe.json`,
      "--host",
      "127.0.0.1",
      "--port",
      "0"
    ], { stdio: ["ignore", "pipe", "inherit"], env: env() })
    try {
      const served = await waitForLine(child, /listening on (http:\/\/\S+)/, "troupe serve")
      const r = await fetch(`${served}/metrics`)
      expect(r.status).toBe(200)
      expect(await r.text()).toContain("# TYPE process_resident_memory_bytes gauge")
    } finally {
      await stop(child)
    }
  })

  it("promtool check rules accepts alerts.yml (required under CI=true)", (ctx) => {
    promtoolCheck("rules", "alerts.yml", ctx)
  })

  it("promtool check config accepts prometheus.yml (required under CI=true)", (ctx) => {
    promtoolCheck("config", "prometheus.yml", ctx)
  })
})
