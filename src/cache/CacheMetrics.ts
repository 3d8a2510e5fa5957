/**
 * The Effect Metrics of a cache instance, registered as read-on-snapshot series over its counters.
 *
 * Reuses Effect's `Metric` registry (`Metric.registerUnsafe`): the series read the cache's plain counters when
 * metrics are snapshotted or exported (Prometheus, OTLP), so the hot path pays nothing for metrics. Every
 * series carries the attribute `cache` (the cache `name`). Series are removed when the cache's layer closes.
 *
 * | metric | type | attributes | meaning |
 * |---|---|---|---|
 * | `troupe_cache_hits_total` | counter | `tier` = `l1`/`l2` | lookups answered by the tier |
 * | `troupe_cache_misses_total` | counter | `tier` = `l1`/`l2` | lookups the tier could not answer |
 * | `troupe_cache_hit_ratio` | gauge | | overall hits / lookups |
 * | `troupe_cache_entries` | gauge | | live L1 entries |
 * | `troupe_cache_bytes` | gauge | | L1 bytes (per `sizeOf`) |
 * | `troupe_cache_evictions_total` | counter | `tier`, `reason` = `ttl`/`capacity`/`manual` | entries removed |
 * | `troupe_cache_tokens_saved_total` | counter | | tokens saved by hits |
 * | `troupe_cache_computations_total` | counter | | `getOrCompute` computations run |
 * | `troupe_cache_coalesced_total` | counter | | callers that joined an in-flight computation |
 * | `troupe_cache_l2_errors_total` | counter | | failed or timed-out Redis commands |
 * | `troupe_cache_l2_decode_failures_total` | counter | | undecodable L2 values (served as misses) |
 * | `troupe_cache_l2_degraded` | gauge | | 1 while Redis is bypassed, else 0 |
 * | `troupe_cache_l2_degradations_total` | counter | | healthy → degraded transitions |
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"
import type * as Scope from "effect/Scope"
import type { CacheCounters } from "./CacheStats.ts"

/** Documented metric names (see the module doc). */
export const CacheMetricNames = {
  hits: "troupe_cache_hits_total",
  misses: "troupe_cache_misses_total",
  hitRatio: "troupe_cache_hit_ratio",
  entries: "troupe_cache_entries",
  bytes: "troupe_cache_bytes",
  evictions: "troupe_cache_evictions_total",
  tokensSaved: "troupe_cache_tokens_saved_total",
  computations: "troupe_cache_computations_total",
  coalesced: "troupe_cache_coalesced_total",
  l2Errors: "troupe_cache_l2_errors_total",
  l2DecodeFailures: "troupe_cache_l2_decode_failures_total",
  l2Degraded: "troupe_cache_l2_degraded",
  l2Degradations: "troupe_cache_l2_degradations_total"
} as const

const noop = (): void => {}

/** Registers the metric series of one cache; they are removed when the enclosing Scope closes. */
export const registerCacheMetrics = (
  name: string,
  counters: CacheCounters,
  size: () => { readonly entries: number; readonly bytes: number }
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const registrations: Array<Metric.Registration> = []
    const counter = (id: string, description: string, attributes: Record<string, string>, read: () => number) => {
      const metric = Metric.counter(id, { description, attributes: { cache: name, ...attributes } })
      registrations.push(
        Metric.registerUnsafe(metric, context, {
          get: () => ({ count: read(), incremental: false }),
          update: noop,
          modify: noop
        })
      )
    }
    const gauge = (id: string, description: string, read: () => number) => {
      const metric = Metric.gauge(id, { description, attributes: { cache: name } })
      registrations.push(
        Metric.registerUnsafe(metric, context, { get: () => ({ value: read() }), update: noop, modify: noop })
      )
    }
    const n = CacheMetricNames
    counter(n.hits, "Cache lookups answered by the tier", { tier: "l1" }, () => counters.l1Hits)
    counter(n.hits, "Cache lookups answered by the tier", { tier: "l2" }, () => counters.l2Hits)
    counter(n.misses, "Cache lookups the tier could not answer", { tier: "l1" }, () => counters.l1Misses)
    counter(n.misses, "Cache lookups the tier could not answer", { tier: "l2" }, () => counters.l2Misses)
    gauge(n.hitRatio, "Cache hits / lookups", () => {
      const total = counters.hits + counters.misses
      return total === 0 ? 0 : counters.hits / total
    })
    gauge(n.entries, "Live L1 cache entries", () => size().entries)
    gauge(n.bytes, "L1 cache bytes", () => size().bytes)
    const evictions = "Cache entries removed, by tier and reason"
    counter(n.evictions, evictions, { tier: "l1", reason: "ttl" }, () => counters.l1EvictTtl)
    counter(n.evictions, evictions, { tier: "l1", reason: "capacity" }, () => counters.l1EvictCapacity)
    counter(n.evictions, evictions, { tier: "l1", reason: "manual" }, () => counters.l1EvictManual)
    counter(n.evictions, evictions, { tier: "l2", reason: "ttl" }, () => counters.l2EvictTtl)
    counter(n.evictions, evictions, { tier: "l2", reason: "manual" }, () => counters.l2EvictManual)
    counter(n.tokensSaved, "Tokens saved by cache hits", {}, () => counters.tokensSaved)
    counter(n.computations, "getOrCompute computations run", {}, () => counters.computations)
    counter(n.coalesced, "getOrCompute callers that joined an in-flight computation", {}, () => counters.coalesced)
    counter(n.l2Errors, "Failed or timed-out Redis commands", {}, () => counters.l2Errors)
    counter(n.l2DecodeFailures, "Undecodable L2 values", {}, () => counters.l2DecodeFailures)
    gauge(n.l2Degraded, "1 while the Redis tier is bypassed", () => (counters.l2Degraded ? 1 : 0))
    counter(n.l2Degradations, "Redis tier healthy -> degraded transitions", {}, () => counters.l2Degradations)
    yield* Effect.addFinalizer(() => Effect.sync(() => registrations.forEach((r) => r.remove())))
  })
