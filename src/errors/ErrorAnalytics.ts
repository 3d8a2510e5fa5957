/**
 * `ErrorAnalytics`: error aggregation over sliding windows by class, provider, model and route; trending; a simple
 * pattern detector; impact analysis; and OpenTelemetry exception events.
 *
 * Rules (the README's `## Error taxonomy` uses the same words):
 * - Time is cut into buckets of `bucketMillis` (default 10 s) read from effect's `Clock`, so every time rule is
 *   tested under TestClock. The last `historyBuckets` (default 60) are kept; older buckets are dropped.
 * - The bucket index never goes back: a clock that steps back (an NTP correction) counts into the latest bucket
 *   until it catches up, so a bucket is never opened twice and the trends always agree with the aggregates.
 * - Options are decoded: `bucketMillis` an integer from 1 to 86,400,000; `historyBuckets`, `windowBuckets`,
 *   `baselineBuckets` and `maxKeys` integers from 1 to 10,000; `minCount` an integer from 1 to 1,000,000,000; `k`
 *   a finite number from 0. Another value fails the layer with `InvalidOptions` naming the option.
 * - Aggregates cover the sliding window of the last `windowBuckets` buckets (default 30): counts by class (the
 *   error tag), by recovery strategy, provider, model and route.
 * - Trending: per class, the counts of every kept bucket, oldest first.
 * - Pattern detector: a class whose rate rises above its baseline by k σ raises a telemetry event
 *   (`troupe.errors.anomaly`): the baseline is the mean and standard deviation of the class's counts in the
 *   `baselineBuckets` (default 12) buckets before the current one; the event is raised once per class and bucket,
 *   when the current count exceeds `mean + k·σ` (default k = 3) and is at least `minCount` (default 5).
 * - Impact analysis: which routes, tenants and agents a class hit within the window.
 * - `record(error, context)` merges `context` over the fiber's error context (`ErrorScope`: the route, tenant and
 *   agent the gateway and the agents set), so a failure recorded anywhere under a request or a turn carries them.
 * - Every table is bounded: at most `maxKeys` (default 200) distinct values per dimension per bucket; the rest count
 *   under `other` (classes too).
 * - `record` also adds an `exception` event (exception.type = the tag, exception.message masked of secrets) to the
 *   current tracing span when there is one, as OpenTelemetry's `span.recordException` does, so OTLP error trackers
 *   receive it.
 *
 * Reuses the taxonomy (`classify`), the TelemetryHub for events, and guard's `maskSecrets`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Schema, Tracer } from "effect"
import { maskSecrets } from "../guard/SecretDetector.ts"
import { validate } from "../runtime/internal/Options.ts"
import type { InvalidOptions } from "../runtime/RuntimeError.ts"
import { Events } from "../telemetry/EventCatalogue.ts"
import { TelemetryHub } from "../telemetry/TelemetryHub.ts"
import { type ErrorContext, ErrorScope, mergeErrorContext } from "./ErrorScope.ts"
import { classify, tagOf } from "./ErrorTaxonomy.ts"

export type { ErrorContext } from "./ErrorScope.ts"

/** Options of the in-memory analytics. */
export interface ErrorAnalyticsOptions {
  readonly bucketMillis?: number
  readonly historyBuckets?: number
  readonly windowBuckets?: number
  readonly baselineBuckets?: number
  readonly k?: number
  readonly minCount?: number
  readonly maxKeys?: number
}

/** Counts by value of one dimension. */
export type Counts = Readonly<Record<string, number>>

/** The aggregates of the sliding window. */
export interface ErrorAggregates {
  readonly windowMillis: number
  readonly total: number
  readonly byClass: Counts
  readonly byRecovery: Counts
  readonly byProvider: Counts
  readonly byModel: Counts
  readonly byRoute: Counts
}

/** The routes, tenants and agents a class hit within the window. */
export interface ErrorImpact {
  readonly errorClass: string
  readonly routes: Counts
  readonly tenants: Counts
  readonly agents: Counts
}

/** One raised anomaly. */
export interface ErrorAnomaly {
  readonly errorClass: string
  readonly count: number
  readonly mean: number
  readonly stddev: number
  readonly at: number
}

/** The service interface. */
export interface ErrorAnalyticsShape {
  /** Records one failure (never fails); `context` is merged over the fiber's error context (`ErrorScope`). */
  readonly record: (error: unknown, context?: ErrorContext) => Effect.Effect<void>
  /** The aggregates of the sliding window. */
  readonly aggregates: Effect.Effect<ErrorAggregates>
  /** Per class, the counts of every kept bucket, oldest first. */
  readonly trends: Effect.Effect<Readonly<Record<string, ReadonlyArray<number>>>>
  /** The impact of every class seen within the window. */
  readonly impact: Effect.Effect<ReadonlyArray<ErrorImpact>>
  /** The anomalies raised within the kept history, oldest first. */
  readonly anomalies: Effect.Effect<ReadonlyArray<ErrorAnomaly>>
}

