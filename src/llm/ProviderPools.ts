/**
 * `ProviderPools`: one undici connection pool per provider, built from its `providers.<name>.pool` settings, and
 * the `HttpClient` that sends that provider's requests through it.
 *
 * Rules:
 * - One dispatcher per provider name: an undici `Agent` with `connections` sockets per origin, `keepAliveTimeout`,
 *   `pipelining` requests per socket and `allowH2` (HTTP/2 over TLS, negotiated by ALPN). `keepAlive: false` sets
 *   undici's `pipelining: 0`, which closes each connection after its request (a new connection per request).
 * - A provider whose pool settings change gets a new dispatcher; the old one is closed gracefully (its requests in
 *   flight finish). At most `maxProviders` (default 256) dispatchers are kept; past that the oldest is closed.
 * - Every dispatcher is destroyed when the layer's scope closes.
 * - Metrics are read-on-snapshot gauges (as `CacheMetrics`), one series per provider, summed over its origins:
 *   `troupe_provider_pool_connected`, `_free`, `_pending`, `_running`, `_size` (undici's pool stats), so the hot
 *   path pays nothing for them.
 *
 * Reuses `@effect/platform-node/NodeHttpClient` (`makeDispatcherOptions`, `makeUndici`), imported when the layer is
 * built, so importing `troupe/llm` does not load undici. Mirrors the SDKs' `httpAgent` / `maxSockets` settings.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Metric, Scope, Semaphore } from "effect"
import type { HttpClient } from "effect/http"
import type { ConnectionPool } from "../config/ProviderConfig.ts"

/** One provider's pool figures (undici's `PoolStats`, summed over the provider's origins). */
export interface ProviderPoolStats {
  readonly connected: number
  readonly free: number
  readonly pending: number
  readonly running: number
  readonly size: number
}

/** The service interface. */
export interface ProviderPoolsShape {
  /** The client of provider `name`, pooled with `pool` (a new dispatcher when `pool` differs from the last one). */
  readonly clientFor: (name: string, pool: ConnectionPool) => Effect.Effect<HttpClient.HttpClient>
  /** The figures of provider `name`'s pool (zeros when it has none yet). */
  readonly stats: (name: string) => ProviderPoolStats
}

/** Options of `ProviderPools.layer`. */
export interface ProviderPoolsOptions {
  /** Most dispatchers kept (one per provider name). Default 256. */
  readonly maxProviders?: number
}

/** Documented metric names (see the module doc). */
export const ProviderPoolMetricNames = {
  connected: "troupe_provider_pool_connected",
  free: "troupe_provider_pool_free",
  pending: "troupe_provider_pool_pending",
  running: "troupe_provider_pool_running",
  size: "troupe_provider_pool_size"
} as const

/** The undici `Agent` options of `pool` (see the module doc for `keepAlive: false`). */
export const agentOptions = (pool: ConnectionPool) => ({
  connections: pool.connections,
  keepAliveTimeout: Math.max(1, pool.keepAliveTimeout),
  pipelining: pool.keepAlive ? pool.pipelining : 0,
  allowH2: pool.allowH2
})

/** The structural part of undici's dispatcher we read (`Agent.stats`: per-origin `PoolStats` or `ClientStats`). */
interface StatsSource {
  readonly stats?: Readonly<Record<string, object>>
}

const ZERO: ProviderPoolStats = { connected: 0, free: 0, pending: 0, running: 0, size: 0 }

const num = (record: object, key: string): number => {
  // reading a field of an object by name
  const value: unknown = (record as Record<string, unknown>)[key]
  return typeof value === "number" ? value : value === true ? 1 : 0
}

const sumStats = (dispatcher: StatsSource): ProviderPoolStats => {
  const totals = { connected: 0, free: 0, pending: 0, running: 0, size: 0 }
  for (const origin of Object.values(dispatcher.stats ?? {})) {
    totals.connected += num(origin, "connected")
    totals.free += num(origin, "free")
    totals.pending += num(origin, "pending")
    totals.running += num(origin, "running")
    totals.size += num(origin, "size")
  }
  return totals
}

