/**
 * The shape of a cache: the operations every backend (memory, memory over Redis) provides.
 *
 * A `CacheShape<A>` is generic in its value type; the `Cache` service is `CacheShape<unknown>`, and a typed
 * cache is a service of your own whose layer is built with `Cache.makeMemory<A>` / `Cache.makeTiered<A>`.
 * Keys are strings; a key `ns:rest` belongs to namespace `ns` (for per-namespace TTLs and namespace clears).
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Option } from "effect"
import type { CacheKeyTooLarge, CachePutError, InvalidCacheOptions } from "./CacheError.ts"
import type { CacheStats } from "./CacheStats.ts"

/** Options of `put`. */
export interface PutOptions {
  /** TTL of this entry (overrides the namespace TTL and `defaultTtl`). */
  readonly ttl?: Duration.Input
  /** Tokens a hit on this entry saves (added to `tokensSaved`). */
  readonly tokens?: number
}

/** Options of `getOrCompute`. */
export interface ComputeOptions<A> {
  /** TTL of the computed value. */
  readonly ttl?: Duration.Input
  /** Cache a failure of the computation for this long (default: the cache's `failureTtl`; none = not cached). */
  readonly failureTtl?: Duration.Input
  /** Tokens a hit on the computed value saves, or a function of the value. */
  readonly tokens?: number | ((value: A) => number)
}

/** What `clear` removes: everything, one namespace (`ns:` keys), or every key with a prefix. */
export interface ClearOptions {
  readonly namespace?: string
  readonly prefix?: string
}

/** The operations of a cache holding values of type `A`. */
export interface CacheShape<A> {
  /**
   * The live value for `key`, if any. Never returns an expired entry. In a tiered cache an L1 miss reads Redis
   * and promotes a hit into L1 with its remaining TTL.
   */
  readonly get: (key: string) => Effect.Effect<Option.Option<A>, CacheKeyTooLarge | InvalidCacheOptions>
  /** Whether `key` has a live value (does not change the LRU order or the hit statistics). */
  readonly has: (key: string) => Effect.Effect<boolean, CacheKeyTooLarge | InvalidCacheOptions>
  /** Stores `value` under `key` (write-through to every tier). */
  readonly put: (key: string, value: A, options?: PutOptions) => Effect.Effect<void, CachePutError>
  /** Removes `key` from every tier. */
  readonly delete: (key: string) => Effect.Effect<void, CacheKeyTooLarge | InvalidCacheOptions>
  /** Removes every entry, a namespace's entries, or the entries under a key prefix, from every tier. */
  readonly clear: (options?: ClearOptions) => Effect.Effect<void, InvalidCacheOptions>
  /**
   * The cached value for `key`, or the result of `compute`, which is then stored. Concurrent misses on one key
   * run `compute` once (single-flight); an interrupted caller never cancels the computation for the others.
   * Failures are not cached unless a `failureTtl` applies. A value too large to cache is returned uncached.
   */
  readonly getOrCompute: <E, R>(
    key: string,
    compute: Effect.Effect<A, E, R>,
    options?: ComputeOptions<A>
  ) => Effect.Effect<A, E | CacheKeyTooLarge | InvalidCacheOptions, R>
  /** A snapshot of the statistics. */
  readonly stats: () => Effect.Effect<CacheStats>
}
