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
  /**
   * A mark from `mark()` taken before the value was computed: the put stores nothing (and succeeds) when `key` was
   * deleted or cleared (by key, prefix, namespace or a full clear) since then, so a value computed across an
   * invalidation never outlives it (what `getOrCompute` does for its own computations).
   */
  readonly since?: CacheMark
}

/**
 * A point in a cache's history of deletes and clears (`CacheShape.mark`). The cache remembers its last 1,024
 * deletes and clears: a mark older than that counts as invalidated for every key.
 */
export type CacheMark = number & { readonly CacheMark: unique symbol }

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
   * and promotes a hit into L1 with its remaining TTL. Fails with `CacheKeyTooLarge` when the key is longer than
   * `maxKeyBytes` UTF-8 bytes; with `InvalidCacheOptions` (path `key`) when the key is not a string (an untyped
   * caller). A Redis failure is never an error: the tiered cache answers from L1.
   */
  readonly get: (key: string) => Effect.Effect<Option.Option<A>, CacheKeyTooLarge | InvalidCacheOptions>
  /**
   * Whether `key` has a live value (does not change the LRU order or the hit statistics). Fails with
   * `CacheKeyTooLarge` when the key is longer than `maxKeyBytes` UTF-8 bytes; with `InvalidCacheOptions` (path
   * `key`) when the key is not a string.
   */
  readonly has: (key: string) => Effect.Effect<boolean, CacheKeyTooLarge | InvalidCacheOptions>
  /**
   * Stores `value` under `key` (write-through to every tier); on failure nothing is stored. Fails with
   * `CachePutError`: `CacheKeyTooLarge` when the key is longer than `maxKeyBytes` UTF-8 bytes;
   * `CacheValueTooLarge` when the value's `sizeOf` exceeds `maxValueBytes` or `maxBytes`, or its encoded Redis
   * envelope exceeds `maxValueBytes`; `CacheValueEncodingError` when the tiered cache's value Schema cannot encode
   * it; `InvalidCacheOptions` when the key is not a string, `options` is not an object, `ttl` is not a positive
   * duration, `tokens` is not a finite number >= 0, `since` is not a mark of this cache, or `sizeOf` throws or
   * returns anything but a finite number >= 0. A failed Redis write is not an error (the tier degrades).
   */
  readonly put: (key: string, value: A, options?: PutOptions) => Effect.Effect<void, CachePutError>
  /**
   * Removes `key` from every tier. Fails with `CacheKeyTooLarge` when the key is longer than `maxKeyBytes` UTF-8
   * bytes; with `InvalidCacheOptions` (path `key`) when the key is not a string. A failed Redis delete is not an
   * error (it is queued as a pending invalidation).
   */
  readonly delete: (key: string) => Effect.Effect<void, CacheKeyTooLarge | InvalidCacheOptions>
  /**
   * Removes every entry, a namespace's entries, or the entries under a key prefix, from every tier; while the
   * clear walks Redis, reads of keys it covers do not read Redis, so no cleared value outlives it. Fails with
   * `InvalidCacheOptions` (path `namespace`) when both `namespace` and `prefix` are given, or `namespace` is empty
   * or contains `:`; nothing is removed then.
   */
  readonly clear: (options?: ClearOptions) => Effect.Effect<void, InvalidCacheOptions>
  /**
   * The cached value for `key`, or the result of `compute`, which is then stored. Concurrent misses on one key
   * run `compute` once (single-flight); an interrupted caller never cancels the computation for the others.
   * Failures are not cached unless a `failureTtl` applies. A value too large to cache is returned uncached.
   * Fails with `compute`'s `E` when it fails (or when its cached failure is still within its `failureTtl`); with
   * `CacheKeyTooLarge` when the key is longer than `maxKeyBytes` UTF-8 bytes; with `InvalidCacheOptions` when the
   * key is not a string, `options` is not an object, or `ttl` / `failureTtl` is not a positive duration (checked
   * before `compute` runs). A value that cannot be stored is not an error: it is returned uncached.
   */
  readonly getOrCompute: <E, R>(
    key: string,
    compute: Effect.Effect<A, E, R>,
    options?: ComputeOptions<A>
  ) => Effect.Effect<A, E | CacheKeyTooLarge | InvalidCacheOptions, R>
  /** The current point in the history of deletes and clears, for a later `put(key, value, { since })`. */
  readonly mark: () => CacheMark
  /** A snapshot of the statistics. */
  readonly stats: () => Effect.Effect<CacheStats>
}