interface Entry {
  readonly key: string
  readonly client: HttpClient.HttpClient
  readonly dispatcher: StatsSource
  readonly scope: Scope.Closeable
}

const noop = (): void => {}

const make = (options: ProviderPoolsOptions) =>
  Effect.gen(function*() {
    const NodeHttpClient = yield* Effect.promise(() => import("@effect/platform-node/NodeHttpClient"))
    const maxProviders = Math.max(1, options.maxProviders ?? 256)
    const entries = new Map<string, Entry>()
    const context = yield* Effect.context<never>()
    const registrations = new Map<string, Array<Metric.Registration>>()
    const layerScope = yield* Effect.scope

    const register = (name: string) => {
      if (registrations.has(name)) return
      const list: Array<Metric.Registration> = []
      // Object.entries loses the key type; ProviderPoolMetricNames is keyed by the stats' fields
      for (const [field, id] of Object.entries(ProviderPoolMetricNames) as Array<[keyof ProviderPoolStats, string]>) {
        const metric = Metric.gauge(id, {
          description: `Provider HTTP pool: ${field} (undici pool stats)`,
          attributes: { provider: name }
        })
        list.push(
          Metric.registerUnsafe(metric, context, {
            get: () => ({ value: stats(name)[field] }),
            update: noop,
            modify: noop
          })
        )
      }
      registrations.set(name, list)
    }
    const stats = (name: string): ProviderPoolStats => {
      const entry = entries.get(name)
      return entry === undefined ? ZERO : sumStats(entry.dispatcher)
    }
    const release = (entry: Entry) => Scope.close(entry.scope, Exit.void)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        for (const list of registrations.values()) for (const r of list) r.remove()
        for (const entry of entries.values()) yield* release(entry)
        entries.clear()
      })
    )

    const build = (name: string, pool: ConnectionPool, key: string) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(layerScope)
        const dispatcher = yield* Scope.provide(NodeHttpClient.makeDispatcherOptions(agentOptions(pool)), scope)
        const client = yield* NodeHttpClient.makeUndici.pipe(
          Effect.provideService(NodeHttpClient.Dispatcher, dispatcher)
        )
        // undici's Agent exposes `stats` (per-origin pool figures); the Dispatcher type does not declare it
        const entry: Entry = { key, client, dispatcher: dispatcher as StatsSource, scope }
        return entry
      })

    const lock = yield* Semaphore.make(1)
    const clientFor = (name: string, pool: ConnectionPool): Effect.Effect<HttpClient.HttpClient> => {
      const key = JSON.stringify(agentOptions(pool))
      const cached = entries.get(name)
      if (cached !== undefined && cached.key === key) return Effect.succeed(cached.client)
      return lock.withPermit(Effect.gen(function*() {
        const again = entries.get(name)
        if (again !== undefined && again.key === key) return again.client
        const entry = yield* build(name, pool, key)
        if (again !== undefined) {
          entries.delete(name)
          yield* release(again)
        }
        if (entries.size >= maxProviders) {
          const oldest = entries.entries().next().value
          if (oldest !== undefined) {
            entries.delete(oldest[0])
            yield* release(oldest[1])
          }
        }
        entries.set(name, entry)
        register(name)
        return entry.client
      }))
    }
    return ProviderPools.of({ clientFor, stats })
  })

/**
 * One undici connection pool per provider (see the module doc).
 *
 * @example
 * ```ts
 * const client = yield* (yield* ProviderPools).clientFor("openai", config.providers.openai.pool)
 * ```
 */
export class ProviderPools extends Context.Service<ProviderPools, ProviderPoolsShape>()("troupe/llm/ProviderPools") {
  /** Undici pools, destroyed when the layer's scope closes. */
  static readonly layer = (options: ProviderPoolsOptions = {}): Layer.Layer<ProviderPools> =>
    Layer.effect(ProviderPools, make(options))
}