type Dim = "class" | "recovery" | "provider" | "model" | "route"
interface ClassCell {
  count: number
  readonly routes: Map<string, number>
  readonly tenants: Map<string, number>
  readonly agents: Map<string, number>
}
interface Bucket {
  readonly index: number
  readonly dims: Record<Dim, Map<string, number>>
  readonly classes: Map<string, ClassCell>
  readonly raised: Set<string>
  /** Baseline per class, computed once per bucket (the buckets before it are closed). */
  readonly baselines: Map<string, { readonly mean: number; readonly stddev: number }>
}

const bump = (map: Map<string, number>, key: string, maxKeys: number): void => {
  const k = map.has(key) || map.size < maxKeys ? key : "other"
  map.set(k, (map.get(k) ?? 0) + 1)
}
const addInto = (into: Record<string, number>, from: Map<string, number>): void => {
  for (const [k, v] of from) into[k] = (into[k] ?? 0) + v
}
/** A record with no prototype: a class or route named `__proto__` or `toString` is a plain key. */
const table = (): Record<string, number> => Object.create(null) as Record<string, number> // null prototype, no keys yet

/** An integer from 1 to `maximum`. */
const Count = (maximum: number) =>
  Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum }))))

const OptionsSchema = Schema.Struct({
  bucketMillis: Count(86_400_000),
  historyBuckets: Count(10_000),
  windowBuckets: Count(10_000),
  baselineBuckets: Count(10_000),
  k: Schema.optional(Schema.Finite.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  minCount: Count(1_000_000_000),
  maxKeys: Count(10_000)
})

/**
 * Builds the in-memory analytics (exported for tests and `layerMemory`). Fails with `InvalidOptions` naming the
 * option when one is not of its type (see the module's rules: integers from 1, `k` a finite number from 0).
 */
export const makeMemory = (
  options: ErrorAnalyticsOptions = {}
): Effect.Effect<ErrorAnalyticsShape, InvalidOptions, TelemetryHub> =>
  Effect.gen(function*() {
    const hub = yield* TelemetryHub
    const o = yield* Effect.fromResult(validate(OptionsSchema, options, "error analytics options"))
    const bucketMillis = o.bucketMillis ?? 10_000
    const historyBuckets = o.historyBuckets ?? 60
    const windowBuckets = Math.min(o.windowBuckets ?? 30, historyBuckets)
    const baselineBuckets = Math.min(o.baselineBuckets ?? 12, historyBuckets - 1)
    const k = o.k ?? 3
    const minCount = o.minCount ?? 5
    const maxKeys = o.maxKeys ?? 200
    const buckets: Array<Bucket> = []
    const anomalies: Array<ErrorAnomaly> = []

    // never behind the latest bucket: a clock stepped back counts into it (a bucket is never opened twice)
    let latest = Number.NEGATIVE_INFINITY
    const currentIndex = Effect.map(Clock.currentTimeMillis, (now) => {
      latest = Math.max(latest, Math.floor(now / bucketMillis))
      return latest
    })
    const prune = (index: number): void => {
      while (buckets.length > 0 && buckets[0]!.index <= index - historyBuckets) buckets.shift()
      while (anomalies.length > 0 && Math.floor(anomalies[0]!.at / bucketMillis) <= index - historyBuckets) {
        anomalies.shift()
      }
    }
    const bucketAt = (index: number): Bucket => {
      const last = buckets.at(-1)
      if (last !== undefined && last.index === index) return last
      const fresh: Bucket = {
        index,
        dims: { class: new Map(), recovery: new Map(), provider: new Map(), model: new Map(), route: new Map() },
        classes: new Map(),
        raised: new Set(),
        baselines: new Map()
      }
      buckets.push(fresh)
      return fresh
    }
    const countOf = (index: number, tag: string): number =>
      buckets.find((b) => b.index === index)?.classes.get(tag)?.count ?? 0
    const inWindow = (index: number) => buckets.filter((b) => b.index > index - windowBuckets)

    const record = (error: unknown, given: ErrorContext = {}): Effect.Effect<void> =>
      Effect.gen(function*() {
        const context = mergeErrorContext(yield* ErrorScope, given)
        const index = yield* currentIndex
        prune(index)
        const bucket = bucketAt(index)
        const raw = tagOf(error)
        const tag = bucket.classes.has(raw) || bucket.classes.size < maxKeys ? raw : "other"
        const klass = classify(raw)
        bump(bucket.dims.class, tag, maxKeys)
        bump(bucket.dims.recovery, klass.recovery, maxKeys)
        if (context.provider !== undefined) bump(bucket.dims.provider, context.provider, maxKeys)
        if (context.model !== undefined) bump(bucket.dims.model, context.model, maxKeys)
        if (context.route !== undefined) bump(bucket.dims.route, context.route, maxKeys)
        let cell = bucket.classes.get(tag)
        if (cell === undefined) {
          cell = { count: 0, routes: new Map(), tenants: new Map(), agents: new Map() }
          bucket.classes.set(tag, cell)
        }
        cell.count++
        if (context.route !== undefined) bump(cell.routes, context.route, maxKeys)
        if (context.tenant !== undefined) bump(cell.tenants, context.tenant, maxKeys)
        if (context.agent !== undefined) bump(cell.agents, context.agent, maxKeys)
        yield* recordException(error)
        if (bucket.raised.has(tag) || cell.count < minCount) return
        let baseline = bucket.baselines.get(tag)
        if (baseline === undefined) {
          const base = Array.from({ length: baselineBuckets }, (_, i) => countOf(index - 1 - i, tag))
          const m = base.reduce((a, b) => a + b, 0) / Math.max(1, base.length)
          baseline = {
            mean: m,
            stddev: Math.sqrt(base.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, base.length))
          }
          bucket.baselines.set(tag, baseline)
        }
        const { mean, stddev } = baseline
        if (cell.count > mean + k * stddev) {
          bucket.raised.add(tag)
          // within its bucket, also when the clock stepped back
          const at = Math.max(yield* Clock.currentTimeMillis, index * bucketMillis)
          anomalies.push({ errorClass: tag, count: cell.count, mean, stddev, at })
          yield* hub.emit(Events.errorsAnomaly, { count: cell.count, mean, stddev, system_time: at }, {
            error_class: tag,
            recovery: klass.recovery,
            source: klass.source
          })
        }
      })

    const aggregates = Effect.map(currentIndex, (index): ErrorAggregates => {
      prune(index)
      const acc: Record<Dim, Record<string, number>> = {
        class: table(),
        recovery: table(),
        provider: table(),
        model: table(),
        route: table()
      }
      // acc has exactly the Dim keys (built just above)
      for (const b of inWindow(index)) for (const d of Object.keys(acc) as Array<Dim>) addInto(acc[d], b.dims[d])
      const total = Object.values(acc.class).reduce((a, b) => a + b, 0)
      return {
        windowMillis: windowBuckets * bucketMillis,
        total,
        byClass: acc.class,
        byRecovery: acc.recovery,
        byProvider: acc.provider,
        byModel: acc.model,
        byRoute: acc.route
      }
    })

    const trends = Effect.map(currentIndex, (index) => {
      prune(index)
      const out: Record<string, Array<number>> = Object.create(null) as Record<string, Array<number>> // null prototype
      const tags = new Set(buckets.flatMap((b) => [...b.classes.keys()]))
      for (const tag of tags) {
        out[tag] = Array.from({ length: historyBuckets }, (_, i) => countOf(index - historyBuckets + 1 + i, tag))
      }
      return out
    })

    const impact = Effect.map(currentIndex, (index) => {
      prune(index)
      const byTag = new Map<
        string,
        { routes: Record<string, number>; tenants: Record<string, number>; agents: Record<string, number> }
      >()
      for (const b of inWindow(index)) {
        for (const [tag, cell] of b.classes) {
          const e = byTag.get(tag) ?? { routes: table(), tenants: table(), agents: table() }
          addInto(e.routes, cell.routes)
          addInto(e.tenants, cell.tenants)
          addInto(e.agents, cell.agents)
          byTag.set(tag, e)
        }
      }
      return [...byTag].map(([errorClass, e]): ErrorImpact => ({ errorClass, ...e }))
    })

    return ErrorAnalytics.of({
      record,
      aggregates,
      trends,
      impact,
      anomalies: Effect.map(currentIndex, (index) => {
        prune(index)
        return [...anomalies]
      })
    })
  })

