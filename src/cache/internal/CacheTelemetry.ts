/**
 * Cache events for the telemetry hub: `troupe.cache.hit`, `troupe.cache.miss` and `troupe.cache.eviction`
 * (see the catalogue in `src/telemetry/EventCatalogue.ts`), with metadata `{ cache, tier }` (and `reason` for
 * evictions).
 *
 * Emitted only when a `TelemetryHub` is in the context the cache is built in, through the hub's synchronous
 * `emitUnsafe`, which costs one table lookup when no handler is attached; without a hub the cache pays one
 * `undefined` check per operation. Measurement and metadata objects are preallocated per cache.
 */
import { Effect, Option } from "effect"
import { Events, TelemetryHub } from "../../telemetry/index.ts"

/** The cache's event emitters (`troupe.cache.hit/miss/eviction`), bound to one cache name and tier metadata. */
export interface CacheEvents {
  readonly hit: (tier: "l1" | "l2") => void
  readonly miss: (tier: "l1" | "l2") => void
  readonly evicted: (tier: "l1" | "l2", reason: "ttl" | "capacity" | "manual") => void
}

const one = Object.freeze({ count: 1 })

/** The cache's event emitter when a hub is present, else `undefined`. */
export const makeCacheEvents = (cache: string): Effect.Effect<CacheEvents | undefined> =>
  Effect.map(Effect.serviceOption(TelemetryHub), (hub) => {
    if (Option.isNone(hub)) return undefined
    const emit = hub.value.emitUnsafe
    const tierMeta = { l1: Object.freeze({ cache, tier: "l1" }), l2: Object.freeze({ cache, tier: "l2" }) }
    return {
      hit: (tier) => emit(Events.cacheHit, one, tierMeta[tier]),
      miss: (tier) => emit(Events.cacheMiss, one, tierMeta[tier]),
      evicted: (tier, reason) => emit(Events.cacheEviction, one, { cache, tier, reason })
    }
  })
