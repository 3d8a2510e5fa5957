/**
 * The reporter: sliding-window call statistics per component (an LLM model, a tool, an agent, an algorithm).
 *
 * Plays the role of a console reporter such as `Telemetry.Metrics.ConsoleReporter`, but aggregates: for each
 * component it keeps the last N calls in a ring buffer and derives calls, successes, failures, the error breakdown
 * by type, and avg / min / max / p50 / p95 / p99 of the duration over that window. Lifetime totals are kept too.
 * Hand-rolled: Effect's `Metric.summary` is time-windowed and per series, with no per-component error breakdown.
 *
 * Bounded: at most `maxComponents` components (default 1,000, `other` included); once the table is full, calls of a
 * new component are recorded under the component `other` (as LLM tracking and the observer feed bound theirs). A
 * window's buffers start small and grow as calls arrive, up to the window size.
 *
 * State is a plain `Map` of ring buffers mutated synchronously from the span machinery in the emitter's fiber
 * (no `Ref`: the updates never yield, so they cannot interleave; see `HandlerTable.ts` for the same argument).
 * Percentiles are nearest-rank over the window, computed only when a report is requested.
 *
 * @since 0.1.0
 */

/** Statistics of one component over its window (durations in milliseconds). */
export interface ComponentStats {
  readonly component: string
  /** Calls in the window (at most the window size). */
  readonly calls: number
  readonly successes: number
  readonly failures: number
  /** Failures in the window by error type (`_tag`, class name, `Defect` or `Interrupted`). */
  readonly errorsByType: Readonly<Record<string, number>>
  readonly avgMs: number
  readonly minMs: number
  readonly maxMs: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly totalCalls: number
  readonly totalFailures: number
}

/** The component that takes the calls of new components once the reporter holds `maxComponents`. */
export const otherComponent = "other"

const initialWindowBuffer = 8

class Window {
  durations: Float64Array
  readonly errors: Array<string | undefined>
  next = 0
  size = 0
  totalCalls = 0
  totalFailures = 0
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
    this.durations = new Float64Array(Math.min(capacity, initialWindowBuffer))
    this.errors = []
  }
  record(durationMs: number, errorType: string | undefined): void {
    const capacity = this.capacity
    // not yet wrapped (next === size): grow the buffer, doubling, up to the capacity
    if (this.next === this.durations.length && this.next < capacity) {
      const grown = new Float64Array(Math.min(capacity, this.durations.length * 2))
      grown.set(this.durations)
      this.durations = grown
    }
    this.durations[this.next] = durationMs
    this.errors[this.next] = errorType
    this.next = (this.next + 1) % capacity
    if (this.size < capacity) this.size++
    this.totalCalls++
    if (errorType !== undefined) this.totalFailures++
  }
}

/** Nearest-rank percentile of an ascending array (`q` in (0, 1]). */
export const nearestRank = (sorted: ArrayLike<number>, q: number): number => {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1] ?? 0
}

const round = (n: number): number => Math.round(n * 1000) / 1000

/**
 * The console reporter's aggregate: per component, call counts, errors and latency percentiles over a bounded window
 * of recent durations.
 */
export class Reporter {
  private readonly windows = new Map<string, Window>()
  readonly windowSize: number
  readonly maxComponents: number
  constructor(windowSize: number, maxComponents = 1_000) {
    this.windowSize = windowSize
    this.maxComponents = maxComponents
  }

  /**
   * Records one finished call; `errorType` is undefined for a success. A new component is recorded under `other`
   * once the reporter holds `maxComponents - 1` others.
   */
  record(component: string, durationMs: number, errorType: string | undefined): void {
    let window = this.windows.get(component)
    if (window === undefined) {
      const key = this.windows.size < this.maxComponents - 1 ? component : otherComponent
      window = this.windows.get(key)
      if (window === undefined) {
        window = new Window(this.windowSize)
        this.windows.set(key, window)
      }
    }
    window.record(durationMs, errorType)
  }

  reset(): void {
    this.windows.clear()
  }

  /** A snapshot of every component's statistics, sorted by component name. */
  stats(): ReadonlyArray<ComponentStats> {
    return [...this.windows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([component, w]) => {
        const sorted = w.durations.slice(0, w.size).sort()
        const errorsByType: Record<string, number> = {}
        let failures = 0
        let total = 0
        for (let i = 0; i < w.size; i++) {
          total += sorted[i] ?? 0
          const error = w.errors[i]
          if (error !== undefined) {
            failures++
            errorsByType[error] = (errorsByType[error] ?? 0) + 1
          }
        }
        return {
          component,
          calls: w.size,
          successes: w.size - failures,
          failures,
          errorsByType,
          avgMs: w.size === 0 ? 0 : round(total / w.size),
          minMs: round(sorted[0] ?? 0),
          maxMs: round(sorted[w.size - 1] ?? 0),
          p50Ms: round(nearestRank(sorted, 0.5)),
          p95Ms: round(nearestRank(sorted, 0.95)),
          p99Ms: round(nearestRank(sorted, 0.99)),
          totalCalls: w.totalCalls,
          totalFailures: w.totalFailures
        }
      })
  }
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + " ".repeat(n - s.length))
const padLeft = (s: string, n: number): string => (s.length >= n ? s : " ".repeat(n - s.length) + s)

/** Renders statistics as a fixed-width text table followed by the error breakdown. */
export const formatReport = (stats: ReadonlyArray<ComponentStats>, windowSize: number): string => {
  if (stats.length === 0) {
    return `troupe telemetry report (last ${windowSize} calls per component)\n(no calls recorded)\n`
  }
  const header = ["component", "calls", "ok", "failed", "avg ms", "min ms", "max ms", "p50 ms", "p95 ms", "p99 ms"]
  const rows = stats.map((s) => [
    s.component,
    String(s.calls),
    String(s.successes),
    String(s.failures),
    s.avgMs.toFixed(2),
    s.minMs.toFixed(2),
    s.maxMs.toFixed(2),
    s.p50Ms.toFixed(2),
    s.p95Ms.toFixed(2),
    s.p99Ms.toFixed(2)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? pad(c, widths[i] ?? 0) : padLeft(c, widths[i] ?? 0))).join("  ")
  const errors = stats.flatMap((s) =>
    Object.entries(s.errorsByType).sort(([, a], [, b]) => b - a).map(([type, n]) => `  ${s.component}: ${type} x${n}`)
  )
  return [
    `troupe telemetry report (last ${windowSize} calls per component)`,
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    ...(errors.length > 0 ? ["errors by type:", ...errors] : [])
  ].join("\n") + "\n"
}
