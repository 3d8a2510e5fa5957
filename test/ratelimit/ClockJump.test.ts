/**
 * A TestClock jump over a running limiter or cache (`setTime(1e12)`) runs the sweep once, not once per interval
 * of the jump (`Schedule.spaced` caught up 10⁹ sweeps and spun for minutes); and the memory store is bounded
 * (`maxKeys`, default 100,000) with the documented eviction.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeMemory } from "../../src/cache/Cache.ts"
import { RateLimiter, type RateLimiterEvent } from "../../src/ratelimit/index.ts"
import { DEFAULT_MAX_KEYS, MemoryStore } from "../../src/ratelimit/internal/MemoryStore.ts"
import { decodePolicy } from "../../src/ratelimit/RateLimitPolicy.ts"

describe("a clock jump runs a sweep once", () => {
  it.effect("limiter: setTime(1e12) with keys in the store", () => {
    const evictions: Array<number> = []
    return Effect.gen(function*() {
      const rl = yield* RateLimiter
      for (let i = 0; i < 10; i++) yield* rl.check(`k${i}`)
      yield* rl.acquire("q", { policy: "interval" }) // the interval ticker is running too
      const started = Date.now()
      yield* TestClock.setTime(1e12)
      assert.isBelow(Date.now() - started, 2_000)
      assert.strictEqual((yield* rl.stats).keys, 0)
      assert.isAtMost(evictions.length, 2)
    }).pipe(Effect.provide(RateLimiter.layerMemory({
      sweepInterval: "1 second",
      policies: {
        default: { tiers: [{ _tag: "TokenBucket", capacity: 5, refillTokens: 1, refillEvery: "1 second" }] },
        interval: {
          tiers: [{ _tag: "TokenBucket", capacity: 5, refillTokens: 1, refillEvery: "1 second", refill: "interval" }]
        }
      },
      hooks: { onEvent: (e: RateLimiterEvent) => e._tag === "KeysEvicted" && evictions.push(e.count) }
    })))
  })

  it.effect("cache: setTime(1e12) with entries with and without TTLs", () =>
    Effect.gen(function*() {
      let sweeps = 0
      const cache = yield* makeMemory<string>({ sweepInterval: "1 second", onSweep: () => sweeps++ })
      yield* cache.put("a", "1", { ttl: "5 seconds" })
      yield* cache.put("b", "2")
      const before = sweeps
      const started = Date.now()
      yield* TestClock.setTime(1e12)
      assert.isBelow(Date.now() - started, 2_000)
      assert.isAtMost(sweeps - before, 2)
      assert.strictEqual((yield* cache.stats()).entries, 1)
    }).pipe(Effect.scoped))
})

describe("the memory store is bounded", () => {
  it.effect("at maxKeys, fresh keys are swept first, then the oldest are evicted to 15/16 of the bound", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy("default", { tiers: [{ _tag: "FixedWindow", limit: 10, window: 1000 }] })
      const store = new MemoryStore(160)
      for (let i = 0; i < 1_000; i++) store.decide(`k${i}`, policy, 1, 0)
      assert.isAtMost(store.size, 160)
      assert.isTrue(store.states.has("k999"))
      assert.isFalse(store.states.has("k0"))
      assert.strictEqual(store.evicted, 1_000 - store.size)
      assert.strictEqual(new MemoryStore().maxKeys, DEFAULT_MAX_KEYS)
    }))
})
