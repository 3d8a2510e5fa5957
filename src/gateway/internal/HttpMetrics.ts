/**
 * HTTP server metrics and Node process metrics for `/metrics`.
 *
 * HTTP series are Effect `Metric`s in the registry of the gateway layer's context, so the hub's `prometheus()`
 * renders them beside every other troupe metric: `troupe_gateway_http_requests_total{method,route,status}`,
 * `troupe_gateway_http_request_duration_seconds{method,route}` (histogram; for SSE the time to the response head),
 * `troupe_gateway_http_requests_in_flight` and `troupe_gateway_sse_streams_open`. Routes are the route templates
 * (`/v1/agents/{id}/turns`, `/costs/usage/{user}`: every endpoint of `GatewayApi` and the plain router routes),
 * never raw paths, so the series stay bounded; a path no route serves is `unmatched`.
 *
 * Process metrics follow the Prometheus client conventions (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_start_time_seconds`, `nodejs_heap_size_*_bytes`,
 * `nodejs_eventloop_utilization`), read at scrape time and rendered as text here (hand-rolled: a handful of lines,
 * not worth a client library).
 *
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Metric } from "effect"
import { performance } from "node:perf_hooks"
import { GatewayApi } from "../GatewayApi.ts"
import { routePermissions } from "../RoutePermission.ts"
import type { GatewayState } from "./GatewayState.ts"

type Series = Metric.Metric<number, unknown>

const boundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export class HttpMetrics {
  private readonly counters = new Map<string, Series>()
  private readonly histograms = new Map<string, Series>()

  private readonly context: Context.Context<never>

  constructor(context: Context.Context<never>, state: GatewayState) {
    this.context = context
    const inFlight = Metric.gauge("troupe_gateway_http_requests_in_flight", {
      description: "HTTP requests being handled"
    })
    const streams = Metric.gauge("troupe_gateway_sse_streams_open", { description: "SSE response streams open" })
    const noop = () => {}
    Metric.registerUnsafe(inFlight, context, { get: () => ({ value: state.inFlight }), update: noop, modify: noop })
    Metric.registerUnsafe(streams, context, { get: () => ({ value: state.openStreams }), update: noop, modify: noop })
  }

  record(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`
    let counter = this.counters.get(key)
    if (counter === undefined) {
      counter = Metric.counter("troupe_gateway_http_requests_total", {
        description: "HTTP requests handled, by method, route and status",
        incremental: true,
        attributes: { method, route, status: String(status) }
      })
      this.counters.set(key, counter)
    }
    counter.updateUnsafe(1, this.context)
    const hkey = `${method} ${route}`
    let histogram = this.histograms.get(hkey)
    if (histogram === undefined) {
      histogram = Metric.histogram("troupe_gateway_http_request_duration_seconds", {
        description: "HTTP request duration in seconds (SSE: until the response head)",
        boundaries,
        attributes: { method, route }
      })
      this.histograms.set(hkey, histogram)
    }
    histogram.updateUnsafe(seconds, this.context)
  }

  /** The route template label of a request path (`routeOf`). */
  routeOf(url: string): string {
    return routeOf(url)
  }
}

const startSeconds = Math.round(Date.now() / 1000 - process.uptime())

/** Node process metrics in the Prometheus text format. */
export const processMetricsText = (): string => {
  const cpu = process.cpuUsage()
  const memory = process.memoryUsage()
  const elu = performance.eventLoopUtilization()
  const lines = [
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
    "# TYPE process_cpu_seconds_total counter",
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${memory.rss}`,
    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
    "# TYPE process_start_time_seconds gauge",
    `process_start_time_seconds ${startSeconds}`,
    "# HELP nodejs_heap_size_total_bytes Process heap size from Node.js in bytes.",
    "# TYPE nodejs_heap_size_total_bytes gauge",
    `nodejs_heap_size_total_bytes ${memory.heapTotal}`,
    "# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.",
    "# TYPE nodejs_heap_size_used_bytes gauge",
    `nodejs_heap_size_used_bytes ${memory.heapUsed}`,
    "# HELP nodejs_external_memory_bytes Node.js external memory size in bytes.",
    "# TYPE nodejs_external_memory_bytes gauge",
    `nodejs_external_memory_bytes ${memory.external}`,
    "# HELP nodejs_eventloop_utilization Event loop utilization since the process started (0..1).",
    "# TYPE nodejs_eventloop_utilization gauge",
    `nodejs_eventloop_utilization ${elu.utilization}`
  ]
  return lines.join("\n") + "\n"
}

/** The gateway's plain router routes beside `GatewayApi` (agent routes, the observer page, `/metrics`, OpenAPI). */
const routerTemplates = [
  "/v1/agents/:id/turns",
  "/v1/agents/:id",
  "/v1/agents/:id/cancel",
  "/observer",
  "/metrics",
  "/openapi.json"
]

interface Template {
  /** each segment: its literal, or `undefined` for a parameter */
  readonly segments: ReadonlyArray<string | undefined>
  readonly label: string
}

interface RouteTable {
  /** templates without parameters, by path */
  readonly exact: ReadonlyMap<string, string>
  /** templates with parameters, by segment count, those with more literal segments first */
  readonly bySegments: ReadonlyMap<number, ReadonlyArray<Template>>
}

const buildTable = (): RouteTable => {
  const exact = new Map<string, string>()
  const bySegments = new Map<number, Array<Template>>()
  for (const path of new Set([...routePermissions(GatewayApi).map((r) => r.path), ...routerTemplates])) {
    const parts = path.split("/")
    if (!parts.some((p) => p.startsWith(":"))) {
      exact.set(path, path)
      continue
    }
    const template: Template = {
      segments: parts.map((p) => p.startsWith(":") ? undefined : p),
      label: parts.map((p) => p.startsWith(":") ? `{${p.slice(1)}}` : p).join("/")
    }
    const list = bySegments.get(parts.length) ?? []
    list.push(template)
    bySegments.set(parts.length, list)
  }
  const literals = (t: Template) => t.segments.filter((s) => s !== undefined).length
  for (const list of bySegments.values()) list.sort((a, b) => literals(b) - literals(a))
  return { exact, bySegments }
}

// built on first use: `GatewayApi` is complete by then (the gateway's modules import this one)
let table: RouteTable | undefined

/**
 * The route template of a request path (bounded label values): the path of the `GatewayApi` endpoint or router
 * route serving it, its parameters as `{name}` (`/costs/usage/{user}`); a literal segment wins over a parameter, a
 * parameter matches one non-empty segment; `unmatched` when no route has the path. One map lookup, else a scan of
 * the few parameterised templates with as many segments.
 */
export const routeOf = (url: string): string => {
  const q = url.indexOf("?")
  const path = q === -1 ? url : url.slice(0, q)
  table ??= buildTable()
  const exact = table.exact.get(path)
  if (exact !== undefined) return exact
  const parts = path.split("/")
  const candidates = table.bySegments.get(parts.length)
  if (candidates === undefined) return "unmatched"
  for (const template of candidates) {
    let ok = true
    for (let i = 0; i < parts.length && ok; i++) {
      const literal = template.segments[i]
      ok = literal === undefined ? parts[i] !== "" : parts[i] === literal
    }
    if (ok) return template.label
  }
  return "unmatched"
}
