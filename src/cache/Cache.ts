/**
 * `Cache`: a bounded, TTL-aware, single-flight cache service with an optional Redis tier.
 *
 * Layers:
 * - `Cache.layerMemory(options)` — the embedded default: an L1 LRU (`maxEntries` / `maxBytes` with a size
 *   function), default, per-namespace and per-entry TTLs, a supervised TTL sweeper on a `Schedule`.
 * - `Cache.layerTiered(options)` — the same L1 over an L2 in Redis (needs `Redis` from `effect/persistence`, e.g.
 *   `NodeRedis.layer({ url, disableOfflineQueue: true })` from `@effect/platform-node`). Values cross the wire
 *   through `options.redis.value` (a Schema). Redis being down degrades to L1 and recovers by itself.
 *
 * For a typed cache, build your own service with `Cache.makeMemory<A>` / `Cache.makeTiered<A, I>`:
 * ```ts
 * class Embeddings extends Context.Service<Embeddings, CacheShape<ReadonlyArray<number>>>()("app/Embeddings") {
 *   static readonly layer = Layer.effect(Embeddings, Cache.makeMemory<ReadonlyArray<number>>({ maxEntries: 10_000 }))
 * }
 * ```
 *
 * Peers: mirrors `lru-cache` (bounds, TTL, size calculation, stats) and Caffeine/Go `singleflight` (loading);
 * reuses Effect's `Clock` (TestClock-exact TTLs), `Schedule` (sweeps), `Metric` (statistics, see
 * `CacheMetrics.ts` for the metric names), `Schema` (options, wire values) and the persistence `Redis` service.
 * Effect's own `Cache` is not used underneath: its every read is a fiber-level Effect over a structural hash map,
 * 3×+ slower than this cache's in-fiber hit path (see `bench/cache.bench.ts`), and it caches failures always.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { Redis } from "effect/persistence"
import type * as Scope from "effect/Scope"
import { ownConnection } from "../ratelimit/internal/RedisScriptRunner.ts"
import type { InvalidCacheOptions } from "./CacheError.ts"
import type { CacheOptions } from "./CacheOptions.ts"
import { decodeWith, durationToMillis, PositiveDuration, resolveCacheOptions } from "./CacheOptions.ts"
import type { CacheShape } from "./CacheShape.ts"
import { makeCacheCore } from "./internal/CacheCore.ts"
import type { CacheInternals } from "./internal/CacheCore.ts"
import type { RedisTierOptions } from "./RedisTier.ts"
import { makeRedisTier, nodeRedisLayer, type TierConnection } from "./RedisTier.ts"

/** Options of the tiered (memory over Redis) cache. */
export interface TieredCacheOptions<A, I = unknown> extends CacheOptions<A> {
  readonly redis: RedisTierOptions<A, I>
}

const RedisTierOptionsSchema = Schema.Struct({
  value: Schema.Any.pipe(
    Schema.check(Schema.makeFilter((u: unknown) => Schema.isSchema(u) || "expected a Schema for the cached values"))
  ),
  prefix: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isMinLength(1)))),
  timeout: Schema.optionalKey(PositiveDuration),
  probeInterval: Schema.optionalKey(PositiveDuration),
  maxTtl: Schema.optionalKey(PositiveDuration),
  maxPendingInvalidations: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))))
})

/** Default real-time timeout of each L2 command. */
export const DEFAULT_L2_TIMEOUT_MS = 250

/**
 * The L2 tier's connection: with `NodeRedis` in context, its own duplicate connection without offline queue
 * (released within `timeoutMs`, see `RedisTier.ts`); otherwise the `Redis` service as given.
 */
const tierConnection = (
  timeoutMs: number
): Effect.Effect<TierConnection, never, Scope.Scope | Redis.Redis> =>
  Effect.gen(function*() {
    // the NodeRedis tag's module (and node-redis with it) is loaded only when a tiered cache is built
    const nodeRedis = yield* Effect.promise(() => import("@effect/platform-node/NodeRedis").catch(() => undefined))
    const node = nodeRedis === undefined ? Option.none() : yield* Effect.serviceOption(nodeRedis.NodeRedis)
    if (Option.isNone(node)) return yield* Redis.Redis
    const own = yield* ownConnection(node.value.client, timeoutMs)
    return {
      send: <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
        Effect.tryPromise({
          // Redis replies are untyped; the caller names the reply type of its command as A
          try: () => own.sendCommand([command, ...args]) as Promise<A>,
          catch: (cause) => new Redis.RedisError({ cause })
        }),
      sendCommand: (args) => own.sendCommand(args)
    }
  })

const ms = (d: Duration.Input | undefined, fallback: number): number =>
  d === undefined ? fallback : durationToMillis(d) ?? fallback