/**
 * Adds an OpenTelemetry-style `exception` event (exception.type, exception.message masked of secrets) to the
 * current span, when there is one; otherwise does nothing. Never fails.
 */
export const recordException = (error: unknown): Effect.Effect<void> =>
  // the span in context (set by `withSpan` for its body); read as an optional service: no failure, no stack capture
  Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (option) => {
    const span = option._tag === "Some" ? option.value : undefined
    return span === undefined || span._tag !== "Span" ?
      Effect.void :
      Effect.flatMap(Clock.currentTimeNanos, (now) =>
        Effect.sync(() =>
          span.event("exception", now, {
            "exception.type": tagOf(error),
            "exception.message": maskSecrets(messageOf(error)).slice(0, 1_000)
          })
        ))
  })

const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return typeof error === "string" ? error : tagOf(error)
}

/** The error analytics service. */
export class ErrorAnalytics
  extends Context.Service<ErrorAnalytics, ErrorAnalyticsShape>()("troupe/errors/ErrorAnalytics")
{
  /**
   * In-memory analytics (bounded tables); needs a `TelemetryHub`. Fails with `InvalidOptions` naming the option
   * when one is not of its type (as `makeMemory`).
   */
  static readonly layerMemory = (
    options: ErrorAnalyticsOptions = {}
  ): Layer.Layer<ErrorAnalytics, InvalidOptions, TelemetryHub> => Layer.effect(ErrorAnalytics, makeMemory(options))
}
