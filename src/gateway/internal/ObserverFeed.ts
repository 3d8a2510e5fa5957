/**
 * The observer's LLM history: calls per provider and model over the last ten minutes, in time buckets, so the
 * `/observer` page charts calls, p50/p95 latency, tokens and cost over time from its first frame (not only from
 * the moment it opened).
 *
 * Rules:
 * - Fed by the hub's `troupe.llm.call.stop` (a call: its `duration` in ns, `total_tokens`, `cost`) and
 *   `troupe.llm.call.exception` (a failed call) events, stamped with the layer's `Clock` when they arrive.
 * - Buckets of `bucketMillis` (10 s), the last `buckets` (60) kept; a bucket keeps at most 256 latency samples
 *   (a uniform reservoir), so percentiles are exact up to 256 calls per bucket and sampled beyond.
 * - Bounded: at most 100 provider/model series; calls of a 101st go to the series `other`.
 *
 * @since 0.1.0
 */
import type { Clock } from "effect"
import type { TelemetryEvent } from "../../telemetry/index.ts"

const SAMPLES = 256
const MAX_SERIES = 100
const OTHER = "other\u0000other"

interface Bucket {
  readonly start: number
  calls: number
  errors: number
  tokens: number
  cost: number
  seen: number
  readonly ms: Array<number>
}

/** One point of a series' chart. */
export interface FeedPoint {
  readonly t: number
  readonly calls: number
  readonly errors: number
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  readonly tokens: number
  readonly costUsd: number
}

/** One provider/model over the window: totals and the points. */
export interface FeedSeries {
  readonly provider: string
  readonly model: string
  readonly calls: number
  readonly errors: number
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  readonly tokens: number
  readonly costUsd: number
  readonly points: ReadonlyArray<FeedPoint>
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number | null =>
  sorted.length === 0
    ? null
    : Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10

const num = (v: unknown): number => typeof v === "number" && Number.isFinite(v) ? v : 0

/** The feed: `onEvent` for the hub handler, `snapshot` for the page. */
export const makeObserverFeed = (
  clock: Clock.Clock,
  options: { readonly bucketMillis?: number; readonly buckets?: number } = {}
) => {
  const width = options.bucketMillis ?? 10_000
  const keep = options.buckets ?? 60
  const series = new Map<string, { readonly provider: string; readonly model: string; buckets: Array<Bucket> }>()

  const bucketOf = (key: string, provider: string, model: string, now: number): Bucket => {
    let s = series.get(key)
    if (s === undefined && series.size >= MAX_SERIES) s = series.get(OTHER)
    if (s === undefined) {
      const full = series.size >= MAX_SERIES
      s = full ? { provider: "other", model: "other", buckets: [] } : { provider, model, buckets: [] }
      series.set(full ? OTHER : key, s)
    }
    const start = Math.floor(now / width) * width
    const last = s.buckets[s.buckets.length - 1]
    if (last !== undefined && last.start === start) return last
    const b: Bucket = { start, calls: 0, errors: 0, tokens: 0, cost: 0, seen: 0, ms: [] }
    s.buckets.push(b)
    const oldest = start - (keep - 1) * width
    // the loop's condition checks the array is not empty, so its first element exists
    while (s.buckets.length > 0 && (s.buckets[0] as Bucket).start < oldest) s.buckets.shift()
    return b
  }

  const onEvent = (event: TelemetryEvent): void => {
    const stop = event.name[3] === "stop"
    if (!stop && event.name[3] !== "exception") return
    const provider = String(event.metadata["provider"] ?? "?").slice(0, 64)
    const model = String(event.metadata["model"] ?? "?").slice(0, 128)
    const b = bucketOf(`${provider}\u0000${model}`, provider, model, clock.currentTimeMillisUnsafe())
    if (!stop) {
      b.errors++
      return
    }
    b.calls++
    b.tokens += num(event.measurements["total_tokens"])
    b.cost += num(event.measurements["cost"])
    const ms = num(event.measurements["duration"]) / 1e6
    b.seen++
    if (b.ms.length < SAMPLES) b.ms.push(ms)
    else {
      const j = Math.floor(Math.random() * b.seen)
      if (j < SAMPLES) b.ms[j] = ms
    }
  }

  const snapshot = (): ReadonlyArray<FeedSeries> => {
    const now = clock.currentTimeMillisUnsafe()
    const oldest = Math.floor(now / width) * width - (keep - 1) * width
    const out: Array<FeedSeries> = []
    for (const s of series.values()) {
      const live = s.buckets.filter((b) => b.start >= oldest)
      if (live.length === 0) continue
      const all = live.flatMap((b) => b.ms).sort((a, b) => a - b)
      const points = live.map((b): FeedPoint => {
        const sorted = [...b.ms].sort((x, y) => x - y)
        return {
          t: b.start,
          calls: b.calls,
          errors: b.errors,
          p50Ms: percentile(sorted, 0.5),
          p95Ms: percentile(sorted, 0.95),
          tokens: b.tokens,
          costUsd: Math.round(b.cost * 1e6) / 1e6
        }
      })
      out.push({
        provider: s.provider,
        model: s.model,
        calls: points.reduce((n, p) => n + p.calls, 0),
        errors: points.reduce((n, p) => n + p.errors, 0),
        p50Ms: percentile(all, 0.5),
        p95Ms: percentile(all, 0.95),
        tokens: points.reduce((n, p) => n + p.tokens, 0),
        costUsd: Math.round(points.reduce((n, p) => n + p.costUsd, 0) * 1e6) / 1e6,
        points
      })
    }
    return out.sort((a, b) => b.calls - a.calls)
  }

  return { onEvent, snapshot }
}