/**
 * Builds a memory-only cache of `A` values in the current Scope. Fails with `InvalidCacheOptions` naming the path
 * when a field of `options` does not decode (`maxEntries` / `maxBytes` / `maxKeyBytes` / `maxValueBytes` not an
 * integer >= 1, a TTL or `sweepInterval` not a positive duration, a namespace name containing `:`, `sizeOf` /
 * `onSweep` not a function, an empty `name`).
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const cache = yield* Cache.makeMemory<string>({ maxEntries: 1000, defaultTtl: "5 minutes" })
 *   yield* cache.put("greeting", "hello")
 *   return yield* cache.get("greeting") // Option.some("hello")
 * }))
 * ```
 */
export const makeMemory = <A>(
  options?: CacheOptions<A>
): Effect.Effect<CacheInternals<A>, InvalidCacheOptions, Scope.Scope> =>
  Effect.flatMap(resolveCacheOptions(options), (config) => makeCacheCore(config))

/**
 * Builds a tiered cache (L1 memory over L2 Redis) of `A` values in the current Scope. Fails with
 * `InvalidCacheOptions` naming the path when a field of `options` does not decode (as `makeMemory`), or one of
 * `options.redis` (path `redis.…`: `value` not a Schema, an empty `prefix`, `timeout` / `probeInterval` / `maxTtl`
 * not a positive duration, `maxPendingInvalidations` not an integer >= 1). An unreachable Redis is no error
 * here: the first L2 command that fails degrades the cache to L1.
 *
 * @example
 * ```ts
 * const cache = yield* Cache.makeTiered({ maxEntries: 10_000, redis: { value: Schema.String, prefix: "app:" } })
 * ```
 */
export const makeTiered = <A, I>(
  options: TieredCacheOptions<A, I>
): Effect.Effect<CacheInternals<A>, InvalidCacheOptions, Scope.Scope | Redis.Redis> =>
  Effect.gen(function*() {
    const config = yield* resolveCacheOptions(options)
    const r = yield* decodeWith(RedisTierOptionsSchema, options.redis, "redis")
    const redis = yield* tierConnection(ms(r.timeout, DEFAULT_L2_TIMEOUT_MS))
    const tierConfig = {
      name: config.name,
      value: options.redis.value,
      prefix: r.prefix ?? `troupe:cache:${config.name}:`,
      timeoutMs: ms(r.timeout, DEFAULT_L2_TIMEOUT_MS),
      probeIntervalMs: ms(r.probeInterval, 1000),
      maxTtlMs: ms(r.maxTtl, 24 * 60 * 60 * 1000),
      maxPendingInvalidations: r.maxPendingInvalidations ?? 10_000
    }
    return yield* makeCacheCore(config, (counters) => ({
      tier: makeRedisTier(redis, tierConfig, counters),
      probeIntervalMs: tierConfig.probeIntervalMs
    }))
  })

/**
 * The cache service (values typed `unknown`; see the module doc for typed caches).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const cache = yield* Cache
 *   const answer = yield* cache.getOrCompute("llm:q1", callModel, { ttl: "1 hour" })
 *   const stats = yield* cache.stats()
 * }).pipe(Effect.provide(Cache.layerMemory({ maxEntries: 10_000 })))
 * ```
 */
export class Cache extends Context.Service<Cache, CacheShape<unknown>>()("troupe/Cache") {
  /** The memory-only cache. Building fails with `InvalidCacheOptions` when the options do not decode (`makeMemory`). */
  static readonly layerMemory = (options?: CacheOptions<unknown>): Layer.Layer<Cache, InvalidCacheOptions> =>
    Layer.effect(Cache, makeMemory<unknown>(options))

  /**
   * The tiered cache (L1 memory over L2 Redis); requires `Redis` (e.g. `NodeRedis.layer`). Building fails with
   * `InvalidCacheOptions` when the options or `options.redis` do not decode (see `makeTiered`).
   */
  static readonly layerTiered = <I>(
    options: TieredCacheOptions<unknown, I>
  ): Layer.Layer<Cache, InvalidCacheOptions, Redis.Redis> => Layer.effect(Cache, makeTiered(options))

  /**
   * The tiered cache with its own node-redis client (`NodeRedis.layer` with `recommendedNodeRedisOptions`).
   * Building fails with `RedisError` when Redis does not answer at start; once built, Redis outages degrade.
   * Building fails with `InvalidCacheOptions` when the options or `options.redis` do not decode (see `makeTiered`).
   */
  static readonly layerNodeRedis = <I>(
    options: TieredCacheOptions<unknown, I> & { readonly url: string }
  ): Layer.Layer<Cache, InvalidCacheOptions | Redis.RedisError> =>
    Cache.layerTiered(options).pipe(Layer.provide(nodeRedisLayer(options.url)))
}
