/**
 * HTTP server metrics and Node process metrics for `/metrics`.
 *
 * HTTP series are Effect `Metric`s in the registry of the gateway layer's context, so the hub's `prometheus()`
 * renders them beside every other troupe metric: `troupe_gateway_http_requests_total{method,route,status}`,
 * `troupe_gateway_http_request_duration_seconds{method,route}` (histogram; for SSE the time to the response head),
 * `troupe_gateway_http_requests_in_flight` and `troupe_gateway_sse_streams_open`. Routes are the route templates
 * (`/v1/agents/{id}/turns`), never raw paths, so the series stay bounded; unknown paths are `unmatched`.
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

const known = new Set([
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/models",
  "/health/live",
  "/health/ready",
  "/health/startup",
  "/metrics",
  "/openapi.json",
  "/admin/config",
  "/admin/supervision",
  "/admin/stats",
  "/admin/maintenance"
])

/** The route template of a request path (bounded label values). */
export const routeOf = (url: string): string => {
  const q = url.indexOf("?")
  const path = q === -1 ? url : url.slice(0, q)
  if (known.has(path)) return path
  if (path.startsWith("/v1/agents/")) {
    const rest = path.slice("/v1/agents/".length).split("/")
    if (rest.length === 1 && rest[0] !== "") return "/v1/agents/{id}"
    if (rest.length === 2 && (rest[1] === "turns" || rest[1] === "cancel")) return `/v1/agents/{id}/${rest[1]}`
  }
  return "unmatched"
}
